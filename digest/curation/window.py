"""The window's stories, grouped by cluster (one story and its wire copies).

An edition curates every town with the same window in one session, so the window's clusters
are read once per session and kept in `session.info` until a flush that changes a story, or
a commit or rollback.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from digest.models import Story


class Cluster:
    """One story and its copies, with what ranking needs summed up once as members arrive."""

    __slots__ = (
        "communities",
        "editors_pick",
        "feeds",
        "first_published",
        "key",
        "last_published",
        "members",
        "popularity",
        "sections",
    )

    def __init__(self, first: StoryRow) -> None:
        self.key = first.cluster_key
        self.members = [first]
        self.popularity = first.popularity
        self.editors_pick = first.editors_pick
        self.first_published = self.last_published = first.published_at
        self.feeds = {first.feed_id}
        self.communities = {first.community_id}
        self.sections = {first.section}

    def add(self, row: StoryRow) -> None:
        self.members.append(row)
        self.popularity = max(self.popularity, row.popularity)
        self.editors_pick = self.editors_pick or row.editors_pick
        self.first_published = min(self.first_published, row.published_at)
        self.last_published = max(self.last_published, row.published_at)
        self.feeds.add(row.feed_id)
        self.communities.add(row.community_id)
        self.sections.add(row.section)

    def copies(self) -> int:
        return len(self.feeds)

    def has_town_copy(self, community_id: int) -> bool:
        return community_id in self.communities

    def regional(self) -> bool:
        """Carried by the regional desk or the wire (a feed of no town)."""
        return None in self.communities

    def representative(self, community_id: int) -> StoryRow:
        """The reader's own town's copy, else a regional one, else the first published."""

        def preference(row: StoryRow) -> tuple[int, datetime, int]:
            place = 0 if row.community_id == community_id else 1 if row.community_id is None else 2
            return (place, row.published_at, row.id)

        return min(self.members, key=preference)


class StoryRow(NamedTuple):
    """The columns of a story that curation ranks by."""

    id: int
    cluster_key: str
    community_id: int | None
    feed_id: int
    published_at: datetime
    popularity: float
    editors_pick: bool
    section: str


def unsent_clusters(
    session: Session, earliest: datetime, at: datetime, sent: set[str]
) -> list[Cluster]:
    """The clusters published between `earliest` and `at`, less those in `sent`.

    Read once per session and window (see the module); does not commit.
    """
    cache: dict[tuple[datetime, datetime], list[Cluster]] | None
    cache = session.info.get(_CACHE)
    if cache is None:
        cache = session.info[_CACHE] = {}
        event.listen(session, "after_flush", _forget_clusters_if_stories_changed)
        for name in ("after_commit", "after_rollback", "after_soft_rollback"):
            event.listen(session, name, _forget_clusters)
    key = (earliest, at)
    if key not in cache:
        cache[key] = _read_clusters(session, earliest, at)
    return [cluster for cluster in cache[key] if cluster.key not in sent]


_CACHE = "digest.curation.window.clusters"


def _forget_clusters(session: Session, *_args: object) -> None:
    session.info.get(_CACHE, {}).clear()


def _forget_clusters_if_stories_changed(session: Session, *_args: object) -> None:
    # after_flush still sees what was flushed; an edition's segments do not change stories.
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(instance, Story) for instance in changed):
        _forget_clusters(session)


def _read_clusters(session: Session, earliest: datetime, at: datetime) -> list[Cluster]:
    rows = session.execute(
        select(
            Story.id,
            Story.cluster_key,
            Story.community_id,
            Story.feed_id,
            Story.published_at,
            Story.popularity,
            Story.editors_pick,
            Story.section,
        ).where(
            Story.published_at >= earliest,
            Story.published_at <= at,
            Story.first_seen_at <= at,
        )
    )
    clusters: dict[str, Cluster] = {}
    for values in rows:
        row = StoryRow._make(values)
        cluster = clusters.get(row.cluster_key)
        if cluster is None:
            clusters[row.cluster_key] = Cluster(row)
        else:
            cluster.add(row)
    return list(clusters.values())
