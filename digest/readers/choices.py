"""A reader's own mix: interests, frequency, other towns, a pause; each recorded as consent.

Every change records a PREFERENCES consent event saying what changed from what to what, and
keeps each subscription's audience (digest.readers.audiences) in step, so the next edition
gives the reader the segment their choices call for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.i18n import translatable
from digest.models import (
    Community,
    ConsentAction,
    Subscriber,
    SubscriberTown,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.audiences import FREQUENCIES, WEEKLY, audience_key, known_interests
from digest.readers.consent import Origin, record_consent
from digest.readers.signup import SignupError
from digest.readers.subscribers import live_subscriber

PAUSE_WEEKS = (1, 2, 4)
MAX_OTHER_TOWNS = 3


def other_town_slugs(subscriber: Subscriber) -> list[str]:
    return sorted(t.community.slug for t in subscriber.other_towns)


def refresh_audiences(subscriber: Subscriber) -> None:
    """Derive each subscription's audience from the reader's current choices."""
    towns = other_town_slugs(subscriber)
    for subscription in subscriber.subscriptions:
        subscription.audience = audience_key(towns, subscription.interests, subscription.frequency)


def _subscription(subscriber: Subscriber, newsletter_slug: str) -> Subscription:
    for subscription in subscriber.subscriptions:
        if (
            subscription.newsletter.slug == newsletter_slug
            and subscription.status != SubscriptionStatus.UNSUBSCRIBED
        ):
            return subscription
    raise SignupError(
        {"newsletter": translatable("You do not receive {newsletter}.", newsletter=newsletter_slug)}
    )


def set_interests(
    session: Session,
    subscriber_id: int,
    newsletter: str,
    interests: Sequence[str] | None,
    origin: Origin,
    now: datetime,
) -> bool:
    """Keep only these story sections of a newsletter (None: all). True when it changed."""
    subscriber = live_subscriber(session, subscriber_id)
    subscription = _subscription(subscriber, newsletter)
    wanted = None if interests is None else sorted({i.strip().lower() for i in interests})
    if wanted is not None:
        known = set(known_interests(session))
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise SignupError(
                {"interests": translatable("There is no section {section}.", section=unknown[0])}
            )
        if not wanted:
            raise SignupError(
                {"interests": translatable("Keep at least one section, or leave the newsletter.")}
            )
    before = subscription.interests
    if before == wanted:
        return False
    subscription.interests = wanted
    change: dict[str, object] = {"interests": {"from": before, "to": wanted}}
    _record(session, subscriber, subscription, origin, now, change)
    return True


def set_frequency(
    session: Session,
    subscriber_id: int,
    newsletter: str,
    frequency: str,
    origin: Origin,
    now: datetime,
) -> bool:
    """Daily, or weekly (the week's best). True when it changed."""
    if frequency not in FREQUENCIES:
        raise SignupError({"frequency": f"Choose {' or '.join(FREQUENCIES)}."})
    subscriber = live_subscriber(session, subscriber_id)
    subscription = _subscription(subscriber, newsletter)
    if subscription.frequency == frequency:
        return False
    change: dict[str, object] = {"frequency": {"from": subscription.frequency, "to": frequency}}
    subscription.frequency = frequency
    _record(session, subscriber, subscription, origin, now, change)
    return True


def set_other_towns(
    session: Session, subscriber_id: int, towns: Sequence[str], origin: Origin, now: datetime
) -> bool:
    """The towns followed besides the reader's own (work, family). True when it changed."""
    subscriber = live_subscriber(session, subscriber_id)
    wanted = sorted(set(towns) - {subscriber.community.slug})
    if len(wanted) > MAX_OTHER_TOWNS:
        raise SignupError(
            {"towns": translatable("Follow at most {n} other towns.", n=MAX_OTHER_TOWNS)}
        )
    found = {
        c.slug: c for c in session.scalars(select(Community).where(Community.slug.in_(wanted)))
    }
    if len(found) != len(wanted):
        raise SignupError({"towns": translatable("Please choose your towns from the list.")})
    before = other_town_slugs(subscriber)
    if before == wanted:
        return False
    subscriber.other_towns = [SubscriberTown(community=found[slug]) for slug in wanted]
    session.flush()
    subscriber.updated_at = now
    change: dict[str, object] = {"towns": {"from": before, "to": wanted}}
    _record(session, subscriber, None, origin, now, change)
    return True


def pause(
    session: Session, subscriber_id: int, weeks: int, origin: Origin, now: datetime
) -> datetime:
    """No edition until `weeks` (1, 2 or 4) from now; returns when mail starts again."""
    if weeks not in PAUSE_WEEKS:
        raise SignupError({"pause": translatable("Pause for 1, 2 or 4 weeks.")})
    subscriber = live_subscriber(session, subscriber_id)
    subscriber.paused_until = now + timedelta(weeks=weeks)
    subscriber.updated_at = now
    detail: dict[str, object] = {
        "pause": {"weeks": weeks, "until": subscriber.paused_until.isoformat()}
    }
    _record(session, subscriber, None, origin, now, detail)
    return subscriber.paused_until


def resume(session: Session, subscriber_id: int, origin: Origin, now: datetime) -> bool:
    """End a pause now; True when the reader was paused."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber.paused_until is None or subscriber.paused_until <= now:
        return False
    subscriber.paused_until = None
    subscriber.updated_at = now
    _record(session, subscriber, None, origin, now, {"pause": "ended"})
    return True


def is_paused(subscriber: Subscriber, now: datetime) -> bool:
    return subscriber.paused_until is not None and subscriber.paused_until > now


def _record(
    session: Session,
    subscriber: Subscriber,
    subscription: Subscription | None,
    origin: Origin,
    now: datetime,
    detail: dict[str, object],
) -> None:
    refresh_audiences(subscriber)
    newsletter_id = subscription.newsletter_id if subscription else None
    record_consent(
        session, subscriber.id, newsletter_id, ConsentAction.PREFERENCES, origin, now, detail
    )
    session.flush()


@dataclass(frozen=True)
class Choices:
    """What the preferences page or API sends; None leaves a choice as it is."""

    other_towns: Sequence[str] | None = None
    interests: Mapping[str, Sequence[str] | None] = field(default_factory=dict)  # by newsletter
    frequency: Mapping[str, str] = field(default_factory=dict)  # by newsletter slug
    pause_weeks: int | None = None  # 0 ends a pause


def _frequency_said(newsletter: str, frequency: str) -> str:
    if frequency == WEEKLY:
        return translatable("You now get {newsletter} weekly.", newsletter=newsletter)
    return translatable("You now get {newsletter} daily.", newsletter=newsletter)


def apply_choices(
    session: Session, subscriber_id: int, choices: Choices, origin: Origin, now: datetime
) -> list[str]:
    """Apply every choice given; returns a sentence per change. Raises SignupError."""
    said: list[str] = []
    if choices.other_towns is not None and set_other_towns(
        session, subscriber_id, choices.other_towns, origin, now
    ):
        said.append(translatable("Your towns are saved."))
    for slug, interests in sorted(choices.interests.items()):
        if set_interests(session, subscriber_id, slug, interests, origin, now):
            said.append(translatable("Your sections of {newsletter} are saved.", newsletter=slug))
    for slug, frequency in sorted(choices.frequency.items()):
        if set_frequency(session, subscriber_id, slug, frequency, origin, now):
            said.append(_frequency_said(slug, frequency))
    if choices.pause_weeks == 0:
        if resume(session, subscriber_id, origin, now):
            said.append(translatable("Your pause has ended."))
    elif choices.pause_weeks is not None:
        until = pause(session, subscriber_id, choices.pause_weeks, origin, now)
        said.append(translatable("No email until {until}.", until=until))
    return said


def choices_of(session: Session, subscriber_id: int, now: datetime) -> dict[str, Any]:
    """The reader's choices, and what they can choose from (JSON-ready)."""
    subscriber = live_subscriber(session, subscriber_id)
    return {
        "email": subscriber.email,
        "community": subscriber.community.slug,
        "other_towns": other_town_slugs(subscriber),
        "paused_until": (
            subscriber.paused_until.isoformat()
            if subscriber.paused_until is not None and is_paused(subscriber, now)
            else None
        ),
        "newsletters": [
            {
                "slug": s.newsletter.slug,
                "name": s.newsletter.name,
                "status": s.status.value,
                "interests": s.interests,
                "frequency": s.frequency,
            }
            for s in sorted(subscriber.subscriptions, key=lambda s: s.newsletter.slug)
            if s.status != SubscriptionStatus.UNSUBSCRIBED
        ],
        "known_interests": known_interests(session),
        "frequencies": list(FREQUENCIES),
        "pause_weeks": list(PAUSE_WEEKS),
    }
