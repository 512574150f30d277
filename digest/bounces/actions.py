"""Acting on bounce and complaint reports: record each once, then suppress, unsubscribe or count.

Guarantees:
- Every report read is kept as `BounceEvent` rows, matched or not: a report that names nobody
  Digest knows, or nothing Digest can read, is logged and kept (kind `unknown`), never dropped.
- Reading the same report twice records and changes nothing the second time: each event has
  a `message_ref` (the sha256 of the raw report, or the relay's event id, plus the recipient)
  that the database keeps unique; two processes reading it at once record it once.
- Who bounced: the envelope recipient of the report is the VERP address that names the
  delivery (`digest.tokens`), signed, so forwarding cannot confuse it. Without one, the failed
  recipient named by the report (RFC 3464 fields, or flufl.bounce's MTA heuristics) is
  matched to a subscriber by address hash.
- What it does (`apply_report`): a hard bounce marks the subscriber bounced, suppresses the
  address and marks the delivery bounced; a soft bounce is recorded, and the address is
  suppressed ("soft-bounce limit") once it has DIGEST_SOFT_BOUNCE_LIMIT recipient-side soft
  bounces in distinct editions, the first and last at least DIGEST_SOFT_BOUNCE_DAYS apart,
  within DIGEST_SOFT_BOUNCE_WINDOW_DAYS; a complaint (ARF `abuse`, a relay's spam report)
  unsubscribes the reader from everything, records a consent event (complaint), marks them
  complained and suppresses the address. Auto-replies and other reports act on nobody.
- Which failures are hard: the classifier's (`digest.bounces.classify`): only recipient-side
  permanent failures (user unknown, host unknown, moved). Sender-side refusals (blocks,
  policy, spam, size, rate) never count against a reader, not even towards the soft limit.
- A Maildir's processed reports move to cur/ with the Seen flag, only after their events are
  committed; a crash in between reads them again, harmlessly (see above).
Core functions (`read_report`, `apply_report`, `process_report`) do not commit;
`process_maildir` is the loop that commits one report at a time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.bounces.classify import RECIPIENT_SIDE, Reason
from digest.bounces.reports import BounceReport, read_report
from digest.models import (
    BounceEvent,
    BounceKind,
    ConsentAction,
    Delivery,
    DeliveryStatus,
    Edition,
    Subscriber,
    SubscriberStatus,
    SuppressionReason,
)
from digest.readers.consent import Origin, record_consent
from digest.readers.preferences import leave_newsletters, unsubscribe
from digest.readers.subscribers import SubscriberGoneError
from digest.readers.suppressions import address_hash, suppress
from digest.settings import Settings
from digest.tokens import delivery_id_from_verp

log = logging.getLogger(__name__)

# Acting on reports


def apply_report(
    session: Session, settings: Settings, report: BounceReport, now: datetime
) -> BounceEvent | None:
    """Record one report and act on it; None when it was recorded before (nothing changes).

    Does not commit.
    """
    delivery = session.get(Delivery, report.delivery_id) if report.delivery_id else None
    subscriber = _subscriber_for(session, delivery, report.recipient)
    event = _record_event(session, report, delivery, subscriber, now)
    if event is None:
        return None
    if subscriber is None or report.kind == BounceKind.UNKNOWN:
        log.warning(
            "bounce report kept without action: kind %s, recipient %s, delivery %s, from %s",
            report.kind,
            report.recipient,
            report.delivery_id,
            report.source,
        )
        return event
    if report.kind == BounceKind.HARD:
        _hard_bounce(session, event, subscriber, delivery, now)
    elif report.kind == BounceKind.SOFT:
        _soft_bounce(session, settings, event, subscriber, now)
    else:
        _complaint(session, event, subscriber, delivery, now)
    return event


def process_report(
    session: Session, settings: Settings, raw: bytes, source: str, now: datetime
) -> list[BounceEvent]:
    """Read one raw report and apply each bounce in it; returns the events newly recorded."""
    events = [apply_report(session, settings, r, now) for r in read_report(settings, raw, source)]
    return [event for event in events if event is not None]


def webhook_report(
    settings: Settings,
    *,
    relay: str,
    event_id: str,
    kind: BounceKind,
    recipient: str | None,
    return_path: str | None = None,
    status: str | None = None,
    diagnostic: str | None = None,
    reason: Reason | None = None,
) -> BounceReport:
    """A report from a relay's webhook event; `return_path` is the envelope sender if known.

    The relay's event id makes it idempotent: a relay that posts the same event again changes
    nothing. Pass the result to `apply_report`.
    """
    return BounceReport(
        kind,
        f"{relay}:{event_id}",
        f"webhook:{relay}",
        recipient,
        delivery_id_from_verp(settings, return_path) if return_path else None,
        status,
        diagnostic,
        reason,
    )


def _subscriber_for(
    session: Session, delivery: Delivery | None, recipient: str | None
) -> Subscriber | None:
    if delivery is not None:
        return session.get(Subscriber, delivery.subscriber_id)
    if not recipient:
        return None
    query = select(Subscriber).where(Subscriber.email_hash == address_hash(recipient))
    return session.scalars(query).first()


def _record_event(
    session: Session,
    report: BounceReport,
    delivery: Delivery | None,
    subscriber: Subscriber | None,
    now: datetime,
) -> BounceEvent | None:
    values = {
        "received_at": now,
        "kind": report.kind,
        "delivery_id": delivery.id if delivery else None,
        "subscriber_id": subscriber.id if subscriber else None,
        "recipient": report.recipient[:320] if report.recipient else None,
        "status": report.status[:32] if report.status else None,
        "reason": report.reason.value if report.reason else None,
        "diagnostic": report.diagnostic,
        "source": report.source[:300],
        "message_ref": report.message_ref[:400],
    }
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    statement = insert(BounceEvent).values(**values).on_conflict_do_nothing()
    event_id = session.scalar(statement.returning(BounceEvent.id))
    return None if event_id is None else session.get(BounceEvent, event_id)


def _why(event: BounceEvent) -> str:
    return " ".join(part for part in (event.status, event.diagnostic) if part) or event.kind.value


def _hard_bounce(
    session: Session,
    event: BounceEvent,
    subscriber: Subscriber,
    delivery: Delivery | None,
    now: datetime,
) -> None:
    _mark(subscriber, SubscriberStatus.BOUNCED, now)
    if subscriber.email:
        suppress(session, subscriber.email, SuppressionReason.HARD_BOUNCE, _why(event), now)
    if delivery is not None:
        delivery.status = DeliveryStatus.BOUNCED
        delivery.last_reply = _why(event)
        delivery.updated_at = now


def _soft_bounce(
    session: Session, settings: Settings, event: BounceEvent, subscriber: Subscriber, now: datetime
) -> None:
    """Suppress once recipient-side soft bounces have come from enough editions, long enough.

    Several bounces of one edition (a delay warning, then the failure) count once; a bounce
    with no delivery counts as its own day.
    """
    if not _counts_towards_limit(event.reason) or not subscriber.email:
        return
    since = now - timedelta(days=settings.soft_bounce_window_days)
    rows = session.execute(
        select(BounceEvent.received_at, BounceEvent.reason, Delivery.edition_id)
        .outerjoin(Delivery, Delivery.id == BounceEvent.delivery_id)
        .where(
            BounceEvent.subscriber_id == subscriber.id,
            BounceEvent.kind == BounceKind.SOFT,
            BounceEvent.received_at >= since,
        )
    ).all()
    counted = [row for row in rows if _counts_towards_limit(row.reason)]
    editions = {
        row.edition_id if row.edition_id is not None else f"day {row.received_at.date()}"
        for row in counted
    }
    first = min(row.received_at for row in counted)
    long_enough = now - first >= timedelta(days=settings.soft_bounce_days)
    if len(editions) < settings.soft_bounce_limit or not long_enough:
        return
    _mark(subscriber, SubscriberStatus.BOUNCED, now)
    detail = (
        f"soft-bounce limit: {len(editions)} editions bounced over {(now - first).days} days; "
        f"last: {_why(event)}"
    )
    suppress(session, subscriber.email, SuppressionReason.SOFT_BOUNCE, detail, now)


def _counts_towards_limit(reason: str | None) -> bool:
    # Rows from before reasons were kept (None) count, as they always did.
    return reason is None or reason in RECIPIENT_SIDE


def _complaint(
    session: Session,
    event: BounceEvent,
    subscriber: Subscriber,
    delivery: Delivery | None,
    now: datetime,
) -> None:
    leave_newsletters(subscriber, now)
    newsletter_id = None
    if delivery is not None:
        newsletter_id = session.scalar(
            select(Edition.newsletter_id).where(Edition.id == delivery.edition_id)
        )
    # One complaint record covers every newsletter left: the complaint is the reason.
    record_consent(
        session,
        subscriber.id,
        newsletter_id,
        ConsentAction.COMPLAINT,
        Origin(f"complaint report ({event.source})"),
        now,
        {"bounce_event_id": event.id, "delivery_id": event.delivery_id},
    )
    _mark(subscriber, SubscriberStatus.COMPLAINED, now)
    if subscriber.email:
        suppress(session, subscriber.email, SuppressionReason.COMPLAINT, _why(event), now)


def _mark(subscriber: Subscriber, status: SubscriberStatus, now: datetime) -> None:
    # An erased reader stays erased; a complaint outranks a bounce.
    if subscriber.status == SubscriberStatus.ACTIVE or (
        status == SubscriberStatus.COMPLAINED and subscriber.status == SubscriberStatus.BOUNCED
    ):
        subscriber.status = status
        subscriber.updated_at = now


def apply_unsubscribe_request(
    session: Session, request: tuple[int, int | None], source: str, now: datetime
) -> None:
    """Unsubscribe the reader the mail names, at once, with a consent record. Does not commit."""
    subscriber_id, newsletter_id = request
    origin = Origin(source=f"email to the List-Unsubscribe address ({source})"[:200])
    try:
        left = unsubscribe(session, subscriber_id, newsletter_id, origin, now)
    except SubscriberGoneError:
        log.info("unsubscribe by email for subscriber %s: already erased", subscriber_id)
        return
    log.info("unsubscribed by email: subscriber %s from %s", subscriber_id, left or "nothing new")
