"""Stories: one row per article per feed, upserted idempotently, edits recorded.

A feed's item is the same story as a stored one when it has the same guid in that feed, or
else the same canonical URL in that feed (publishers do change guids). An item whose content
changed updates the story and bumps its revision; an unchanged one touches nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from digest.ingest.clusters import ClusterIndex
from digest.ingest.parse import ParsedStory
from digest.models import Feed, Story

NEW, EDITED, UNCHANGED = "new", "edited", "unchanged"


def ingest_stories(
    session: Session,
    feed: Feed,
    stories: list[ParsedStory],
    now: datetime,
    index: ClusterIndex | None = None,
) -> Counter[str]:
    """Store a feed's stories; returns how many were new, edited and unchanged.

    `index` holds the recent stories for wire-copy clustering; one is loaded when not given
    (pass one to ingest many feeds in a row). Does not commit.
    """
    counts: Counter[str] = Counter()
    if not stories:
        return counts
    if index is None:
        index = ClusterIndex.load(
            session,
            min(story.published_at for story in stories),
            max(story.published_at for story in stories),
        )
    by_guid, by_url = _existing(session, feed, stories)
    for parsed in stories:
        story = by_guid.get(parsed.guid) or by_url.get(parsed.url)
        if story is None:
            story = _new_story(feed, parsed, now, index)
            session.add(story)
            by_guid[story.guid] = story
            by_url.setdefault(story.url, story)
            counts[NEW] += 1
        elif _apply_edit(story, parsed, now, by_guid):
            counts[EDITED] += 1
        else:
            counts[UNCHANGED] += 1
    session.flush()
    return counts


def _existing(
    session: Session, feed: Feed, stories: list[ParsedStory]
) -> tuple[dict[str, Story], dict[str, Story]]:
    guids = [story.guid for story in stories]
    urls = [story.url for story in stories]
    found = session.scalars(
        select(Story)
        .where(Story.feed_id == feed.id, or_(Story.guid.in_(guids), Story.url.in_(urls)))
        .order_by(Story.id)
    ).all()
    by_url: dict[str, Story] = {}
    for story in found:
        by_url.setdefault(story.url, story)
    return {story.guid: story for story in found}, by_url


def _new_story(feed: Feed, parsed: ParsedStory, now: datetime, index: ClusterIndex) -> Story:
    cluster_key = index.assign(
        feed.id, parsed.url, parsed.title, parsed.published_at, parsed.summary, parsed.guid
    )
    return Story(
        feed_id=feed.id,
        community_id=feed.community_id,
        guid=parsed.guid,
        url=parsed.url,
        title=parsed.title,
        summary=parsed.summary,
        image_url=parsed.image_url,
        image_alt=parsed.image_alt,
        author=parsed.author,
        section=feed.section,
        categories=list(parsed.categories),
        published_at=parsed.published_at,
        first_seen_at=now,
        updated_at=now,
        content_hash=parsed.content_hash(),
        revision=1,
        popularity=0.0,
        editors_pick=False,
        cluster_key=cluster_key,
    )


def _apply_edit(
    story: Story, parsed: ParsedStory, now: datetime, by_guid: dict[str, Story]
) -> bool:
    """Bring a stored story up to date; True if anything a reader sees changed.

    Its cluster key stays: editions already sent name it.
    """
    if story.guid != parsed.guid and parsed.guid not in by_guid:
        by_guid.pop(story.guid, None)
        story.guid = parsed.guid
        by_guid[story.guid] = story
    content_hash = parsed.content_hash()
    if story.content_hash == content_hash:
        return False
    story.url = parsed.url
    story.title = parsed.title
    story.summary = parsed.summary
    story.image_url = parsed.image_url
    story.image_alt = parsed.image_alt
    story.author = parsed.author
    story.categories = list(parsed.categories)
    if parsed.dated:  # an undated item keeps the time it was first seen
        story.published_at = parsed.published_at
    story.content_hash = content_hash
    story.revision += 1
    story.updated_at = now
    return True
