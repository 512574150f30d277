"""The `digest` command: version, idempotent `db upgrade`, and one-line errors for bad settings."""

from __future__ import annotations

import os
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
