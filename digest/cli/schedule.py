"""`digest schedule run`: the scheduler's pass once, now (catching up, or moving a test clock)."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import app, console, open_session_factory
from digest.clock import SYSTEM_CLOCK
from digest.sending import scheduler
from digest.settings import get_settings

schedule_app = typer.Typer(help="The schedule: build and send what is due.", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")


@schedule_app.command("run")
def run(
    here: Annotated[bool, typer.Option(help="Send in this process, without a worker.")] = False,
) -> None:
    """Build what is due in each town now and send it (slots missed while down are skipped)."""
    settings = get_settings()
    sent = 0
    with open_session_factory() as factory:
        if here:
            result = scheduler.run_here(factory, settings, SYSTEM_CLOCK)
            editions, missed, sent = result.editions, result.missed, result.sent
        else:
            from workers.tasks import send_edition

            dispatched = scheduler.dispatch(factory, settings, SYSTEM_CLOCK)
            editions, missed = dispatched.to_send, dispatched.missed
            for edition_id in editions:
                send_edition.delay(edition_id, True)
    for line in missed:
        console.print(f"skipped {line}", highlight=False)
    if not editions:
        console.print("Nothing due to send.", highlight=False)
    for edition_id in editions:
        how = "sent here" if here else "queued for the workers"
        console.print(f"edition {edition_id}: {how}", highlight=False)
    if here:
        console.print(f"{sent} messages sent.", highlight=False)
