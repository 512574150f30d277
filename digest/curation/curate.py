"""Curation: the stories of one edition for one town, in capped sections.

- Only stories inside the window count: published or first seen since the town's last
  edition of this newsletter, and never published more than `window_hours` before `at`.
- A cluster (one story and its wire copies) appears once per edition, as the reader's own
  town's copy when there is one, and never again in a later edition of the same newsletter
  for that town: the frozen `EditionSegment.cluster_keys` of earlier editions say what went.
- Top stories: the region's best by popularity with a recency decay, editors' picks first;
  a story only the reader's own town carries is left to Local (a wire story the town also
  carries stays in Top, as the town's copy). Local: the town's own stories, newest and most
  read first. Most read and Just posted when
  the newsletter gives them a cap.
- The result depends only on the database and `at`: every ordering ends on a unique key.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from digest.curation.newsletters import DEFAULT_SECTIONS
from digest.curation.sections import (
    JUST_POSTED,
    LOCAL,
    MOST_READ,
    SECTION_ORDER,
    TOP,
    Section,
    StoryCard,
)
from digest.models import (
    Community,
    Edition,
    EditionSegment,
    EditionStatus,
    Feed,
    Newsletter,
    Story,
)

# Editions whose stories count as sent: built and (being) sent, even if stopped half-way.
SENT_STATUSES = (
    EditionStatus.READY,
    EditionStatus.SENDING,
    EditionStatus.SENT,
    EditionStatus.PAUSED,
    EditionStatus.CANCELLED,
)
# Earlier editions are read this far back beyond the window; a cluster's copies are published
# within hours of each other, so anything older cannot hold a cluster still in the window.
HISTORY_MARGIN = timedelta(days=30)
TOP_HALF_LIFE_HOURS = 12.0
LOCAL_HALF_LIFE_HOURS = 6.0


@dataclass(frozen=True)
class Curation:
    """One town's edition: its sections, or why there is nothing to send."""

    sections: list[Section]
    skip_reason: str | None = None
    window_start: datetime | None = None


class _Cluster:
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

    def __init__(self, first: _Row) -> None:
        self.key = first.cluster_key
        self.members = [first]
        self.popularity = first.popularity
        self.editors_pick = first.editors_pick
        self.first_published = self.last_published = first.published_at
        self.feeds = {first.feed_id}
        self.communities = {first.community_id}
        self.sections = {first.section}

    def add(self, row: _Row) -> None:
        self.members.append(row)
        self.popularity = max(self.popularity, row.popularity)
        self.editors_pick = self.editors_pick or row.editors_pick
        self.first_published = min(self.first_published, row.published_at)
        self.last_published = max(self.last_published, row.published_at)
        self.feeds.add(row.feed_id)
        self.communities.add(row.community_id)
        self.sections.add(row.section)

    def representative(self, community_id: int) -> _Row:
        """The reader's own town's copy, else a regional one, else the first published."""

        def preference(row: _Row) -> tuple[int, datetime, int]:
            place = 0 if row.community_id == community_id else 1 if row.community_id is None else 2
            return (place, row.published_at, row.id)

        return min(self.members, key=preference)


class _Row(NamedTuple):
    id: int
    cluster_key: str
    community_id: int | None
    feed_id: int
    published_at: datetime
    popularity: float
    editors_pick: bool
    section: str


def curate(
    session: Session,
    newsletter: Newsletter,
    community: Community,
    at: datetime,
    *,
    audience: str = "",
    interests: frozenset[str] | None = None,
    window_hours: int | None = None,
) -> Curation:
    """The sections of `newsletter`'s edition for `community` as of `at` (aware time).

    For an audience of readers with their own choices (digest.readers.audiences): only
    stories of the `interests` sections fill the caps, `window_hours` replaces the
    newsletter's (a weekly edition looks back a week), and what counts as already sent is
    that audience's own earlier segments. Deterministic for the same data and `at`. Reads
    only; does not commit. Curating many towns in one session reads the window's stories
    once (see _clusters).
    """
    caps = _caps(newsletter)
    last_edition, sent = _history(session, newsletter, community, at, audience)
    earliest = at - timedelta(hours=window_hours or newsletter.window_hours)
    window_start = max(earliest, last_edition) if last_edition else earliest
    clusters = _clusters(session, earliest, window_start, at, sent)
    if interests is not None:
        clusters = [cluster for cluster in clusters if cluster.sections & interests]
    chosen: dict[str, list[_Cluster]] = {}
    used: set[str] = set()
    for key in SECTION_ORDER:
        cap = caps.get(key, 0)
        if cap <= 0:
            continue
        ranked = _RANKINGS[key](clusters, community.id, at, cap + len(used))
        picked = [cluster for cluster in ranked if cluster.key not in used][:cap]
        used.update(cluster.key for cluster in picked)
        chosen[key] = picked
    sections = _sections(session, chosen, community)
    if not sections:
        since = window_start.strftime("%Y-%m-%d %H:%M UTC")
        return Curation([], f"nothing new for {community.name} since {since}", window_start)
    return Curation(sections, None, window_start)


def _caps(newsletter: Newsletter) -> dict[str, int]:
    caps = newsletter.sections or DEFAULT_SECTIONS
    return {key: int(value) for key, value in caps.items() if key in SECTION_ORDER}


def _history(
    session: Session, newsletter: Newsletter, community: Community, at: datetime, audience: str
) -> tuple[datetime | None, set[str]]:
    """When this town last got an edition of the newsletter, and every cluster sent to it."""
    since = at - timedelta(hours=newsletter.window_hours) - HISTORY_MARGIN
    rows = session.execute(
        select(EditionSegment.send_at, EditionSegment.cluster_keys)
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .where(
            Edition.newsletter_id == newsletter.id,
            Edition.status.in_(SENT_STATUSES),
            or_(Edition.status != EditionStatus.CANCELLED, Edition.started_at.is_not(None)),
            EditionSegment.community_id == community.id,
            EditionSegment.audience == audience,
            EditionSegment.skip_reason.is_(None),
            EditionSegment.send_at <= at,
            EditionSegment.send_at >= since,
        )
    ).all()
    last = max((send_at for send_at, _ in rows), default=None)
    sent = {str(key) for _, keys in rows for key in keys or ()}
    return last, sent


def _clusters(
    session: Session, earliest: datetime, window_start: datetime, at: datetime, sent: set[str]
) -> list[_Cluster]:
    """The window's clusters not yet sent to this town.

    An edition curates every town with the same window in one session, so the window's
    clusters are read once per session and kept in `session.info` until a flush that changes
    a story, or a commit or rollback.
    """
    cache: dict[tuple[datetime, datetime, datetime], list[_Cluster]] | None
    cache = session.info.get(_CACHE)
    if cache is None:
        cache = session.info[_CACHE] = {}
        event.listen(session, "after_flush", _forget_clusters_if_stories_changed)
        for name in ("after_commit", "after_rollback", "after_soft_rollback"):
            event.listen(session, name, _forget_clusters)
    key = (earliest, window_start, at)
    if key not in cache:
        cache[key] = _read_clusters(session, earliest, window_start, at)
    return [cluster for cluster in cache[key] if cluster.key not in sent]


_CACHE = "digest.curation.curate.window_clusters"


def _forget_clusters(session: Session, *_args: object) -> None:
    session.info.get(_CACHE, {}).clear()


def _forget_clusters_if_stories_changed(session: Session, *_args: object) -> None:
    # after_flush still sees what was flushed; an edition's segments do not change stories.
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(instance, Story) for instance in changed):
        _forget_clusters(session)


def _read_clusters(
    session: Session, earliest: datetime, window_start: datetime, at: datetime
) -> list[_Cluster]:
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
            or_(Story.published_at > window_start, Story.first_seen_at > window_start),
        )
    )
    clusters: dict[str, _Cluster] = {}
    for values in rows:
        row = _Row._make(values)
        cluster = clusters.get(row.cluster_key)
        if cluster is None:
            clusters[row.cluster_key] = _Cluster(row)
        else:
            cluster.add(row)
    return list(clusters.values())


def _decay(published_at: datetime, at: datetime, half_life_hours: float) -> float:
    age_hours = max((at - published_at).total_seconds() / 3600, 0.0)
    return float(0.5 ** (age_hours / half_life_hours))


def _top(clusters: list[_Cluster], community_id: int, at: datetime, n: int) -> list[_Cluster]:
    def order(cluster: _Cluster) -> tuple[bool, float, str]:
        carried = min(len(cluster.feeds) - 1, 3) * 0.5  # carried by several sites: bigger news
        strength = 1.0 + 4.0 * cluster.popularity + carried
        score = strength * _decay(cluster.first_published, at, TOP_HALF_LIFE_HOURS)
        return (not cluster.editors_pick, -score, cluster.key)

    regional = (cluster for cluster in clusters if cluster.communities != {community_id})
    return heapq.nsmallest(n, regional, key=order)


def _local(clusters: list[_Cluster], community_id: int, at: datetime, n: int) -> list[_Cluster]:
    def order(cluster: _Cluster) -> tuple[bool, float, str]:
        strength = 1.0 + 2.0 * cluster.popularity
        score = strength * _decay(cluster.last_published, at, LOCAL_HALF_LIFE_HOURS)
        return (not cluster.editors_pick, -score, cluster.key)

    own = (cluster for cluster in clusters if community_id in cluster.communities)
    return heapq.nsmallest(n, own, key=order)


def _most_read(clusters: list[_Cluster], community_id: int, at: datetime, n: int) -> list[_Cluster]:
    read = (cluster for cluster in clusters if cluster.popularity > 0)
    return heapq.nsmallest(
        n, read, key=lambda c: (-c.popularity, -c.last_published.timestamp(), c.key)
    )


def _just_posted(
    clusters: list[_Cluster], community_id: int, at: datetime, n: int
) -> list[_Cluster]:
    return heapq.nsmallest(n, clusters, key=lambda c: (-c.last_published.timestamp(), c.key))


_RANKINGS: dict[str, Callable[[list[_Cluster], int, datetime, int], list[_Cluster]]] = {
    TOP: _top,
    LOCAL: _local,
    MOST_READ: _most_read,
    JUST_POSTED: _just_posted,
}


def section_title(key: str, community: Community) -> str:
    """The heading a reader sees for a section."""
    return {
        TOP: "Top stories",
        LOCAL: f"Local: {community.name}",
        MOST_READ: "Most read",
        JUST_POSTED: "Just posted",
    }[key]


def _sections(
    session: Session, chosen: dict[str, list[_Cluster]], community: Community
) -> list[Section]:
    picks = {
        key: [cluster.representative(community.id).id for cluster in clusters]
        for key, clusters in chosen.items()
    }
    stories = _load(session, (story_id for ids in picks.values() for story_id in ids))
    sources = _sources(session, stories.values())
    picks_by_cluster = {c.key: c.editors_pick for clusters in chosen.values() for c in clusters}
    sections: list[Section] = []
    rank = 0
    for key in SECTION_ORDER:
        cards = []
        for story_id in picks.get(key, []):
            story = stories[story_id]
            cards.append(_card(story, rank, sources, picks_by_cluster[story.cluster_key]))
            rank += 1
        if cards:
            sections.append(Section(key, section_title(key, community), tuple(cards)))
    return sections


def _load(session: Session, ids: Iterable[int]) -> dict[int, Story]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {story.id: story for story in session.scalars(select(Story).where(Story.id.in_(wanted)))}


def _sources(session: Session, stories: Iterable[Story]) -> dict[int, str]:
    """Each feed's name as readers know it: its title, else its town, else its host."""
    feed_ids = {story.feed_id for story in stories}
    if not feed_ids:
        return {}
    rows = session.execute(
        select(Feed.id, Feed.title, Feed.url, Community.name)
        .outerjoin(Community, Community.id == Feed.community_id)
        .where(Feed.id.in_(feed_ids))
    )
    return {
        feed_id: title or town or (urlsplit(url).hostname or "")
        for feed_id, title, url, town in rows
    }


def _card(story: Story, rank: int, sources: dict[int, str], editors_pick: bool) -> StoryCard:
    return StoryCard(
        story_id=story.id,
        cluster_key=story.cluster_key,
        title=story.title,
        url=story.url,
        summary=story.summary,
        published_at=story.published_at,
        rank=rank,
        image_url=story.image_url,
        image_alt=story.image_alt,
        author=story.author,
        source=sources.get(story.feed_id, ""),
        editors_pick=editors_pick,
    )
