"""What a town was already sent: its earlier editions of a newsletter, and their clusters.

Every edition built for another slot counts, whatever its send time (an edition built ahead
for tomorrow never repeats today's). What an edition sent is read from its frozen story ids
with their current cluster keys, so an editor's merge or split counts too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from digest.models import Community, Edition, EditionSegment, EditionStatus, Newsletter, Story

# Editions whose stories count as sent: built (even ahead of time) and (being) sent, even if
# stopped half-way.
SENT_STATUSES = (
    EditionStatus.BUILDING,
    EditionStatus.READY,
    EditionStatus.SENDING,
    EditionStatus.SENT,
    EditionStatus.PAUSED,
    EditionStatus.CANCELLED,
)
# Earlier editions are read this far back beyond the window; a cluster's copies are published
# within hours of each other, so anything older cannot hold a cluster still in the window.
HISTORY_MARGIN = timedelta(days=30)


def sent_before(
    session: Session,
    newsletter: Newsletter,
    community: Community,
    at: datetime,
    slot: datetime,
    audience: str = "",
) -> tuple[datetime | None, set[str]]:
    """When this town last got an edition of the newsletter, and every cluster it was sent.

    Every other slot's edition counts, built ahead or sent: a reader never gets a story twice.
    """
    since = at - timedelta(hours=newsletter.window_hours) - HISTORY_MARGIN
    rows = session.execute(
        select(
            EditionSegment.send_at,
            Edition.slot,
            EditionSegment.story_ids,
            EditionSegment.cluster_keys,
        )
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .where(
            Edition.newsletter_id == newsletter.id,
            Edition.status.in_(SENT_STATUSES),
            or_(Edition.status != EditionStatus.CANCELLED, Edition.started_at.is_not(None)),
            EditionSegment.community_id == community.id,
            EditionSegment.audience == audience,
            EditionSegment.skip_reason.is_(None),
            Edition.slot != slot,
            EditionSegment.send_at >= since,
        )
    ).all()
    last = max((send_at for send_at, earlier, _, _ in rows if earlier < slot), default=None)
    frozen: dict[int, str] = {}
    for _, _, story_ids, keys in rows:
        frozen.update(zip(story_ids or (), keys or (), strict=False))
    return last, _current_keys(session, frozen)


def _current_keys(session: Session, frozen: dict[int, str]) -> set[str]:
    """The clusters of the stories sent: their keys now (after an editor's merge or split).

    A story since deleted counts with the key frozen when it was sent.
    """
    if not frozen:
        return set()
    rows = session.execute(select(Story.id, Story.cluster_key).where(Story.id.in_(list(frozen))))
    current = {row[0]: row[1] for row in rows}
    return {current.get(story_id, key) for story_id, key in frozen.items()}
