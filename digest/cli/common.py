"""What every command module shares: the Typer app, consoles, and a session from settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from digest.db import check_connection, make_engine, make_session_factory
from digest.settings import get_settings

app = typer.Typer(
    name="digest",
    help="Newsletter digests for local news publishers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def open_session_factory() -> Iterator[sessionmaker[Session]]:
    """Sessions on DIGEST_DATABASE_URL, for commands that commit many times (sending)."""
    engine = make_engine(get_settings().database_url)
    try:
        check_connection(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def open_session() -> Iterator[Session]:
    """A session on DIGEST_DATABASE_URL; the caller opens transactions with session.begin()."""
    engine = make_engine(get_settings().database_url)
    try:
        check_connection(engine)
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
