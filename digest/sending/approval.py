"""Hold for approval: a newsletter's editions are built ahead and wait for an editor's Approve.

With `Newsletter.hold_for_approval`, each town's segment is built DIGEST_APPROVAL_LEAD_MINUTES
before its slot and the edition waits (`awaiting`). Approved, each town goes at its slot. Not
approved by a town's slot, the newsletter decides (`if_unapproved`): "send" it anyway
`approval_grace_minutes` after the slot, or "skip" it, the reason recorded on the segment.
An edition awaiting approval cannot be started (states.MOVES); once approved (or past the
grace), the scheduler starts each town with `due_only`, so a town is never mailed before its
time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.schedules import slot_instant, slots_between
from digest.errors import DigestError
from digest.models import Edition, EditionSegment, EditionStatus, Newsletter
from digest.sending import editions, states
from digest.sending.editions import Dispatched
from digest.settings import Settings

SEND, SKIP = "send", "skip"
IF_UNAPPROVED = (SEND, SKIP)
# Statuses of a held edition whose towns may still be started.
RELEASABLE = (
    EditionStatus.AWAITING,
    EditionStatus.READY,
    EditionStatus.SENDING,
    EditionStatus.SENT,
)


def approve(session: Session, edition: Edition, by: str, now: datetime) -> None:
    """An editor approves the edition as it stands; each town then goes at its slot."""
    states.require_move(session, edition, "approve", approved_at=now, approved_by=by)


def set_hold(
    newsletter: Newsletter, hold: bool, if_unapproved: str = SEND, grace_minutes: int = 30
) -> None:
    """Change a newsletter's approval setting; raises DigestError for a bad value."""
    if if_unapproved not in IF_UNAPPROVED:
        raise DigestError(f"if unapproved: {if_unapproved!r} is neither 'send' nor 'skip'")
    if not 0 <= grace_minutes <= 24 * 60:
        raise DigestError(f"grace of {grace_minutes} minutes: give 0 to 1440")
    newsletter.hold_for_approval = hold
    newsletter.if_unapproved = if_unapproved
    newsletter.approval_grace_minutes = grace_minutes


def dispatch_held(session: Session, settings: Settings, now: datetime) -> Dispatched:
    """The scheduler's pass for held newsletters: build ahead, then start approved towns.

    Idempotent like `editions.dispatch_due`. Does not commit.
    """
    to_send: set[int] = set()
    missed: list[str] = []
    letters = session.scalars(
        select(Newsletter)
        .where(Newsletter.active.is_(True), Newsletter.hold_for_approval.is_(True))
        .order_by(Newsletter.id)
    )
    for newsletter in list(letters):
        _build_ahead(session, settings, newsletter, now, missed)
        _release(session, newsletter, now, to_send, missed)
    return Dispatched(sorted(to_send), missed)


def _build_ahead(
    session: Session, settings: Settings, newsletter: Newsletter, now: datetime, missed: list[str]
) -> None:
    lead = timedelta(minutes=settings.approval_lead_minutes)
    grace = timedelta(minutes=settings.schedule_grace_minutes)
    for town in editions.reader_towns(session, newsletter):
        last = editions.last_slot_instant(session, newsletter, town) or newsletter.created_at
        after = max(last, now - editions.LOOKBACK)
        for slot in slots_between(newsletter.schedule, town.timezone, after, now + lead):
            edition = editions.edition_for_slot(session, newsletter, slot, now)
            late = now - slot_instant(slot, town.timezone)
            if late > grace:
                reason = f"missed: due {late} ago, beyond the grace period of {grace}"
                editions.add_segment(session, editions.skipped_segment(edition, town, slot, reason))
                missed.append(f"{newsletter.slug} {slot:%Y-%m-%d %H:%M} {town.slug}: {reason}")
                continue
            segment = editions.build_segment(session, settings, edition, newsletter, town, now)
            added = editions.add_segment(session, segment)
            if added and segment.skip_reason is None:
                if edition.status in (EditionStatus.BUILDING, EditionStatus.SKIPPED):
                    edition.status = EditionStatus.AWAITING
                    edition.skip_reason = None
            elif added and edition.status == EditionStatus.BUILDING:
                edition.status = EditionStatus.SKIPPED
                edition.skip_reason = segment.skip_reason


def _release(
    session: Session, newsletter: Newsletter, now: datetime, to_send: set[int], missed: list[str]
) -> None:
    """Start every town whose slot has come: approved, or unapproved past the grace."""
    grace = timedelta(minutes=newsletter.approval_grace_minutes)
    due = session.scalars(
        select(EditionSegment)
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .where(
            Edition.newsletter_id == newsletter.id,
            Edition.status.in_(RELEASABLE),
            EditionSegment.skip_reason.is_(None),
            EditionSegment.started_at.is_(None),
            EditionSegment.send_at <= now,
        )
        .order_by(EditionSegment.id)
    )
    for segment in list(due):
        edition = segment.edition
        label = f"{newsletter.slug} {edition.slot:%Y-%m-%d %H:%M} {segment.community.slug}"
        if edition.approved_at is None and newsletter.if_unapproved == SKIP:
            segment.skip_reason = f"not approved by its slot ({segment.send_at:%H:%M} UTC)"
            missed.append(f"{label}: {segment.skip_reason}")
            _skip_if_nothing_left(edition)
            continue
        if edition.approved_at is None and now < segment.send_at + grace:
            continue  # the editor may still approve within the grace
        if edition.approved_at is None:
            reason = f"nobody: sent {grace} after its slot without approval"
            states.move(session, edition.id, "approve", approved_at=now, approved_by=reason)
            missed.append(f"{label}: {reason}")
        if edition.status == EditionStatus.SENT:  # a later town of an edition already sent
            edition.status = EditionStatus.READY
        to_send.add(edition.id)  # the send starts only the towns now due (due_only)


def _skip_if_nothing_left(edition: Edition) -> None:
    if all(s.skip_reason is not None for s in edition.segments) and edition.started_at is None:
        edition.status = EditionStatus.SKIPPED
        edition.skip_reason = "not approved by its slot"
