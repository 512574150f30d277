"""`digest subscribers`: consent proof, GDPR export and erasure, list import and export;
`digest web`: the readers' web app under uvicorn."""

from __future__ import annotations

import csv
import json
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from digest.cli.common import (
    app,
    claim_port,
    console,
    err_console,
    follow_port,
    open_session,
    plural,
    prepare_database,
)
from digest.clock import SYSTEM_CLOCK
from digest.errors import DigestError
from digest.readers.consent import consent_proof
from digest.readers.erase import erase_subscriber, export_subscriber
from digest.readers.import_formats import FORMATS, FormatError, decode, detect_format, read_csv
from digest.readers.imports import ImportReport, import_subscribers
from digest.readers.list_export import export_list

subscribers_app = typer.Typer(
    help="Readers: consent records, GDPR export and erasure, list import and export.",
    no_args_is_help=True,
)
app.add_typer(subscribers_app, name="subscribers")


@subscribers_app.command("consent")
def consent(email: Annotated[str, typer.Argument(help="The reader's address.")]) -> None:
    """Print the proof of consent: every consent and withdrawal, with time, IP and page."""
    with open_session() as session, session.begin():
        proof = consent_proof(session, email)
    console.print(f"Consent record of {proof['email']}", highlight=False)
    events = proof["events"]
    assert isinstance(events, list)
    for event in events:
        newsletter = event["newsletter"] or "-"
        console.print(
            f"{event['occurred_at']}  {event['action']:<11} {newsletter:<16} "
            f"source={event['source']!r} ip={event['ip'] or '-'} "
            f"wording={event['wording_version'] or '-'} agent={event['user_agent'] or '-'!r}",
            highlight=False,
            markup=False,
        )
    if not events:
        console.print("No consent event recorded.")


@subscribers_app.command("export")
def export(email: Annotated[str, typer.Argument(help="The reader's address.")]) -> None:
    """Print everything held about an address as JSON (GDPR access request)."""
    with open_session() as session, session.begin():
        data = export_subscriber(session, email)
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@subscribers_app.command("erase")
def erase(
    email: Annotated[str, typer.Argument(help="The reader's address.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase an address's personal data; a hashed suppression keeps it from ever being mailed."""
    if not yes:
        typer.confirm(f"Erase every personal detail of {email}? This cannot be undone", abort=True)
    with open_session() as session, session.begin():
        erasure = erase_subscriber(session, email, SYSTEM_CLOCK.now())
    if erasure.found:
        console.print(
            f"Erased {email}: {plural(erasure.events_removed, 'consent event')} removed; "
            f"suppressed by hash {erasure.email_hash[:12]}...",
            highlight=False,
        )
    else:
        console.print(
            f"No subscriber had {email}; it is suppressed by hash {erasure.email_hash[:12]}...",
            highlight=False,
        )


@subscribers_app.command("import")
def import_csv(
    path: Annotated[
        Path,
        typer.Argument(
            help="A list exported from Mailchimp, Substack, listmonk or Campaign Monitor, or a "
            "CSV with a header: email[,name][,community][,interests][,status][,consent_at]."
        ),
    ],
    source: Annotated[
        str, typer.Option("--source", help="How these readers consented (kept as proof).")
    ],
    community: Annotated[
        str | None, typer.Option("--community", help="Town slug for rows without one.")
    ] = None,
    newsletter: Annotated[
        list[str] | None, typer.Option("--newsletter", help="Newsletter slug (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")
    ] = False,
) -> None:
    """Import readers who consented elsewhere; they are confirmed at once, with the source.

    Headers are matched whatever their case ("Email Address", "First Name", groups and tags).
    Unsubscribed, cleaned and bounced rows are suppressed. The file may be UTF-8 (with or
    without a byte-order mark) or, as spreadsheets on Windows save it, Windows-1252 / Latin-1.
    """
    if not newsletter:
        raise DigestError("import: name at least one newsletter with --newsletter SLUG")
    try:
        text, encoding = decode(path.read_bytes())
        headers, rows = read_csv(text)
    except OSError as exc:
        raise DigestError(f"{path}: cannot read it ({exc.strerror})") from None
    except FormatError as exc:
        raise DigestError(f"{path}: {exc}") from None
    shape = detect_format(headers)
    with open_session() as session, Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(f"Importing {len(rows)} rows", total=len(rows))
        transaction = session.begin()
        try:
            report = import_subscribers(
                session,
                rows,
                source=source,
                community=community,
                newsletters=newsletter,
                now=SYSTEM_CLOCK.now(),
                progress=lambda done: bar.update(task, completed=done),
            )
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    _print_report(path, shape, encoding, report, dry_run)


def _print_report(
    path: Path, shape: str, encoding: str, report: ImportReport, dry_run: bool
) -> None:
    say = partial(console.print, highlight=False, markup=False)
    say(
        f"Read {path} as a {shape} list"
        + ("" if encoding == "utf-8" else f", as {encoding} (it is not UTF-8)")
        + "."
    )
    verb = "Would import" if dry_run else "Imported"
    say(
        f"{verb} {path}: {plural(report.added, 'new reader')}, "
        f"{plural(report.confirmed, 'subscription')} confirmed, "
        f"{report.unchanged} already confirmed, "
        f"{plural(report.suppressed, 'address', 'addresses')} suppressed, "
        f"{plural(len(report.skipped), 'row')} skipped."
    )
    for line, email, reason in report.skipped:
        say(f"  line {line}: {email or '(no address)'}: {reason}")
    if dry_run:
        say("Dry run: nothing was changed.")


@subscribers_app.command("export-list")
def export_list_command(
    newsletter: Annotated[str, typer.Option("--newsletter", help="Newsletter slug.")],
    shape: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")] = "csv",
) -> None:
    """Print a newsletter's confirmed readers as CSV, in the shape another service imports."""
    with open_session() as session, session.begin():
        headers, rows = export_list(session, newsletter, shape)
    writer = csv.DictWriter(sys.stdout, fieldnames=headers)
    writer.writeheader()
    writer.writerows(rows)


@app.command("web")
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the readers' web app (signup, confirm, preferences, unsubscribe, archive)."""
    import uvicorn

    claim_port(host, port)
    settings = follow_port(host, port)
    prepare_database()
    uvicorn.run(
        "digest.web.server:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        # None: uvicorn's own FORWARDED_ALLOW_IPS, else 127.0.0.1 (a proxy on this machine).
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level="info",
    )
