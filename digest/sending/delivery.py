"""Delivery: one row per reader and edition, claimed in batches, sent, and recorded promptly.

Guarantees (docs/delivery.md states them for operators, with how each is tested):
- Every confirmed, unsuppressed reader of a town with a segment gets a `Delivery` row when
  sending starts (one INSERT ... SELECT), and the row is unique per edition and reader.
- A batch run claims its rows with a token and keeps its lease alive while it works
  (digest.sending.claims): a run slowed by the relay or the send-rate limiter keeps its rows,
  and every write it makes is fenced on its token.
- Results are recorded every `delivery_commit_every` messages, in the transaction that also
  renews the lease and checks pause, cancel and suppression for the next group; a worker that
  dies repeats at most that many messages (those sent but not yet recorded).
- A database that stops answering mid-batch is waited for: what the relay accepted stays in
  memory and is recorded once it answers (digest.sending.blips).
- A refusal at send time goes through the bounce classifier: a dead address is a hard bounce
  (delivery `bounced`, address suppressed, a BounceEvent kept); anything else is `failed`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, insert, literal, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from digest.bounces.classify import classify_reply
from digest.clock import Clock
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
from digest.readers.suppressions import not_suppressed
from digest.render.mime import MessageTemplate, MimeError, Reader, compose
from digest.sending import states
from digest.sending.claims import Claimed, claimable
from digest.sending.mail_url import open_transport
from digest.sending.messages import template_of
from digest.sending.send_rate import open_rate_limiter
from digest.sending.transport import Result, SendResult, SendStatus, Transport, TransportError
from digest.settings import Settings

log = logging.getLogger(__name__)

OUTCOMES = {
    SendStatus.SENT: DeliveryStatus.SENT,
    SendStatus.DEFERRED: DeliveryStatus.DEFERRED,
    SendStatus.FAILED: DeliveryStatus.FAILED,
}


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: DeliveryStatus
    reply: str | None = None
    message_id: str | None = None
    from_relay: bool = False  # the mail server's answer (not ours, like a bad address)
    bounce_status: str | None = None  # a hard bounce's status code, as classified


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
        self.message_ids: dict[int, str] = {}  # of the messages whose outcome is still owed

    def template(self, session: Session, segment_id: int, now: datetime) -> MessageTemplate:
        if segment_id not in self.templates:
            segment = session.get_one(EditionSegment, segment_id)
            self.templates[segment_id] = template_of(self.settings, segment, now)
        return self.templates[segment_id]

    def send(self, template: MessageTemplate, item: Claimed, now: datetime) -> list[Outcome]:
        """Compose and submit one reader's message; returns the outcomes now known: those of
        earlier messages whose replies came in, and this one's if it went no further. `flush`
        gives the rest."""
        reader = Reader(
            item.delivery_id,
            item.subscriber_id,
            item.email,
            item.name,
            counts_clicks=not item.click_opt_out,
        )
        try:
            message = compose(template, reader, now)
        except MimeError as exc:
            return [Outcome(item.delivery_id, DeliveryStatus.FAILED, str(exc))]
        self.acquire()
        self.message_ids[item.delivery_id] = message.message_id
        try:
            results = self.transport.submit(
                item.delivery_id, message.mail_from, item.email, message.data
            )
        except TransportError:
            del self.message_ids[item.delivery_id]  # not sent: the caller records it deferred
            raise
        return self._outcomes(results)

    def flush(self) -> list[Outcome]:
        """The outcomes of every message submitted and not yet reported."""
        return self._outcomes(self.transport.flush())

    def _outcomes(self, results: list[Result]) -> list[Outcome]:
        return [outcome_of(key, result, self.message_ids.pop(key, "")) for key, result in results]


def outcome_of(delivery_id: int, result: SendResult, message_id: str) -> Outcome:
    """The delivery's outcome for the relay's answer; a refusal goes through the classifier."""
    if result.status == SendStatus.FAILED and result.code is not None:
        verdict = classify_reply(result.code, result.reply)
        if verdict.hard:
            status = verdict.status or str(result.code)
            return Outcome(delivery_id, DeliveryStatus.BOUNCED, result.reply, None, True, status)
    status_ = OUTCOMES[result.status]
    sent_id = message_id if result.status == SendStatus.SENT else None
    return Outcome(delivery_id, status_, result.reply, sent_id, True)


@contextmanager
def open_sender(settings: Settings) -> Iterator[Sender]:
    """A Sender on DIGEST_MAIL_URL under DIGEST_SEND_RATE; the connection closes on exit.

    It connects on the first send, not here: a relay that is down or refuses our login then
    shows as outcomes (deferrals, a TransportError) that the circuit breaker acts on, instead
    of a task that fails before it has claimed anything, again at every sweep.
    """
    transport = open_transport(settings)
    limiter = open_rate_limiter(settings, transport.name)
    try:
        yield Sender(settings, transport, limiter.acquire)
    finally:
        transport.close()


def start_sending(
    session: Session, edition: Edition, now: datetime, *, due_only: bool = False
) -> int:
    """Create the deliveries and mark the edition sending; returns how many rows were created.

    Safe to call again: readers who already have a row are not given a second one. With
    `due_only` (the scheduler), only towns whose segment's send time has come get theirs;
    the scheduler starts the others at their own time (an edition built ahead).
    """
    if edition.status not in states.MOVES["start"].sources:
        raise DigestError(f"cannot send edition {edition.id}: it is {edition.status}")
    created = create_deliveries(session, edition, now, due_only=due_only)
    _mark_segments_started(session, edition, now, due_only)
    states.require_move(session, edition, "start", started_at=edition.started_at or now)
    edition.recipient_count = _delivery_total(session, edition.id)
    return created


def _mark_segments_started(
    session: Session, edition: Edition, now: datetime, due_only: bool
) -> None:
    # The scheduler reads started_at to know which built-ahead segments still wait for their time.
    query = (
        update(EditionSegment)
        .where(
            EditionSegment.edition_id == edition.id,
            EditionSegment.skip_reason.is_(None),
            EditionSegment.started_at.is_(None),
        )
        .values(started_at=now)
    )
    if due_only:
        query = query.where(EditionSegment.send_at <= now)
    session.execute(query, execution_options={"synchronize_session": False})


def create_deliveries(
    session: Session, edition: Edition, now: datetime, *, due_only: bool = False
) -> int:
    """One queued delivery per confirmed, active, unsuppressed reader, in one INSERT ... SELECT.

    With `due_only`, only for the towns whose segment's send time has come.
    """
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
            EditionSegment.send_at <= now if due_only else true(),
            not_suppressed(Subscriber),
            ~exists().where(
                Delivery.edition_id == edition.id, Delivery.subscriber_id == Subscriber.id
            ),
        )
        # Ids follow the segments, so a batch (an id range) spans one or two towns' segments
        # and loads and encodes one or two message templates, not one per town.
        .order_by(EditionSegment.id, Subscriber.id)
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


def plan_batches(
    session: Session, edition_id: int, size: int, now: datetime, rows: object | None = None
) -> list[tuple[int, int]]:
    """Id ranges of at most `size` claimable deliveries each (or of `rows`), computed in SQL."""
    which = claimable(now) if rows is None else rows
    numbered = (
        select(Delivery.id, func.row_number().over(order_by=Delivery.id).label("n"))
        .where(Delivery.edition_id == edition_id, which)  # type: ignore[arg-type]
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
        select(func.max(Delivery.id)).where(Delivery.edition_id == edition_id, which)  # type: ignore[arg-type]
    )
    ends = [start - 1 for start in starts[1:]] + [int(last or starts[-1])]
    return list(zip(starts, ends, strict=True))


def start_and_plan(
    factory: sessionmaker[Session],
    settings: Settings,
    edition_id: int,
    clock: Clock,
    *,
    due_only: bool = False,
) -> list[tuple[int, int]]:
    """Start sending an edition (commits), then plan its batches: what send_edition does.

    With `due_only` (the scheduler), only the towns whose send time has come are started."""
    with factory() as session:
        with session.begin():
            edition = session.get(Edition, edition_id)
            if edition is None:
                raise DigestError(f"no edition {edition_id} (see `digest edition list`)")
            start_sending(session, edition, clock.now(), due_only=due_only)
        with session.begin():
            return plan_batches(session, edition_id, settings.batch_size, clock.now())


def resume(session: Session, edition: Edition) -> None:
    """Carry on a paused edition: only what is still queued or deferred will be sent."""
    states.require_move(session, edition, "resume", pause_reason=None)


def retry_failed(session: Session, edition: Edition, now: datetime) -> int:
    """Queue the edition's failed deliveries again (never bounced, suppressed or cancelled
    ones, and never for a cancelled edition); returns how many."""
    if edition.status not in states.MOVES["reopen"].sources:
        raise DigestError(f"cannot retry edition {edition.id}: it is {edition.status}")
    result = session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition.id, Delivery.status == DeliveryStatus.FAILED)
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=None, created_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count and edition.status == EditionStatus.SENT:
        states.require_move(session, edition, "reopen", finished_at=None)
    return count
