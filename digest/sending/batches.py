"""A batch run: claim a range, send it group by group between checkpoints, record it.

Each group of `DIGEST_DELIVERY_COMMIT_EVERY` messages sits between two checkpoints, one
transaction each: record the previous group's results (fenced), act on the circuit breaker,
check that the edition still sends (else give every unsent row back and stop), renew the
lease and keep only the rows still owned, and load the group's suppressions and templates.
No network call happens inside a transaction. A checkpoint that cannot reach the database is
tried again (digest.sending.blips) with the results still in memory; meanwhile no message
is sent once the confirmed lease has less than half its length left.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import Clock
from digest.models import DeliveryStatus, Edition, EditionStatus
from digest.render.mime import MessageTemplate
from digest.sending import states
from digest.sending.blips import until_answered
from digest.sending.breaker import Breaker
from digest.sending.claims import Claimed, Heartbeat, claim, new_token, release, renew_group
from digest.sending.delivery import Outcome, Sender
from digest.sending.results import record
from digest.sending.transport import TransportError
from digest.settings import Settings

log = logging.getLogger(__name__)


def send_batch(
    factory: sessionmaker[Session],
    settings: Settings,
    edition_id: int,
    first: int,
    last: int,
    sender: Sender,
    clock: Clock,
) -> Counter[str]:
    """Claim and send one batch; commits as it goes. Returns the count of each outcome."""
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    token = new_token()
    with factory() as session:
        claimed = until_answered(
            session,
            lambda s: _claim_if_sending(s, edition_id, first, last, token, clock.now(), lease),
            "claim",
        )
        if not claimed:
            return Counter()
        with Heartbeat(factory, token, [c.delivery_id for c in claimed], lease, clock) as beat:
            run = _Run(settings, sender, clock, edition_id, token, beat)
            counts = run.send_all(session, claimed)
    log.info("batch done", extra={"edition_id": edition_id, "batch": f"{first}-{last}", **counts})
    return counts


def _claim_if_sending(
    session: Session,
    edition_id: int,
    first: int,
    last: int,
    token: str,
    now: datetime,
    lease: timedelta,
) -> list[Claimed]:
    if _edition_status(session, edition_id) != EditionStatus.SENDING:
        return []
    return claim(session, edition_id, first, last, token, now, lease)


class _Run:
    """One batch run: groups of `delivery_commit_every`, each sent between two checkpoints."""

    def __init__(
        self,
        settings: Settings,
        sender: Sender,
        clock: Clock,
        edition_id: int,
        token: str,
        beat: Heartbeat,
    ) -> None:
        self.settings, self.sender, self.clock = settings, sender, clock
        self.edition_id, self.token, self.beat = edition_id, token, beat
        self.breaker = Breaker(settings.delivery_breaker_threshold)
        self.counts: Counter[str] = Counter()
        self.unrecorded: list[tuple[Claimed, Outcome]] = []

    def send_all(self, session: Session, claimed: list[Claimed]) -> Counter[str]:
        todo = deque(claimed)
        while todo:
            size = min(self.settings.delivery_commit_every, len(todo))
            group = [todo.popleft() for _ in range(size)]
            ready = until_answered(
                session, partial(self._checkpoint, group=group, later=todo), "record"
            )
            self._recorded()
            if ready is None:
                break
            self.beat.confirmed(ready.asked, ready.owned, ready.when)
            left = self._send_group(ready, group)
            todo.extendleft(reversed(left))
        until_answered(session, self._finish, "record")
        self._recorded()
        return self.counts

    def _recorded(self) -> None:
        """Forget the results just committed (only once the commit went through)."""
        self.beat.forget(item.delivery_id for item, _ in self.unrecorded)
        self.unrecorded = []

    def _checkpoint(
        self, session: Session, *, group: list[Claimed], later: deque[Claimed]
    ) -> _Ready | None:
        """Record what was sent; then renew the lease and load what the next group needs, or
        (paused, cancelled, breaker tripped) give every unsent row back and stop."""
        now = self.clock.now()
        record(session, self.settings, self.token, self.unrecorded, now)
        if self.breaker.reason is not None:
            states.move(session, self.edition_id, "pause", pause_reason=self.breaker.reason)
        # Renewing the group's rows checks, in the database and in one statement, that the
        # edition still sends, that the run still owns them and whether any address has been
        # suppressed since the claim, just before they are sent; the heartbeat renews the rest
        # of the batch.
        ids = [item.delivery_id for item in group]
        renewed = renew_group(session, self.token, ids, now + self.beat.lease, self.edition_id)
        if not renewed and _edition_status(session, self.edition_id) != EditionStatus.SENDING:
            unsent = [item.delivery_id for item in [*group, *later]]
            release(session, self.token, unsent, now)
            self.counts["released"] = len(unsent)
            return None
        suppressed = {delivery_id for delivery_id, yes in renewed.items() if yes}
        segments = {item.segment_id for item in group if item.delivery_id in renewed}
        templates = {i: self.sender.template(session, i, now) for i in segments}
        return _Ready(set(ids), set(renewed), now, suppressed, templates)

    def _send_group(self, ready: _Ready, group: list[Claimed]) -> list[Claimed]:
        """Send the group's rows this run still owns; returns those left for the next round
        (the lease could not be confirmed in time, so they wait for the next checkpoint).
        Messages are pipelined, so an outcome may come in with the next message's round trip;
        every outcome is in before the group ends."""
        claimed = {item.delivery_id: item for item in group}
        for index, item in enumerate(group):
            if item.delivery_id not in ready.owned:
                self.counts["taken back"] += 1
                continue
            if not self.beat.holds() or self.breaker.tripped:
                self._took(self.sender.flush(), claimed)
                return group[index:]
            self._took(self._send_one(ready, item), claimed)
        self._took(self.sender.flush(), claimed)
        return []

    def _took(self, outcomes: list[Outcome], claimed: dict[int, Claimed]) -> None:
        for outcome in outcomes:
            self.unrecorded.append((claimed[outcome.delivery_id], outcome))
            self.counts[outcome.status.value] += 1
            self.breaker.observe(outcome.status, outcome.reply, outcome.from_relay)

    def _send_one(self, ready: _Ready, item: Claimed) -> list[Outcome]:
        if not item.email or not item.email_hash or item.delivery_id in ready.suppressed:
            return [
                Outcome(item.delivery_id, DeliveryStatus.SUPPRESSED, "suppressed before sending")
            ]
        try:
            return self.sender.send(ready.templates[item.segment_id], item, self.clock.now())
        except TransportError as exc:  # credentials or TLS: stop and pause, no retry fixes it
            self.breaker.trip(str(exc))
            return [Outcome(item.delivery_id, DeliveryStatus.DEFERRED, str(exc))]

    def _finish(self, session: Session) -> None:
        now = self.clock.now()
        record(session, self.settings, self.token, self.unrecorded, now)
        if self.breaker.reason is not None:
            states.move(session, self.edition_id, "pause", pause_reason=self.breaker.reason)
        if states.finish(session, self.edition_id, now):
            log.info("edition sent", extra={"edition_id": self.edition_id})


@dataclass(frozen=True)
class _Ready:
    """What a group needs: the rows still owned, those whose address is suppressed, the
    message templates."""

    asked: set[int]  # the rows whose lease was renewed
    owned: set[int]  # those of them still this run's
    when: datetime  # when the lease was renewed
    suppressed: set[int]  # delivery ids
    templates: dict[int, MessageTemplate]


def _edition_status(session: Session, edition_id: int) -> EditionStatus | None:
    return session.scalar(select(Edition.status).where(Edition.id == edition_id))
