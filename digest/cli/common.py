"""What every command module shares: the Typer app, consoles, and a session from settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import SYSTEM_CLOCK
from digest.db import check_connection, make_engine, make_session_factory
from digest.errors import AlreadyExistsError, DigestError, NotFoundError, SchemaMissingError
from digest.settings import get_settings

app = typer.Typer(
    name="digest",
    help="Newsletter digests for local news publishers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


# The command that lists each kind of thing the core reports as missing or taken.
LIST_COMMANDS = {
    "community": "digest communities list",
    "newsletter": "digest newsletters list",
    "feed": "digest feeds list",
    "edition": "digest edition list",
}


def with_hint(exc: DigestError) -> str:
    """The core's message, plus the command that helps (the core never names commands)."""
    message = str(exc).rstrip(".")
    if isinstance(exc, NotFoundError | AlreadyExistsError) and exc.kind in LIST_COMMANDS:
        return f"{message} (see `{LIST_COMMANDS[exc.kind]}`)"
    if isinstance(exc, SchemaMissingError):
        return f"{message}: run `digest db upgrade` first"
    return message


def plural(count: int, word: str, many: str | None = None) -> str:
    """ "1 feed", "2 feeds"; `many` for words whose plural is not word + "s"."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def parse_instant(value: str | None) -> datetime:
    """`--at` for commands that curate as of a moment: an ISO time (UTC if no offset), or now."""
    if value is None:
        return SYSTEM_CLOCK.now()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DigestError(
            f"--at {value!r} is not an ISO time (write it like 2026-11-24T06:00+00:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
