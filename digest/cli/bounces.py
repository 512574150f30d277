"""`digest bounces`: read bounce and complaint reports and act on them, or just show them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.bounces.mailbox import maildir_path, process_maildir
from digest.bounces.reports import read_report
from digest.cli.common import app, console
from digest.clock import SYSTEM_CLOCK
from digest.db import check_connection, make_engine, make_session_factory
from digest.errors import DigestError
from digest.settings import get_settings

bounces_app = typer.Typer(help="Bounces and complaints: DSN and ARF reports.", no_args_is_help=True)
app.add_typer(bounces_app, name="bounces")

KINDS = ("hard", "soft", "complaint", "unknown")


@bounces_app.command("process")
def bounces_process(
    maildir: Annotated[
        Path | None,
        typer.Option(help="Maildir of reports (default: DIGEST_BOUNCE_MAILBOX_URL)."),
    ] = None,
) -> None:
    """Read every unread report in the Maildir, act on it, and mark it read (safe to rerun)."""
    settings = get_settings()
    if maildir is None:
        if settings.bounce_mailbox_url is None:
            raise DigestError(
                "no mailbox to read: pass --maildir PATH or set DIGEST_BOUNCE_MAILBOX_URL"
            )
        maildir = maildir_path(settings.bounce_mailbox_url)
    engine = make_engine(settings.database_url)
    try:
        check_connection(engine)
        counts = process_maildir(make_session_factory(engine), settings, maildir, SYSTEM_CLOCK)
    finally:
        engine.dispose()
    by_kind = ", ".join(f"{counts[kind]} {kind}" for kind in KINDS)
    console.print(
        f"{counts['messages']} reports read from {maildir}: {by_kind}; "
        f"{counts['unmatched']} matched nobody (kept), {counts['duplicates']} seen before, "
        f"{counts['errors']} failed (left unread, see the log)."
    )


@bounces_app.command("read")
def bounces_read(
    files: Annotated[list[Path], typer.Argument(help="Raw report files (.eml) to read.")],
) -> None:
    """Show how reports are read (recipient, hard/soft, reason, code) without acting on them."""
    settings = get_settings()
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise DigestError(f"cannot read {path}: {error.strerror}") from None
        for report in read_report(settings, raw, path.name):
            reason = report.reason.value if report.reason else "-"
            console.print(
                f"{path.name}: {report.kind.value:<9} {reason:<15} {report.status or '-':<7} "
                f"{report.recipient or '(no recipient)'}",
                highlight=False,
                markup=False,
            )
