"""The desk's routes through FastAPI's TestClient: the sign-in and the session's form token
guard every change, an editor limited to one town cannot shape another, every change is in
the audit log, a started edition refuses changes in words, and a story is added by its URL
(one Digest knows, or a page fetched from a local server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import AuditEntry, Community, EditionPick, EditionSegment, Newsletter, Story
from digest.sending.editions import build_edition
from digest.web import create_app
from tests import factories
from tests.factories import NOW
from tests.support.admin import TOWN_EDITOR_EMAIL, Newsroom, log_in, newsroom
from tests.support.http import FeedServer
from tests.support.web import RecordingNotifier, form_token
from tests.web.test_admin import admin_settings


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    return newsroom(committed)


@pytest.fixture
def client(room: Newsroom) -> Iterator[TestClient]:
    app = create_app(admin_settings(), notifier=RecordingNotifier(), clock=FixedClock(NOW))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    log_in(client)
    return client


@pytest.fixture
def built(room: Newsroom, committed: sessionmaker[Session]) -> int:
    """Riverton's edition of tomorrow, curated and frozen by the usual build."""
    with committed() as session, session.begin():
        letter = session.scalars(select(Newsletter).where(Newsletter.slug == "morning")).one()
        riverton = session.scalars(select(Community).where(Community.slug == "riverton")).one()
        factories.stories(session, riverton, 3, NOW + timedelta(hours=1), tag="new")
        slot = datetime(2026, 11, 25, 6, 0)
        later = NOW + timedelta(hours=2)
        return build_edition(session, admin_settings(), letter, slot, later, [riverton]).id


def post(client: TestClient, edition: int, action: str, town: str = "riverton", **data: Any) -> Any:
    page = client.get(f"/admin/editions/{edition}/towns/{town}/desk")
    assert page.status_code == 200
    return client.post(
        f"/admin/editions/{edition}/towns/{town}/desk/{action}",
        data={"form_token": form_token(page.text), **data},
        follow_redirects=False,
    )


def picks(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(EditionPick)) or 0


def test_the_desk_needs_a_sign_in_and_the_session_token(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    url = f"/admin/editions/{room.ready}/towns/riverton/desk"
    assert client.get(url, follow_redirects=False).status_code != 200
    assert (
        client.post(url + "/note", data={"note": "hi"}, follow_redirects=False).status_code != 303
    )
    log_in(client)
    refused = client.post(url + "/note", data={"note": "hi"}, follow_redirects=False)
    assert refused.status_code in (400, 403)
    assert picks(committed) == 0


def test_an_editor_of_one_town_shapes_only_that_town(
    client: TestClient, built: int, committed: sessionmaker[Session]
) -> None:
    log_in(client, TOWN_EDITOR_EMAIL)
    assert post(client, built, "note", note="Mine").headers["location"].endswith("done=note")
    with committed() as session, session.begin():
        springfield = session.scalars(
            select(Community).where(Community.slug == "springfield")
        ).one()
        letter = session.scalars(select(Newsletter)).first()
        assert letter is not None
        other = build_edition(
            session,
            admin_settings(),
            letter,
            datetime(2026, 11, 26, 6, 0),
            NOW + timedelta(hours=3),
            [springfield],
        ).id
    assert post(client, other, "note", town="springfield", note="Not mine").status_code == 403
    with committed() as session:
        entries = session.scalars(select(AuditEntry.action)).all()
    assert "edition.desk.note" in entries
    assert picks(committed) == 1


def test_a_started_edition_cannot_be_changed(
    admin: TestClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    response = post(admin, room.sending, "note", note="Too late")
    assert response.status_code == 303
    assert "error=" in response.headers["location"]
    page = admin.get(response.headers["location"])
    assert "can no longer be changed" in page.text
    assert picks(committed) == 0


def test_the_desk_shows_no_error_text_a_link_brings(admin: TestClient, room: Newsroom) -> None:
    desk = f"/admin/editions/{room.sending}/towns/riverton/desk"
    spoof = "Your session expired: sign in again at https://evil.example/admin"
    page = admin.get(desk, params={"error": spoof})
    assert page.status_code == 200
    assert "evil.example" not in page.text
    assert 'role="alert"' not in page.text


def test_a_note_keeps_the_stories(
    admin: TestClient, built: int, committed: sessionmaker[Session]
) -> None:
    with committed() as session:
        before = session.scalars(select(EditionSegment.story_ids)).all()
    response = post(admin, built, "note", note="<i>Hello</i> Riverton")
    assert response.headers["location"].endswith("done=note")
    with committed() as session:
        segment = session.scalars(
            select(EditionSegment).where(EditionSegment.edition_id == built)
        ).one()
        assert segment.story_ids in before
        assert segment.story_ids
        assert "<i>Hello</i> Riverton" in segment.html


def test_add_a_story_by_url_known_or_fetched(
    admin: TestClient, built: int, committed: sessionmaker[Session], feed_server: FeedServer
) -> None:
    with committed() as session:
        known = session.scalars(select(Story).order_by(Story.id.desc())).first()
        assert known is not None
        known_url, known_title = known.url, known.title
    assert post(admin, built, "add", url=known_url, section="local").status_code == 303
    page_url = feed_server.add(
        "story.html",
        "<html><head><title>Site</title><meta property='og:title' content='Bridge reopens'>"
        "<meta name='description' content='After two years.'></head><body></body></html>",
    )
    done = post(admin, built, "add", url=page_url, section="top")
    assert done.headers["location"].endswith("done=add"), done.headers["location"]
    with committed() as session:
        segment = session.scalars(
            select(EditionSegment).where(EditionSegment.edition_id == built)
        ).one()
        assert "Bridge reopens" in segment.text
        assert "After two years." in segment.text
        assert known_title in segment.text
    missing = post(admin, built, "add", url=feed_server.url("gone.html"), section="top")
    assert "could not fetch" in admin.get(missing.headers["location"]).text


def test_approving_needs_every_town_of_the_edition(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    """Approval sends every town's segment, so an editor of one town cannot approve."""
    with committed() as session, session.begin():
        letter = session.scalars(select(Newsletter).where(Newsletter.slug == "morning")).one()
        towns = list(session.scalars(select(Community).order_by(Community.slug)))
        both = factories.ready_edition(session, letter, towns, datetime(2026, 11, 27, 6, 0)).id
    log_in(client, TOWN_EDITOR_EMAIL)
    assert post(client, both, "approve").status_code == 403
    with committed() as session:
        entries = session.scalars(select(AuditEntry.action)).all()
    assert "edition.desk.approve" not in entries
