"""Alembic migrations build exactly the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from digest.db import make_engine, upgrade_database
from digest.models import Base


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """A fresh schema in the test database, so the check never touches the shared tables."""
    schema = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_url else "?"
    engine = make_engine(f"{postgres_url}{separator}options=-csearch_path%3D{schema}")
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def check_upgrade_builds_the_models(engine: Engine) -> None:
    before, after = upgrade_database(engine)
    assert before is None
    assert after is not None
    assert differences(engine) == []
    assert upgrade_database(engine) == (after, after)  # again: nothing to do


def test_migrations_match_models_on_sqlite(sqlite_engine: Engine) -> None:
    check_upgrade_builds_the_models(sqlite_engine)


@pytest.mark.postgres
def test_migrations_match_models_on_postgresql(postgres_engine: Engine) -> None:
    check_upgrade_builds_the_models(postgres_engine)


def test_a_model_change_without_migration_is_caught(sqlite_engine: Engine) -> None:
    upgrade_database(sqlite_engine)
    with sqlite_engine.begin() as connection:
        connection.execute(text("ALTER TABLE feeds ADD COLUMN stray INTEGER"))
    assert differences(sqlite_engine) != []
