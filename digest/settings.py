"""All configuration, read once from the environment (prefix DIGEST_) and `.env`.

Every field here is documented in `.env.example`; tests/test_settings.py keeps the two in step.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from digest.errors import ConfigError

ENV_PREFIX = "DIGEST_"

DATABASE_SCHEMES = ("sqlite", "postgresql")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "filesystem")
REDIS_SCHEMES = ("redis", "rediss", "unix")
MAIL_SCHEMES = ("smtp", "smtp+starttls", "smtps", "maildir")

# Values that have been published (in .env.example, docs) and so are no secret at all.
PUBLIC_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev"})


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _check_scheme(url: str, allowed: tuple[str, ...]) -> str:
    base = _scheme(url).split("+")[0] if not _scheme(url).startswith("smtp") else _scheme(url)
    if base not in allowed:
        raise ValueError(f"unknown scheme {_scheme(url)!r} (use {', '.join(allowed)})")
    return url


class Settings(BaseSettings):
    """Digest's settings. Defaults run everything on one machine with no server to install."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # dev generates a secret into var/ and allows the demo; prod refuses unsafe defaults.
    env: Literal["dev", "test", "prod"] = "dev"
    # Working files of the embedded mode: generated secret, embedded broker queues, beat state.
    var_dir: Path = Path("var")
    # SQLAlchemy URL; postgresql:// is read as postgresql+psycopg://.
    database_url: str = "sqlite:///var/digest.db"
    # Celery broker; empty means the embedded filesystem broker under var/broker.
    broker_url: str | None = None
    # Redis for limits shared by every process; empty means limits are kept per process.
    redis_url: str | None = None
    # Where mail goes: maildir://PATH, smtp://, smtp+starttls:// or smtps://user:pass@host:port.
    mail_url: str = "maildir://var/outbox"
    # Public URL of the web app, used in every link of every email.
    base_url: str = "http://127.0.0.1:8000"
    # Signs tokens in links; generated into var/secret_key in dev, required outside dev.
    secret_key: str | None = Field(default=None, repr=False)
    # The key before the last rotation: links it signed keep working.
    secret_key_previous: str | None = Field(default=None, repr=False)
    # The publisher's From, with display name.
    sender: str = "Digest <news@localhost>"
    # The publisher's postal address, shown in every email's footer (CASL).
    postal_address: str = "Digest Demo News, 100 Main Street, Springfield, OR 97477, USA"
    # Domain of the VERP return path bounces+TOKEN@DOMAIN.
    bounce_domain: str = "localhost"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        _check_scheme(value, DATABASE_SCHEMES)
        if _scheme(value) == "postgresql":
            return "postgresql+psycopg" + value[len("postgresql") :]
        return value

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_scheme(value, BROKER_SCHEMES)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_scheme(value, REDIS_SCHEMES)

    @field_validator("mail_url")
    @classmethod
    def _mail_url(cls, value: str) -> str:
        return _check_scheme(value, MAIL_SCHEMES)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if _scheme(value) not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def is_dev(self) -> bool:
        return self.env != "prod"

    def signing_key(self) -> str:
        """The secret that signs tokens; in dev, created once under var_dir and reused."""
        if self.secret_key and self.secret_key not in PUBLIC_SECRETS:
            return self.secret_key
        if not self.is_dev:
            raise ConfigError(
                "DIGEST_SECRET_KEY: a real secret is required when DIGEST_ENV=prod "
                '(generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def check(self) -> Settings:
        """Fail fast on settings that cannot work; returns self."""
        self.signing_key()
        return self


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def load_settings(**overrides: object) -> Settings:
    """Read and check the settings; raises ConfigError with one line naming the setting."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{env_name(field)}: {message}") from None
    return settings.check()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call get_settings.cache_clear())."""
    return load_settings()
