"""Consent records (CASL, GDPR): every consent and withdrawal, where it came from, and its proof."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.i18n import DEFAULT_LANGUAGE, translated
from digest.models import (
    ConsentAction,
    ConsentEvent,
    Newsletter,
)
from digest.readers.subscribers import require_subscriber
from digest.settings import Settings


@dataclass(frozen=True)
class Origin:
    """Where a consent or withdrawal came from: the page or form, and who sent it."""

    source: str
    ip: str | None = None
    user_agent: str | None = None
    wording_version: str | None = None


def publisher_name(settings: Settings) -> str:
    """The publisher's name, from the display name of DIGEST_SENDER."""
    name, address = parseaddr(settings.sender)
    return name or address


def consent_wording(settings: Settings, language: str = DEFAULT_LANGUAGE) -> str:
    """The consent sentence shown next to the checkbox, in the page's language; its version
    is recorded with consent (and the sentence itself, as the reader read it)."""
    return translated(
        language,
        "I agree to receive the newsletters I ticked above by email from {publisher} "
        "({address}), with the news of my town and region. I can withdraw my consent at any "
        "time with the unsubscribe link in every email.",
        publisher=publisher_name(settings),
        address=settings.postal_address,
    )


# Lookups


def record_consent(
    session: Session,
    subscriber_id: int | None,
    newsletter_id: int | None,
    action: ConsentAction,
    origin: Origin,
    now: datetime,
    detail: dict[str, object],
) -> None:
    session.add(
        ConsentEvent(
            subscriber_id=subscriber_id,
            newsletter_id=newsletter_id,
            action=action,
            occurred_at=now,
            ip=origin.ip,
            user_agent=(origin.user_agent or None) and origin.user_agent[:500],
            source=origin.source[:200],
            wording_version=origin.wording_version,
            detail=detail,
        )
    )


def consent_events(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    """The reader's consent record, oldest first."""
    query = (
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    )
    return list(session.scalars(query))


def event_dict(session: Session, event: ConsentEvent) -> dict[str, object]:
    newsletter = session.get(Newsletter, event.newsletter_id) if event.newsletter_id else None
    return {
        "occurred_at": event.occurred_at.isoformat(),
        "action": event.action.value,
        "newsletter": newsletter.slug if newsletter else None,
        "source": event.source,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "wording_version": event.wording_version,
        "detail": event.detail,
    }


def consent_proof(session: Session, email: str) -> dict[str, object]:
    """The proof of consent for an address: who, each consent and withdrawal, in order.

    Raises DigestError when nobody has that address.
    """
    subscriber = require_subscriber(session, email)
    return {
        "email": subscriber.email,
        "events": [event_dict(session, e) for e in consent_events(session, subscriber.id)],
    }
