"""Readers and their subscriptions: finding a reader, and the rows a signup or import adds."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.addresses import AddressError, normalize_email
from digest.errors import DigestError
from digest.models import (
    Community,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)

if TYPE_CHECKING:
    from digest.readers.consent import Origin


class SubscriberGoneError(DigestError):
    """A link whose subscriber no longer exists or was erased."""


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    """The subscriber with this address (any spelling that normalizes the same), or None."""
    try:
        normal = normalize_email(email)
    except AddressError:
        return None
    return session.scalars(select(Subscriber).where(Subscriber.email == normal)).one_or_none()


def live_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    """The subscriber a link names; raises SubscriberGoneError when missing or erased."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status == SubscriberStatus.ERASED:
        raise SubscriberGoneError(
            "This link no longer works: the address it was sent to was removed."
        )
    return subscriber


# Signup and double opt-in


def require_subscriber(session: Session, email: str) -> Subscriber:
    subscriber = find_subscriber(session, email)
    if subscriber is None:
        raise DigestError(f"no subscriber with the address {email!r} (check the spelling)")
    return subscriber


def subscriber_for(
    session: Session, normal: str, town: Community | None, now: datetime
) -> Subscriber:
    """The reader with this address, or a new one (added, not yet flushed).

    Two signups of one new address at the same moment: the second flush fails on the unique
    address (IntegrityError) and its caller retries, finding the first one's row.
    """
    query = select(Subscriber).where(Subscriber.email == normal)
    subscriber = session.scalars(query).one_or_none()
    if subscriber is not None:
        return subscriber
    assert town is not None  # validated by the caller
    subscriber = Subscriber(
        email=normal,
        community=town,
        status=SubscriberStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    session.add(subscriber)
    return subscriber


def subscription_for(
    subscriber: Subscriber, newsletter: Newsletter, origin: Origin, now: datetime
) -> Subscription:
    """The reader's subscription to the newsletter, or a new pending one (not yet flushed)."""
    for subscription in subscriber.subscriptions:
        if subscription.newsletter is newsletter or subscription.newsletter_id == newsletter.id:
            return subscription
    subscription = Subscription(
        newsletter=newsletter,
        status=SubscriptionStatus.PENDING,
        source=origin.source,
        created_at=now,
    )
    subscriber.subscriptions.append(subscription)
    return subscription
