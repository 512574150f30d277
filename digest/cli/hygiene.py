"""`digest newsletters hygiene` (its settings) and `digest hygiene run` (the pass, or a dry run)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from digest.cli.common import app, console, open_session, open_session_factory
from digest.cli.curation import newsletters_app
from digest.clock import SYSTEM_CLOCK
from digest.curation.newsletters import get_newsletter
from digest.readers import hygiene
from digest.sending.mail_url import open_transport
from digest.sending.reengagement import PassReport, run_pass
from digest.settings import get_settings

hygiene_app = typer.Typer(
    help="List hygiene: re-engage readers who stopped clicking, then unsubscribe them.",
    no_args_is_help=True,
)
app.add_typer(hygiene_app, name="hygiene")


@newsletters_app.command("hygiene")
def newsletters_hygiene(
    slug: Annotated[str, typer.Argument(help="The newsletter, e.g. morning.")],
    on: Annotated[
        bool | None, typer.Option("--on/--off", help="Turn list hygiene on or off.")
    ] = None,
    after: Annotated[
        int | None, typer.Option(help="Editions without a click before the re-engagement email.")
    ] = None,
    grace: Annotated[
        int | None, typer.Option(help="Editions after that email before unsubscribing.")
    ] = None,
) -> None:
    """Show or set the newsletter's list hygiene (off by default; needs per-reader engagement)."""
    settings = get_settings()
    with open_session() as session, session.begin():
        newsletter = get_newsletter(session, slug)
        if on is not None or after is not None or grace is not None:
            wanted = newsletter.hygiene if on is None else on
            hygiene.configure(
                session,
                settings,
                newsletter,
                on=wanted,
                after=after,
                grace=grace,
                now=SYSTEM_CLOCK.now(),
            )
        state = "on" if newsletter.hygiene else "off"
        line = (
            f"{slug}: list hygiene {state}: a re-engagement email after "
            f"{newsletter.hygiene_after_editions} editions without a click, unsubscribed "
            f"{newsletter.hygiene_grace_editions} editions later"
        )
    console.print(line, highlight=False)
    problem = hygiene.refusal(settings)
    if problem and state == "on":
        console.print(f"warning: nothing happens on this installation: {problem}", highlight=False)


@hygiene_app.command("run")
def hygiene_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list who would be mailed or removed.")
    ] = False,
    newsletter: Annotated[
        str | None, typer.Option(help="One newsletter's readers only (its slug).")
    ] = None,
) -> None:
    """Run the list hygiene pass now (the `hygiene_pass` task runs it once a day)."""
    settings = get_settings()
    problem = hygiene.refusal(settings)
    if problem:
        console.print(f"nothing to do: {problem}", highlight=False)
        return
    with open_session_factory() as factory:
        if newsletter is not None:
            with factory() as session:
                get_newsletter(session, newsletter)  # a clear error for an unknown slug
        transport = open_transport(settings)
        try:
            report = run_pass(
                factory,
                settings,
                transport,
                SYSTEM_CLOCK.now(),
                dry_run=dry_run,
                newsletter_slug=newsletter,
            )
        finally:
            transport.close()
    _print(report)


def _print(report: PassReport) -> None:
    would = "would be " if report.dry_run else ""
    table = Table("reader", "step", title="List hygiene" + (" (dry run)" if report.dry_run else ""))
    steps = (
        (report.mailed, f"{would}sent the re-engagement email"),
        (report.removed, f"{would}unsubscribed (grace over)"),
        (report.reset, f"{would}cleared (clicked since the email)"),
        (report.stuck, "left alone: its email's send was cut off (never sent twice)"),
        (report.not_sent, "email not sent (deferred, refused or suppressed): next pass"),
    )
    for emails, step in steps:
        for email in emails:
            table.add_row(email, step)
    if table.row_count:
        console.print(table)
    console.print(", ".join(f"{n} {step}" for step, n in report.counts().items()), highlight=False)
