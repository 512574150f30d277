"""An editor's corrections to wire-copy clusters: merge two clusters, split a story out.

Curation decides what a town already had from the stories its editions sent, read with their
current cluster keys, so a merge takes effect for editions already sent (a town that had one
side never gets the other) and a split story is a story of its own from then on.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.models import Story


def _story(session: Session, story_id: int) -> Story:
    story = session.get(Story, story_id)
    if story is None:
        raise DigestError(f"no story {story_id} (see `digest stories list`)")
    return story


def merge_clusters(session: Session, keep_id: int, other_id: int) -> int:
    """Every story in `other_id`'s cluster joins `keep_id`'s; returns how many moved.

    Raises DigestError for an unknown story. Does not commit.
    """
    keep, other = _story(session, keep_id), _story(session, other_id)
    if keep.cluster_key == other.cluster_key:
        return 0
    # Through the ORM, not a bulk UPDATE: a flush of changed stories is what tells
    # curation's per-session cache to read the clusters again.
    moved = session.scalars(select(Story).where(Story.cluster_key == other.cluster_key)).all()
    for story in moved:
        story.cluster_key = keep.cluster_key
    session.flush()
    return len(moved)


def split_story(session: Session, story_id: int) -> str:
    """Take a story out of its cluster into one of its own; returns the new key.

    Raises DigestError for an unknown story or one alone in its cluster. Does not commit.
    """
    story = _story(session, story_id)
    members = session.scalars(
        select(Story.id).where(Story.cluster_key == story.cluster_key).limit(2)
    ).all()
    if len(members) < 2:
        raise DigestError(f"story {story_id} is alone in its cluster; nothing to split")
    story.cluster_key = hashlib.sha256(f"split:{story.id}".encode()).hexdigest()[:32]
    session.flush()
    return story.cluster_key


def cluster_members(session: Session, story_id: int) -> list[Story]:
    """The stories sharing `story_id`'s cluster, oldest first. Raises DigestError if unknown."""
    story = _story(session, story_id)
    query = select(Story).where(Story.cluster_key == story.cluster_key)
    return list(session.scalars(query.order_by(Story.published_at, Story.id)))
