"""The editor's view (/admin) through FastAPI's TestClient: signing in, every page, the
controls changing the edition in the database, the live progress and the preview."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus, Newsletter
from digest.settings import Settings, load_settings
from digest.web import create_app
from digest.web.charts import nice_ceiling
from tests.factories import NOW
from tests.support.admin import Newsroom, log_in, newsroom
from tests.support.web import RecordingNotifier, form_token

MakeClient = Callable[..., TestClient]


class RecordingStarter:
    def __init__(self) -> None:
        self.started: list[int] = []

    def send_edition(self, edition_id: int) -> None:
        self.started.append(edition_id)


def admin_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": os.environ["DIGEST_DATABASE_URL"],
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    return newsroom(committed)


@pytest.fixture
def starter() -> RecordingStarter:
    return RecordingStarter()


@pytest.fixture
def make_client(starter: RecordingStarter) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        app = create_app(
            admin_settings(**overrides), notifier=RecordingNotifier(), clock=FixedClock(NOW)
        )
        app.state.edition_starter = starter
        client = TestClient(app, base_url="http://127.0.0.1:8000")
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient, room: Newsroom) -> TestClient:
    """Signed in as an admin."""
    client = make_client()
    assert log_in(client).status_code == 303
    return client


def status_of(sessions: sessionmaker[Session], edition_id: int) -> EditionStatus:
    with sessions() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None
        return edition.status


def press(client: TestClient, edition_id: int, action: str, token: str | None = "page") -> Any:
    """Press an edition's button as a browser would (the token from a page with buttons)."""
    page = client.get("/admin/")
    data = {"form_token": form_token(page.text) if token == "page" else token}
    return client.post(
        f"/admin/editions/{edition_id}/{action}",
        data={k: v for k, v in data.items() if v is not None},
        follow_redirects=False,
    )


# Signing in (the accounts themselves: tests/web/test_accounts.py)


def test_admin_without_a_session_goes_to_the_login_form(make_client: MakeClient) -> None:
    client = make_client()
    response = client.get("/admin/editions/1?done=pause", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/editions/1%3Fdone%3Dpause"
    assert "confirmed readers" not in client.get("/admin/").text


def test_a_session_opens_every_admin_page(make_client: MakeClient, room: Newsroom) -> None:
    pages = [
        "/admin/",
        "/admin/live",
        f"/admin/live?edition={room.sending}",
        f"/admin/editions/{room.sending}",
        f"/admin/editions/{room.sending}/progress.json",
        f"/admin/editions/{room.sending}/towns/springfield",
        "/admin/preview",
        "/admin/preview?newsletter=morning&town=springfield",
        "/admin/preview/page?newsletter=morning&town=springfield",
    ]
    client = make_client()
    for page in pages:
        assert client.get(page, follow_redirects=False).status_code in (303, 401), page
    log_in(client)
    for page in pages:
        assert client.get(page).status_code == 200, page


def test_controls_need_a_session_too(make_client: MakeClient, room: Newsroom) -> None:
    client = make_client()
    response = client.post(f"/admin/editions/{room.sending}/pause", data={"form_token": "x"})
    assert response.status_code == 401


# The overview


def test_overview_shows_editions_with_status_counts_and_progress(
    client: TestClient, room: Newsroom
) -> None:
    page = client.get("/admin/")
    html = page.text
    row = re.search(
        rf'<tr>\s*<td[^>]*><a href="/admin/editions/{room.sending}">.*?</tr>', html, re.S
    )
    assert row is not None
    sending = row.group(0)
    assert "sending" in sending
    assert 'value="5"' in sending  # 4 sent + 1 failed of 9 are done
    assert "5 of 9 (56%)" in sending
    assert f'action="/admin/editions/{room.sending}/pause"' in sending
    assert f'action="/admin/editions/{room.sending}/cancel"' in sending
    assert "/resume" not in sending
    sent_row = re.search(
        rf'<tr>\s*<td[^>]*><a href="/admin/editions/{room.sent}">.*?</tr>', html, re.S
    )
    assert sent_row is not None
    assert "9 of 9 (100%)" in sent_row.group(0)
    assert "<form" not in sent_row.group(0)  # nothing to control once sent
    assert 'src="/admin/live"' in html  # the live progress while something is sending


def test_overview_counts_readers_per_town_and_newsletter(client: TestClient) -> None:
    html = client.get("/admin/").text
    cells = re.findall(
        r"<tr><td[^>]*>morning</td><td[^>]*>(\w+)</td>\s*((?:<td[^>]*>[\d,]+</td>\s*)+)</tr>", html
    )
    table = {town: re.findall(r">([\d,]+)<", numbers) for town, numbers in cells}
    assert table == {"riverton": ["3", "0", "1"], "springfield": ["6", "2", "0"]}
    assert "<strong>9</strong> confirmed readers of morning" in html


def test_overview_charts_signups_and_unsubscribes(client: TestClient) -> None:
    html = client.get("/admin/").text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "<script" not in html
    assert svg.count('class="bar-signups"') == 14  # the days that had signups
    assert 'class="bar-unsubscribes"' in svg
    assert "Nov 24: 3 signups" in svg  # today (the pattern's first day)
    assert "Nov 12: 10 signups" in svg
    assert "Nov 23: 1 unsubscribes" in svg
    assert "Signups (79)" in html  # the sum of the pattern


def test_overview_shows_feed_health_failing_first(client: TestClient) -> None:
    html = client.get("/admin/").text
    feeds = html[html.index('id="feeds-title"') :]
    assert feeds.index("news.example/region/feed.xml") < feeds.index("springfield/feed.xml")
    assert "failing (3 in a row)" in feeds
    assert "HTTP 503 from news.example" in feeds
    assert ">ok<" in feeds


def test_admin_pages_may_frame_only_their_own_parts(client: TestClient, room: Newsroom) -> None:
    page = client.get("/admin/")
    policy = page.headers["content-security-policy"]
    assert "frame-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    live = client.get("/admin/live")
    assert "frame-ancestors 'self'" in live.headers["content-security-policy"]
    assert live.headers["x-frame-options"] == "SAMEORIGIN"


# Live progress


def test_live_progress_reloads_itself_while_sending(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    live = client.get(f"/admin/live?edition={room.sending}")
    assert live.headers["refresh"] == "3"
    assert "5 of 9" in live.text
    assert "<script" not in live.text
    with committed() as session, session.begin():
        for row in session.scalars(select(Delivery).where(Delivery.edition_id == room.sending)):
            if row.status == DeliveryStatus.QUEUED:
                row.status = DeliveryStatus.SENT
                break
    assert "6 of 9" in client.get(f"/admin/live?edition={room.sending}").text
    done = client.get(f"/admin/live?edition={room.sent}")
    assert "refresh" not in done.headers  # nothing moves any more


def test_live_progress_lists_only_editions_in_flight(client: TestClient, room: Newsroom) -> None:
    html = client.get("/admin/live").text
    assert f"Edition {room.sending}," in html
    assert f"Edition {room.sent}," not in html


def test_progress_as_json(client: TestClient, room: Newsroom) -> None:
    body = client.get(f"/admin/editions/{room.sending}/progress.json").json()
    assert body == {
        "id": room.sending,
        "newsletter": "morning",
        "status": "sending",
        "recipients": 9,
        "done": 5,
        "percent": 55.6,
        "counts": {"sent": 4, "failed": 1, "queued": 4},
    }
    assert client.get("/admin/editions/999999/progress.json").status_code == 404


# Pause, resume, cancel


def test_pause_then_resume_through_the_buttons(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session], starter: RecordingStarter
) -> None:
    response = press(client, room.sending, "pause")
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/editions/{room.sending}?done=pause"
    assert status_of(committed, room.sending) == EditionStatus.PAUSED
    assert starter.started == []
    page = client.get(response.headers["location"]).text
    assert "Paused:" in page
    assert f'action="/admin/editions/{room.sending}/resume"' in page

    response = press(client, room.sending, "resume")
    assert response.status_code == 303
    assert status_of(committed, room.sending) == EditionStatus.SENDING
    assert starter.started == [room.sending]  # queued after the commit


def test_cancel_through_the_button_cancels_what_was_not_sent(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    assert press(client, room.sending, "cancel").status_code == 303
    assert status_of(committed, room.sending) == EditionStatus.CANCELLED
    with committed() as session:
        states = [
            row.status
            for row in session.scalars(select(Delivery).where(Delivery.edition_id == room.sending))
        ]
    assert states.count(DeliveryStatus.CANCELLED) == 4
    assert states.count(DeliveryStatus.SENT) == 4  # what went out stays recorded


@pytest.mark.parametrize("token", [None, "forged-token", ""])
def test_controls_refuse_a_post_without_a_valid_form_token(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session], token: str | None
) -> None:
    response = press(client, room.sending, "pause", token=token)
    assert response.status_code == 400
    assert "Please try again" in response.text
    assert status_of(committed, room.sending) == EditionStatus.SENDING


def test_controls_refuse_a_token_without_its_cookie(
    make_client: MakeClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    browser = make_client()
    log_in(browser)
    token = form_token(browser.get(f"/admin/editions/{room.sending}").text)
    other_site = make_client()  # another browser: it never got the cookie
    response = other_site.post(f"/admin/editions/{room.sending}/cancel", data={"form_token": token})
    assert response.status_code == 401
    other_editor = make_client()  # signed in, but the token is another session's
    log_in(other_editor)
    response = other_editor.post(
        f"/admin/editions/{room.sending}/cancel", data={"form_token": token}
    )
    assert response.status_code == 400
    assert status_of(committed, room.sending) == EditionStatus.SENDING


def test_a_control_that_does_not_apply_says_why(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session], starter: RecordingStarter
) -> None:
    response = press(client, room.sent, "pause")
    assert response.status_code == 409
    assert f"cannot pause edition {room.sent}: it is sent" in response.text
    assert press(client, room.sending, "resume").status_code == 409
    assert starter.started == []
    assert status_of(committed, room.sent) == EditionStatus.SENT


def test_an_unknown_edition_or_action_is_not_found(client: TestClient, room: Newsroom) -> None:
    assert client.get("/admin/editions/999999").status_code == 404
    assert press(client, room.sending, "explode").status_code in (400, 404, 422)


def test_resume_when_the_broker_is_down_still_resumes(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    class DownStarter:
        def send_edition(self, edition_id: int) -> None:
            raise ConnectionError("broker unreachable")

    client.app.state.edition_starter = DownStarter()  # type: ignore[attr-defined]
    press(client, room.sending, "pause")
    response = press(client, room.sending, "resume")
    assert response.headers["location"].endswith("done=resume-later")
    assert status_of(committed, room.sending) == EditionStatus.SENDING


# The edition page


def test_edition_page_shows_towns_counts_and_live_progress(
    client: TestClient, room: Newsroom
) -> None:
    page = client.get(f"/admin/editions/{room.sending}")
    html = page.text
    assert page.headers["refresh"] == "3"  # the whole page is the live view while sending
    assert "5 of 9" in html
    assert re.search(r"<td>sent</td><td class=\"num\">4</td>", html)
    assert re.search(r"<td>queued</td><td class=\"num\">4</td>", html)
    assert f'href="/admin/editions/{room.sending}/towns/riverton"' in html
    assert "Today in Springfield" in html


def test_edition_page_tells_one_story_while_sending_and_why_it_paused(
    client: TestClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    html = client.get(f"/admin/editions/{room.sending}").text
    facts = re.search(r'<dl class="facts">.*?</dl>', html, re.S)
    assert facts is not None
    assert "sending" in facts.group(0)
    assert f'action="/admin/editions/{room.sending}/pause"' in html  # Pause while sending
    assert f'action="/admin/editions/{room.sending}/resume"' not in html

    reason = "paused by the circuit breaker: 50 messages in a row refused or dropped"
    with committed() as session, session.begin():
        edition = session.get_one(Edition, room.sending)
        edition.status, edition.pause_reason = EditionStatus.PAUSED, reason
    page = client.get(f"/admin/editions/{room.sending}")
    assert reason in page.text
    assert "refresh" not in page.headers  # nothing moves while paused
    assert f'action="/admin/editions/{room.sending}/resume"' in page.text
    assert reason in client.get(f"/admin/live?edition={room.sending}").text


def test_a_towns_segment_is_shown_as_its_web_version(client: TestClient, room: Newsroom) -> None:
    page = client.get(f"/admin/editions/{room.sent}/towns/springfield")
    assert "Springfield news" in page.text
    assert "sandbox" in page.headers["content-security-policy"]
    assert client.get(f"/admin/editions/{room.sent}/towns/nowhere").status_code == 404


# Preview


def test_preview_shows_the_next_edition_at_two_widths(client: TestClient) -> None:
    html = client.get("/admin/preview?newsletter=morning&town=springfield").text
    assert "Next slot: Wednesday 25 November 2026, 06:00 local time" in html
    assert re.search(r"Subject:</strong> Springfield: [^<]+, and 5 more<br>\s+6 stories\.", html)
    frames = re.findall(
        r'<iframe class="(desktop|phone)" src="([^"]+)"[^>]*sandbox="([^"]*)"', html
    )
    assert [(kind, src) for kind, src, _ in frames] == [
        ("desktop", "/admin/preview/page?newsletter=morning&amp;town=springfield"),
        ("phone", "/admin/preview/page?newsletter=morning&amp;town=springfield"),
    ]
    assert all(
        "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
        for *_, sandbox in frames
    )


def test_preview_page_is_the_rendered_digest_without_personal_parts(client: TestClient) -> None:
    page = client.get("/admin/preview/page?newsletter=morning&town=springfield")
    html = page.text
    assert "Springfield story 0" in html
    assert "Region story 0" in html
    assert "__DIGEST_" not in html  # no placeholder left to fill
    assert "/unsubscribe/" not in html
    assert "/preferences/" not in html
    assert "<script" not in html
    assert '<base target="_blank">' in html
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy
    assert "sandbox" in policy


def test_preview_of_a_town_with_nothing_new_says_it_would_be_skipped(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    with committed() as session, session.begin():
        session.add(Newsletter(slug="local", name="Local Only", sections={"local": 5}))
    html = client.get("/admin/preview?newsletter=local&town=riverton").text
    assert "This edition would be skipped: nothing new for Riverton" in html
    assert "<iframe" not in html
    frame = client.get("/admin/preview/page?newsletter=local&town=riverton")
    assert frame.status_code == 404
    assert "Nothing to preview" in frame.text


def test_preview_of_an_unknown_town_or_newsletter_is_an_error(client: TestClient) -> None:
    page = client.get("/admin/preview?newsletter=morning&town=atlantis")
    assert page.status_code == 400
    assert "no town &#39;atlantis&#39;" in page.text
    assert client.get("/admin/preview?newsletter=nope&town=riverton").status_code == 400
    frame = client.get("/admin/preview/page?newsletter=morning&town=atlantis")
    assert frame.status_code == 404


def test_preview_page_offers_every_newsletter_and_town(client: TestClient) -> None:
    html = client.get("/admin/preview").text
    assert '<option value="morning"' in html
    assert '<option value="springfield"' in html
    assert '<option value="riverton"' in html
    assert "<iframe" not in html  # nothing picked yet


def test_nice_ceiling() -> None:
    assert [nice_ceiling(n) for n in (0, 1, 2, 3, 7, 10, 11, 48, 120)] == [
        1,
        1,
        2,
        5,
        10,
        10,
        20,
        50,
        200,
    ]
