"""Delivery: one row per reader and edition, claimed in batches, sent, and recorded promptly.

Guarantees (docs/delivery.md states them for operators):
- Every confirmed, unsuppressed reader of a town with a segment gets a `Delivery` row when
  sending starts (one INSERT ... SELECT), and the row is unique per edition and reader.
- A batch claims its rows (FOR UPDATE SKIP LOCKED on PostgreSQL) with a lease. Results are
  committed every `delivery_commit_every` messages, so a worker that dies repeats at most that
  many messages: those it sent but had not yet recorded. Rows it had claimed but not sent are
  taken back when their lease runs out (`sweep`), so no reader is skipped.
- Suppression is checked again just before each message is sent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import Clock
from digest.db import is_sqlite
from digest.errors import DigestError
from digest.models import (
    Delivery,
    DeliveryStatus,
    Edition,
    EditionSegment,
    EditionStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.suppressions import not_suppressed, suppressed_hashes
from digest.render.mime import MessageTemplate, MimeError, Reader, compose, segment_template
from digest.sending.send_rate import open_rate_limiter
from digest.sending.transport import SendStatus, Transport, open_transport
from digest.settings import Settings

log = logging.getLogger(__name__)

PENDING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)
OUTCOMES = {
    SendStatus.SENT: DeliveryStatus.SENT,
    SendStatus.DEFERRED: DeliveryStatus.DEFERRED,
    SendStatus.FAILED: DeliveryStatus.FAILED,
}
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class Claimed:
    """A delivery a batch has claimed, with what it needs to send it."""

    delivery_id: int
    segment_id: int
    subscriber_id: int
    email: str
    email_hash: str | None
    name: str | None
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: DeliveryStatus
    reply: str | None = None
    message_id: str | None = None


class Sender:
    """What a batch sends through: one open transport, the send-rate limit, and the segments'
    message templates, each encoded once per process (never per reader)."""

    def __init__(
        self, settings: Settings, transport: Transport, acquire: Callable[[], object]
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.acquire = acquire
        self.templates: dict[int, MessageTemplate] = {}

    def template(self, session: Session, segment_id: int, now: datetime) -> MessageTemplate:
        if segment_id not in self.templates:
            segment = session.get_one(EditionSegment, segment_id)
            self.templates[segment_id] = segment_template(
                self.settings,
                segment.edition.newsletter,
                subject=segment.subject,
                html=segment.html,
                text=segment.text,
                message_key=f"e{segment.edition_id}.s{segment.id}",
                date=now,
            )
        return self.templates[segment_id]

    def send(self, template: MessageTemplate, item: Claimed, now: datetime) -> Outcome:
        reader = Reader(item.delivery_id, item.subscriber_id, item.email, item.name)
        try:
            message = compose(template, reader, now)
        except MimeError as exc:
            return Outcome(item.delivery_id, DeliveryStatus.FAILED, str(exc))
        self.acquire()
        result = self.transport.send(message.mail_from, item.email, message.data)
        return Outcome(item.delivery_id, OUTCOMES[result.status], result.reply, message.message_id)


@contextmanager
def open_sender(settings: Settings) -> Iterator[Sender]:
    """A Sender on DIGEST_MAIL_URL under DIGEST_SEND_RATE; the connection closes on exit."""
    transport = open_transport(settings)
    limiter = open_rate_limiter(settings, transport.name)
    with transport:
        yield Sender(settings, transport, limiter.acquire)


def start_sending(session: Session, edition: Edition, now: datetime) -> int:
    """Create the deliveries and mark the edition sending; returns how many rows were created.

    Safe to call again: readers who already have a row are not given a second one.
    """
    if edition.status not in (EditionStatus.READY, EditionStatus.SENDING):
        raise DigestError(f"cannot send edition {edition.id}: it is {edition.status}")
    created = create_deliveries(session, edition, now)
    edition.status = EditionStatus.SENDING
    edition.started_at = edition.started_at or now
    edition.recipient_count = _delivery_total(session, edition.id)
    return created


def create_deliveries(session: Session, edition: Edition, now: datetime) -> int:
    """One queued delivery per confirmed, active, unsuppressed reader, in one INSERT ... SELECT."""
    readers = (
        select(
            literal(edition.id),
            EditionSegment.id,
            Subscriber.id,
            literal(DeliveryStatus.QUEUED.value),
            literal(0),
            literal(now, type_=Delivery.__table__.c.created_at.type),
            literal(now, type_=Delivery.__table__.c.updated_at.type),
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(
            EditionSegment,
            and_(
                EditionSegment.community_id == Subscriber.community_id,
                EditionSegment.audience == Subscription.audience,  # the reader's own choices
                EditionSegment.edition_id == edition.id,
            ),
        )
        .where(
            Subscription.newsletter_id == edition.newsletter_id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscriber.status == SubscriberStatus.ACTIVE,
            EditionSegment.skip_reason.is_(None),
            or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= now),
            not_suppressed(Subscriber),
            ~exists().where(
                Delivery.edition_id == edition.id, Delivery.subscriber_id == Subscriber.id
            ),
        )
    )
    columns = [
        "edition_id",
        "segment_id",
        "subscriber_id",
        "status",
        "attempts",
        "created_at",
        "updated_at",
    ]
    before = _delivery_total(session, edition.id)
    session.execute(insert(Delivery).from_select(columns, readers))
    return _delivery_total(session, edition.id) - before


def _delivery_total(session: Session, edition_id: int) -> int:
    count = select(func.count()).select_from(Delivery).where(Delivery.edition_id == edition_id)
    return session.scalar(count) or 0


def _claimable(now: datetime) -> object:
    return or_(
        Delivery.status == DeliveryStatus.QUEUED,
        and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
        and_(Delivery.status == DeliveryStatus.DEFERRED, Delivery.next_attempt_at <= now),
    )


def plan_batches(
    session: Session, edition_id: int, size: int, now: datetime
) -> list[tuple[int, int]]:
    """Id ranges of at most `size` claimable deliveries each, computed in the database."""
    numbered = (
        select(Delivery.id, func.row_number().over(order_by=Delivery.id).label("n"))
        .where(Delivery.edition_id == edition_id, _claimable(now))  # type: ignore[arg-type]
        .subquery()
    )
    starts = list(
        session.scalars(
            select(numbered.c.id).where((numbered.c.n - 1) % size == 0).order_by(numbered.c.id)
        )
    )
    if not starts:
        return []
    last = session.scalar(
        select(func.max(Delivery.id)).where(Delivery.edition_id == edition_id, _claimable(now))  # type: ignore[arg-type]
    )
    ends = [start - 1 for start in starts[1:]] + [int(last or starts[-1])]
    return list(zip(starts, ends, strict=True))


def claim(
    session: Session, edition_id: int, first: int, last: int, now: datetime, lease: timedelta
) -> list[Claimed]:
    """Take the claimable deliveries in [first, last] for this worker until now + lease."""
    candidates = (
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.id.between(first, last), _claimable(now))  # type: ignore[arg-type]
        .order_by(Delivery.id)
    )
    if not is_sqlite(session):
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=DeliveryStatus.SENDING,
            lease_until=now + lease,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.segment_id,
            Delivery.subscriber_id,
            Subscriber.email,
            Subscriber.email_hash,
            Subscriber.name,
            Delivery.attempts,
            Delivery.created_at,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    ).all()
    return [Claimed(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6], r[7]) for r in rows]


def send_batch(
    factory: sessionmaker[Session],
    settings: Settings,
    edition_id: int,
    first: int,
    last: int,
    sender: Sender,
    clock: Clock,
) -> Counter[str]:
    """Claim and send one batch; commits as it goes. Returns the count of each outcome.

    One transaction per group of `delivery_commit_every` messages records the previous
    group's results and checks pause, cancel and suppression for the next one.
    """
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    counts: Counter[str] = Counter()
    with factory() as session:
        with session.begin():
            edition = session.get(Edition, edition_id)
            if edition is None or edition.status != EditionStatus.SENDING:
                return counts
            claimed = claim(session, edition_id, first, last, clock.now(), lease)
        unrecorded: list[tuple[Claimed, Outcome]] = []
        for group in _chunks(claimed, settings.delivery_commit_every):
            with session.begin():
                record(session, settings, unrecorded, clock.now())
                unrecorded = []
                ready = _prepare(session, sender, edition_id, group, clock.now())
            if ready is None:
                counts["released"] += len(group)
                continue
            unrecorded = [(item, _send_one(sender, ready, item, clock)) for item in group]
            counts.update(outcome.status.value for _, outcome in unrecorded)
        with session.begin():
            record(session, settings, unrecorded, clock.now())
            finished = finish_if_done(session, edition_id, clock.now())
    batch = f"{first}-{last}"
    log.info("batch done", extra={"edition_id": edition_id, "batch": batch, **counts})
    if finished:
        log.info("edition sent", extra={"edition_id": edition_id})
    return counts


@dataclass(frozen=True)
class _Ready:
    """What a group needs to be sent: its suppressed address hashes and its segments' templates."""

    suppressed: set[str]
    templates: dict[int, MessageTemplate]


def _prepare(
    session: Session, sender: Sender, edition_id: int, group: list[Claimed], now: datetime
) -> _Ready | None:
    """Check the edition still sends (else release the group: None) and load what it needs."""
    if _edition_status(session, edition_id) != EditionStatus.SENDING:
        release(session, [item.delivery_id for item in group], now)
        return None
    suppressed = suppressed_hashes(session, [item.email_hash for item in group if item.email_hash])
    templates = {item.segment_id: sender.template(session, item.segment_id, now) for item in group}
    return _Ready(suppressed, templates)


def _send_one(sender: Sender, ready: _Ready, item: Claimed, clock: Clock) -> Outcome:
    if not item.email or not item.email_hash or item.email_hash in ready.suppressed:
        return Outcome(item.delivery_id, DeliveryStatus.SUPPRESSED, "suppressed before sending")
    return sender.send(ready.templates[item.segment_id], item, clock.now())


def record(
    session: Session, settings: Settings, results: list[tuple[Claimed, Outcome]], now: datetime
) -> None:
    """Write each outcome in one statement; a deferral past the retry age becomes a failure."""
    if not results:
        return
    rows = []
    for item, outcome in results:
        row: dict[str, object] = {
            "id": item.delivery_id,
            "status": outcome.status,
            "last_reply": outcome.reply,
            "message_id": outcome.message_id,
            "lease_until": None,
            "updated_at": now,
            "sent_at": now if outcome.status == DeliveryStatus.SENT else None,
            "next_attempt_at": None,
        }
        if outcome.status == DeliveryStatus.DEFERRED:
            if now - item.created_at >= timedelta(hours=settings.retry_max_age_hours):
                row["status"] = DeliveryStatus.FAILED
                row["last_reply"] = f"gave up after {item.attempts} attempts: {outcome.reply}"
            else:
                row["next_attempt_at"] = now + backoff(settings, item.attempts)
        rows.append(row)
    session.execute(update(Delivery), rows)  # ORM bulk UPDATE by primary key: one executemany


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Wait before the next try: retry_base_seconds doubled per attempt, at most six hours."""
    delay = timedelta(seconds=settings.retry_base_seconds * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


def release(session: Session, delivery_ids: list[int], now: datetime) -> None:
    """Give claimed, unsent deliveries back to the queue (pause), undoing their attempt."""
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids), Delivery.status == DeliveryStatus.SENDING)
        .values(
            status=DeliveryStatus.QUEUED,
            lease_until=None,
            attempts=Delivery.attempts - 1,
            updated_at=now,
        )
    )


def finish_if_done(session: Session, edition_id: int, now: datetime) -> bool:
    """Mark a sending edition sent once none of its deliveries is pending."""
    edition = session.get(Edition, edition_id)
    if edition is None or edition.status != EditionStatus.SENDING:
        return False
    pending = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status.in_(PENDING))
    )
    if pending:
        return False
    edition.status = EditionStatus.SENT
    edition.finished_at = now
    return True


def resume(session: Session, edition: Edition) -> None:
    """Carry on a paused edition: only what is still queued or deferred will be sent."""
    if edition.status != EditionStatus.PAUSED:
        raise DigestError(f"cannot resume edition {edition.id}: it is {edition.status}")
    edition.status = EditionStatus.SENDING


def retry_failed(session: Session, edition: Edition, now: datetime) -> int:
    """Queue the edition's failed deliveries again (not bounced ones); returns how many."""
    if edition.status not in (EditionStatus.SENT, EditionStatus.SENDING, EditionStatus.PAUSED):
        raise DigestError(f"cannot retry edition {edition.id}: it is {edition.status}")
    result = session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition.id, Delivery.status == DeliveryStatus.FAILED)
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=None, created_at=now, updated_at=now)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count and edition.status == EditionStatus.SENT:
        edition.status = EditionStatus.SENDING
        edition.finished_at = None
    return count


def sweep(session: Session, settings: Settings, now: datetime) -> list[tuple[int, int, int]]:
    """Batches to enqueue again: leases run out, deferrals due, or work a lost task left.

    Returns (edition_id, first, last) ranges for every sending edition with claimable rows
    that no live batch holds; finishes editions with nothing pending. Does not commit.
    """
    stale = now - timedelta(seconds=settings.delivery_lease_seconds)
    batches: list[tuple[int, int, int]] = []
    editions = session.scalars(select(Edition.id).where(Edition.status == EditionStatus.SENDING))
    for edition_id in list(editions):
        if finish_if_done(session, edition_id, now):
            continue
        # Queued rows untouched for a whole lease belong to a batch message that was lost.
        orphaned = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.edition_id == edition_id,
                or_(
                    and_(Delivery.status == DeliveryStatus.QUEUED, Delivery.updated_at < stale),
                    and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
                    and_(
                        Delivery.status == DeliveryStatus.DEFERRED, Delivery.next_attempt_at <= now
                    ),
                ),
            )
        )
        if orphaned:
            batches += [
                (edition_id, a, b)
                for a, b in plan_batches(session, edition_id, settings.batch_size, now)
            ]
    return batches


def _edition_status(session: Session, edition_id: int) -> EditionStatus | None:
    return session.scalar(select(Edition.status).where(Edition.id == edition_id))


def _chunks(items: list[Claimed], size: int) -> Iterator[list[Claimed]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
