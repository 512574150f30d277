"""Signup and double opt-in: pending subscriptions from the form, confirmed from the mailbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.addresses import AddressError, normalize_email
from digest.errors import DigestError
from digest.i18n import translatable
from digest.models import (
    Community,
    ConsentAction,
    Newsletter,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.consent import Origin, record_consent
from digest.readers.subscribers import live_subscriber, subscriber_for, subscription_for
from digest.readers.suppressions import is_suppressed

MAX_NEWSLETTERS_PER_SIGNUP = 20


class SignupError(DigestError):
    """A signup that cannot be recorded; `errors` maps each form field to what to fix."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class SignupOutcome:
    """What the shell does next; the reader sees the same answer whatever it says."""

    subscriber_id: int | None
    send_confirmation: bool


@dataclass(frozen=True)
class ConfirmOutcome:
    subscriber_id: int
    confirmed: list[str]  # names of the newsletters this confirmation started
    send_welcome: bool


def signup(
    session: Session,
    *,
    email: str,
    community: str,
    newsletters: Sequence[str],
    consent: bool,
    origin: Origin,
    wording: str,
    now: datetime,
    resend_after: timedelta,
) -> SignupOutcome:
    """Record a pending subscription per newsletter and the consent given on the form.

    Raises SignupError naming each bad field. A confirmation is due when something is
    pending and none was sent in the last `resend_after`; an address that is suppressed or
    already confirmed everywhere gets no email, and the caller's answer must not say so.
    """
    normal, town, chosen = _validate_signup(session, email, community, newsletters, consent)
    if is_suppressed(session, normal):
        return SignupOutcome(subscriber_id=None, send_confirmation=False)
    subscriber = subscriber_for(session, normal, town, now)
    if subscriber.status != SubscriberStatus.ACTIVE:
        return SignupOutcome(subscriber_id=subscriber.id, send_confirmation=False)

    pending: list[Subscription] = []
    for newsletter in chosen:
        subscription = subscription_for(subscriber, newsletter, origin, now)
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            # A new consent after a withdrawal: pending again until the mailbox confirms.
            subscription.status = SubscriptionStatus.PENDING
            subscription.source = origin.source
            subscription.confirmation_sent_at = None
        if subscription.status == SubscriptionStatus.PENDING:
            pending.append(subscription)
    recently_sent = any(
        s.confirmation_sent_at is not None and now - s.confirmation_sent_at < resend_after
        for s in subscriber.subscriptions
        if s.status == SubscriptionStatus.PENDING
    )
    send = bool(pending) and not recently_sent
    if send:
        for subscription in pending:
            subscription.confirmation_sent_at = now
    session.flush()  # a new reader gets an id for the consent records
    for subscription in pending:
        record_consent(
            session,
            subscriber.id,
            subscription.newsletter_id,
            ConsentAction.SIGNUP,
            origin,
            now,
            {"wording": wording},
        )
    session.flush()
    return SignupOutcome(subscriber_id=subscriber.id, send_confirmation=send)


def _validate_signup(
    session: Session, email: str, community: str, newsletters: Sequence[str], consent: bool
) -> tuple[str, Community | None, list[Newsletter]]:
    errors: dict[str, str] = {}
    normal = ""
    try:
        normal = normalize_email(email)
    except AddressError as exc:
        errors["email"] = exc.reader_message
    town = session.scalars(select(Community).where(Community.slug == community)).one_or_none()
    if town is None:
        errors["community"] = translatable("Please choose your town from the list.")
    slugs = list(dict.fromkeys(newsletters))
    chosen: list[Newsletter] = []
    if not slugs:
        errors["newsletters"] = translatable("Please tick at least one newsletter.")
    elif len(slugs) > MAX_NEWSLETTERS_PER_SIGNUP:
        errors["newsletters"] = translatable("Please tick fewer newsletters.")
    else:
        query = select(Newsletter).where(Newsletter.slug.in_(slugs), Newsletter.active.is_(True))
        chosen = list(session.scalars(query))
        if len(chosen) != len(slugs):
            errors["newsletters"] = translatable(
                "One of the newsletters you ticked is not available."
            )
    if not consent:
        errors["consent"] = translatable(
            "Please tick the box to say you agree to receive the newsletters."
        )
    if errors:
        raise SignupError(errors)
    return normal, town, chosen


def pending_newsletters(session: Session, subscriber_id: int) -> list[Newsletter]:
    """The newsletters a confirmation would start for this reader (what the email lists)."""
    query = (
        select(Newsletter)
        .join(Subscription, Subscription.newsletter_id == Newsletter.id)
        .where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.status == SubscriptionStatus.PENDING,
        )
        .order_by(Newsletter.name)
    )
    return list(session.scalars(query))


def confirmed_newsletters(session: Session, subscriber_id: int) -> list[Newsletter]:
    """The newsletters this reader receives."""
    query = (
        select(Newsletter)
        .join(Subscription, Subscription.newsletter_id == Newsletter.id)
        .where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
        )
        .order_by(Newsletter.name)
    )
    return list(session.scalars(query))


def confirm(session: Session, subscriber_id: int, origin: Origin, now: datetime) -> ConfirmOutcome:
    """Confirm every pending subscription of the reader (the button on the confirm page).

    Confirming twice changes nothing the second time. Raises SubscriberGoneError.
    """
    subscriber = live_subscriber(session, subscriber_id)
    started: list[str] = []
    for subscription in subscriber.subscriptions:
        if subscription.status != SubscriptionStatus.PENDING:
            continue
        subscription.status = SubscriptionStatus.CONFIRMED
        subscription.confirmed_at = now
        subscription.unsubscribed_at = None
        started.append(subscription.newsletter.name)
        record_consent(
            session,
            subscriber.id,
            subscription.newsletter_id,
            ConsentAction.CONFIRM,
            origin,
            now,
            {},
        )
    active = subscriber.status == SubscriberStatus.ACTIVE
    session.flush()
    return ConfirmOutcome(subscriber.id, sorted(started), send_welcome=bool(started) and active)


# Leaving and changing


def confirmation_not_sent(session: Session, subscriber_id: int) -> None:
    """Forget that a confirmation was sent (it could not be queued), so a retry is not throttled."""
    for subscription in session.scalars(
        select(Subscription).where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.status == SubscriptionStatus.PENDING,
        )
    ):
        subscription.confirmation_sent_at = None
    session.flush()
