"""`digest suppressions`: list, add, lift, import and export the addresses never mailed."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import app, console, open_session
from digest.clock import SYSTEM_CLOCK
from digest.errors import DigestError
from digest.readers.list_export import spreadsheet_safe_row
from digest.readers.suppressions import (
    EXPORT_COLUMNS,
    add_suppression,
    export_suppressions,
    import_suppressions,
    lift_suppression,
    list_suppressions,
    reason_from_word,
)

suppressions_app = typer.Typer(
    help="Suppressions: addresses never mailed (bounces, complaints, manual, erased).",
    no_args_is_help=True,
)
app.add_typer(suppressions_app, name="suppressions")

WHY = typer.Option("--reason", "-r", help="Why (kept with the suppression and in the history).")


@suppressions_app.command("list")
def list_command(
    search: Annotated[
        str | None, typer.Argument(help="Part of an address, or a whole one (any spelling).")
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Only this reason: hard_bounce, soft_bounce, complaint, manual, erased."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
) -> None:
    """List suppressions, newest first, with their reason and why."""
    wanted = reason_from_word(reason) if reason else None
    with open_session() as session, session.begin():
        rows = list_suppressions(session, search, wanted, limit)
        lines = [
            f"{row.created_at:%Y-%m-%d %H:%M}  {row.reason.value:<11}  "
            f"{row.email or '(erased: hash ' + row.email_hash[:12] + '...)'}  {row.detail or ''}"
            for row in rows
        ]
    for line in lines:
        console.print(line, highlight=False, markup=False)
    console.print(f"{len(lines)} suppression(s).")


@suppressions_app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="The address never to mail.")],
    why: Annotated[str, WHY],
) -> None:
    """Suppress an address by hand (reason "manual")."""
    with open_session() as session, session.begin():
        row, created = add_suppression(session, email, why, SYSTEM_CLOCK.now(), "digest cli")
        reason = row.reason.value
    if created:
        console.print(f"Suppressed {email} (manual: {why}).", highlight=False)
    else:
        console.print(f"{email} was already suppressed ({reason}); unchanged.", highlight=False)


@suppressions_app.command("lift")
def lift_command(
    email: Annotated[str, typer.Argument(help="The address to mail again.")],
    why: Annotated[str, WHY],
) -> None:
    """Lift a suppression (recorded in the reader's consent history with the reason)."""
    with open_session() as session, session.begin():
        row = lift_suppression(session, email, why, SYSTEM_CLOCK.now(), "digest cli")
        was = row.reason.value
    console.print(f"Lifted the {was} suppression of {email}: {why}.", highlight=False)


@suppressions_app.command("import")
def import_command(
    path: Annotated[
        Path, typer.Argument(help="CSV with an email column (reason, detail optional).")
    ],
) -> None:
    """Suppress every address of a CSV file; bad lines are reported, the rest imported."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DigestError(f"cannot read {path}: {error}") from None
    if rows and "email" not in rows[0]:
        raise DigestError(f"{path} has no 'email' column (its header names the columns)")
    with open_session() as session, session.begin():
        result = import_suppressions(session, rows, SYSTEM_CLOCK.now(), f"import {path.name}")
    for problem in result.invalid:
        console.print(f"skipped {problem}", highlight=False, markup=False)
    console.print(
        f"{result.added} suppressed, {result.already} already suppressed, "
        f"{len(result.invalid)} skipped.",
        highlight=False,
    )


@suppressions_app.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write every suppression as CSV (email, email_hash, reason, detail, created_at)."""
    with open_session() as session, session.begin():
        file = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            writer = csv.DictWriter(file, fieldnames=EXPORT_COLUMNS)
            writer.writeheader()
            count = 0
            for row in export_suppressions(session):
                writer.writerow(spreadsheet_safe_row(row))
                count += 1
        finally:
            if output:
                file.close()
    if output:
        console.print(f"{count} suppressions written to {output}.", highlight=False)
