"""Erasure and access requests (GDPR): everything held about an address, and its removal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from digest.addresses import email_hash, normalize_email
from digest.models import (
    BounceEvent,
    ClickEvent,
    ConsentAction,
    Delivery,
    Edition,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    SuppressionReason,
)
from digest.readers.consent import Origin, consent_events, event_dict, record_consent
from digest.readers.preferences import leave_newsletters
from digest.readers.subscribers import require_subscriber
from digest.readers.suppressions import suppress


def export_subscriber(session: Session, email: str) -> dict[str, object]:
    """Everything Digest holds about an address (GDPR access request), JSON-ready.

    Raises DigestError when nobody has that address.
    """
    subscriber = require_subscriber(session, email)
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "town": subscriber.community.name,
        "status": subscriber.status.value,
        "created_at": subscriber.created_at.isoformat(),
        "subscriptions": [
            {
                "newsletter": s.newsletter.slug,
                "status": s.status.value,
                "source": s.source,
                "created_at": s.created_at.isoformat(),
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
                "unsubscribed_at": s.unsubscribed_at.isoformat() if s.unsubscribed_at else None,
            }
            for s in sorted(subscriber.subscriptions, key=lambda s: s.newsletter.slug)
        ],
        "consent_events": [event_dict(session, e) for e in consent_events(session, subscriber.id)],
        "deliveries": _deliveries(session, subscriber.id),
        "bounces": _bounces(session, subscriber.id),
        "clicks": [
            {"edition": e.edition_id, "link": e.link_key, "clicked_at": e.clicked_at.isoformat()}
            for e in session.scalars(
                select(ClickEvent)
                .where(ClickEvent.subscriber_id == subscriber.id)
                .order_by(ClickEvent.clicked_at)
            )
        ],
    }


def _deliveries(session: Session, subscriber_id: int) -> list[dict[str, object]]:
    """Every edition sent (or tried) to the reader: what, when, and what the server said."""
    rows = session.execute(
        select(Delivery, Edition.subject, Newsletter.slug, Edition.slot)
        .join(Edition, Edition.id == Delivery.edition_id)
        .join(Newsletter, Newsletter.id == Edition.newsletter_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id)
    ).all()
    return [
        {
            "newsletter": slug,
            "edition": slot.isoformat(),
            "subject": subject,
            "status": delivery.status.value,
            "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
            "message_id": delivery.message_id,
            "last_reply": delivery.last_reply,
        }
        for delivery, subject, slug, slot in rows
    ]


def _bounces(session: Session, subscriber_id: int) -> list[dict[str, object]]:
    """Every bounce and complaint about the reader, as received."""
    events = session.scalars(
        select(BounceEvent)
        .where(BounceEvent.subscriber_id == subscriber_id)
        .order_by(BounceEvent.id)
    )
    return [
        {
            "received_at": event.received_at.isoformat(),
            "kind": event.kind.value,
            "reason": event.reason,
            "status": event.status,
            "diagnostic": event.diagnostic,
            "source": event.source,
        }
        for event in events
    ]


@dataclass(frozen=True)
class Erasure:
    email_hash: str
    found: bool
    events_removed: int


def erase_subscriber(session: Session, email: str, now: datetime) -> Erasure:
    """Remove an address's personal data and suppress it for ever (GDPR erasure).

    The subscriber row stays (deliveries count on it) with no address or name; consent
    events carrying IPs and user agents are deleted and one ERASE event keeps the hash; a
    suppression by hash makes sure the address is never mailed again, even if re-imported.
    """
    normal = normalize_email(email)
    digest = email_hash(normal)
    subscriber = session.scalars(select(Subscriber).where(Subscriber.email == normal)).one_or_none()
    removed = 0
    if subscriber is not None:
        events = consent_events(session, subscriber.id)
        removed = len(events)
        for event in events:
            session.delete(event)
        # Per-reader clicks (docs/analytics.md) are personal data too; aggregates are not.
        session.execute(delete(ClickEvent).where(ClickEvent.subscriber_id == subscriber.id))
        leave_newsletters(subscriber, now)
        subscriber.updated_at = now
        subscriber.email = None
        subscriber.name = None
        subscriber.status = SubscriberStatus.ERASED
        # Bounce reports quote the address; the kind, reason and code stay for the counts.
        session.execute(
            update(BounceEvent)
            .where(BounceEvent.subscriber_id == subscriber.id)
            .values(recipient=None, diagnostic=None)
        )
        record_consent(
            session,
            subscriber.id,
            None,
            ConsentAction.ERASE,
            Origin("erasure request"),
            now,
            {"email_hash": digest, "events_removed": removed},
        )
    suppression = suppress(session, normal, SuppressionReason.ERASED, "erasure request", now)
    suppression.email = None  # an earlier suppression (a bounce) may have kept the address
    session.flush()
    return Erasure(digest, subscriber is not None, removed)


# Import and export of lists
