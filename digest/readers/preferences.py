"""Readers changing their minds: preferences and unsubscribing, each recorded as consent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.newsletters import open_newsletters
from digest.i18n import translatable
from digest.models import (
    Community,
    ConsentAction,
    Subscriber,
    Subscription,
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


def live_subscriptions(subscriber: Subscriber) -> list[Subscription]:
    """The reader's subscriptions not yet left (pending or confirmed)."""
    return [s for s in subscriber.subscriptions if s.status != SubscriptionStatus.UNSUBSCRIBED]


def leave_newsletters(
    subscriber: Subscriber, now: datetime, newsletter_id: int | None = None
) -> list[Subscription]:
    """Stop the reader's live subscriptions (all, or the one to newsletter_id) as of now.

    The one definition of leaving: unsubscribe links, the preferences centre, complaints and
    erasure all come here. It records no consent event: each caller records its own reason
    (an unsubscribe per newsletter, one complaint, one erasure). Returns what it stopped.
    """
    left = [
        s
        for s in live_subscriptions(subscriber)
        if newsletter_id is None or s.newsletter_id == newsletter_id
    ]
    for subscription in left:
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.unsubscribed_at = now
    return left


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
    scope = "one" if newsletter_id is not None else "all"
    left = leave_newsletters(subscriber, now, newsletter_id)
    for subscription in left:
        record_consent(
            session,
            subscriber.id,
            subscription.newsletter_id,
            ConsentAction.UNSUBSCRIBE,
            origin,
            now,
            {"scope": scope},
        )
    session.flush()
    return sorted(s.newsletter.name for s in left)


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
        raise SignupError({"community": translatable("Please choose your town from the list.")})
    wanted = set(newsletters)
    available = {n.slug: n for n in open_newsletters(session)}
    if not wanted <= set(available):
        raise SignupError(
            {"newsletters": translatable("One of the newsletters you ticked is not available.")}
        )

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
        subscriber.updated_at = now
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
            leave_newsletters(subscriber, now, newsletter.id)
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


def set_click_opt_out(
    session: Session, subscriber_id: int, opt_out: bool, origin: Origin, now: datetime
) -> bool:
    """Record the reader's choice about per-reader click counts; True when it changed.

    A change is recorded in the consent history. Raises SubscriberGoneError. Does not commit.
    """
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber.click_opt_out == opt_out:
        return False
    subscriber.click_opt_out = opt_out
    subscriber.updated_at = now
    detail: dict[str, object] = {"click_counts": "opted out" if opt_out else "allowed"}
    record_consent(session, subscriber.id, None, ConsentAction.PREFERENCES, origin, now, detail)
    session.flush()
    return True
