"""`digest edition`: build, send, follow, pause, resume, cancel and retry editions."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from digest.cli.common import app, console, open_session, open_session_factory
from digest.clock import SYSTEM_CLOCK
from digest.curation.newsletters import get_newsletter
from digest.errors import DigestError
from digest.models import Edition, EditionStatus
from digest.sending import batches, delivery, editions, slots
from digest.sending.progress import controls, edition_progress
from digest.sending.states import DELIVERY_STATE_ORDER, FINAL_EDITION_STATES, MOVES
from digest.settings import get_settings

edition_app = typer.Typer(help="Editions: build, send and control them.", no_args_is_help=True)
app.add_typer(edition_app, name="edition")


def _parse_slot(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DigestError(
            f"--at {value!r} is not an ISO time (write it like 2026-11-24T06:00)"
        ) from None
    return parsed.replace(tzinfo=None, second=0, microsecond=0)


@edition_app.command("build")
def build(
    newsletter: Annotated[str, typer.Option(help="Newsletter slug.")],
    at: Annotated[
        str | None,
        typer.Option(help="Slot, local wall-clock ISO time (default: each town's next slot)."),
    ] = None,
) -> None:
    """Curate and render a newsletter's edition: of one slot, or each town's next due slot."""
    settings = get_settings()
    slot = None if at is None else _parse_slot(at)
    with open_session() as session, session.begin():
        letter = get_newsletter(session, newsletter)
        now = SYSTEM_CLOCK.now()
        if slot is None:
            built = slots.build_next(session, settings, letter, now)
        else:
            built = [editions.build_edition(session, settings, letter, slot, now)]
        session.flush()
        for edition in built:
            session.refresh(edition)
            _print_built(edition)


def _print_built(edition: Edition) -> None:
    console.print(_summary(edition))
    for segment in edition.segments:
        note = (
            segment.skip_reason
            or f"{len(segment.story_ids)} stories, {len(segment.html) // 1024} KB"
        )
        mix = f" ({segment.audience})" if segment.audience else ""
        console.print(f"  {segment.community.slug}{mix}: {note}")


@edition_app.command("send")
def send(
    edition_id: int,
    follow: Annotated[bool, typer.Option(help="Show a live progress bar until done.")] = False,
    here: Annotated[bool, typer.Option(help="Send in this process, without a worker.")] = False,
) -> None:
    """Start sending an edition: by the Celery workers, or here with --here."""
    if here:
        _send_here(edition_id)
        return
    from workers.tasks import send_edition

    with open_session() as session, session.begin():
        edition = editions.get_edition(session, edition_id)
        if edition.status not in MOVES["start"].sources:
            raise DigestError(f"cannot send edition {edition_id}: it is {edition.status}")
    send_edition.delay(edition_id)
    console.print(f"Edition {edition_id} queued for sending.")
    if follow:
        _follow(edition_id)


def _send_here(edition_id: int) -> None:
    """What send_edition and its send_batch tasks do, in this process, one batch after another."""
    settings = get_settings()
    with open_session_factory() as factory:
        ranges = delivery.start_and_plan(factory, settings, edition_id, SYSTEM_CLOCK)
        with delivery.open_sender(settings) as sender:
            for first, last in ranges:
                batches.send_batch(factory, settings, edition_id, first, last, sender, SYSTEM_CLOCK)
    status(edition_id)


def _follow(edition_id: int) -> None:
    columns = (
        TextColumn("[bold]edition {task.fields[edition]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("send", total=None, edition=edition_id, rate=0.0)
        started = time.monotonic()
        while True:
            with open_session() as session, session.begin():
                item = edition_progress(session, editions.get_edition(session, edition_id))
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                total=item.recipients or None,
                completed=item.done,
                rate=item.counts.get("sent", 0) / elapsed,
            )
            if item.status in FINAL_EDITION_STATES or item.status == EditionStatus.PAUSED:
                break
            time.sleep(0.5)
    status(edition_id)


@edition_app.command("status")
def status(edition_id: int) -> None:
    """Status (and why it paused), counts by delivery status, the rate and the time left."""
    with open_session() as session, session.begin():
        edition = editions.get_edition(session, edition_id)
        item = edition_progress(session, edition)
        console.print(_summary(edition))
        if item.pause_reason:
            console.print(f"paused because: {item.pause_reason}", highlight=False)
        table = Table("status", "deliveries")
        for name in DELIVERY_STATE_ORDER:
            table.add_row(name, str(item.counts.get(name, 0)))
        console.print(table)
        sent = item.counts.get("sent", 0)
        if edition.started_at is not None and sent:
            end = edition.finished_at or SYSTEM_CLOCK.now()
            seconds = max((end - edition.started_at).total_seconds(), 1e-6)
            rate = sent / seconds
            left = item.recipients - item.done
            console.print(f"rate {rate:.1f} messages/s; about {left / rate:.0f} s left")
        moves = controls(item)
        if moves:
            console.print("you can: " + ", ".join(moves), highlight=False)


@edition_app.command("list")
def list_editions(limit: int = 20) -> None:
    """The newest editions with their status."""
    from sqlalchemy import select

    with open_session() as session, session.begin():
        rows = session.scalars(select(Edition).order_by(Edition.id.desc()).limit(limit))
        for edition in rows:
            console.print(_summary(edition))


@edition_app.command("pause")
def pause(edition_id: int) -> None:
    """Stop sending within the current batches; resume sends only what is left."""
    with open_session() as session, session.begin():
        editions.pause(session, editions.get_edition(session, edition_id))
    console.print(f"Edition {edition_id} paused.")


@edition_app.command("resume")
def resume(edition_id: int) -> None:
    """Carry on a paused edition."""
    from workers.tasks import send_edition

    with open_session() as session, session.begin():
        delivery.resume(session, editions.get_edition(session, edition_id))
    send_edition.delay(edition_id)
    console.print(f"Edition {edition_id} resumed.")


@edition_app.command("cancel")
def cancel(edition_id: int) -> None:
    """Stop for good: nothing more of this edition is sent."""
    with open_session() as session, session.begin():
        count = editions.cancel(
            session, editions.get_edition(session, edition_id), SYSTEM_CLOCK.now()
        )
    console.print(f"Edition {edition_id} cancelled; {count} deliveries will not be sent.")


@edition_app.command("retry-failed")
def retry_failed(edition_id: int) -> None:
    """Send again to the readers whose delivery failed (never to bounced or suppressed ones,
    never for a cancelled edition)."""
    from workers.tasks import send_edition

    with open_session() as session, session.begin():
        count = delivery.retry_failed(
            session, editions.get_edition(session, edition_id), SYSTEM_CLOCK.now()
        )
    if count:
        send_edition.delay(edition_id)
    console.print(f"Edition {edition_id}: {count} failed deliveries queued again.")


def _summary(edition: Edition) -> str:
    reason = f" ({edition.skip_reason})" if edition.skip_reason else ""
    return (
        f"edition {edition.id} {edition.newsletter.slug} {edition.slot:%Y-%m-%d %H:%M} "
        f"{edition.status}{reason}, {edition.recipient_count} recipients"
    )
