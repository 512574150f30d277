"""The `digest` command (Typer). Commands read settings, open a session and call the core.

One module per domain concept registers its commands here (`digest db`, `digest feeds`, ...).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from digest import __version__
from digest.cli.common import app, console, err_console, with_hint
from digest.errors import DigestError
from digest.logs import configure_logging
from digest.settings import get_settings

# Each import registers that concept's commands on `app`.
from digest.cli import database  # noqa: F401  isort: skip
from digest.cli import feeds  # noqa: F401  isort: skip
from digest.cli import curation  # noqa: F401  isort: skip
from digest.cli import preview  # noqa: F401  isort: skip
from digest.cli import bounces  # noqa: F401  isort: skip
from digest.cli import subscribers  # noqa: F401  isort: skip
from digest.cli import suppressions  # noqa: F401  isort: skip
from digest.cli import stats  # noqa: F401  isort: skip
from digest.cli import editions  # noqa: F401  isort: skip
from digest.cli import desk  # noqa: F401  isort: skip
from digest.cli import schedule  # noqa: F401  isort: skip
from digest.cli import alerts  # noqa: F401  isort: skip
from digest.cli import service  # noqa: F401  isort: skip
from digest.cli import sponsors  # noqa: F401  isort: skip
from digest.cli import users  # noqa: F401  isort: skip
from digest.cli import hygiene  # noqa: F401  isort: skip


def _version(value: bool) -> None:
    if value:
        console.print(f"digest {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Newsletter digests for local news publishers."""
    settings = get_settings()
    configure_logging(settings.log_level, json_format=settings.log_format == "json")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 2."""
    try:
        app()
    except DigestError as exc:
        _fail(with_hint(exc))
    except OSError as exc:
        # A file or folder the user named that cannot be read or written (an --out in a
        # folder that does not exist, a full disk): the system's reason, in one line.
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(2)


__all__ = ["app", "main"]
