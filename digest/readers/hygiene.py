"""List hygiene: readers who stopped clicking get one re-engagement email, then leave.

Off by default, per newsletter (`Newsletter.hygiene`). A reader *lapses* when
`hygiene_after_editions` (N) editions of the newsletter were delivered to them (status sent)
since they last engaged; they get one re-engagement email with a "keep me subscribed" link,
and are unsubscribed when `hygiene_grace_editions` (M) more editions reach them without
engagement, with a consent event that says why.

Engaging is the latest of: their confirmation, the moment hygiene was turned on, a counted
click in any of the newsletter's editions (`click_events`: scanners and prefetchers never get
there), and a consent event of theirs (the keep link, a preferences change, a confirmation).

It needs per-reader engagement (DIGEST_CLICK_PER_READER): without it nobody can tell who did
not click, so nothing happens. A reader who ticked "Do not count my clicks" is never touched.
Only editions within the click event and delivery retention periods are counted (a click older
than those is forgotten, so an edition older than them cannot count as "not clicked").

These functions decide and record; they never send and never commit
(`digest.sending.reengagement` runs the pass).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from digest.db import UTCDateTime
from digest.errors import DigestError
from digest.models import (
    ClickEvent,
    ConsentAction,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Edition,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.consent import Origin, record_consent
from digest.readers.subscribers import live_subscriber
from digest.settings import Settings

MAILING, MAILED = "mailing", "mailed"  # Subscription.reengage_state
REASON = "no click in {after} editions, nor in {grace} more after a re-engagement email"
# A reader's own acts that show they still want the newsletter.
ENGAGING_CONSENT = (
    ConsentAction.KEEP,
    ConsentAction.PREFERENCES,
    ConsentAction.CONFIRM,
    ConsentAction.SIGNUP,
)


class HygieneError(DigestError):
    """List hygiene cannot be set as asked: the message says why."""


class Step(enum.StrEnum):
    MAIL = "mail"  # lapsed: send the re-engagement email
    REMOVE = "remove"  # mailed, and the grace is over: unsubscribe
    RESET = "reset"  # engaged since the email: the lapse is over
    STUCK = "stuck"  # a send was claimed and never finished (a crash): never mailed again


@dataclass(frozen=True)
class Lapse:
    """One reader's step in a hygiene pass."""

    subscription_id: int
    subscriber_id: int
    newsletter_id: int
    email: str
    step: Step
    editions: int  # delivered since they last engaged (since the email, for REMOVE)


def refusal(settings: Settings) -> str | None:
    """Why hygiene cannot run on this installation, or None when it can."""
    if not settings.click_tracking:
        return "list hygiene needs click tracking (DIGEST_CLICK_TRACKING=true)"
    if not settings.click_per_reader:
        return (
            "list hygiene needs per-reader engagement (DIGEST_CLICK_PER_READER=true): "
            "without it nobody can tell who did not click"
        )
    return None


def configure(
    session: Session,
    settings: Settings,
    newsletter: Newsletter,
    *,
    on: bool,
    after: int | None,
    grace: int | None,
    now: datetime,
) -> None:
    """Turn hygiene on or off and set N and M; raises HygieneError. Does not commit.

    Turning it on starts the count afresh (`hygiene_since`): editions before it never count.
    """
    after = newsletter.hygiene_after_editions if after is None else after
    grace = newsletter.hygiene_grace_editions if grace is None else grace
    if after < 2 or grace < 1:
        raise HygieneError(
            f"{newsletter.slug}: --after must be at least 2 editions and --grace at least 1 "
            f"(got {after} and {grace})"
        )
    problem = refusal(settings) if on else None
    if problem:
        raise HygieneError(f"{newsletter.slug}: {problem}")
    if on and not newsletter.hygiene:
        newsletter.hygiene_since = now
    newsletter.hygiene = on
    newsletter.hygiene_after_editions = after
    newsletter.hygiene_grace_editions = grace
    session.flush()


def hygiene_newsletters(session: Session, settings: Settings) -> list[Newsletter]:
    """Newsletters with hygiene on, or none at all when the installation cannot run it."""
    if refusal(settings):
        return []
    query = select(Newsletter).where(Newsletter.hygiene.is_(True), Newsletter.active.is_(True))
    return list(session.scalars(query.order_by(Newsletter.slug)))


def _latest(session: Session, *values: ColumnElement[Any]) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(*values, type_=UTCDateTime())
    return func.max(*values, type_=UTCDateTime())  # SQLite's max() of several values


def review(
    session: Session, settings: Settings, newsletter: Newsletter, now: datetime
) -> list[Lapse]:
    """What a pass would do for the newsletter's readers now (reads only).

    Two set-based queries: each reader's last engagement (grouped, one join each for clicks and
    consent), then their deliveries since then, counted in one pass over the window's
    deliveries (bench/bench_hygiene.py).
    """
    if refusal(settings) or not newsletter.hygiene:
        return []
    floor = literal(_floor(settings, newsletter, now), UTCDateTime())
    engaged = _engagement(session, newsletter, floor).cte("engaged")
    since_email = _latest(session, func.coalesce(engaged.c.reengaged_at, floor), floor)
    edition = aliased(Edition)
    query = (
        select(
            engaged.c.subscription_id,
            engaged.c.subscriber_id,
            engaged.c.email,
            engaged.c.reengage_state,
            engaged.c.reengaged_at,
            engaged.c.engaged_at,
            func.sum(case((Delivery.sent_at > engaged.c.engaged_at, 1), else_=0)),
            func.sum(case((Delivery.sent_at > since_email, 1), else_=0)),
        )
        .select_from(engaged)
        .join(Delivery, Delivery.subscriber_id == engaged.c.subscriber_id)
        .join(edition, edition.id == Delivery.edition_id)
        .where(
            edition.newsletter_id == newsletter.id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at > floor,
        )
        .group_by(*engaged.c)
        .order_by(engaged.c.subscription_id)
    )
    lapses = []
    for sub_id, reader, email, state, mailed_at, last, count, after_email in session.execute(query):
        step = _step(newsletter, state, mailed_at, last, int(count or 0), int(after_email or 0))
        if step is not None:
            editions = after_email if step == Step.REMOVE else count
            lapses.append(Lapse(sub_id, reader, newsletter.id, email, step, int(editions or 0)))
    return lapses


def _engagement(session: Session, newsletter: Newsletter, floor: ColumnElement[Any]) -> Any:
    """Each confirmed, active, countable reader's subscription and their last engagement."""
    clicked = aliased(Edition)
    clicks = (
        select(ClickEvent.subscriber_id, func.max(ClickEvent.clicked_at).label("at"))
        .join(clicked, clicked.id == ClickEvent.edition_id)
        .where(clicked.newsletter_id == newsletter.id, ClickEvent.clicked_at > floor)
        .group_by(ClickEvent.subscriber_id)
        .subquery()
    )
    consent = (
        select(ConsentEvent.subscriber_id, func.max(ConsentEvent.occurred_at).label("at"))
        .where(
            ConsentEvent.action.in_(ENGAGING_CONSENT),
            or_(ConsentEvent.newsletter_id == newsletter.id, ConsentEvent.newsletter_id.is_(None)),
            ConsentEvent.occurred_at > floor,
        )
        .group_by(ConsentEvent.subscriber_id)
        .subquery()
    )
    engaged_at = _latest(
        session,
        func.coalesce(Subscription.confirmed_at, Subscription.created_at),
        floor,
        func.coalesce(clicks.c.at, floor),
        func.coalesce(consent.c.at, floor),
    )
    return (
        select(
            Subscription.id.label("subscription_id"),
            Subscription.subscriber_id,
            Subscriber.email,
            Subscription.reengage_state,
            Subscription.reengaged_at,
            engaged_at.label("engaged_at"),
        )
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .outerjoin(clicks, clicks.c.subscriber_id == Subscription.subscriber_id)
        .outerjoin(consent, consent.c.subscriber_id == Subscription.subscriber_id)
        .where(
            Subscription.newsletter_id == newsletter.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscriber.status == SubscriberStatus.ACTIVE,
            Subscriber.click_opt_out.is_(False),
            Subscriber.email.is_not(None),
        )
    )


def _floor(settings: Settings, newsletter: Newsletter, now: datetime) -> datetime:
    """The oldest moment whose editions can count: hygiene turned on, and within retention."""
    days = min(settings.click_event_retention_days, settings.delivery_retention_days)
    floors = [now - timedelta(days=days)]
    if newsletter.hygiene_since is not None:
        floors.append(newsletter.hygiene_since)
    return max(floors)


def _step(
    newsletter: Newsletter,
    state: str | None,
    mailed_at: datetime | None,
    engaged: datetime,
    unclicked: int,
    after_email: int,
) -> Step | None:
    if state is None:
        return Step.MAIL if unclicked >= newsletter.hygiene_after_editions else None
    if mailed_at is not None and engaged > mailed_at:
        return Step.RESET
    if state == MAILING:
        return Step.STUCK
    if after_email >= newsletter.hygiene_grace_editions:
        return Step.REMOVE
    return None


def claim_mail(session: Session, subscription_id: int, now: datetime) -> bool:
    """Mark the lapse as being mailed, before the send; False when another pass has it.

    Committed before the email leaves, so a crash after it can never mail the lapse twice.
    """
    claimed = session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.reengage_state.is_(None))
        .values(reengage_state=MAILING, reengaged_at=now)
    )
    return bool(getattr(claimed, "rowcount", 0))


def record_mail(session: Session, subscription_id: int, sent: bool) -> None:
    """After the send: "mailed" when the relay took the email, else the claim is released (the
    next pass tries again)."""
    values: dict[str, Any] = {"reengage_state": MAILED}
    if not sent:
        values = {"reengage_state": None, "reengaged_at": None}
    session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.reengage_state == MAILING)
        .values(**values)
    )


def reset(session: Session, subscription_id: int) -> None:
    """End a lapse: the reader engaged after the email."""
    session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id)
        .values(reengage_state=None, reengaged_at=None)
    )


def remove(session: Session, lapse: Lapse, origin: Origin, now: datetime) -> bool:
    """Unsubscribe a lapsed reader after the grace, with a consent event saying why.

    False (nothing done) unless the subscription is still confirmed and mailed, so a pass run
    twice removes once. Does not commit.
    """
    subscription = session.get(Subscription, lapse.subscription_id, with_for_update=True)
    if subscription is None or subscription.status != SubscriptionStatus.CONFIRMED:
        return False
    if subscription.reengage_state != MAILED:
        return False
    newsletter = subscription.newsletter
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = now
    subscription.reengage_state = None
    detail: dict[str, object] = {
        "scope": "one",
        "reason": "list hygiene: "
        + REASON.format(
            after=newsletter.hygiene_after_editions, grace=newsletter.hygiene_grace_editions
        ),
        "reengagement_email_at": (subscription.reengaged_at or now).isoformat(),
    }
    record_consent(
        session, lapse.subscriber_id, newsletter.id, ConsentAction.UNSUBSCRIBE, origin, now, detail
    )
    session.flush()
    return True


def keep(
    session: Session, subscriber_id: int, newsletter_id: int, origin: Origin, now: datetime
) -> str | None:
    """The reader asked to stay (the email's keep link): recorded, and their lapse is over.

    Returns the newsletter's name, or None when they are no longer subscribed to it.
    Raises SubscriberGoneError. Does not commit.
    """
    live_subscriber(session, subscriber_id)
    subscription = session.scalars(
        select(Subscription).where(
            and_(
                Subscription.subscriber_id == subscriber_id,
                Subscription.newsletter_id == newsletter_id,
                Subscription.status == SubscriptionStatus.CONFIRMED,
            )
        )
    ).one_or_none()
    if subscription is None:
        return None
    subscription.reengage_state = None
    subscription.reengaged_at = None
    record_consent(
        session, subscriber_id, newsletter_id, ConsentAction.KEEP, origin, now, {"from": "email"}
    )
    session.flush()
    return subscription.newsletter.name
