"""Polling feeds over HTTP (a local server) and file://: health, backoff, 304s, bad input.

Every bad input gives a visible error on its own feed (or a cleaned story), and the feeds
polled with it are ingested all the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.ingest.feeds import add_feed, backoff, claim_due_feeds, due_feeds
from digest.ingest.fetch import FetchOptions
from digest.models import Community, Feed, Story
from tests.support.feeds import Item, make_feed, poll, rss
from tests.support.http import FeedServer, Route
from tests.support.worker import WorkerProcess

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OPTIONS = FetchOptions(timeout=2.0, max_bytes=200_000, concurrency=8)
GOOD = rss(
    [
        Item(
            "Bridge reopens ahead of schedule",
            "https://news.example/bridge",
            guid="b1",
            published=NOW - timedelta(hours=3),
        ),
        Item(
            "Library adds Sunday hours",
            "https://news.example/library",
            guid="l1",
            published=NOW - timedelta(hours=5),
        ),
    ]
)


def stories(session: Session, feed: Feed) -> list[Story]:
    return list(session.scalars(select(Story).where(Story.feed_id == feed.id).order_by(Story.id)))


def poll_with_a_good_feed(
    session: Session, feed_server: FeedServer, bad_url: str, options: FetchOptions = OPTIONS
) -> tuple[Feed, Feed]:
    """Poll a bad feed together with a good one; the good one must always get through."""
    good = make_feed(session, feed_server.add("good.xml", GOOD))
    bad = make_feed(session, bad_url)
    results = poll(session, [bad, good], NOW, options)
    assert {result.feed_id for result in results} == {good.id, bad.id}
    assert len(stories(session, good)) == 2
    assert good.consecutive_failures == 0
    assert good.last_error is None
    return bad, good


def assert_failed(session: Session, feed: Feed, message: str) -> None:
    assert feed.consecutive_failures == 1
    assert feed.last_error is not None
    assert message in feed.last_error, feed.last_error
    assert feed.next_poll_at == NOW + backoff(feed.poll_interval_seconds, 1)
    assert feed.last_success_at is None
    assert stories(session, feed) == []


def test_a_feed_is_ingested_with_a_clear_user_agent(
    session: Session, feed_server: FeedServer
) -> None:
    town = Community(slug="springfield", name="Springfield", timezone="America/Los_Angeles")
    session.add(town)
    session.flush()
    feed = add_feed(session, feed_server.add("town.xml", GOOD), town, "news")
    (result,) = poll(session, [feed], NOW, OPTIONS)
    assert (result.status, result.new, result.error) == ("ok", 2, None)
    rows = stories(session, feed)
    assert [row.title for row in rows] == [
        "Bridge reopens ahead of schedule",
        "Library adds Sunday hours",
    ]
    assert all(row.community_id == town.id and row.section == "news" for row in rows)
    assert feed.title == "Test Times"
    assert feed.last_success_at == NOW
    assert feed.next_poll_at == NOW + timedelta(seconds=900)
    _, headers = feed_server.requests[-1]
    assert headers["User-Agent"].startswith("Digest/")


def test_unchanged_feed_costs_one_304_and_changes_nothing(
    session: Session, feed_server: FeedServer
) -> None:
    feed = make_feed(session, feed_server.add("town.xml", GOOD))
    poll(session, [feed], NOW, OPTIONS)
    assert feed.etag
    assert feed.last_modified
    (again,) = poll(session, [feed], NOW + timedelta(minutes=15), OPTIONS)
    assert again.status == "not_modified"
    _, headers = feed_server.requests[-1]
    assert headers["If-None-Match"] == feed.etag
    assert headers["If-Modified-Since"] == feed.last_modified
    assert len(stories(session, feed)) == 2
    assert feed.last_success_at == NOW + timedelta(minutes=15)


def test_same_feed_ingested_twice_creates_nothing_new(
    session: Session, feed_server: FeedServer
) -> None:
    # A server that ignores conditional GET: the body is read and parsed again.
    url = feed_server.route(
        "plain.xml", Route(body=GOOD.encode(), headers={"Content-Type": "application/rss+xml"})
    )
    feed = make_feed(session, url)
    poll(session, [feed], NOW, OPTIONS)
    (again,) = poll(session, [feed], NOW + timedelta(hours=1), OPTIONS)
    assert (again.status, again.new, again.edited, again.unchanged) == ("ok", 0, 0, 2)
    assert len(stories(session, feed)) == 2


def test_file_urls_work_and_use_the_modification_time(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "local.xml"
    path.write_text(GOOD)
    feed = make_feed(session, path.as_uri())
    options = replace(OPTIONS, file_roots=(tmp_path,))
    (first,) = poll(session, [feed], NOW, options)
    (second,) = poll(session, [feed], NOW + timedelta(minutes=15), options)
    assert (first.status, first.new, second.status) == ("ok", 2, "not_modified")


@pytest.mark.parametrize("where", ["/etc/passwd", "{root}/../secret.xml", "{root}/link.xml"])
def test_file_urls_outside_the_allowed_folders_are_never_read(
    session: Session, tmp_path: Path, where: str
) -> None:
    root = tmp_path / "feeds"
    root.mkdir()
    (tmp_path / "secret.xml").write_text(GOOD)
    (root / "link.xml").symlink_to(tmp_path / "secret.xml")  # a way out by symlink
    feed = make_feed(session, "file://" + where.format(root=root))
    (result,) = poll(session, [feed], NOW, replace(OPTIONS, file_roots=(root,)))
    assert result.status == "error"
    assert "outside the folders file:// feeds are read from" in (result.error or "")
    assert stories(session, feed) == []


def test_malformed_xml(session: Session, feed_server: FeedServer) -> None:
    url = feed_server.add("broken.xml", "<?xml version='1.0'?><rss><channel><<<>>> &&& </rss")
    bad, _ = poll_with_a_good_feed(session, feed_server, url)
    assert bad.consecutive_failures == 1
    assert bad.last_error
    assert "malformed" in bad.last_error or "not an RSS" in bad.last_error


def test_malformed_xml_with_readable_items_is_ingested_with_a_warning(
    session: Session, feed_server: FeedServer
) -> None:
    text = GOOD.replace("</channel></rss>", "<item><title>Broken <b></title></item></channel>")
    bad, _ = poll_with_a_good_feed(session, feed_server, feed_server.add("half.xml", text))
    assert bad.consecutive_failures == 0
    assert bad.last_error
    assert bad.last_error.startswith("warning: malformed XML")
    assert {row.title for row in stories(session, bad)} >= {"Bridge reopens ahead of schedule"}


def test_html_error_page_served_as_a_feed(session: Session, feed_server: FeedServer) -> None:
    page = b"<!DOCTYPE html><html><head><title>Error</title></head><body><h1>502</h1></body></html>"
    url = feed_server.route(
        "error.xml", Route(body=page, headers={"Content-Type": "application/rss+xml"})
    )
    bad, _ = poll_with_a_good_feed(session, feed_server, url)
    assert_failed(session, bad, "not an RSS or Atom feed (got an HTML page; check the URL)")


def test_billion_laughs(session: Session, feed_server: FeedServer) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    bomb = GOOD.replace('<rss version="2.0"', f'<!DOCTYPE rss [{entities}]><rss version="2.0"')
    bomb = bomb.replace("<title>Test Times</title>", "<title>&lol9;</title>")
    bad, _ = poll_with_a_good_feed(session, feed_server, feed_server.add("bomb.xml", bomb))
    assert_failed(session, bad, "declares XML entities")


def test_external_entity(session: Session, feed_server: FeedServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    doc = GOOD.replace(
        '<rss version="2.0"',
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]><rss version="2.0"',
    ).replace("Library adds Sunday hours", "Library &xxe; hours")
    bad, _ = poll_with_a_good_feed(session, feed_server, feed_server.add("xxe.xml", doc))
    assert_failed(session, bad, "declares XML entities")
    leaked = session.scalar(
        select(func.count())
        .select_from(Story)
        .where(Story.title.contains("TOP-SECRET") | Story.summary.contains("TOP-SECRET"))
    )
    assert leaked == 0


def test_feed_over_the_size_cap(session: Session, feed_server: FeedServer) -> None:
    big = rss(
        [Item(f"Story {i}", f"https://news.example/{i}", description="x" * 500) for i in range(100)]
    )
    url = feed_server.add("big.xml", big)
    options = FetchOptions(timeout=2.0, max_bytes=20_000)
    bad, _ = poll_with_a_good_feed(session, feed_server, url, options)
    assert_failed(session, bad, "larger than 20,000 bytes (raise DIGEST_FEED_MAX_BYTES")


def test_a_server_that_hangs_times_out(session: Session, feed_server: FeedServer) -> None:
    url = feed_server.route("slow.xml", Route(body=GOOD.encode(), delay=5.0))
    options = FetchOptions(timeout=0.5)
    bad, _ = poll_with_a_good_feed(session, feed_server, url, options)
    assert_failed(session, bad, "timed out after 0.5 s")


@pytest.mark.parametrize(
    ("status", "message"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")]
)
def test_http_errors(session: Session, feed_server: FeedServer, status: int, message: str) -> None:
    url = feed_server.route(f"e{status}.xml", Route(status=status, body=b"no"))
    bad, _ = poll_with_a_good_feed(session, feed_server, url)
    assert_failed(session, bad, message)


def test_a_redirect_loop(session: Session, feed_server: FeedServer) -> None:
    feed_server.route("loop-a", Route(status=302, headers={"Location": "/loop-b"}))
    url = feed_server.route("loop-b", Route(status=302, headers={"Location": "/loop-a"}))
    bad, _ = poll_with_a_good_feed(session, feed_server, url)
    assert_failed(session, bad, "too many redirects (more than 5)")
    assert feed_server.hits("loop-a") + feed_server.hits("loop-b") == 6


def test_a_redirect_is_followed(session: Session, feed_server: FeedServer) -> None:
    feed_server.add("moved.xml", GOOD)
    url = feed_server.route("old.xml", Route(status=301, headers={"Location": "/moved.xml"}))
    feed = make_feed(session, url)
    (result,) = poll(session, [feed], NOW, OPTIONS)
    assert (result.status, result.new) == ("ok", 2)


def test_dates_links_duplicates_encodings_and_hostile_markup_are_cleaned(
    session: Session, feed_server: FeedServer
) -> None:
    items = [
        Item("Invalid date", "/a", guid="a", published="the day after tomorrow"),
        Item("Missing date", "/b", guid="b"),
        Item("Far-future date", "/c", guid="c", published="Fri, 01 Jan 2100 00:00:00 GMT"),
        Item("Relative link", "relative/d", guid="d", published=NOW - timedelta(hours=1)),
        Item("Duplicate guid, first", "/e1", guid="e", published=NOW - timedelta(hours=2)),
        Item("Duplicate guid, second", "/e2", guid="e", published=NOW - timedelta(hours=2)),
        Item(
            'Café <script>alert("x")</script><img src=x onerror=alert(1)>',
            "/f",
            guid="f",
            description='<a href="javascript:alert(1)" onclick="x()">Zürich</a> news',
        ),
        Item("L" * 2000, "/g", guid="g"),
        Item("Javascript link", "javascript:alert(1)", guid="h"),
    ]
    body = rss(items, encoding="ISO-8859-1").encode("iso-8859-1", errors="replace")
    url = feed_server.add("nasty/feed.xml", body)
    feed = make_feed(session, url)
    (result,) = poll(session, [feed], NOW, OPTIONS)
    assert result.status == "ok"
    assert result.new == 7
    assert "item 6 repeats guid 'e'; left out" in result.problems
    assert "item 9 has no usable link; left out" in result.problems
    assert feed.last_error
    assert feed.last_error.startswith("warning: ")
    rows = {row.guid: row for row in stories(session, feed)}
    for guid in "abc":
        assert rows[guid].published_at == NOW
    assert rows["d"].url == f"{feed_server.base_url}/nasty/relative/d"
    assert rows["a"].url == f"{feed_server.base_url}/a"
    assert rows["e"].title == "Duplicate guid, first"
    assert rows["f"].title == "Café"
    assert rows["f"].summary == "Zürich news"
    assert len(rows["g"].title) <= 300


def test_backoff_doubles_and_success_resets(session: Session, feed_server: FeedServer) -> None:
    url = feed_server.route("down.xml", Route(status=503, body=b""))
    feed = make_feed(session, url)
    moment = NOW
    for failures in (1, 2, 3):
        poll(session, [feed], moment, OPTIONS)
        assert feed.consecutive_failures == failures
        assert feed.next_poll_at == moment + timedelta(seconds=900 * 2**failures)
        moment = feed.next_poll_at
    assert backoff(900, 30) == timedelta(hours=24)
    feed_server.routes.pop("/down.xml")
    feed_server.add("down.xml", GOOD)
    poll(session, [feed], moment, OPTIONS)
    assert (feed.consecutive_failures, feed.last_error) == (0, None)
    assert feed.next_poll_at == moment + timedelta(seconds=900)


def test_due_feeds_and_claims(session: Session, tmp_path: Path) -> None:
    never = make_feed(session, "https://a.example/never.xml")
    due = make_feed(session, "https://a.example/due.xml")
    later = make_feed(session, "https://a.example/later.xml")
    due.next_poll_at = NOW - timedelta(minutes=1)
    later.next_poll_at = NOW + timedelta(minutes=1)
    assert [feed.id for feed in due_feeds(session, NOW)] == [never.id, due.id]
    assert claim_due_feeds(session, NOW) == [never.id, due.id]
    assert claim_due_feeds(session, NOW) == []
    assert never.next_poll_at == NOW + timedelta(seconds=900)


def test_poll_feed_task_runs_on_a_real_worker(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    feed_server: FeedServer,
) -> None:
    url = feed_server.add("worker.xml", GOOD)
    with committed() as session, session.begin():
        feed_id = make_feed(session, url).id
    start_worker()
    from workers.tasks import poll_feeds

    poll_feeds.delay()  # fans out one poll_feed per due feed, after its commit
    deadline = time.monotonic() + 120
    titles: list[str] = []
    while time.monotonic() < deadline and len(titles) < 2:
        with committed() as session:
            titles = list(
                session.scalars(
                    select(Story.title).where(Story.feed_id == feed_id).order_by(Story.title)
                )
            )
        time.sleep(0.2)
    assert titles == ["Bridge reopens ahead of schedule", "Library adds Sunday hours"]
    with committed() as session:
        feed = session.get_one(Feed, feed_id)
        assert feed.last_success_at is not None
        assert feed.consecutive_failures == 0
    assert feed_server.hits("worker.xml") == 1
