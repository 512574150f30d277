"""The scheduler's pass, by hand: build what is due in each town, then send it here.

Celery beat runs `dispatch_editions` every minute and workers send. `digest schedule run`
runs the same pass once, now (for an operator catching up after downtime, or a test that
moves the clock); with `--here` it also sends in this process, without a worker.

Like `batches.send_batch`, these take a session factory and commit as they go: the pass's
editions must be committed before their deliveries are made and sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from digest.clock import Clock
from digest.sending import batches, delivery
from digest.sending.editions import Dispatched, dispatch_due
from digest.settings import Settings


@dataclass
class PassResult:
    """What a pass did: editions started, messages sent here, slots skipped as missed."""

    editions: list[int] = field(default_factory=list)
    sent: int = 0
    missed: list[str] = field(default_factory=list)


def dispatch(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Dispatched:
    """Build every town's due segment (one transaction, committed); returns what to send."""
    with factory() as session, session.begin():
        return dispatch_due(session, settings, clock.now())


def send_here(
    factory: sessionmaker[Session], settings: Settings, edition_id: int, clock: Clock
) -> int:
    """Make the deliveries of the towns now due and send them in this process; returns how
    many were sent."""
    planned = delivery.start_and_plan(factory, settings, edition_id, clock, due_only=True)
    sent = 0
    with delivery.open_sender(settings) as sender:
        for first, last in planned:
            counts = batches.send_batch(factory, settings, edition_id, first, last, sender, clock)
            sent += counts["sent"]
    return sent


def run_here(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> PassResult:
    """One pass, now: build what is due, then send each edition here."""
    dispatched = dispatch(factory, settings, clock)
    result = PassResult(editions=list(dispatched.to_send), missed=list(dispatched.missed))
    for edition_id in dispatched.to_send:
        result.sent += send_here(factory, settings, edition_id, clock)
    return result
