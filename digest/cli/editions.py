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
from digest.sending import delivery, editions
from digest.settings import get_settings

edition_app = typer.Typer(help="Editions: build, send and control them.", no_args_is_help=True)
app.add_typer(edition_app, name="edition")

DONE = {EditionStatus.SENT, EditionStatus.CANCELLED, EditionStatus.SKIPPED}


def _parse_slot(value: str | None) -> datetime:
    if value is None:
        return SYSTEM_CLOCK.now().replace(tzinfo=None, second=0, microsecond=0)
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
    at: Annotated[str | None, typer.Option(help="Slot, local wall-clock ISO time.")] = None,
) -> None:
    """Curate and render the edition of a newsletter for one slot (every town with readers)."""
    settings = get_settings()
    slot = _parse_slot(at)
    with open_session() as session, session.begin():
        letter = get_newsletter(session, newsletter)
        edition = editions.build_edition(session, settings, letter, slot, SYSTEM_CLOCK.now())
        session.flush()
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
        if edition.status not in (EditionStatus.READY, EditionStatus.SENDING):
            raise DigestError(f"cannot send edition {edition_id}: it is {edition.status}")
    send_edition.delay(edition_id)
    console.print(f"Edition {edition_id} queued for sending.")
    if follow:
        _follow(edition_id)


def _send_here(edition_id: int) -> None:
    settings = get_settings()
    with open_session_factory() as factory:
        with factory() as session, session.begin():
            delivery.start_sending(
                session, editions.get_edition(session, edition_id), SYSTEM_CLOCK.now()
            )
        with factory() as session, session.begin():
            now = SYSTEM_CLOCK.now()
            batches = delivery.plan_batches(session, edition_id, settings.batch_size, now)
        with delivery.open_sender(settings) as sender:
            for first, last in batches:
                delivery.send_batch(
                    factory, settings, edition_id, first, last, sender, SYSTEM_CLOCK
                )
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
                edition = editions.get_edition(session, edition_id)
                counts = editions.delivery_counts(session, edition_id)
                finished = edition.status in DONE
            done = sum(counts[s] for s in ("sent", "failed", "bounced", "suppressed", "cancelled"))
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                total=edition.recipient_count or None,
                completed=done,
                rate=counts["sent"] / elapsed,
            )
            if finished or edition.status == EditionStatus.PAUSED:
                break
            time.sleep(0.5)
    status(edition_id)


@edition_app.command("status")
def status(edition_id: int) -> None:
    """Counts by delivery status, the sending rate and the time left."""
    with open_session() as session, session.begin():
        edition = editions.get_edition(session, edition_id)
        counts = editions.delivery_counts(session, edition_id)
        console.print(_summary(edition))
        table = Table("status", "deliveries")
        for name in (
            "queued",
            "sending",
            "deferred",
            "sent",
            "failed",
            "bounced",
            "suppressed",
            "cancelled",
        ):
            table.add_row(name, str(counts[name]))
        console.print(table)
        if edition.started_at is not None and counts["sent"]:
            end = edition.finished_at or SYSTEM_CLOCK.now()
            seconds = max((end - edition.started_at).total_seconds(), 1e-6)
            rate = counts["sent"] / seconds
            left = counts["queued"] + counts["sending"] + counts["deferred"]
            console.print(f"rate {rate:.1f} messages/s; about {left / rate:.0f} s left")


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
    """Send again to the readers whose delivery failed (never to bounced or suppressed ones)."""
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
