"""Feed documents for tests: small RSS and Atom builders, and stories put straight in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.ingest.clusters import ClusterIndex
from digest.ingest.feeds import PollResult, poll_targets, record_poll
from digest.ingest.fetch import FetchOptions, fetch_many
from digest.ingest.parse import ParsedStory
from digest.ingest.stories import ingest_stories
from digest.models import Community, Feed, FeedKind, Story


@dataclass
class Item:
    title: str
    link: str
    guid: str | None = None
    published: datetime | str | None = None  # a datetime, raw text, or nothing
    description: str = ""
    extra: str = ""  # raw XML inside <item>


def rss(
    items: list[Item], title: str = "Test Times", head: str = "", encoding: str = "UTF-8"
) -> str:
    """An RSS 2.0 document; titles and descriptions are escaped as a feed would."""
    body = []
    for item in items:
        date = item.published
        pub = format_datetime(date) if isinstance(date, datetime) else date
        body.append(
            "<item>"
            f"<title>{escape(item.title)}</title>"
            f"<link>{escape(item.link)}</link>"
            + (f'<guid isPermaLink="false">{escape(item.guid)}</guid>' if item.guid else "")
            + (f"<pubDate>{escape(pub)}</pubDate>" if pub else "")
            + f"<description>{escape(item.description)}</description>"
            + item.extra
            + "</item>"
        )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{head}'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>{escape(title)}</title><link>https://news.example/</link>"
        + "".join(body)
        + "</channel></rss>"
    )


def make_feed(
    session: Session,
    url: str,
    community: Community | None = None,
    section: str = "news",
    kind: FeedKind = FeedKind.STORIES,
    title: str | None = None,
) -> Feed:
    feed = Feed(
        url=url,
        community_id=community.id if community else None,
        section=section,
        kind=kind,
        title=title,
        consecutive_failures=0,
    )
    session.add(feed)
    session.flush()
    return feed


def story(
    title: str,
    url: str,
    published_at: datetime,
    guid: str | None = None,
    summary: str = "",
) -> ParsedStory:
    return ParsedStory(
        guid=guid or url, url=url, title=title, summary=summary, published_at=published_at
    )


def put(
    session: Session,
    feed: Feed,
    stories: list[ParsedStory],
    seen_at: datetime,
    index: ClusterIndex | None = None,
) -> list[Story]:
    """Ingest parsed stories as a poll would, and return the feed's stored rows for them."""
    ingest_stories(session, feed, stories, seen_at, index)
    rows = session.scalars(select(Story).where(Story.feed_id == feed.id))
    by_guid = {row.guid: row for row in rows}
    return [by_guid[parsed.guid] for parsed in stories]


def poll(
    session: Session, feeds: Sequence[Feed], now: datetime, options: FetchOptions
) -> list[PollResult]:
    """A poll inside the test's own session (rolled back after the test): fetch, then record.

    Digest's `poll` takes a session factory and commits; these tests keep their SAVEPOINT.
    """
    targets = poll_targets(feeds)
    fetched = fetch_many([target.request for target in targets], options)
    return record_poll(session, targets, fetched, now)
