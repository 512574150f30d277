"""Story cards: what a reader sees of each chosen story (its town's copy), in titled sections."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.sections import (
    JUST_POSTED,
    LOCAL,
    MOST_READ,
    SECTION_ORDER,
    TOP,
    Section,
    StoryCard,
)
from digest.curation.window import Cluster
from digest.models import Community, Feed, Story


def section_title(key: str, community: Community) -> str:
    """The heading a reader sees for a section."""
    return {
        TOP: "Top stories",
        LOCAL: f"Local: {community.name}",
        MOST_READ: "Most read",
        JUST_POSTED: "Just posted",
    }[key]


def sections_of(
    session: Session, chosen: dict[str, list[Cluster]], community: Community
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
