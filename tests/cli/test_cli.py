"""The `digest` command: version, idempotent `db upgrade`, and one-line errors for bad settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from digest import __version__


def digest(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    result = digest("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"digest {__version__}"


def test_db_upgrade_twice_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    first = digest("db", "upgrade", cwd=tmp_path, DIGEST_DATABASE_URL=url)
    second = digest("db", "upgrade", cwd=tmp_path, DIGEST_DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty to" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "is up to date" in second.stdout


@pytest.mark.postgres
def test_db_upgrade_twice_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    import uuid

    from sqlalchemy import text

    from digest.db import make_engine

    schema = f"cli_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    try:
        first = digest("db", "upgrade", cwd=tmp_path, DIGEST_DATABASE_URL=url)
        second = digest("db", "upgrade", cwd=tmp_path, DIGEST_DATABASE_URL=url)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty to" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "is up to date" in second.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DIGEST_MAIL_URL": "smpt://mail"}, "DIGEST_MAIL_URL: unknown scheme 'smpt'"),
        (
            {"DIGEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
            "DIGEST_DATABASE_URL: cannot connect to",
        ),
        ({"DIGEST_ENV": "prod", "DIGEST_SECRET_KEY": ""}, "DIGEST_SECRET_KEY: a real secret"),
    ],
)
def test_bad_configuration_stops_with_one_line(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result = digest("db", "upgrade", cwd=tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {expected}")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def fresh_folder_environment() -> dict[str, str]:
    """A newcomer's shell: no DIGEST_* setting at all, so every default applies."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}


def bare(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=fresh_folder_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["feeds", "list"], 0, "no feeds yet"),
        (["stats"], 0, "Editions"),
        (["communities", "list"], 0, "time zone"),
        (["subscribers", "consent", "jane@example.org"], 2, "no subscriber"),
        (["curate", "--newsletter", "morning", "--community", "x"], 2, "no newsletter"),
    ],
)
def test_any_command_works_in_a_fresh_folder_before_db_upgrade(
    tmp_path: Path, args: list[str], status: int, says: str
) -> None:
    result = bare(*args, cwd=tmp_path)
    assert result.returncode == status, result.stderr
    assert says in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "var" / "digest.db").exists()  # made and migrated on first use


def test_a_missing_name_gets_the_cli_s_hint(tmp_path: Path) -> None:
    result = bare("curate", "--newsletter", "morning", "--community", "x", cwd=tmp_path)
    assert result.stderr.strip() == "error: no newsletter 'morning' (see `digest newsletters list`)"


@pytest.mark.parametrize("command", ["web", "serve"])
def test_a_taken_port_is_one_line_before_anything_claims_to_run(
    tmp_path: Path, command: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = bare(command, "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is already in use by another program "
        "(stop it, or choose another port with --port)"
    )
    assert "running" not in result.stdout
    assert "Traceback" not in result.stderr


def test_in_dev_the_base_url_follows_the_port_served(monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.cli.common import follow_port
    from digest.settings import get_settings

    # follow_port writes os.environ for the processes it starts: set the variable through
    # monkeypatch first, so the test's end puts it back as it was.
    monkeypatch.setenv("DIGEST_BASE_URL", "http://placeholder.example")
    monkeypatch.delenv("DIGEST_BASE_URL")
    monkeypatch.setenv("DIGEST_ENV", "dev")
    get_settings.cache_clear()
    try:
        assert follow_port("0.0.0.0", 8080).base_url == "http://127.0.0.1:8080"
        monkeypatch.setenv("DIGEST_BASE_URL", "https://news.example")
        get_settings.cache_clear()
        assert follow_port("127.0.0.1", 8080).base_url == "https://news.example"
    finally:
        get_settings.cache_clear()


def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "readers.csv"  # a folder, not a file: unreadable even by root
    folder.mkdir()
    result = bare(
        "subscribers", "import", str(folder), "--source", "x", "--newsletter", "m", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {folder}: cannot read it")
    assert result.stderr.count("\n") == 1


def test_an_out_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    demo = bare("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Traceback" not in demo.stderr
    in_the_way = tmp_path / "preview"
    in_the_way.write_text("a file where the folder should go")
    result = bare(
        "preview",
        "--newsletter",
        "morning",
        "--community",
        "riverton",
        "--out",
        str(in_the_way / "html"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {in_the_way / 'html'}: ")
    assert result.stderr.count("\n") == 1
