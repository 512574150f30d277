"""The counted redirect, end to end: a real edition sent by a real worker into a real SMTP
server, its links clicked over HTTP against a real uvicorn, counts flushed on shutdown into
Redis and added to PostgreSQL by the real `flush_clicks` task."""

from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.curation.sections import TOP, Section, StoryCard
from digest.ingest.click_links import read_link_token
from digest.models import EditionSegment, EditionStatus, LinkClicks, Newsletter
from digest.render.render import render_segment
from digest.settings import Settings, get_settings, load_settings
from tests import factories
from tests.sending.test_sending import edition_status, wait_for
from tests.support.browser import WebServer
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerProcess

UTM = "utm_source=digest&utm_medium=email"
HREF = re.compile(r'href="([^"]+)"')
URL = re.compile(r"https?://\S+")


def reader_agent(n: int) -> str:
    return f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131 reader-{n}"


def build(sessions: sessionmaker[Session], settings: Settings) -> tuple[int, dict[str, int]]:
    """A ready edition for two towns whose segments are really rendered; ids by town slug."""
    with sessions() as session, session.begin():
        places = factories.towns(session, ("springfield", "riverton"))
        letter = factories.newsletter(session)
        letter.utm_params = UTM
        stories = factories.stories(session, None, 3, factories.NOW)
        for town in places:
            factories.readers(session, letter, town, 2)
        edition = factories.ready_edition(session, letter, places)
        cards = tuple(
            StoryCard(s.id, s.cluster_key, s.title, s.url, "A summary.", s.published_at, rank)
            for rank, s in enumerate(stories)
        )
        for segment in session.scalars(select(EditionSegment)):
            rendered = render_segment(
                settings,
                session.get_one(Newsletter, letter.id),
                segment.community,
                [Section(TOP, "Top stories", cards)],
                factories.NOW.date(),
                edition_id=edition.id,
            )
            segment.html, segment.text = rendered.html, rendered.text
        return edition.id, {town.slug: town.id for town in places}


def bodies(data: bytes) -> tuple[str, str]:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None
    assert text is not None
    return str(html.get_content()), str(text.get_content())


def tracked(settings: Settings, urls: list[str]) -> list[str]:
    return [url for url in urls if url.startswith(f"{settings.base_url}/r/")]


@pytest.mark.celery
def test_clicks_are_counted_per_town_and_link_with_scanners_left_out(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
    redis_url: str,
    redis_client: object,
    tmp_path: Path,
) -> None:
    server = WebServer(
        {
            "DIGEST_REDIS_URL": redis_url,
            "DIGEST_CLICK_SCANNER_SECONDS": "0",
            "DIGEST_CLICK_FLUSH_SECONDS": "3600",  # only the shutdown flush writes: none lost
        },
        tmp_path / "web.log",
    )
    settings = load_settings(**{**get_settings().model_dump(), "base_url": server.url})
    edition_id, towns = build(committed, settings)
    start_worker(mail_url=smtp_server.url, redis_url=redis_url)
    from workers.tasks import flush_clicks, send_edition

    send_edition.delay(edition_id)
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the edition")

    messages = {item.rcpt_tos[0]: bodies(item.data) for item in smtp_server.received}
    html, text = messages["reader0@springfield.example"]
    html_links, text_links = (
        tracked(settings, HREF.findall(html)),
        tracked(settings, URL.findall(text)),
    )
    # Three stories (headline link each) and "view in browser", in both parts.
    assert len(html_links) == 4
    assert len(text_links) == 4
    story_links = [u for u in html_links if "/archive/" not in read_target(settings, u)]
    assert [read_target(settings, u) for u in story_links] == [
        f"https://news.example/region/{i}?{UTM}" for i in range(3)
    ]
    riverton_html, _ = messages["reader0@riverton.example"]
    riverton_story = tracked(settings, HREF.findall(riverton_html))[2]

    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:

            def click(url: str, agent: str, method: str = "GET") -> httpx.Response:
                return client.request(method, url, headers={"user-agent": agent})

            # Two readers click the first story; one of them a second story, in the text part.
            for n in (1, 2):
                answer = click(story_links[0], reader_agent(n))
                assert answer.status_code == 302
                assert answer.headers["location"] == f"https://news.example/region/0?{UTM}"
            text_story = next(u for u in text_links if u.split("~")[0] in story_links[1])
            assert click(text_story, reader_agent(1)).status_code == 302
            assert click(riverton_story, reader_agent(3)).status_code == 302
            # Scanners: HEAD, a known scanner, and one client opening every link at once.
            assert click(story_links[0], reader_agent(4), "HEAD").status_code == 302
            assert click(story_links[0], "Mimecast Link Checker").status_code == 302
            for url in story_links:
                assert click(url, "Mozilla/5.0 gateway").status_code == 302
            # Tampered: no redirect anywhere.
            token = story_links[0].rpartition("/r/")[2]
            bad = f"{server.url}/r/{token[:10]}X{token[11:]}"
            refused = click(bad, reader_agent(1))
            assert refused.status_code == 404
            assert "location" not in refused.headers
            assert click(f"{server.url}/r/nothing", reader_agent(1)).status_code == 404
    finally:
        server.stop()  # the shutdown flush hands the counts to Redis

    flush_clicks.delay()

    def counted() -> bool:
        with committed() as session:
            return bool(session.scalars(select(LinkClicks)).all())

    wait_for(counted, "the click counts")
    with committed() as session:
        rows = session.scalars(select(LinkClicks).where(LinkClicks.edition_id == edition_id)).all()
        by_target = {(row.community_id, row.url): row for row in rows}
    first = by_target[(towns["springfield"], f"https://news.example/region/0?{UTM}")]
    assert (first.clicks, first.scanner_head, first.scanner_agent, first.scanner_burst) == (
        2,
        1,
        1,
        1,
    )
    second = by_target[(towns["springfield"], f"https://news.example/region/1?{UTM}")]
    assert (second.clicks, second.scanner_burst) == (1, 1)
    third = by_target[(towns["springfield"], f"https://news.example/region/2?{UTM}")]
    assert (third.clicks, third.scanner_burst) == (0, 1)
    elsewhere = by_target[(towns["riverton"], f"https://news.example/region/1?{UTM}")]
    assert elsewhere.clicks == 1
    assert sum(row.clicks for row in rows) == 4


def read_target(settings: Settings, url: str) -> str:
    link = read_link_token(settings, url.rpartition("/r/")[2].partition("~")[0])
    assert link is not None
    return link.url
