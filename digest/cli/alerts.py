"""`digest alerts`: send one breaking story to the readers who opted in to alerts."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import app, console, open_session, plural
from digest.clock import SYSTEM_CLOCK
from digest.sending.alerts import alert_newsletter, send_alert
from digest.sending.progress import delivery_counts
from digest.settings import get_settings

alerts_app = typer.Typer(help="Breaking news alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("send")
def send(
    story_id: Annotated[int, typer.Argument(help="The story (see `digest stories list`).")],
    newsletter: Annotated[str, typer.Option("--newsletter", help="An alert newsletter's slug.")],
    community: Annotated[
        str | None,
        typer.Option("--community", help="The town to alert (default: the story's own town)."),
    ] = None,
) -> None:
    """Alert the story now: its deliveries are made, and the workers send them at once."""
    from workers.tasks import send_edition

    with open_session() as session, session.begin():
        letter = alert_newsletter(session, newsletter)
        edition = send_alert(
            session, get_settings(), letter, story_id, SYSTEM_CLOCK.now(), community
        )
        edition_id = edition.id
        counts = delivery_counts(session, edition_id)
    send_edition.delay(edition_id)  # after the commit: the task reads what was just made
    console.print(
        f"Alert {edition_id} queued: {plural(counts.get('queued', 0), 'reader')}"
        f" ({plural(counts.get('cancelled', 0), 'reader')} over the daily cap).",
        highlight=False,
    )
