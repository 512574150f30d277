"""Readers joining and leaving: double opt-in, preferences, unsubscribe, and consent records.

Every consent and withdrawal appends a ConsentEvent (time, IP, user agent, page or form,
wording version). Functions here take a Session and never commit; the caller owns the
transaction and sends email (confirmation, welcome) only after it has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.addresses import AddressError, email_hash, normalize_email
from digest.errors import DigestError
from digest.models import (
    Community,
    ConsentAction,
    ConsentEvent,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
)
from digest.settings import Settings
from digest.suppressions import is_suppressed, suppress

MAX_NEWSLETTERS_PER_SIGNUP = 20


@dataclass(frozen=True)
class Origin:
    """Where a consent or withdrawal came from: the page or form, and who sent it."""

    source: str
    ip: str | None = None
    user_agent: str | None = None
    wording_version: str | None = None


class SignupError(DigestError):
    """A signup that cannot be recorded; `errors` maps each form field to what to fix."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


class SubscriberGoneError(DigestError):
    """A link whose subscriber no longer exists or was erased."""


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


@dataclass(frozen=True)
class PreferencesChange:
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    town_changed: bool = False


@dataclass
class ImportReport:
    added: int = 0
    confirmed: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (line, email, reason)


def publisher_name(settings: Settings) -> str:
    """The publisher's name, from the display name of DIGEST_SENDER."""
    name, address = parseaddr(settings.sender)
    return name or address


def consent_wording(settings: Settings) -> str:
    """The consent sentence shown next to the checkbox; its version is recorded with consent."""
    return (
        f"I agree to receive the newsletters I ticked above by email from "
        f"{publisher_name(settings)} ({settings.postal_address}), with the news of my town "
        f"and region. I can withdraw my consent at any time with the unsubscribe link in "
        f"every email."
    )


# Lookups


def communities(session: Session) -> list[Community]:
    """Every town a reader can pick, by name."""
    return list(session.scalars(select(Community).order_by(Community.name)))


def open_newsletters(session: Session) -> list[Newsletter]:
    """The newsletters a reader can join, by name."""
    query = select(Newsletter).where(Newsletter.active.is_(True)).order_by(Newsletter.name)
    return list(session.scalars(query))


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
    subscriber = _subscriber_for(session, normal, town, now)
    if subscriber.status != SubscriberStatus.ACTIVE:
        return SignupOutcome(subscriber_id=subscriber.id, send_confirmation=False)

    pending: list[Subscription] = []
    for newsletter in chosen:
        subscription = _subscription_for(subscriber, newsletter, origin, now)
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
        _record(
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
        errors["email"] = str(exc)
    town = session.scalars(select(Community).where(Community.slug == community)).one_or_none()
    if town is None:
        errors["community"] = "Please choose your town from the list."
    slugs = list(dict.fromkeys(newsletters))
    chosen: list[Newsletter] = []
    if not slugs:
        errors["newsletters"] = "Please tick at least one newsletter."
    elif len(slugs) > MAX_NEWSLETTERS_PER_SIGNUP:
        errors["newsletters"] = "Please tick fewer newsletters."
    else:
        query = select(Newsletter).where(Newsletter.slug.in_(slugs), Newsletter.active.is_(True))
        chosen = list(session.scalars(query))
        if len(chosen) != len(slugs):
            errors["newsletters"] = "One of the newsletters you ticked is not available."
    if not consent:
        errors["consent"] = "Please tick the box to say you agree to receive the newsletters."
    if errors:
        raise SignupError(errors)
    return normal, town, chosen


def _subscriber_for(
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


def _subscription_for(
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
        _record(
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
        _record(
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
        _record(
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
                subscription = _subscription_for(subscriber, newsletter, origin, now)
            subscription.status = SubscriptionStatus.CONFIRMED
            subscription.confirmed_at = now
            subscription.unsubscribed_at = None
            change.joined.append(newsletter.name)
            _record(
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
            _record(
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


def _record(
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


def _require_subscriber(session: Session, email: str) -> Subscriber:
    subscriber = find_subscriber(session, email)
    if subscriber is None:
        raise DigestError(f"no subscriber with the address {email!r} (check the spelling)")
    return subscriber


def consent_events(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    """The reader's consent record, oldest first."""
    query = (
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    )
    return list(session.scalars(query))


def _event_dict(session: Session, event: ConsentEvent) -> dict[str, object]:
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
    subscriber = _require_subscriber(session, email)
    return {
        "email": subscriber.email,
        "events": [_event_dict(session, e) for e in consent_events(session, subscriber.id)],
    }


def export_subscriber(session: Session, email: str) -> dict[str, object]:
    """Everything Digest holds about an address (GDPR access request), JSON-ready.

    Raises DigestError when nobody has that address.
    """
    subscriber = _require_subscriber(session, email)
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
        "consent_events": [_event_dict(session, e) for e in consent_events(session, subscriber.id)],
    }


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
        for subscription in subscriber.subscriptions:
            if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
                subscription.status = SubscriptionStatus.UNSUBSCRIBED
                subscription.unsubscribed_at = now
        subscriber.email = None
        subscriber.name = None
        subscriber.status = SubscriberStatus.ERASED
        _record(
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


def import_subscribers(
    session: Session,
    rows: Iterable[Mapping[str, str | None]],
    *,
    source: str,
    community: str | None,
    newsletters: Sequence[str],
    now: datetime,
) -> ImportReport:
    """Add readers who consented elsewhere (`source` says where and how), confirmed at once.

    Each row has `email` and optionally `name`, `community` (a town slug, else the
    `community` argument). Suppressed addresses and readers who unsubscribed are skipped,
    never re-added. Raises DigestError when the source or newsletters are missing or unknown.
    """
    if not source.strip():
        raise DigestError("import: a consent source is required (--source 'how they agreed')")
    if not newsletters:
        raise DigestError("import: name at least one newsletter (--newsletter SLUG)")
    chosen = list(session.scalars(select(Newsletter).where(Newsletter.slug.in_(newsletters))))
    missing = sorted(set(newsletters) - {n.slug for n in chosen})
    if missing:
        raise DigestError(
            f"import: unknown newsletter {', '.join(missing)} (see the newsletters table)"
        )
    towns = {c.slug: c for c in communities(session)}
    if community is not None and community not in towns:
        raise DigestError(f"import: unknown town {community!r} (known: {', '.join(sorted(towns))})")
    origin = Origin(source=f"import: {source.strip()}"[:200])
    report = ImportReport()
    for line, row in enumerate(rows, start=2):  # line 1 is the CSV header
        raw = (row.get("email") or "").strip()
        try:
            normal = normalize_email(raw)
        except AddressError as exc:
            report.skipped.append((line, raw, str(exc)))
            continue
        town_slug = (row.get("community") or "").strip() or community
        if town_slug is None or town_slug not in towns:
            report.skipped.append((line, normal, f"unknown town {town_slug!r}"))
            continue
        if is_suppressed(session, normal):
            report.skipped.append((line, normal, "suppressed: never mailed again"))
            continue
        _import_one(session, report, line, normal, row, towns[town_slug], chosen, origin, now)
    session.flush()
    return report


def _import_one(
    session: Session,
    report: ImportReport,
    line: int,
    normal: str,
    row: Mapping[str, str | None],
    town: Community,
    chosen: list[Newsletter],
    origin: Origin,
    now: datetime,
) -> None:
    existing = session.scalars(select(Subscriber).where(Subscriber.email == normal)).one_or_none()
    subscriber = existing or _subscriber_for(session, normal, town, now)
    if existing is None:
        subscriber.name = (row.get("name") or "").strip()[:200] or None
        session.flush()  # its id goes into the consent records
        report.added += 1
    if subscriber.status != SubscriberStatus.ACTIVE:
        report.skipped.append((line, normal, f"subscriber is {subscriber.status.value}"))
        return
    for newsletter in chosen:
        subscription = _subscription_for(subscriber, newsletter, origin, now)
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            report.skipped.append(
                (line, normal, f"unsubscribed from {newsletter.slug}: not re-added")
            )
            continue
        if subscription.status == SubscriptionStatus.CONFIRMED:
            report.unchanged += 1
            continue
        subscription.status = SubscriptionStatus.CONFIRMED
        subscription.confirmed_at = now
        report.confirmed += 1
        _record(
            session, subscriber.id, newsletter.id, ConsentAction.IMPORT, origin, now, {"line": line}
        )


def export_list(session: Session, newsletter: str) -> list[dict[str, str]]:
    """The confirmed, active readers of a newsletter, by address (for a CSV)."""
    found = session.scalars(select(Newsletter).where(Newsletter.slug == newsletter)).one_or_none()
    if found is None:
        raise DigestError(f"unknown newsletter {newsletter!r} (see the newsletters table)")
    query = (
        select(Subscriber, Subscription, Community)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(Community, Community.id == Subscriber.community_id)
        .where(
            Subscription.newsletter_id == found.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscriber.status == SubscriberStatus.ACTIVE,
        )
        .order_by(Subscriber.email)
    )
    return [
        {
            "email": subscriber.email or "",
            "name": subscriber.name or "",
            "community": town.slug,
            "confirmed_at": subscription.confirmed_at.isoformat()
            if subscription.confirmed_at
            else "",
            "source": subscription.source,
        }
        for subscriber, subscription, town in session.execute(query)
    ]


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
