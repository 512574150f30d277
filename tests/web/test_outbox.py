"""The dev outbox viewer (/dev/outbox) on a real Maildir written by MaildirTransport."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from digest.sending.maildir import MaildirTransport
from digest.settings import load_settings
from digest.web import create_app
from digest.web.outbox import linkify, newest_messages
from tests.factories import NOW
from tests.support.admin import ADMIN_EMAIL, EDITOR_EMAIL, log_in, newsroom
from tests.support.web import RecordingNotifier

MakeClient = Callable[..., TestClient]
CONFIRM = "http://127.0.0.1:8000/confirm/a-token-for-the-test"


def message(subject: str, to: str, link: str = CONFIRM) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Digest Demo News <news@localhost>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(NOW)
    mail["Message-ID"] = f"<{abs(hash(subject))}@localhost>"
    mail.set_content(f"Please confirm your subscription:\n{link}\n\nThank you.\n")
    mail.add_alternative(
        f'<!DOCTYPE html><html lang="en"><head><title>{subject}</title></head><body>'
        f'<p>Please <a href="{link}">confirm your subscription</a>.</p>'
        '<img src="https://images.example.com/logo.png" alt="Logo"></body></html>',
        subtype="html",
    )
    return mail.as_bytes()


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


def deliver(outbox: Path, *messages: tuple[str, str]) -> list[str]:
    """Write the messages in order, each arriving a second after the one before; their keys."""
    keys = []
    with MaildirTransport(outbox) as transport:
        for index, (subject, to) in enumerate(messages):
            result = transport.send("bounces+x@localhost", to, message(subject, to))
            key = result.reply.rsplit(" as ", 1)[1]
            file = next((outbox / "new").glob(key + "*"))
            os.utime(file, ns=(1_700_000_000_000_000_000 + index * 10**9,) * 2)
            keys.append(key)
    return keys


@pytest.fixture
def make_client(outbox: Path, committed: sessionmaker[Session]) -> Iterator[MakeClient]:
    clients: list[TestClient] = []
    newsroom(committed)  # its accounts: the viewer is for a signed-in admin

    def make(sign_in: str | None = ADMIN_EMAIL, **overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "database_url": os.environ["DIGEST_DATABASE_URL"],
            "mail_url": f"maildir://{outbox}",
        }
        values.update(overrides)
        app = create_app(load_settings(**values), notifier=RecordingNotifier())
        client = TestClient(app, base_url="http://127.0.0.1:8000")
        clients.append(client.__enter__())
        if sign_in and load_settings(**values).is_dev:
            assert log_in(client, sign_in).status_code == 303
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


def test_outbox_lists_messages_newest_first(client: TestClient, outbox: Path) -> None:
    deliver(outbox, ("Please confirm", "jane@example.org"), ("Welcome", "joe@example.org"))
    page = client.get("/dev/outbox/")
    assert page.status_code == 200
    row = r"<tr>\s*<td[^>]*><a href=\"/dev/outbox/([^\"]+)\">([^<]+)</a></td>(.*?)</tr>"
    rows = re.findall(row, page.text, re.S)
    assert [subject for _, subject, _ in rows] == ["Welcome", "Please confirm"]
    assert "joe@example.org" in rows[0][2]
    assert "Digest Demo News &lt;news@localhost&gt;" in rows[0][2]
    assert "2026-11-24 14:00:00 +0000" in rows[0][2]
    assert str(outbox) in page.text


def test_outbox_without_the_trailing_slash_redirects(client: TestClient) -> None:
    response = client.get("/dev/outbox", follow_redirects=False)
    assert response.status_code in (307, 308)
    assert response.headers["location"].endswith("/dev/outbox/")


def test_an_empty_or_missing_outbox_says_so(client: TestClient) -> None:
    page = client.get("/dev/outbox/")
    assert page.status_code == 200
    assert "The outbox is empty" in page.text


def test_a_message_page_frames_the_html_and_shows_text_and_headers(
    client: TestClient, outbox: Path
) -> None:
    (key,) = deliver(outbox, ("Please confirm", "jane@example.org"))
    page = client.get(f"/dev/outbox/{key}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Please confirm</h1>" in html
    frame = re.search(r'<iframe class="message-frame" src="([^"]+)"[^>]*sandbox="([^"]+)"', html)
    assert frame is not None
    assert frame.group(1) == f"/dev/outbox/{key}/html"
    assert "allow-top-navigation-by-user-activation" in frame.group(2)
    assert "allow-scripts" not in frame.group(2)
    assert "allow-same-origin" not in frame.group(2)
    assert f'<a href="{CONFIRM}">{CONFIRM}</a>' in html  # the text part's link is clickable
    assert "Delivered-To: jane@example.org" in html  # the raw headers, with the envelope
    assert "Return-Path: &lt;bounces+x@localhost&gt;" in html
    assert "frame-src 'self'" in page.headers["content-security-policy"]


def test_the_html_part_opens_its_links_in_the_whole_window(
    client: TestClient, outbox: Path
) -> None:
    (key,) = deliver(outbox, ("Please confirm", "jane@example.org"))
    response = client.get(f"/dev/outbox/{key}/html")
    assert response.status_code == 200
    assert '<head><base target="_top"><title>' in response.text
    assert f'<a href="{CONFIRM}">' in response.text
    policy = response.headers["content-security-policy"]
    assert "sandbox allow-popups" in policy
    assert "allow-top-navigation-by-user-activation" in policy
    assert "frame-ancestors 'self'" in policy
    assert "script-src" not in policy  # default-src 'none' keeps scripts out
    assert "img-src 'self' data:" in policy  # remote images are not fetched
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_an_unknown_or_hostile_key_is_not_found(client: TestClient, outbox: Path) -> None:
    deliver(outbox, ("Please confirm", "jane@example.org"))
    for key in ("1700000000.M1P1Q1.nohost", "..", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"):
        response = client.get(f"/dev/outbox/{key}")
        assert response.status_code in (400, 404), key
        assert client.get(f"/dev/outbox/{key}/html").status_code in (400, 404), key


def test_a_message_without_html_says_so(client: TestClient, outbox: Path) -> None:
    mail = EmailMessage()
    mail["Subject"] = "Plain only"
    mail.set_content("Just text, see https://news.example/a.")
    with MaildirTransport(outbox) as transport:
        result = transport.send("a@localhost", "b@example.org", mail.as_bytes())
    key = result.reply.rsplit(" as ", 1)[1]
    page = client.get(f"/dev/outbox/{key}")
    assert "This message has no HTML part." in page.text
    assert '<a href="https://news.example/a">https://news.example/a</a>.' in page.text
    assert client.get(f"/dev/outbox/{key}/html").status_code == 404


def test_an_smtp_mail_url_gets_a_page_saying_the_viewer_needs_a_maildir(
    make_client: MakeClient,
) -> None:
    client = make_client(mail_url="smtp://mail.example:25")
    page = client.get("/dev/outbox/")
    assert page.status_code == 200
    assert "DIGEST_MAIL_URL=maildir://var/outbox" in page.text
    assert "mail.example" not in page.text  # the URL may hold a password: only its scheme
    assert client.get("/dev/outbox/1700000000.M1P1Q1.host").status_code == 404


def test_prod_has_no_outbox_viewer(make_client: MakeClient, outbox: Path) -> None:
    (key,) = deliver(outbox, ("Please confirm", "jane@example.org"))
    client = make_client(env="prod", secret_key="a-real-secret-for-this-test")
    for path in ("/dev/outbox/", f"/dev/outbox/{key}", f"/dev/outbox/{key}/html"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Please confirm" not in response.text


def test_the_viewer_is_for_a_signed_in_admin_only(make_client: MakeClient, outbox: Path) -> None:
    (key,) = deliver(outbox, ("Please confirm", "jane@example.org"))
    stranger = make_client(sign_in=None)
    for path in ("/dev/outbox/", f"/dev/outbox/{key}", f"/dev/outbox/{key}/html"):
        response = stranger.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login?next=")
        assert "Please confirm" not in response.text
    editor = make_client(sign_in=EDITOR_EMAIL)
    refused = editor.get("/dev/outbox/")
    assert refused.status_code == 403
    assert "jane@example.org" not in refused.text
    page = stranger.get("/admin/login", params={"next": "/dev/outbox/"})
    assert 'value="/dev/outbox/"' in page.text  # after signing in, back to the outbox


def test_dev_mode_on_a_public_address_is_warned_at_startup(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="digest.web.app")
    make_client(sign_in=None)
    assert "set DIGEST_ENV=prod" not in caplog.text  # 127.0.0.1: a developer's machine
    make_client(sign_in=None, base_url="https://news.example")
    assert "but DIGEST_BASE_URL is https://news.example: set DIGEST_ENV=prod" in caplog.text


def test_newest_messages_keeps_the_latest(outbox: Path) -> None:
    deliver(outbox, *[(f"Message {i}", f"r{i}@example.org") for i in range(5)])
    assert [m.subject for m in newest_messages(outbox, limit=2)] == ["Message 4", "Message 3"]


def test_linkify_escapes_and_links() -> None:
    html = str(linkify('<b>see</b> https://a.example/x?y=1&z=2, "and" http://b.example.'))
    assert html == (
        "&lt;b&gt;see&lt;/b&gt; "
        '<a href="https://a.example/x?y=1&amp;z=2">https://a.example/x?y=1&amp;z=2</a>, '
        '&#34;and&#34; <a href="http://b.example">http://b.example</a>.'
    )
