"""The editor's desk in headless Chromium against a real uvicorn server, without JavaScript:
write a note, pin and drop stories, test-send, approve; then the outbox (Maildir) shows the
test marked and uncounted, and the next real send carries every change."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.curation.schedules import slot_instant
from digest.models import Delivery, Edition, EditionStatus
from digest.sending import approval, scheduler
from digest.settings import Settings, load_settings
from tests import factories
from tests.support.admin import ADMIN_EMAIL, accounts, browser_log_in
from tests.support.browser import (
    WebServer,
    axe_violations,
    chromium,
    require_chromium,
    screenshot_dir,
)

pytestmark = pytest.mark.browser

SLOT = datetime(2026, 11, 24, 6, 0)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def settings(outbox: Path) -> Settings:
    return load_settings(mail_url=f"maildir://{outbox}")


@pytest.fixture
def held_edition(committed: sessionmaker[Session], settings: Settings) -> int:
    """Riverton's held edition, built ahead by the scheduler and waiting for an editor."""
    require_chromium()
    with committed() as session, session.begin():
        (riverton,) = factories.towns(session, ("riverton",))
        letter = factories.newsletter(session)
        letter.schedule = "daily 06:00"
        send_at = slot_instant(SLOT, riverton.timezone)
        letter.created_at = send_at - timedelta(days=1)
        approval.set_hold(letter, True, "skip")
        factories.readers(session, letter, riverton, 3)
        accounts(session, riverton)
        factories.stories(session, riverton, 4, send_at - timedelta(hours=2))
        factories.stories(session, None, 4, send_at - timedelta(hours=2))
        approval.dispatch_held(session, settings, send_at - timedelta(minutes=30))
        edition = session.scalars(select(Edition)).one()
        assert edition.status == EditionStatus.AWAITING
        return edition.id


@pytest.fixture
def server(held_edition: int, outbox: Path, tmp_path: Path) -> Iterator[WebServer]:
    env = {"DIGEST_MAIL_URL": f"maildir://{outbox}"}
    web = WebServer(env, tmp_path / "web.log").start()
    yield web
    web.stop()


def messages(outbox: Path) -> list[Message]:
    return [message_from_bytes(bytes(m)) for m in mailbox.Maildir(outbox, create=False)]


def body(message: Message, kind: str = "text/plain") -> str:
    part = next(p for p in message.walk() if p.get_content_type() == kind)
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_shape_approve_and_test_send_at_the_desk(
    server: WebServer,
    held_edition: int,
    committed: sessionmaker[Session],
    settings: Settings,
    outbox: Path,
    tmp_path: Path,
) -> None:
    desk = f"{server.url}/admin/editions/{held_edition}/towns/riverton/desk"
    with chromium(java_script_enabled=False) as context:
        context.route(
            "**/*",
            lambda r: r.continue_() if r.request.url.startswith(server.url) else r.abort(),
        )
        page = context.new_page()
        browser_log_in(page, server.url)
        page.goto(desk)
        assert "awaiting approval" in page.inner_text(".facts")
        top = page.locator("ol.desk-stories").first.locator(".desk-title").all_inner_texts()
        local = page.locator("ol.desk-stories").nth(1).locator(".desk-title").all_inner_texts()
        first_local = local[0]

        page.get_by_label("A short intro").fill("Main Street is closed <b>all week</b>.")
        page.get_by_role("button", name="Save note").click()
        page.wait_for_url("**done=note")
        page.get_by_role("button", name=f"Pin {top[2]}").click()
        page.wait_for_url("**done=pin")
        page.get_by_role("button", name=f"Drop {first_local}").click()
        page.wait_for_url("**done=drop")
        shown = page.locator("ol.desk-stories").first.locator(".desk-title").all_inner_texts()
        assert shown[0] == f"Pick: {top[2]}"
        assert first_local not in page.inner_text("main")

        # The preview is the frozen email itself, at both widths, with no sideways scroll.
        for kind, width in (("desktop", 600), ("phone", 375)):
            frame = page.frame_locator(f"iframe.{kind}")
            text = frame.locator("body").inner_text()
            assert "Main Street is closed all week." in text
            assert first_local not in text
            inner = frame.locator("html").evaluate("e => e.clientWidth")
            assert width - 20 <= inner <= width, kind
            assert frame.locator("html").evaluate("e => e.scrollWidth - e.clientWidth") <= 0
        # The whole page in the viewport: a full-page capture leaves the sandboxed frames blank.
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": 1280, "height": height})
        page.screenshot(path=str(screenshot_dir(tmp_path) / "desk.png"))

        page.get_by_label("Send this town's edition").fill("editor@desk.example")
        page.get_by_role("button", name="Send test").click()
        page.wait_for_url("**done=test-send")
        page.get_by_role("button", name="Approve edition").click()
        page.wait_for_url("**done=approve")
        assert f"approved by {ADMIN_EMAIL}" in page.inner_text(".facts")

        # An address the browser lets through and Digest refuses, in words.
        page.get_by_label("Send this town's edition").fill("editor@gmial.com")
        page.get_by_role("button", name="Send test").click()
        page.wait_for_url("**error=**")
        assert "did you mean editor@gmail.com" in page.inner_text("[role=alert]")

    with chromium() as context:  # axe-core needs JavaScript
        page = context.new_page()
        browser_log_in(page, server.url)
        page.goto(desk)
        found = [f"{v['id']}: {v['help']}" for v in axe_violations(page)]
        assert found == []

    (proof,) = messages(outbox)
    assert proof["Subject"].startswith("[TEST] Riverton: ")
    assert proof["X-Digest-Test"].startswith("yes")
    assert "Main Street is closed all week." in body(proof)
    with committed() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0

    # The next real send: the scheduler releases the approved town at its slot.
    clock = FixedClock(slot_instant(SLOT, "America/Denver") + timedelta(minutes=1))
    result = scheduler.run_here(committed, settings, clock)
    assert result.editions == [held_edition]
    assert result.sent == 3
    sent = [m for m in messages(outbox) if m["X-Digest-Test"] is None]
    assert len(sent) == 3
    for message in sent:
        text = body(message)
        assert not message["Subject"].startswith("[TEST]")
        assert proof["Subject"] == f"[TEST] {message['Subject']}"  # the proof was this edition
        assert "Main Street is closed all week." in text
        assert first_local not in text
        assert text.index(top[2]) < text.index(top[0])
    with committed() as session:
        edition = session.get_one(Edition, held_edition)
        assert edition.status == EditionStatus.SENT
        assert edition.recipient_count == 3  # the test send is not counted
