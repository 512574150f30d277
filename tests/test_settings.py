"""Settings: embedded defaults, clear errors naming the setting, and .env.example kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.settings import Settings, env_name, load_settings

ROOT = Path(__file__).resolve().parent.parent


def documented_settings() -> dict[str, str]:
    """NAME -> default, from the `NAME=value` lines (commented out or not) of .env.example."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    found = {}
    for line in lines:
        match = re.match(r"^#?\s*(DIGEST_[A-Z0-9_]+)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    fields = {env_name(name) for name in Settings.model_fields}
    assert set(documented_settings()) == fields


def test_env_example_defaults_match_the_code() -> None:
    documented = documented_settings()
    for name, field in Settings.model_fields.items():
        default = field.default
        expected = "" if default is None else str(default)
        if isinstance(default, bool):
            expected = str(default).lower()
        if isinstance(default, list | tuple):
            expected = ",".join(str(item) for item in default)
        assert documented[env_name(name)] == expected, env_name(name)


def test_defaults_need_no_server() -> None:
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["database_url"].startswith("sqlite:///")
    assert defaults["broker_url"] is None
    assert defaults["redis_url"] is None
    assert defaults["mail_url"].startswith("maildir://")


def test_postgresql_url_uses_psycopg() -> None:
    settings = load_settings(database_url="postgresql://u@db:5432/digest")
    assert settings.database_url == "postgresql+psycopg://u@db:5432/digest"


@pytest.mark.parametrize(
    ("field", "value", "start"),
    [
        ("mail_url", "smpt://mail:25", "DIGEST_MAIL_URL: unknown scheme 'smpt'"),
        ("database_url", "mysql://x/y", "DIGEST_DATABASE_URL: unknown scheme 'mysql'"),
        ("broker_url", "sqs://queue", "DIGEST_BROKER_URL: unknown scheme 'sqs'"),
        ("redis_url", "memcached://x", "DIGEST_REDIS_URL: unknown scheme 'memcached'"),
        ("base_url", "example.org", "DIGEST_BASE_URL: 'example.org' is not an http(s) URL"),
    ],
)
def test_bad_url_names_the_setting(field: str, value: str, start: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(**{field: value})
    assert str(error.value).startswith(start)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("secret", [None, "change-me"])
def test_prod_refuses_a_missing_or_published_secret(secret: str | None) -> None:
    with pytest.raises(ConfigError, match=r"^DIGEST_SECRET_KEY: a real secret is required"):
        load_settings(env="prod", secret_key=secret)


def test_prod_accepts_a_real_secret() -> None:
    settings = load_settings(env="prod", secret_key="s3cr3t-" * 5)
    assert settings.signing_key() == "s3cr3t-" * 5


def test_dev_generates_a_secret_once_and_keeps_it(tmp_path: Path) -> None:
    first = load_settings(env="dev", secret_key=None, var_dir=tmp_path).signing_key()
    second = load_settings(env="dev", secret_key=None, var_dir=tmp_path).signing_key()
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
