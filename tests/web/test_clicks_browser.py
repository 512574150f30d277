"""A reader in Chromium clicks a story in an edition's web version: the browser lands on the
story through the counted redirect, and the click is in the counts after the server stops."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.curation.sections import TOP, Section, StoryCard
from digest.models import EditionSegment, EditionStatus, LinkClicks, Newsletter, Story
from digest.render.render import render_segment
from digest.settings import get_settings, load_settings
from tests import factories
from tests.support.browser import WebServer, chromium, require_chromium
from tests.support.http import FeedServer


def test_a_click_in_chromium_lands_on_the_story_and_is_counted(
    committed: sessionmaker[Session], feed_server: FeedServer, tmp_path: Path
) -> None:
    require_chromium()
    # No Redis: the web process writes its counts to the database itself, here on shutdown.
    server = WebServer({"DIGEST_CLICK_FLUSH_SECONDS": "3600"}, tmp_path / "web.log")
    settings = load_settings(**{**get_settings().model_dump(), "base_url": server.url})
    targets = [
        feed_server.add(f"story-{i}.html", f"<html><title>Story {i}</title><p>Story {i}</p>")
        for i in range(2)
    ]
    with committed() as session, session.begin():
        (town,) = factories.towns(session, ("springfield",))
        letter = factories.newsletter(session)
        made = factories.stories(session, None, 2, factories.NOW)
        for story, target in zip(made, targets, strict=True):
            story.url = target
        edition = factories.ready_edition(session, letter, [town])
        edition.status = EditionStatus.SENT
        cards = tuple(
            StoryCard(s.id, s.cluster_key, s.title, s.url, "", s.published_at, rank)
            for rank, s in enumerate(made)
        )
        segment = session.scalars(select(EditionSegment)).one()
        rendered = render_segment(
            settings,
            session.get_one(Newsletter, letter.id),
            town,
            [Section(TOP, "Top stories", cards)],
            factories.NOW.date(),
            edition_id=edition.id,
        )
        segment.html, segment.text = rendered.html, rendered.text
        edition_id, title = edition.id, made[1].title
    server.start()
    try:
        with chromium() as context:
            page = context.new_page()
            page.goto(f"{server.url}/archive/morning/{edition_id}/springfield")
            link = page.get_by_role("link", name=title)
            assert (link.get_attribute("href") or "").startswith(f"{server.url}/r/")
            link.click()
            page.wait_for_url(targets[1])  # exactly the story, nothing added
            page.wait_for_load_state()
            assert "Story 1" in page.content()
    finally:
        server.stop()
    assert feed_server.hits("story-1.html") == 1
    with committed() as session:
        rows = session.execute(select(LinkClicks.item_id, LinkClicks.clicks)).all()
        story_id = session.scalar(select(Story.id).where(Story.url == targets[1]))
    assert [tuple(row) for row in rows] == [(story_id, 1)]
