"""Most read: ranked feeds and views documents become samples and Story.popularity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.ingest.fetch import FetchOptions
from digest.ingest.parse import FeedError
from digest.ingest.popularity import read_source
from digest.models import FeedKind, PopularitySample
from tests.support.feeds import Item, make_feed, poll, put, rss, story
from tests.support.http import FeedServer

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OPTIONS = FetchOptions(timeout=2.0)


def three_stories(session: Session):  # type: ignore[no-untyped-def]
    feed = make_feed(session, "https://town.example/feed")
    return put(
        session,
        feed,
        [
            story("Alpha", "https://town.example/a", NOW - timedelta(hours=1)),
            story("Bravo", "https://town.example/b", NOW - timedelta(hours=2)),
            story("Charlie", "https://town.example/c", NOW - timedelta(hours=3)),
        ],
        NOW,
    )


def test_a_most_read_feed_ranks_by_its_order(session: Session, feed_server: FeedServer) -> None:
    a, b, c = three_stories(session)
    url = feed_server.add(
        "most-read.xml",
        rss(
            [
                Item("Charlie", "https://town.example/c?utm_source=mostread"),
                Item("Alpha", "https://town.example/a"),
                Item("Not ours", "https://elsewhere.example/x"),
            ]
        ),
    )
    source = make_feed(session, url, kind=FeedKind.MOST_READ, section="most_read")
    (result,) = poll(session, [source], NOW, OPTIONS)
    assert result.status == "ok"
    assert result.problems == ["1 URLs match no story yet"]
    assert (c.popularity, a.popularity, b.popularity) == (1.0, 0.5, 0.0)
    samples = session.scalars(select(PopularitySample).order_by(PopularitySample.rank)).all()
    assert [(s.story_id, s.rank, s.measured_at, s.source) for s in samples] == [
        (c.id, 1, NOW, url),
        (a.id, 2, NOW, url),
    ]


def test_json_and_csv_views_documents(session: Session, feed_server: FeedServer) -> None:
    a, b, c = three_stories(session)
    json_url = feed_server.add(
        "views.json",
        json.dumps(
            {
                "stories": [
                    {"url": "https://town.example/a", "views": 400},
                    {"url": "https://town.example/b#comments", "views": 100},
                    {"url": "not a url", "views": 5},
                ]
            }
        ),
    )
    csv_url = feed_server.add("views.csv", "URL,Views\nhttps://town.example/c,800\n")
    feeds = [make_feed(session, u, kind=FeedKind.MOST_READ) for u in (json_url, csv_url)]
    poll(session, feeds, NOW, OPTIONS)
    assert (a.popularity, b.popularity, c.popularity) == (1.0, 0.25, 1.0)
    views = {s.story_id: s.views for s in session.scalars(select(PopularitySample))}
    assert views == {a.id: 400, b.id: 100, c.id: 800}


def test_a_newer_reading_replaces_the_score(session: Session, feed_server: FeedServer) -> None:
    a, b, _ = three_stories(session)
    url = feed_server.add(
        "v.json",
        json.dumps(
            [
                {"url": "https://town.example/a", "views": 10},
                {"url": "https://town.example/b", "views": 20},
            ]
        ),
    )
    source = make_feed(session, url, kind=FeedKind.MOST_READ)
    poll(session, [source], NOW, OPTIONS)
    feed_server.add(
        "v.json",
        json.dumps(
            [
                {"url": "https://town.example/a", "views": 90},
                {"url": "https://town.example/b", "views": 30},
            ]
        ),
    )
    poll(session, [source], NOW + timedelta(hours=1), OPTIONS)
    assert (a.popularity, b.popularity) == (1.0, 30 / 90)
    assert len(session.scalars(select(PopularitySample)).all()) == 4


@pytest.mark.parametrize(
    ("body", "url", "message"),
    [
        (b"{not json", "https://p.example/x.json", "not valid JSON"),
        (b'{"total": 3}', "https://p.example/x.json", "must be a list"),
        (b"link,count\nhttps://a.example/,3\n", "https://p.example/x.csv", "columns url and views"),
    ],
)
def test_bad_popularity_documents_say_what_is_expected(body: bytes, url: str, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        read_source(body, url, NOW, None)


def test_a_bad_popularity_document_fails_its_feed_only(
    session: Session, feed_server: FeedServer
) -> None:
    a, _, _ = three_stories(session)
    bad = make_feed(session, feed_server.add("bad.json", "{oops"), kind=FeedKind.MOST_READ)
    good = make_feed(
        session,
        feed_server.add("ok.csv", "url,views\nhttps://town.example/a,5\n"),
        kind=FeedKind.MOST_READ,
    )
    poll(session, [bad, good], NOW, OPTIONS)
    assert bad.consecutive_failures == 1
    assert "not valid JSON" in (bad.last_error or "")
    assert a.popularity == 1.0
