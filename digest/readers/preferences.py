"""Readers changing their minds: preferences and unsubscribing, each recorded as consent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.newsletters import open_newsletters
from digest.models import (
    Community,
    ConsentAction,
    SubscriptionStatus,
)
from digest.readers.consent import Origin, record_consent
from digest.readers.signup import SignupError
from digest.readers.subscribers import live_subscriber, subscription_for


@dataclass(frozen=True)
class PreferencesChange:
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    town_changed: bool = False


def unsubscribe(
    session: Session,
    subscriber_id: int,
    newsletter_id: int | None,
    origin: Origin,
    now: datetime,
) -> list[str]:
    """Unsubscribe from one newsletter, or from all when newsletter_id is None; at once.

    Returns the names of the newsletters left (empty when already unsubscribed).
    Raises SubscriberGoneError.
    """
    subscriber = live_subscriber(session, subscriber_id)
    left: list[str] = []
    for subscription in subscriber.subscriptions:
        if newsletter_id is not None and subscription.newsletter_id != newsletter_id:
            continue
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            continue
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.unsubscribed_at = now
        left.append(subscription.newsletter.name)
        record_consent(
            session,
            subscriber.id,
            subscription.newsletter_id,
            ConsentAction.UNSUBSCRIBE,
            origin,
            now,
            {"scope": "one" if newsletter_id is not None else "all"},
        )
    session.flush()
    return sorted(left)


def change_preferences(
    session: Session,
    subscriber_id: int,
    *,
    community: str,
    newsletters: Sequence[str],
    origin: Origin,
    wording: str,
    now: datetime,
) -> PreferencesChange:
    """Set the reader's town and newsletters from the preferences centre.

    The preferences link was mailed to the reader, so a newsletter ticked here starts at
    once (consent recorded with the wording shown). Raises SignupError, SubscriberGoneError.
    """
    subscriber = live_subscriber(session, subscriber_id)
    town = session.scalars(select(Community).where(Community.slug == community)).one_or_none()
    if town is None:
        raise SignupError({"community": "Please choose your town from the list."})
    wanted = set(newsletters)
    available = {n.slug: n for n in open_newsletters(session)}
    if not wanted <= set(available):
        raise SignupError({"newsletters": "One of the newsletters you ticked is not available."})

    change = PreferencesChange(town_changed=subscriber.community_id != town.id)
    if change.town_changed:
        record_consent(
            session,
            subscriber.id,
            None,
            ConsentAction.PREFERENCES,
            origin,
            now,
            {"community": {"from": subscriber.community.slug, "to": town.slug}},
        )
        subscriber.community = town
    current = {s.newsletter.slug: s for s in subscriber.subscriptions}
    for slug, newsletter in sorted(available.items()):
        subscription = current.get(slug)
        receiving = (
            subscription is not None and subscription.status != SubscriptionStatus.UNSUBSCRIBED
        )
        if slug in wanted and not (
            subscription and subscription.status == SubscriptionStatus.CONFIRMED
        ):
            if subscription is None:
                subscription = subscription_for(subscriber, newsletter, origin, now)
            subscription.status = SubscriptionStatus.CONFIRMED
            subscription.confirmed_at = now
            subscription.unsubscribed_at = None
            change.joined.append(newsletter.name)
            record_consent(
                session,
                subscriber.id,
                newsletter.id,
                ConsentAction.PREFERENCES,
                origin,
                now,
                {"wording": wording, "change": "join"},
            )
        elif slug not in wanted and receiving and subscription is not None:
            subscription.status = SubscriptionStatus.UNSUBSCRIBED
            subscription.unsubscribed_at = now
            change.left.append(newsletter.name)
            record_consent(
                session,
                subscriber.id,
                newsletter.id,
                ConsentAction.UNSUBSCRIBE,
                origin,
                now,
                {"scope": "one", "via": "preferences"},
            )
    session.flush()
    return change


# Records (CASL, GDPR)
