"""What every command module shares: the Typer app, consoles, and a session from settings."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import SYSTEM_CLOCK
from digest.db import ensure_schema, make_engine, make_session_factory
from digest.errors import AlreadyExistsError, DigestError, NotFoundError, SchemaMissingError
from digest.settings import Settings, get_settings

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
    "sponsor": "digest sponsors list",
    "campaign": "digest campaigns list",
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


def claim_port(host: str, port: int) -> None:
    """Raise DigestError when host:port is taken, before anything says it is running."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a stopped server is free to take.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DigestError(
                    f"port {port} on {host} is already in use by another program "
                    "(stop it, or choose another port with --port)"
                ) from None
            raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def local_address(host: str) -> str:
    """The address to reach a server listening on host (every interface: the local one)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104


def follow_port(host: str, port: int) -> Settings:
    """In dev, with no DIGEST_BASE_URL set, the emails' links point at the port served."""
    settings = get_settings()
    if settings.is_dev and "base_url" not in settings.model_fields_set:
        # Set in the environment, so the worker and the scheduler started next see it too.
        os.environ["DIGEST_BASE_URL"] = f"http://{local_address(host)}:{port}"
        get_settings.cache_clear()
        settings = get_settings()
    return settings


def prepare_database() -> None:
    """Check DIGEST_DATABASE_URL answers and has the schema (the embedded one is migrated)."""
    engine = make_engine(get_settings().database_url)
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()


@contextmanager
def open_session_factory() -> Iterator[sessionmaker[Session]]:
    """Sessions on DIGEST_DATABASE_URL, for commands that commit many times (sending)."""
    engine = make_engine(get_settings().database_url)
    try:
        ensure_schema(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def open_session() -> Iterator[Session]:
    """A session on DIGEST_DATABASE_URL; the caller opens transactions with session.begin()."""
    engine = make_engine(get_settings().database_url)
    try:
        ensure_schema(engine)
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
