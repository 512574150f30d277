"""Curation: the stories of one edition for one town, in capped sections.

- Only stories inside the window count: published at most `window_hours` before `at`, and
  already seen at `at`.
- A cluster (one story and its wire copies) appears once per edition, as the reader's own
  town's copy when there is one, and never again in another edition of the same newsletter
  for that town: every edition built for another slot counts, whatever its send time (an
  edition built ahead for tomorrow never repeats today's). What an edition sent is read from
  its frozen story ids with their current cluster keys, so an editor's merge counts too.
- Top stories: the region's: clusters carried by the regional desk or the wire, and another
  town's story only when it is regionally popular or an editor picked it; editors' picks
  first, then by popularity with a recency decay. A town's own stories are its Local: newest
  and most read first. Most read and Just posted when the newsletter gives them a cap. The
  weights are the newsletter's (digest.curation.weights, docs/curation.md).
- The result depends only on the database, `at` and the slot: every ordering ends on a
  unique key.
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
from digest.curation.schedules import zone
from digest.curation.sections import (
    JUST_POSTED,
    LOCAL,
    MOST_READ,
    SECTION_ORDER,
    TOP,
    Section,
    StoryCard,
)
from digest.curation.weights import Weights, weights_of
from digest.models import (
    Community,
    Edition,
    EditionSegment,
    EditionStatus,
    Feed,
    Newsletter,
    Story,
)

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

    def copies(self) -> int:
        return len(self.feeds)

    def has_town_copy(self, community_id: int) -> bool:
        return community_id in self.communities

    def regional(self) -> bool:
        """Carried by the regional desk or the wire (a feed of no town)."""
        return None in self.communities

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
    slot: datetime | None = None,
    spare: int = 0,
    audience: str = "",
    interests: frozenset[str] | None = None,
    window_hours: int | None = None,
) -> Curation:
    """The sections of `newsletter`'s edition for `community` and `slot`, as of `at` (aware).

    `slot` is the edition's naive local slot; by default the town's wall-clock time at `at`.
    For an audience of readers with their own choices (digest.readers.audiences): only
    stories of the `interests` sections fill the caps, `window_hours` replaces the
    newsletter's (a weekly edition looks back a week), and what counts as already sent is
    that audience's own earlier segments. Deterministic for the same data, `at` and slot.
    Reads only; does not commit. Curating many towns in one session reads the window's
    stories once (see _clusters). `spare` raises every section's cap by that many: the
    editor's desk offers them as next candidates.
    """
    if slot is None:
        slot = at.astimezone(zone(community.timezone)).replace(tzinfo=None, second=0, microsecond=0)
    caps = {key: cap + spare for key, cap in _caps(newsletter).items() if cap > 0}
    weights = weights_of(newsletter.weights)
    last_edition, sent = _history(session, newsletter, community, at, slot, audience)
    earliest = at - timedelta(hours=window_hours or newsletter.window_hours)
    clusters = _clusters(session, earliest, at, sent)
    if interests is not None:
        clusters = [cluster for cluster in clusters if cluster.sections & interests]
    chosen: dict[str, list[_Cluster]] = {}
    used: set[str] = set()
    for key in SECTION_ORDER:
        cap = caps.get(key, 0)
        if cap <= 0:
            continue
        ranked = _RANKINGS[key](clusters, community.id, at, cap + len(used), weights)
        picked = [cluster for cluster in ranked if cluster.key not in used][:cap]
        used.update(cluster.key for cluster in picked)
        chosen[key] = picked
    sections = _sections(session, chosen, community)
    if not sections:
        since = max(earliest, last_edition) if last_edition else earliest
        text = since.strftime("%Y-%m-%d %H:%M UTC")
        return Curation([], f"nothing new for {community.name} since {text}", earliest)
    return Curation(sections, None, earliest)


def _caps(newsletter: Newsletter) -> dict[str, int]:
    caps = newsletter.sections or DEFAULT_SECTIONS
    return {key: int(value) for key, value in caps.items() if key in SECTION_ORDER}


def _history(
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


def _clusters(session: Session, earliest: datetime, at: datetime, sent: set[str]) -> list[_Cluster]:
    """The window's clusters not yet sent to this town.

    An edition curates every town with the same window in one session, so the window's
    clusters are read once per session and kept in `session.info` until a flush that changes
    a story, or a commit or rollback.
    """
    cache: dict[tuple[datetime, datetime], list[_Cluster]] | None
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


_CACHE = "digest.curation.curate.window_clusters"


def _forget_clusters(session: Session, *_args: object) -> None:
    session.info.get(_CACHE, {}).clear()


def _forget_clusters_if_stories_changed(session: Session, *_args: object) -> None:
    # after_flush still sees what was flushed; an edition's segments do not change stories.
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(instance, Story) for instance in changed):
        _forget_clusters(session)


def _read_clusters(session: Session, earliest: datetime, at: datetime) -> list[_Cluster]:
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


def _top(
    clusters: list[_Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[_Cluster]:
    def order(cluster: _Cluster) -> tuple[bool, float, str]:
        carried = min(len(cluster.feeds) - 1, 3) * weights.top_copies  # several sites: bigger
        strength = 1.0 + weights.top_popularity * cluster.popularity + carried
        score = strength * _decay(cluster.first_published, at, weights.top_half_life_hours)
        return (not cluster.editors_pick, -score, cluster.key)

    regional = (c for c in clusters if _is_regional(c, community_id, weights))
    return heapq.nsmallest(n, regional, key=order)


def _is_regional(cluster: _Cluster, community_id: int, weights: Weights) -> bool:
    """The region's news for this town's readers (the Top rule, see the module's docstring)."""
    if cluster.regional():
        return True
    # Another town's story: the region's only when the region reads it or an editor says so.
    return community_id not in cluster.communities and (
        cluster.editors_pick or cluster.popularity >= weights.regional_popularity
    )


def _for_town(cluster: _Cluster, community_id: int, weights: Weights) -> bool:
    """The region's news or the town's own: never another town's small story."""
    return community_id in cluster.communities or _is_regional(cluster, community_id, weights)


def _local(
    clusters: list[_Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[_Cluster]:
    def order(cluster: _Cluster) -> tuple[bool, float, str]:
        strength = 1.0 + weights.local_popularity * cluster.popularity
        score = strength * _decay(cluster.last_published, at, weights.local_half_life_hours)
        return (not cluster.editors_pick, -score, cluster.key)

    own = (cluster for cluster in clusters if community_id in cluster.communities)
    return heapq.nsmallest(n, own, key=order)


def _most_read(
    clusters: list[_Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[_Cluster]:
    read = (c for c in clusters if c.popularity > 0 and _for_town(c, community_id, weights))
    return heapq.nsmallest(
        n, read, key=lambda c: (-c.popularity, -c.last_published.timestamp(), c.key)
    )


def _just_posted(
    clusters: list[_Cluster], community_id: int, at: datetime, n: int, weights: Weights
) -> list[_Cluster]:
    mine = (c for c in clusters if _for_town(c, community_id, weights))
    return heapq.nsmallest(n, mine, key=lambda c: (-c.last_published.timestamp(), c.key))


_Ranking = Callable[[list[_Cluster], int, datetime, int, Weights], list[_Cluster]]
_RANKINGS: dict[str, _Ranking] = {
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


def story_cards(session: Session, stories: list[Story], first_rank: int) -> list[StoryCard]:
    """Cards for stories an editor added by hand, ranked from `first_rank` on."""
    sources = _sources(session, stories)
    return [
        _card(story, first_rank + offset, sources, True) for offset, story in enumerate(stories)
    ]


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
        community_id=story.community_id,
    )
