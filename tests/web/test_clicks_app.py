"""The redirect in the app with a fixed clock: per-reader engagement and its opt-out, clicks on
arrival, the database flush (no Redis), and the clicks on the admin's edition page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import (
    ClickEvent,
    ConsentEvent,
    Delivery,
    EditionSegment,
    LinkClicks,
    Story,
    Subscriber,
)
from digest.render.links import CLICK_TAG, click_tag, preferences_url, tracked_url
from digest.web.app import create_app
from tests.factories import NOW
from tests.support.admin import Newsroom, log_in, newsroom
from tests.support.web import RecordingNotifier, form_token
from tests.web.test_admin import admin_settings

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131 Safari/537.36"}


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    return newsroom(committed)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app_for(clock: FixedClock) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = admin_settings(**overrides)
        client = TestClient(create_app(settings, notifier=RecordingNotifier(), clock=clock))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def story_link(
    sessions: sessionmaker[Session], client: TestClient, edition_id: int, town: str, sent: datetime
) -> tuple[str, Story, int]:
    """A tracked link to a regional story in the edition's segment for `town`, sent at `sent`."""
    settings = client.app.state.web.settings  # type: ignore[attr-defined]
    with sessions() as session:
        segment = session.scalars(
            select(EditionSegment).where(EditionSegment.edition_id == edition_id)
        ).all()
        chosen = next(s for s in segment if s.community.slug == town)
        story = session.scalars(select(Story).where(Story.community_id.is_(None))).first()
        assert story is not None
        reader = session.scalars(
            select(Subscriber).where(Subscriber.community_id == chosen.community_id)
        ).first()
        assert reader is not None
        delivery = session.scalar(
            select(Delivery.id).where(
                Delivery.edition_id == edition_id, Delivery.subscriber_id == reader.id
            )
        )
        url = tracked_url(settings, story.url, edition_id, chosen.community_id, "story", story.id)
        tag = click_tag(settings, sent, reader.id, delivery)
        return url.replace(CLICK_TAG, tag).removeprefix(settings.base_url), story, reader.id


def test_a_reader_click_is_kept_per_reader_only_when_engagement_is_on(
    committed: sessionmaker[Session], room: Newsroom, app_for: Any, clock: FixedClock
) -> None:
    client = app_for(click_per_reader=True)
    path, story, reader = story_link(committed, client, room.sent, "springfield", NOW)
    clock.advance(minutes=30)
    answer = client.get(path, headers=BROWSER, follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == story.url
    assert client.app.state.click_flusher.flush()  # type: ignore[attr-defined]
    with committed() as session:
        events = session.scalars(select(ClickEvent)).all()
        assert [(e.subscriber_id, e.edition_id, e.clicked_at) for e in events] == [
            (reader, room.sent, clock.now())
        ]
        assert session.scalars(select(LinkClicks.clicks)).all() == [1]

    aggregates_only = app_for()  # the default: the same link, no reader kept
    assert aggregates_only.get(path, headers=BROWSER, follow_redirects=False).status_code == 302
    assert aggregates_only.app.state.click_flusher.flush()  # type: ignore[attr-defined]
    with committed() as session:
        assert len(session.scalars(select(ClickEvent)).all()) == 1
        assert session.scalars(select(LinkClicks.clicks)).all() == [2]


def test_a_click_on_arrival_is_a_scanner_and_left_out(
    committed: sessionmaker[Session], room: Newsroom, app_for: Any, clock: FixedClock
) -> None:
    client = app_for()
    path, _story, _reader = story_link(committed, client, room.sent, "riverton", NOW)
    clock.advance(seconds=4)  # within DIGEST_CLICK_SCANNER_SECONDS of the message being sent
    assert client.get(path, headers=BROWSER, follow_redirects=False).status_code == 302
    assert client.app.state.click_flusher.flush()  # type: ignore[attr-defined]
    with committed() as session:
        row = session.scalars(select(LinkClicks)).one()
        assert (row.clicks, row.scanner_early) == (0, 1)


def test_the_admin_edition_page_shows_clicks_per_town(
    committed: sessionmaker[Session], room: Newsroom, app_for: Any, clock: FixedClock
) -> None:
    client = app_for()
    path, story, _reader = story_link(committed, client, room.sent, "springfield", NOW)
    clock.advance(hours=1)
    for n in range(3):
        agent = {"user-agent": f"Mozilla/5.0 reader {n}"}
        assert client.get(path, headers=agent, follow_redirects=False).status_code == 302
    assert client.head(path, headers=BROWSER, follow_redirects=False).status_code == 302
    assert client.app.state.click_flusher.flush()  # type: ignore[attr-defined]
    log_in(client)
    page = client.get(f"/admin/editions/{room.sent}")
    assert page.status_code == 200
    clicks = page.text.split("<h2>Clicks</h2>")[1]
    row = next(line for line in clicks.split("<tr>") if "Springfield" in line)
    assert f"{story.title} (1, 3)" in row  # one reader clicked three times
    assert "16.7%" in row  # 1 unique clicker, 6 delivered messages
    assert '<td class="num">1</td>' in row  # the HEAD request, left out


def test_a_tampered_link_redirects_nowhere(
    committed: sessionmaker[Session], room: Newsroom, app_for: Any
) -> None:
    client = app_for()
    path, _story, _reader = story_link(committed, client, room.sent, "springfield", NOW)
    token = path.removeprefix("/r/").partition("~")[0]
    payload, _, signature = token.partition(".")
    for bad in (f"/r/{payload}.{signature[::-1]}", f"/r/{payload[:-3]}.{signature}", "/r/x.y"):
        answer = client.get(bad, headers=BROWSER, follow_redirects=False)
        assert answer.status_code == 404
        assert "location" not in answer.headers
    assert client.app.state.click_buffer.take(NOW) is None  # type: ignore[attr-defined]


def test_a_reader_opts_out_of_per_reader_counts_in_preferences(
    committed: sessionmaker[Session], room: Newsroom, app_for: Any
) -> None:
    client = app_for(click_per_reader=True)
    settings = client.app.state.web.settings  # type: ignore[attr-defined]
    with committed() as session:
        reader = session.scalars(select(Subscriber).order_by(Subscriber.id)).first()
        assert reader is not None
        reader_id, town = reader.id, reader.community.slug
    url = preferences_url(settings, reader_id).removeprefix(settings.base_url)
    page = client.get(url)
    assert "Do not count my clicks" in page.text
    fields = {
        "form_token": form_token(page.text),
        "community": town,
        "newsletters": ["morning"],
        "click_opt_out": "yes",
        "action": "save",
    }
    assert client.post(url, data=fields).status_code == 200
    with committed() as session:
        assert session.get_one(Subscriber, reader_id).click_opt_out is True
        details = session.scalars(
            select(ConsentEvent.detail).where(ConsentEvent.subscriber_id == reader_id)
        ).all()
        assert {"click_counts": "opted out"} in details
    assert "Do not count my clicks" not in app_for().get(url).text  # not offered when off
