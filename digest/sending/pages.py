"""A story an editor adds by its URL: one Digest already knows, or the page fetched now.

The fetch uses the feeds' fetcher (deadline, size cap, redirects) and happens before any
transaction opens; the page's title, description and image come from its <title> and its
Open Graph tags. Such stories belong to one "Editor's desk" feed that is never polled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.ingest.clusters import url_cluster_key
from digest.ingest.fetch import ERROR, FetchOptions, FetchRequest, fetch_many
from digest.ingest.story_text import plain_text, safe_url
from digest.models import Feed, Story
from digest.settings import Settings

DESK_FEED_URL = "digest:editors-desk"  # not a URL any poller can fetch
NEVER = timedelta(days=365 * 10)  # the desk feed's poll interval: never due in practice


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    summary: str
    image_url: str | None


def story_by_url(session: Session, url: str) -> Story | None:
    """The newest story Digest holds at exactly this URL, if any."""
    return session.scalar(
        select(Story).where(Story.url == url.strip()).order_by(Story.id.desc()).limit(1)
    )


def checked_url(url: str) -> str:
    found = safe_url(url)
    if found is None:
        raise DigestError(f"{url.strip()[:200]!r} is not an http(s) address")
    return found


def fetch_page(settings: Settings, url: str) -> Page:
    """Fetch a story's page (no transaction may be open); raises DigestError in words."""
    fetched = fetch_many([FetchRequest(checked_url(url))], FetchOptions.from_settings(settings))[0]
    if fetched.status == ERROR:
        raise DigestError(f"could not fetch {url}: {fetched.error}")
    meta = _Meta()
    meta.feed(fetched.body.decode("utf-8", errors="replace"))
    title = plain_text(meta.values.get("og:title") or meta.title, 500)
    if not title:
        raise DigestError(f"{url} has no title: is it a story's page?")
    summary = plain_text(meta.values.get("og:description") or meta.values.get("description"))
    return Page(url, title, summary, safe_url(meta.values.get("og:image")))


def record_page(session: Session, page: Page, now: datetime) -> Story:
    """The page as a story of the desk feed (or the one already recorded for its URL)."""
    known = story_by_url(session, page.url)
    if known is not None:
        return known
    feed = session.scalar(select(Feed).where(Feed.url == DESK_FEED_URL))
    if feed is None:
        feed = Feed(
            url=DESK_FEED_URL,
            title="Editor's desk",
            poll_interval_seconds=int(NEVER.total_seconds()),
            next_poll_at=now + NEVER,
        )
        session.add(feed)
        session.flush()
    content = f"{page.title}\n{page.summary}".encode()
    story = Story(
        feed_id=feed.id,
        guid=page.url,
        url=page.url,
        title=page.title,
        summary=page.summary,
        image_url=page.image_url,
        published_at=now,
        first_seen_at=now,
        updated_at=now,
        content_hash=hashlib.sha256(content).hexdigest(),
        cluster_key=url_cluster_key(page.url),
    )
    session.add(story)
    session.flush()
    return story


class _Meta(HTMLParser):
    """The page's <title> and its <meta name|property=... content=...> values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.values: dict[str, str] = {}
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            found = dict(attrs)
            name = (found.get("property") or found.get("name") or "").lower()
            if name and found.get("content") and name not in self.values:
                self.values[name] = found["content"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
