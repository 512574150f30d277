"""The editor's view and the dev outbox in headless Chromium against a real uvicorn server:
accessibility, the live progress without JavaScript, the screenshots (into docs/img when
DIGEST_TEST_UPDATE_SCREENSHOTS=1), and a
newcomer confirming their signup from the outbox."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import SYSTEM_CLOCK
from digest.models import Delivery, DeliveryStatus, Subscription
from tests.support.admin import ADMIN_PASSWORD, Newsroom, browser_log_in, newsroom
from tests.support.browser import (
    WebServer,
    axe_violations,
    chromium,
    require_chromium,
    screenshot_dir,
)
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    require_chromium()
    return newsroom(committed, SYSTEM_CLOCK.now())


@pytest.fixture
def server(room: Newsroom, tmp_path: Path) -> Iterator[WebServer]:
    env = {
        "DIGEST_MAIL_URL": f"maildir://{tmp_path / 'outbox'}",
        "DIGEST_SIGNUP_MIN_FILL_SECONDS": "0",
    }
    web = WebServer(env, tmp_path / "web.log").start()
    yield web
    web.stop()


def local_only(context: Any, server: WebServer) -> None:
    """Refuse every request not to the test server (a preview's remote images): no network."""

    def route(found: Any) -> None:
        if found.request.url.startswith(server.url):
            found.continue_()
        else:
            found.abort()

    context.route("**/*", route)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_admin_pages_have_no_serious_accessibility_violation(
    server: WebServer, room: Newsroom
) -> None:
    pages = {
        "overview": "/admin/",
        "edition": f"/admin/editions/{room.sending}",
        "preview form": "/admin/preview",
        "preview": "/admin/preview?newsletter=morning&town=springfield",
        "live progress": "/admin/live",
        "outbox": "/dev/outbox/",
        "newsletters": "/admin/newsletters/",
        "newsletter settings": "/admin/newsletters/morning",
        "towns": "/admin/towns/",
        "town": "/admin/towns/springfield",
        "feeds": "/admin/feeds/",
        "readers": "/admin/readers/?email=reader1%40springfield.example",
        "suppressions": "/admin/suppressions/",
        "audit log": "/admin/audit/",
    }
    found: dict[str, list[str]] = {}
    with chromium() as context:
        local_only(context, server)
        page = context.new_page()
        browser_log_in(page, server.url)
        for name, url in pages.items():
            response = page.goto(server.url + url)
            assert response is not None
            assert response.status == 200, name
            violations = axe_violations(page)
            if violations:
                found[name] = [f"{v['id']}: {v['help']}" for v in violations]
    assert found == {}


def test_screenshots_of_the_signup_page_and_the_admin(
    server: WebServer, room: Newsroom, tmp_path: Path
) -> None:
    shots = screenshot_dir(tmp_path)
    with chromium(viewport={"width": 1280, "height": 900}) as context:
        local_only(context, server)
        page = context.new_page()
        browser_log_in(page, server.url)
        page.set_viewport_size({"width": 900, "height": 900})
        page.goto(server.url + "/")
        page.screenshot(path=str(shots / "signup.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(server.url + "/admin/")
        page.frame_locator("iframe.live-frame").locator("progress").first.wait_for()
        page.screenshot(path=str(shots / "admin.png"), full_page=True)
        # The preview's frames are the real digest at the two widths.
        page.goto(server.url + "/admin/preview?newsletter=morning&town=springfield")
        for kind, width in (("desktop", 600), ("phone", 375)):
            frame = page.frame_locator(f"iframe.{kind}")
            assert "Springfield story 0" in frame.locator("body").inner_text()
            inner = frame.locator("html").evaluate("e => e.clientWidth")
            assert width - 20 <= inner <= width, kind  # less a scrollbar at most
            scroll = frame.locator("html").evaluate("e => e.scrollWidth - e.clientWidth")
            assert scroll <= 0, f"{kind}: scrolls sideways by {scroll}px"
    assert (shots / "signup.png").stat().st_size > 10_000
    assert (shots / "admin.png").stat().st_size > 10_000


def test_live_progress_moves_without_javascript(
    server: WebServer, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    with chromium(java_script_enabled=False) as context:
        page = context.new_page()
        browser_log_in(page, server.url)
        page.goto(server.url + f"/admin/editions/{room.sending}")
        live = page.locator("body")  # the page reloads itself while the edition sends
        assert "5 of 9" in live.inner_text()
        with committed() as session, session.begin():
            for row in session.scalars(
                select(Delivery).where(
                    Delivery.edition_id == room.sending, Delivery.status == DeliveryStatus.QUEUED
                )
            ):
                row.status = DeliveryStatus.SENT
        wait_for(lambda: "9 of 9" in live.inner_text(), "the frame to show the new figure")
        assert page.url.endswith(f"/admin/editions/{room.sending}")  # the page itself stayed


def test_pause_and_resume_with_the_buttons(
    server: WebServer, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    with chromium(java_script_enabled=False) as context:
        page = context.new_page()
        browser_log_in(page, server.url)
        page.goto(server.url + "/admin/")
        page.get_by_role("button", name=f"Pause edition {room.sending}").click()
        page.wait_for_url(f"**/admin/editions/{room.sending}?done=pause")
        assert "Paused:" in page.inner_text("main")
        assert "paused" in page.inner_text(".facts")


@pytest.mark.celery
def test_a_newcomer_confirms_from_the_outbox(
    committed: sessionmaker[Session],
    room: Newsroom,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"
    env = {
        "DIGEST_MAIL_URL": f"maildir://{outbox}",
        "DIGEST_SIGNUP_MIN_FILL_SECONDS": "0",
    }
    server = WebServer(env, tmp_path / "web.log")
    start_worker(mail_url=f"maildir://{outbox}", base_url=server.url)
    server.start()
    try:
        with chromium() as context:
            local_only(context, server)
            page = context.new_page()
            browser_log_in(page, server.url)  # the outbox is for a signed-in admin
            page.goto(server.url + "/")
            page.get_by_label("Your email address").fill("newcomer@example.org")
            page.get_by_label("Your town", exact=True).select_option("springfield")
            page.locator("#newsletter-morning").check()
            page.locator("#consent").check()
            page.get_by_role("button", name="Sign up").click()
            page.wait_for_url("**/check-your-inbox")

            def arrived() -> bool:
                page.goto(server.url + "/dev/outbox/")
                return "newcomer@example.org" in page.inner_text("main")

            wait_for(arrived, "the confirmation in the outbox")
            page.locator("tr", has_text="newcomer@example.org").locator("a").first.click()
            frame = page.frame_locator("iframe.message-frame")
            frame.get_by_role("link", name="Yes, subscribe me").click()
            page.wait_for_url("**/confirm/**")
            page.get_by_role("button", name="Confirm my subscription").click()
            page.wait_for_load_state()
            assert "is confirmed" in page.inner_text("main")
        with committed() as session:
            states = {
                s.status.value
                for s in session.scalars(select(Subscription))
                if s.subscriber.email == "newcomer@example.org"
            }
        assert states == {"confirmed"}
    finally:
        server.stop()


# What sticks out past the screen's right edge, for the failure message.
WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right >
    document.documentElement.clientWidth + 1)
  .slice(-3).map(e => `${e.tagName}.${e.className}#${e.id}: ${e.scrollWidth}/${e.clientWidth}`)
"""
PHONE_PAGES = [
    "/admin/",
    "/admin/editions/{sending}",
    "/admin/preview?newsletter=morning&town=springfield",
    "/admin/newsletters/",
    "/admin/newsletters/morning",
    "/admin/towns/",
    "/admin/feeds/",
    "/admin/readers/?email=reader1%40springfield.example",
    "/admin/suppressions/",
    "/admin/audit/",
    "/dev/outbox/",
]


def test_no_admin_page_scrolls_sideways_on_a_phone(server: WebServer, room: Newsroom) -> None:
    """At 375 px nothing is wider than the screen: tables become cards, long URLs wrap."""
    wide: dict[str, int] = {}
    with chromium(viewport={"width": 375, "height": 800}) as context:
        local_only(context, server)
        page = context.new_page()
        browser_log_in(page, server.url)
        for url in PHONE_PAGES:
            page.goto(server.url + url.format(sending=room.sending))
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                wide[url] = page.evaluate(WIDEST)
    assert wide == {}


def test_the_admin_works_with_the_keyboard_alone(server: WebServer, room: Newsroom) -> None:
    """Sign in, reach the towns page and rename a town with Tab, typing and Enter only."""
    with chromium() as context:
        page = context.new_page()
        page.goto(server.url + "/admin/towns/springfield")  # asks to sign in first
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")  # the brand
        focused = ""
        for _ in range(6):
            page.keyboard.press("Tab")
            focused = page.evaluate("() => document.activeElement.id")
            if focused == "email":
                break
        assert focused == "email"
        page.keyboard.type("admin@example.org")
        page.keyboard.press("Tab")
        page.keyboard.type(ADMIN_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/admin/towns/springfield")
        page.locator("#name").focus()
        page.keyboard.press("Control+A")
        page.keyboard.type("Springfield Heights")
        page.keyboard.press("Enter")
        page.wait_for_url("**/admin/towns/springfield?done=saved")
        assert page.locator("#name").input_value() == "Springfield Heights"
        # Focus is visible wherever it lands (the stylesheet's :focus-visible outline).
        page.keyboard.press("Tab")
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
