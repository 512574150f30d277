"""Editions: build (curate and render each town's segment once), and the editor's controls.

An edition moves building -> ready -> sending -> sent; an editor can pause, resume or cancel
it. A town with nothing new gets no segment content (its skip reason is kept); an edition with
nothing new anywhere is skipped, never sent empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.curation.curate import curate
from digest.curation.schedules import slot_instant, slots_between
from digest.errors import NotFoundError
from digest.models import (
    Community,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionPick,
    EditionSegment,
    EditionStatus,
    Newsletter,
    PickKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.sending import shaping, states
from digest.sending.audience_segments import audience_segments
from digest.settings import Settings


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise NotFoundError("edition", f"no edition {edition_id}")
    return edition


def reader_towns(session: Session, newsletter: Newsletter) -> list[Community]:
    """Towns with at least one confirmed, active reader of the newsletter, by slug."""
    query = (
        select(Community)
        .join(Subscriber, Subscriber.community_id == Community.id)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            Subscription.newsletter_id == newsletter.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscriber.status == SubscriberStatus.ACTIVE,
        )
        .distinct()
        .order_by(Community.slug)
    )
    return list(session.scalars(query))


def build_edition(
    session: Session,
    settings: Settings,
    newsletter: Newsletter,
    slot: datetime,
    now: datetime,
    towns: list[Community] | None = None,
) -> Edition:
    """The edition of `newsletter` for `slot` (naive local wall-clock time), built once.

    Building again returns the edition already there. Each town's segment is curated and
    rendered now (premailer runs once per town). Does not commit.
    """
    existing = session.scalar(
        select(Edition).where(Edition.newsletter_id == newsletter.id, Edition.slot == slot)
    )
    if existing is not None:
        return existing
    edition = _new_edition(newsletter, slot, now)
    session.add(edition)
    session.flush()
    for town in towns if towns is not None else reader_towns(session, newsletter):
        session.add(build_segment(session, settings, edition, newsletter, town, now))
        session.add_all(audience_segments(session, settings, edition, newsletter, town, now))
    session.flush()
    segments = session.scalars(
        select(EditionSegment).where(EditionSegment.edition_id == edition.id)
    ).all()
    if any(segment.skip_reason is None for segment in segments):
        edition.status = EditionStatus.READY
    else:
        edition.status = EditionStatus.SKIPPED
        reasons = sorted({segment.skip_reason or "" for segment in segments})
        edition.skip_reason = "; ".join(reasons) or "no town has a confirmed reader"
    return edition


def build_segment(
    session: Session,
    settings: Settings,
    edition: Edition,
    newsletter: Newsletter,
    town: Community,
    now: datetime,
) -> EditionSegment:
    """One town's segment: its curated stories and sponsors, frozen, and its HTML and text,
    inlined once (so every reader of the town gets the same ad, counted from `placements`)."""
    segment = EditionSegment(
        edition_id=edition.id,
        community_id=town.id,
        send_at=slot_instant(edition.slot, town.timezone),
        built_at=now,
    )
    # Curated for the slot: an edition built ahead sees what is known now; one built late
    # sees everything up to now.
    at = max(now, segment.send_at)
    curation = curate(session, newsletter, town, at, slot=edition.slot)
    if curation.skip_reason is not None and not _has_picks(session, edition, town):
        segment.skip_reason = curation.skip_reason
        return segment
    # Editors' picks apply to what curation chose (digest.sending.shaping, docs/desk.md).
    segment.curated = shaping.curated(curation, at)
    shaping.freeze(session, settings, edition, segment, town, curation.skip_reason)
    return segment


def _has_picks(session: Session, edition: Edition, town: Community) -> bool:
    """True when an editor added stories to this edition (a town with nothing new may send)."""
    query = select(EditionPick.id).where(
        EditionPick.edition_id == edition.id,
        EditionPick.kind == PickKind.ADD,
        or_(EditionPick.community_id == town.id, EditionPick.community_id.is_(None)),
    )
    return session.scalar(query.limit(1)) is not None


def pause(session: Session, edition: Edition) -> None:
    """Stop sending within the current groups; what was not sent stays queued."""
    states.require_move(session, edition, "pause", pause_reason=None)


def cancel(session: Session, edition: Edition, now: datetime) -> int:
    """Stop for good: every delivery not yet sent is cancelled. Returns how many.

    Running batches see it at their next group: at most the group in hand per batch still
    reaches the relay (and is recorded as sent, since it was).
    """
    states.require_move(session, edition, "cancel", finished_at=now)
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.edition_id == edition.id,
            Delivery.status.in_(states.PENDING_DELIVERY_STATES),
        )
        .values(status=DeliveryStatus.CANCELLED, lease_until=None, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Dispatched:
    """What one pass of the scheduler did: editions to send now, and slots it skipped."""

    to_send: list[int]
    missed: list[str]


def dispatch_due(session: Session, settings: Settings, now: datetime) -> Dispatched:
    """Build every town's segment whose slot is due; returns the editions to start sending.

    Idempotent: a slot that already has a segment for a town is never built again, so two
    schedulers, or a restart, never send an edition twice. A slot found later than the grace
    period is recorded as skipped (with the reason) instead of being sent late. Does not commit.
    """
    grace = timedelta(minutes=settings.schedule_grace_minutes)
    to_send: set[int] = set()
    missed: list[str] = []
    touched: dict[int, Edition] = {}
    letters = session.scalars(
        select(Newsletter)
        .where(
            Newsletter.active.is_(True),
            Newsletter.hold_for_approval.is_(False),  # built ahead, released by sending.approval
            Newsletter.kind != "alert",  # sent one story at a time by sending.alerts
        )
        .order_by(Newsletter.id)
    )
    for newsletter in list(letters):
        for town in reader_towns(session, newsletter):
            # Slots built ahead do not count here: the slots before them are still to send.
            last = last_slot_instant(session, newsletter, town, now) or newsletter.created_at
            after = max(last, now - LOOKBACK)
            for slot in slots_between(newsletter.schedule, town.timezone, after, now):
                edition = edition_for_slot(session, newsletter, slot, now)
                touched[edition.id] = edition
                late = now - slot_instant(slot, town.timezone)
                if late > grace:
                    reason = f"missed: due {late} ago, beyond the grace period of {grace}"
                    add_segment(session, skipped_segment(edition, town, slot, reason))
                    missed.append(f"{newsletter.slug} {slot:%Y-%m-%d %H:%M} {town.slug}: {reason}")
                    continue
                segment = build_segment(session, settings, edition, newsletter, town, now)
                extra = audience_segments(session, settings, edition, newsletter, town, now)
                added = [
                    add_segment(session, s) and s.skip_reason is None for s in (segment, *extra)
                ]
                if any(added):
                    if edition.status in (
                        EditionStatus.BUILDING,
                        EditionStatus.SENT,
                        EditionStatus.SKIPPED,
                    ):
                        edition.status = EditionStatus.READY
                    if edition.status in (EditionStatus.READY, EditionStatus.SENDING):
                        to_send.add(edition.id)
    to_send.update(_built_ahead_now_due(session, now, grace))
    for segment in _built_ahead_missed(session, now, grace):
        late = now - segment.send_at
        segment.skip_reason = f"missed: due {late} ago, beyond the grace period of {grace}"
        touched[segment.edition_id] = segment.edition
        missed.append(
            f"edition {segment.edition_id} {segment.community.slug}: {segment.skip_reason}"
        )
    for edition in touched.values():
        settle_skipped(session, edition)
    return Dispatched(sorted(to_send), missed)


def _built_ahead_now_due(session: Session, now: datetime, grace: timedelta) -> set[int]:
    """Editions built ahead with a town whose send time has come and that was not started.

    Their readers get them now (the send starts only the towns now due). A town whose time
    passed beyond the grace period while the service was down is left to an editor.
    """
    rows = session.execute(
        select(Edition)
        .join(EditionSegment, EditionSegment.edition_id == Edition.id)
        .join(Newsletter, Newsletter.id == Edition.newsletter_id)
        .where(
            Newsletter.active.is_(True),
            Edition.status.in_(REOPENABLE),
            EditionSegment.skip_reason.is_(None),
            EditionSegment.started_at.is_(None),
            EditionSegment.built_at < EditionSegment.send_at,
            EditionSegment.send_at <= now,
            EditionSegment.send_at > now - grace,
        )
        .distinct()
    ).scalars()
    due = set()
    for edition in rows:
        if edition.status == EditionStatus.SENT:
            edition.status = EditionStatus.READY
        due.add(edition.id)
    return due


def _built_ahead_missed(session: Session, now: datetime, grace: timedelta) -> list[EditionSegment]:
    """Segments built ahead whose send time passed beyond the grace period, never started."""
    query = (
        select(EditionSegment)
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .where(
            Edition.status.in_(REOPENABLE),
            EditionSegment.skip_reason.is_(None),
            EditionSegment.started_at.is_(None),
            EditionSegment.built_at < EditionSegment.send_at,
            EditionSegment.send_at <= now - grace,
        )
        .order_by(EditionSegment.id)
    )
    return list(session.scalars(query))


# Editions a town's segment can still be started in; a SENT one goes back to READY.
REOPENABLE = (EditionStatus.READY, EditionStatus.SENDING, EditionStatus.SENT)


def settle_skipped(session: Session, edition: Edition) -> None:
    """An edition not yet started whose every segment was skipped ends `skipped`, with why.

    A town whose slot comes later can still add its segment: the scheduler makes the edition
    ready again then. Does not commit.
    """
    unstarted = edition.status in (EditionStatus.BUILDING, EditionStatus.READY)
    if not unstarted or edition.started_at is not None:
        return
    session.flush()
    reasons = session.scalars(
        select(EditionSegment.skip_reason).where(EditionSegment.edition_id == edition.id)
    ).all()
    if reasons and all(reason is not None for reason in reasons):
        edition.status = EditionStatus.SKIPPED
        edition.skip_reason = "; ".join(sorted({reason or "" for reason in reasons}))


# How far back the scheduler looks for missed slots (since the newsletter began at most).
LOOKBACK = timedelta(days=7)


def last_slot_instant(
    session: Session, newsletter: Newsletter, town: Community, until: datetime | None = None
) -> datetime | None:
    """When the town's latest built slot happens (with `until`: the latest already due)."""
    query = (
        select(func.max(Edition.slot))
        .join(EditionSegment, EditionSegment.edition_id == Edition.id)
        .where(Edition.newsletter_id == newsletter.id, EditionSegment.community_id == town.id)
    )
    if until is not None:
        query = query.where(EditionSegment.send_at <= until)
    slot = session.scalar(query)
    return None if slot is None else slot_instant(slot, town.timezone)


def edition_for_slot(
    session: Session, newsletter: Newsletter, slot: datetime, now: datetime
) -> Edition:
    """The newsletter's edition for `slot`, made (building) if there is none. Does not commit."""
    query = select(Edition).where(Edition.newsletter_id == newsletter.id, Edition.slot == slot)
    edition = session.scalar(query)
    if edition is not None:
        return edition
    try:
        with session.begin_nested():
            edition = _new_edition(newsletter, slot, now)
            session.add(edition)
        return edition
    except IntegrityError:  # another scheduler made it first
        return session.scalars(query).one()


def _new_edition(newsletter: Newsletter, slot: datetime, now: datetime) -> Edition:
    return Edition(
        newsletter_id=newsletter.id,
        slot=slot,
        status=EditionStatus.BUILDING,
        subject=f"{newsletter.name}: {slot:%A %-d %B %Y}",
        created_at=now,
    )


def skipped_segment(
    edition: Edition, town: Community, slot: datetime, reason: str
) -> EditionSegment:
    return EditionSegment(
        edition_id=edition.id,
        community_id=town.id,
        send_at=slot_instant(slot, town.timezone),
        skip_reason=reason,
    )


def add_segment(session: Session, segment: EditionSegment) -> bool:
    """Insert the segment unless this town already has one for the edition; True if added."""
    try:
        with session.begin_nested():
            session.add(segment)
        return True
    except IntegrityError:  # another scheduler built this town's segment first
        return False
