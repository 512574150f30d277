"""The editor's desk in headless Chromium against a real uvicorn server: signing in, being
throttled, changing a newsletter's sender and schedule and seeing the next edition follow,
and the screenshots of docs/editors.md (into docs/img when DIGEST_TEST_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import SYSTEM_CLOCK
from digest.curation.schedules import slot_instant
from digest.models import Community, Edition, Newsletter
from digest.render.mime import segment_template
from digest.sending.editions import dispatch_due
from digest.sending.slots import next_slot
from digest.settings import get_settings
from tests.support.admin import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TOWN_EDITOR_EMAIL,
    Newsroom,
    browser_log_in,
    newsroom,
)
from tests.support.browser import WebServer, chromium, require_chromium, screenshot_dir
from tests.web.test_admin_browser import local_only

pytestmark = pytest.mark.browser


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    require_chromium()
    return newsroom(committed, SYSTEM_CLOCK.now())


@pytest.fixture
def server(room: Newsroom, tmp_path: Path) -> Iterator[WebServer]:
    web = WebServer({"DIGEST_MAIL_URL": f"maildir://{tmp_path / 'outbox'}"}, tmp_path / "web.log")
    web.start()
    yield web
    web.stop()


def test_sign_in_and_out(server: WebServer, room: Newsroom) -> None:
    with chromium() as context:
        page = context.new_page()
        page.goto(server.url + "/admin/feeds/")
        assert page.url.startswith(server.url + "/admin/login?next=")
        page.get_by_label("Email address").fill(ADMIN_EMAIL)
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(server.url + "/admin/feeds/")  # back where it was going
        cookie = next(c for c in context.cookies() if c["name"] == "digest_session")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Strict"
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(server.url + "/admin/login")
        page.goto(server.url + "/admin/")
        assert "/admin/login" in page.url


def test_failed_logins_until_throttled(server: WebServer, room: Newsroom) -> None:
    with chromium() as context:
        page = context.new_page()
        page.goto(server.url + "/admin/login")
        for attempt in range(5):
            page.get_by_label("Email address").fill(TOWN_EDITOR_EMAIL)
            page.get_by_label("Password").fill(f"wrong-guess-{attempt}")
            with page.expect_response("**/admin/login") as answer:
                page.get_by_role("button", name="Sign in").click()
            expected = 429 if attempt == 4 else 401
            assert answer.value.status == expected
        alert = page.get_by_role("alert").inner_text()
        assert "Too many failed attempts. Please wait 30 seconds" in alert
        # The right password does not help while the wait lasts.
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        with page.expect_response("**/admin/login") as answer:
            page.get_by_role("button", name="Sign in").click()
        assert answer.value.status == 429
        assert "/admin/login" in page.url


def test_change_sender_and_schedule_and_the_next_edition_follows(
    server: WebServer, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    with chromium() as context:
        local_only(context, server)
        page = context.new_page()
        browser_log_in(page, server.url)
        page.get_by_role("link", name="Newsletters").click()
        page.get_by_role("link", name="Morning Digest").click()
        page.get_by_label("Schedule").fill("every day at 7")  # not understood: said so
        page.get_by_role("button", name="Save settings").click()
        assert "is not understood" in page.get_by_role("alert").inner_text()
        page.get_by_label("Schedule").fill("daily 07:30")
        page.get_by_label("Sender name").fill("Springfield Times")
        page.get_by_label("Sender address").fill("news@springfield-times.example")
        page.get_by_role("button", name="Save settings").click()
        page.wait_for_url("**/admin/newsletters/morning?done=saved")
        main = page.inner_text("main")
        assert "From Springfield Times <news@springfield-times.example>" in main
        assert "07:30" in main
    settings = get_settings()
    with committed() as session, session.begin():
        letter = session.scalars(select(Newsletter).where(Newsletter.slug == "morning")).one()
        town = session.scalars(select(Community).where(Community.slug == "springfield")).one()
        slot = next_slot(letter, town, SYSTEM_CLOCK.now())
        assert slot is not None
        assert (slot.hour, slot.minute) == (7, 30)
        at = slot_instant(slot, town.timezone) + timedelta(minutes=1)
        dispatch_due(session, settings, at)
        edition = session.scalars(
            select(Edition).where(Edition.newsletter_id == letter.id, Edition.slot == slot)
        ).one()
        segment = next(s for s in edition.segments if s.community_id == town.id)
        template = segment_template(
            settings,
            letter,
            subject=segment.subject,
            html=segment.html,
            text=segment.text,
            message_key=f"e{edition.id}",
            date=at,
        )
    assert b"From: Springfield Times <news@springfield-times.example>" in template.head


def test_screenshots_for_the_editors_guide(
    server: WebServer, room: Newsroom, tmp_path: Path
) -> None:
    shots = screenshot_dir(tmp_path)
    taken = []
    with chromium(viewport={"width": 1100, "height": 800}) as context:
        local_only(context, server)
        page = context.new_page()
        page.goto(server.url + "/admin/login")
        page.screenshot(path=str(shots / "editors-login.png"))
        taken.append("editors-login.png")
        browser_log_in(page, server.url)
        for name, url in [
            ("editors-newsletter.png", "/admin/newsletters/morning"),
            ("editors-feeds.png", "/admin/feeds/"),
            ("editors-suppressions.png", "/admin/suppressions/"),
            ("editors-reader.png", "/admin/readers/?email=reader1%40springfield.example"),
            ("editors-audit.png", "/admin/audit/"),
        ]:
            page.goto(server.url + url)
            page.screenshot(path=str(shots / name), full_page=True)
            taken.append(name)
        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(server.url + f"/admin/editions/{room.sending}")
        page.screenshot(path=str(shots / "editors-phone.png"), full_page=True)
        taken.append("editors-phone.png")
    for name in taken:
        assert (shots / name).stat().st_size > 5_000, name
