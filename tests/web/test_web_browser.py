"""The readers' pages in headless Chromium against a real uvicorn server: accessibility
(axe-core finds no serious or critical violation), the keyboard alone, and end to end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Newsletter, Subscriber, Subscription
from digest.readers.consent import Origin
from digest.readers.signup import confirm, signup
from digest.render.links import confirm_url, preferences_url, unsubscribe_url
from digest.render.mime import Reader, compose, segment_template
from digest.settings import load_settings
from tests.support.browser import WebServer, axe_violations, chromium, require_chromium
from tests.support.smtp import SMTPServer
from tests.support.web import START, populate
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def web_server(committed: sessionmaker[Session], tmp_path: Path) -> Iterator[WebServer]:
    require_chromium()
    populate(committed)
    server = WebServer({"DIGEST_SIGNUP_MIN_FILL_SECONDS": "0"}, tmp_path / "web.log").start()
    yield server
    server.stop()


def signed_up_reader(sessions: sessionmaker[Session], email: str, confirmed: bool) -> int:
    with sessions() as session, session.begin():
        outcome = signup(
            session,
            email=email,
            community="springfield",
            newsletters=["morning", "weekend"],
            consent=True,
            origin=Origin("test"),
            wording="I agree",
            now=START,
            resend_after=timedelta(minutes=15),
        )
        assert outcome.subscriber_id is not None
        if confirmed:
            confirm(session, outcome.subscriber_id, Origin("test"), START)
        return outcome.subscriber_id


def test_no_page_has_a_serious_accessibility_violation(
    web_server: WebServer, committed: sessionmaker[Session]
) -> None:
    settings = load_settings(base_url=web_server.url)
    pending = signed_up_reader(committed, "pending@example.org", confirmed=False)
    reader = signed_up_reader(committed, "reader@example.org", confirmed=True)
    pages = {
        "signup": "/",
        "check inbox": "/check-your-inbox",
        "confirm": confirm_url(settings, pending),
        "preferences": preferences_url(settings, reader),
        "unsubscribe": unsubscribe_url(settings, reader),
        "archive": "/archive/",
        "archive of a newsletter": "/archive/morning/",
        "bad link": "/confirm/not-a-token",
        "not found": "/no/such/page",
    }
    found: dict[str, list[str]] = {}
    with chromium() as context:
        page = context.new_page()
        for name, url in pages.items():
            page.goto(url if url.startswith("http") else web_server.url + url)
            violations = axe_violations(page)
            if violations:
                found[name] = [f"{v['id']}: {v['help']}" for v in violations]
        # The form with every error shown, too.
        page.goto(web_server.url + "/")
        page.click("button[type=submit]")
        page.wait_for_url("**/signup")
        assert page.locator(".errors").is_visible()
        violations = axe_violations(page)
        if violations:
            found["signup with errors"] = [f"{v['id']}: {v['help']}" for v in violations]
    assert found == {}


def test_the_form_works_with_the_keyboard_alone(web_server: WebServer) -> None:
    with chromium() as context:
        page = context.new_page()
        page.goto(web_server.url + "/")
        page.keyboard.press("Tab")  # the skip link comes first
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        tab_order = []
        for _ in range(8):
            page.keyboard.press("Tab")
            tab_order.append(
                page.evaluate("document.activeElement.id || document.activeElement.textContent")
            )
            focused = tab_order[-1]
            if focused == "email":
                page.keyboard.type("keys@example.org")
            elif focused == "community":
                page.keyboard.press("ArrowDown")  # the first town
            elif focused in ("newsletter-morning", "consent"):
                page.keyboard.press("Space")
            elif focused == "Sign up":
                break
        assert tab_order[:6] == [
            "email",
            "community",
            "newsletter-morning",
            "newsletter-weekend",
            "consent",
            "Sign up",
        ]  # the honeypot is never reached
        page.keyboard.press("Enter")
        page.wait_for_url("**/check-your-inbox")
        assert "Check your inbox" in page.inner_text("h1")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def subscription_states(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return {s.status.value for s in session.scalars(select(Subscription))}


@pytest.mark.celery
def test_sign_up_confirm_and_leave_in_one_click(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
    tmp_path: Path,
) -> None:
    require_chromium()
    populate(committed)
    server = WebServer({"DIGEST_SIGNUP_MIN_FILL_SECONDS": "0"}, tmp_path / "web.log")
    start_worker(mail_url=smtp_server.url, base_url=server.url)
    server.start()
    try:
        with chromium() as context:
            page = context.new_page()
            page.goto(server.url + "/")
            page.get_by_label("Your email address").fill("reader@example.org")
            page.get_by_label("Your town").select_option("springfield")
            page.get_by_label("Morning Digest").check()
            page.locator("#consent").check()
            page.get_by_role("button", name="Sign up").click()
            page.wait_for_url("**/check-your-inbox")

            wait_for(lambda: len(smtp_server.received) >= 1, "the confirmation email")
            confirmation = smtp_server.received[0]
            assert confirmation.rcpt_tos == ["reader@example.org"]
            assert "confirm" in confirmation.message["Subject"].lower()
            link = next(
                word
                for word in text_of(confirmation.message).split()
                if word.startswith(server.url + "/confirm/")
            )
            page.goto(link)
            assert subscription_states(committed) == {"pending"}  # opening confirms nobody
            page.get_by_role("button", name="Confirm my subscription").click()
            page.wait_for_load_state()
            assert "is confirmed" in page.inner_text("main")
            assert subscription_states(committed) == {"confirmed"}

            wait_for(lambda: len(smtp_server.received) >= 2, "the welcome email")
            welcome = smtp_server.received[1]
            assert welcome.message["Subject"] == "Welcome to Morning Digest"

        # The digest's List-Unsubscribe header, as a mailbox provider would use it.
        settings = load_settings(base_url=server.url)
        with committed() as session:
            reader = session.scalars(select(Subscriber)).one()
            newsletter = session.scalars(
                select(Newsletter).where(Newsletter.slug == "morning")
            ).one()
            template = segment_template(
                settings,
                newsletter,
                subject="Today",
                html="<p>News</p>",
                text="News",
                message_key="e1.s1",
                date=START,
            )
            digest = message_from_bytes(
                compose(template, Reader(1, reader.id, reader.email or "")).data
            )
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https_url = digest["List-Unsubscribe"].split(",")[0].strip().strip("<>")
        answer = httpx.post(https_url, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        assert "set-cookie" not in answer.headers
        assert subscription_states(committed) == {"unsubscribed"}
    finally:
        server.stop()


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text part")
