"""Feeds: the registry of sources, their health, and polling them into stories.

A poll reads the feeds, fetches them all concurrently with no transaction open, then records
each one in its own SAVEPOINT of a second transaction, so a broken, hostile or unreachable
feed is recorded on that feed (last error, consecutive failures, a later next poll) and never
stops the others. A failing feed backs off
exponentially: the n-th failure in a row waits poll_interval * 2**n, at most MAX_BACKOFF.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import AlreadyExistsError, DigestError, NotFoundError
from digest.ingest.clusters import ClusterIndex
from digest.ingest.fetch import ERROR, NOT_MODIFIED, Fetched, FetchOptions, FetchRequest, fetch_many
from digest.ingest.parse import FeedError, ParsedFeed, parse_feed
from digest.ingest.popularity import read_source, record_readings
from digest.ingest.stories import EDITED, NEW, UNCHANGED, ingest_stories
from digest.models import Community, Feed, FeedKind

log = logging.getLogger("digest.ingest.feeds")

MAX_BACKOFF = timedelta(hours=24)
# Clustering looks back at most this far, however old a feed's items claim to be.
CLUSTER_LOOKBACK = timedelta(days=14)
URL_SCHEMES = ("http", "https", "file")


def new_feed_url(session: Session, url: str) -> str:
    """The URL, trimmed, if it can be a new feed; raises DigestError for a bad URL or one
    already registered."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES or not (parts.netloc or parts.path):
        raise DigestError(f"feed URL {url!r} is not http(s):// or file:// (give a full URL)")
    if session.scalar(select(Feed.id).where(Feed.url == url)) is not None:
        raise AlreadyExistsError("feed", f"feed {url} is already registered")
    return url


def add_feed(
    session: Session,
    url: str,
    community: Community | None,
    section: str = "news",
    kind: FeedKind = FeedKind.STORIES,
    poll_interval_seconds: int = 900,
) -> Feed:
    """Register a feed; raises DigestError for a bad URL or one already registered."""
    url = new_feed_url(session, url)
    if poll_interval_seconds < 60:
        raise DigestError("poll interval must be at least 60 seconds")
    feed = Feed(
        url=url,
        community_id=community.id if community else None,
        section=section,
        kind=kind,
        poll_interval_seconds=poll_interval_seconds,
        consecutive_failures=0,
    )
    session.add(feed)
    session.flush()
    return feed


def check_feed(url: str, kind: FeedKind, options: FetchOptions, now: datetime) -> int:
    """Fetch and read a feed once, before it is registered; returns how many items it has.

    Raises DigestError saying what is wrong (unreachable, not a feed, outside the file://
    folders). Uses the network: call it with no transaction open.
    """
    (fetched,) = fetch_many([FetchRequest(url.strip())], options)
    if fetched.status == ERROR:
        raise DigestError(f"feed {url.strip()}: {fetched.error}")
    try:
        if kind == FeedKind.MOST_READ:
            return len(read_source(fetched.body, url, now, fetched.content_type))
        return len(parse_feed(fetched.body, url, now, fetched.content_type).stories)
    except FeedError as exc:
        raise DigestError(f"feed {url.strip()}: {exc}") from None


def get_feed(session: Session, ref: str) -> Feed:
    """A feed by id or URL; raises DigestError naming the reference."""
    query = select(Feed).where(Feed.url == ref)
    if ref.isdigit():
        query = select(Feed).where(or_(Feed.id == int(ref), Feed.url == ref))
    feed = session.scalar(query)
    if feed is None:
        raise NotFoundError("feed", f"no feed {ref!r} (give its id or URL)")
    return feed


def remove_feed(session: Session, feed: Feed) -> None:
    """Remove a feed and the stories it carried (editions already frozen keep theirs)."""
    session.delete(feed)
    session.flush()


def set_paused(feed: Feed, paused: bool) -> None:
    """Pause a feed (never polled; its stories stay) or resume it (polled at the next pass)."""
    feed.paused = paused
    if not paused:
        feed.next_poll_at = None


def list_feeds(session: Session) -> list[Feed]:
    return list(session.scalars(select(Feed).order_by(Feed.id)))


def due_feeds(session: Session, now: datetime) -> list[Feed]:
    """Feeds whose next poll is due (or that were never polled), oldest id first; never a
    paused one."""
    query = (
        select(Feed)
        .where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
        .where(Feed.paused.is_(False))
        .order_by(Feed.id)
    )
    return list(session.scalars(query))


def claim_due_feeds(session: Session, now: datetime) -> list[int]:
    """The due feeds' ids, each pushed to its next interval so a second pass skips them.

    For the scheduler: it commits this, then enqueues one poll per id. A poll that never runs
    leaves the feed due again one interval later.
    """
    feeds = due_feeds(session, now)
    for feed in feeds:
        feed.next_poll_at = now + timedelta(seconds=feed.poll_interval_seconds)
    session.flush()
    return [feed.id for feed in feeds]


@dataclass
class PollResult:
    """What one poll did to one feed."""

    feed_id: int
    url: str
    status: str  # ok, not_modified or error
    new: int = 0
    edited: int = 0
    unchanged: int = 0
    error: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PollTarget:
    """What a poll needs of a feed, read before the fetch: its id and conditional headers."""

    feed_id: int
    request: FetchRequest


def poll_targets(feeds: Sequence[Feed]) -> list[PollTarget]:
    return [
        PollTarget(feed.id, FetchRequest(feed.url, feed.etag, feed.last_modified)) for feed in feeds
    ]


def poll(
    sessions: sessionmaker[Session],
    feed_ids: Sequence[int] | None,
    now: datetime,
    options: FetchOptions,
    on_fetched: Callable[[Fetched], None] | None = None,
    on_done: Callable[[PollResult], None] | None = None,
) -> list[PollResult]:
    """Poll the feeds (every feed when feed_ids is None): read, fetch, then record.

    Takes a session factory because the fetch (up to DIGEST_FEED_TIMEOUT per feed) must run
    with no transaction open: one short transaction reads the feeds, the network is used
    with none, and a second transaction records what came back (and commits it).
    """
    with sessions() as session, session.begin():
        query = select(Feed).order_by(Feed.id)
        if feed_ids is not None:
            query = query.where(Feed.id.in_(feed_ids))
        targets = poll_targets(list(session.scalars(query)))
    if not targets:
        return []
    fetched = fetch_many([target.request for target in targets], options, on_fetched)
    with sessions() as session, session.begin():
        return record_poll(session, targets, fetched, now, on_done)


def record_poll(
    session: Session,
    targets: Sequence[PollTarget],
    fetched: Sequence[Fetched],
    now: datetime,
    on_done: Callable[[PollResult], None] | None = None,
) -> list[PollResult]:
    """Read what each feed's fetch brought into stories (or popularity); does not commit.

    One feed's fault never raises: it is recorded on the feed and in its PollResult. A feed
    removed since it was read is skipped. Results come story feeds first, then most-read lists.
    """
    ids = [target.feed_id for target in targets]
    feeds = {feed.id: feed for feed in session.scalars(select(Feed).where(Feed.id.in_(ids)))}
    work = [
        (feeds[target.feed_id], result)
        for target, result in zip(targets, fetched, strict=True)
        if target.feed_id in feeds
    ]
    parsed = [_parse(feed, result, now) for feed, result in work]
    index = _cluster_index(session, parsed, now)
    items = [
        (feed, result, document) for (feed, result), document in zip(work, parsed, strict=True)
    ]
    # Most-read lists last: their URLs can then match the stories this very poll brought in.
    items.sort(key=lambda item: item[0].kind == FeedKind.MOST_READ)
    results = []
    for feed, result, document in items:
        outcome = _apply(session, feed, result, document, now, index)
        _log(outcome)
        if on_done is not None:
            on_done(outcome)
        results.append(outcome)
    return results


def _parse(feed: Feed, fetched: Fetched, now: datetime) -> ParsedFeed | FeedError | None:
    if fetched.status != "ok" or feed.kind == FeedKind.MOST_READ:
        return None
    try:
        return parse_feed(fetched.body, feed.url, now, fetched.content_type)
    except FeedError as exc:
        return exc
    except Exception as exc:  # a hostile document must not stop the poll of every other feed
        log.warning("feed %s could not be parsed", feed.url, exc_info=True)
        return FeedError(f"could not be read ({type(exc).__name__}: {exc})")


def _cluster_index(
    session: Session, parsed: list[ParsedFeed | FeedError | None], now: datetime
) -> ClusterIndex:
    times = [
        story.published_at
        for document in parsed
        if isinstance(document, ParsedFeed)
        for story in document.stories
    ]
    if not times:
        return ClusterIndex()
    return ClusterIndex.load(session, max(min(times), now - CLUSTER_LOOKBACK), max(times))


def _apply(
    session: Session,
    feed: Feed,
    fetched: Fetched,
    document: ParsedFeed | FeedError | None,
    now: datetime,
    index: ClusterIndex,
) -> PollResult:
    result = PollResult(feed.id, feed.url, fetched.status)
    feed.last_polled_at = now
    if fetched.status == ERROR:
        return _failure(feed, result, fetched.error or "unknown error", now)
    if fetched.status == NOT_MODIFIED:
        _success(feed, fetched, now, [])
        return result
    if isinstance(document, FeedError):
        return _failure(feed, result, str(document), now)
    try:
        with session.begin_nested():
            if feed.kind == FeedKind.MOST_READ:
                readings = read_source(fetched.body, feed.url, now, fetched.content_type)
                counts = record_readings(session, feed.url, readings, now)
                result.unchanged = counts["matched"]
                if counts["unmatched"]:
                    result.problems.append(f"{counts['unmatched']} URLs match no story yet")
            elif document is not None:
                counts = ingest_stories(session, feed, document.stories, now, index)
                result.new, result.edited = counts[NEW], counts[EDITED]
                result.unchanged = counts[UNCHANGED]
                result.problems = document.problems
                if document.title and not feed.title:
                    feed.title = document.title[:300]
    except FeedError as exc:
        return _failure(feed, result, str(exc), now)
    except Exception as exc:  # a bug or a database error on this feed must not stop the rest
        log.exception("feed %s (%s): ingest failed", feed.id, feed.url)
        return _failure(feed, result, f"ingest failed: {type(exc).__name__}: {exc}", now)
    _success(feed, fetched, now, result.problems)
    return result


def _success(feed: Feed, fetched: Fetched, now: datetime, problems: list[str]) -> None:
    feed.etag = fetched.etag[:256] if fetched.etag else None
    feed.last_modified = fetched.last_modified[:64] if fetched.last_modified else None
    feed.last_success_at = now
    feed.consecutive_failures = 0
    feed.last_error = ("warning: " + "; ".join(problems[:5])) if problems else None
    feed.next_poll_at = now + timedelta(seconds=feed.poll_interval_seconds)


def _failure(feed: Feed, result: PollResult, error: str, now: datetime) -> PollResult:
    feed.consecutive_failures = (feed.consecutive_failures or 0) + 1
    feed.last_error = error
    feed.next_poll_at = now + backoff(feed.poll_interval_seconds, feed.consecutive_failures)
    result.status = ERROR
    result.error = error
    return result


def backoff(interval_seconds: int, failures: int) -> timedelta:
    """How long a feed that failed `failures` times in a row waits before its next poll."""
    if failures <= 0:
        return timedelta(seconds=interval_seconds)
    return min(timedelta(seconds=interval_seconds * 2 ** min(failures, 20)), MAX_BACKOFF)


def _log(result: PollResult) -> None:
    extra = {"feed_id": result.feed_id}
    if result.status == ERROR:
        log.warning("feed %s (%s): %s", result.feed_id, result.url, result.error, extra=extra)
    else:
        log.info(
            "feed %s (%s): %s, %d new, %d edited",
            result.feed_id,
            result.url,
            result.status,
            result.new,
            result.edited,
            extra=extra,
        )
        for problem in result.problems:
            log.warning("feed %s (%s): %s", result.feed_id, result.url, problem, extra=extra)
