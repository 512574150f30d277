"""Engines and sessions. The shell owns transactions: `with session.begin():`."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from digest.errors import ConfigError, SchemaMissingError


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; SQLite's naive values come back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Digest stores only aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "sqlite"


def _prepare_sqlite(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN, so SAVEPOINTs and rollbacks behave.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front. A deferred BEGIN reads first and asks for the lock at
        # its first write; if another writer committed in between, SQLite cannot wait (the
        # snapshot is stale) and answers "database is locked" at once, busy timeout or not.
        # Waiting at BEGIN instead is what the busy timeout is for. SAVEPOINTs nest inside.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for url; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        _prepare_sqlite(url)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def is_locked(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" (or busy): the work can simply be tried again."""
    message = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and (
        "database is locked" in message or "database is busy" in message
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def check_connection(engine: Engine) -> None:
    """Raise ConfigError naming DIGEST_DATABASE_URL when the database cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        safe_url = engine.url.render_as_string(hide_password=True)
        raise ConfigError(f"DIGEST_DATABASE_URL: cannot connect to {safe_url}: {reason}") from None


def alembic_config(url: str) -> Any:
    """Alembic's config for Digest's migrations (shipped inside the package)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(engine: Engine) -> tuple[str | None, str | None]:
    """Migrate the database to the newest schema; returns (revision before, revision after).

    Safe to run again: at head it changes nothing.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    check_connection(engine)
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def current() -> str | None:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    before = current()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, current()


def ensure_schema(engine: Engine) -> bool:
    """Make sure the database has Digest's tables; True when it had to migrate.

    The embedded SQLite database is created and migrated on first use (and brought to the
    newest schema after an upgrade of Digest), so no command needs a setup step first. A
    server database (PostgreSQL) is never migrated implicitly: without tables it raises
    SchemaMissingError; migrating it is the operator's decision.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    check_connection(engine)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        current = MigrationContext.configure(connection).get_current_revision()
    if not is_sqlite(engine):
        if not tables:
            safe_url = engine.url.render_as_string(hide_password=True)
            raise SchemaMissingError(f"the database {safe_url} has no tables yet")
        return False
    if tables and "alembic_version" not in tables:
        return False  # made by hand (create_all, as the tests do): leave it alone
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    if tables and current == head:
        return False
    upgrade_database(engine)
    return True
