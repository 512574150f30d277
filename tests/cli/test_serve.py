"""`digest serve` and `digest demo` on a bare machine: SQLite, the embedded broker, a Maildir.

A newcomer's path, end to end: the service starts on an empty directory with the demo's first
edition already in the outbox, a reader signs up on the real form in Chromium, finds the
confirmation in /dev/outbox, confirms, and Ctrl-C stops every process.
"""

from __future__ import annotations

import email
import mailbox
import os
import re
import signal
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.support import digests
from tests.support.browser import chromium, require_chromium
from tests.support.smtp import free_port
from tests.support.spam import THRESHOLD, spam_score

pytestmark = pytest.mark.browser
START_TIMEOUT = 90.0


def bare_environment(directory: Path, port: int) -> dict[str, str]:
    """The environment of a newcomer's shell: no DIGEST_* settings but where to keep files."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env.update(DIGEST_ENV="dev", DIGEST_BASE_URL=f"http://127.0.0.1:{port}")
    return env


def wait_until(condition: object, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_demo_in_a_fresh_directory_fills_the_outbox(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "digest", "demo"],
        cwd=tmp_path,
        env=bare_environment(tmp_path, 8000),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Stories ingested: 18" in result.stdout
    assert "Messages written: 9" in result.stdout
    check_first_admin(result.stdout, tmp_path)
    outbox = mailbox.Maildir(tmp_path / "var" / "outbox", create=False)
    raw = [outbox.get_bytes(key) for key in outbox.iterkeys()]
    assert len(raw) == 9
    for data in raw:
        check_digest_email(data)
    score, report = spam_score(raw[0], tmp_path)
    assert score < THRESHOLD, report
    again = subprocess.run(
        [sys.executable, "-m", "digest", "demo"],
        cwd=tmp_path,
        env=bare_environment(tmp_path, 8000),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "Messages written: 0" in again.stdout  # the same edition is never sent twice
    assert "forgot a password? `digest users reset-password EMAIL`" in again.stdout
    assert len(mailbox.Maildir(tmp_path / "var" / "outbox", create=False)) == 9


def check_first_admin(output: str, directory: Path) -> None:
    """The demo added the first admin and printed a password that signs in, once."""
    from datetime import UTC, datetime

    from digest.accounts.users import authenticate
    from digest.db import make_engine, make_session_factory

    found = re.search(r"sign in as (\S+) with the password (\S+);", output)
    assert found, output
    engine = make_engine(f"sqlite:///{directory / 'var' / 'digest.db'}")
    try:
        with make_session_factory(engine)() as session:
            user = authenticate(session, found[1], found[2], datetime.now(UTC))
            assert user is not None
            assert user.role == "admin"
    finally:
        engine.dispose()


def check_digest_email(data: bytes) -> None:
    """The rendering issue's checks on one delivered digest, as read from the outbox."""
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message.defects == []
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert len(message.get_all(name) or []) == 1, name
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/")
    assert message["Return-Path"].startswith("<bounces+")  # the VERP envelope sender
    assert all(len(line) <= 998 for line in data.splitlines())
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = digests.collect_links(html)
    assert found.headlines
    for headline in found.headlines:
        assert headline in text
    for href in found.hrefs:
        if href.startswith("http"):
            assert href in text


def test_serve_signup_confirm_and_stop(tmp_path: Path) -> None:
    require_chromium()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    service = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=bare_environment(tmp_path, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, "healthz")
        assert httpx.get(f"{base}/dev/outbox/", timeout=5).status_code == 303  # admins only
        wait_until(lambda: first_admin_password(tmp_path / "serve.log"), "the admin's password")
        password = first_admin_password(tmp_path / "serve.log")

        with chromium() as context:
            page = context.new_page()
            page.goto(base + "/dev/outbox/")
            page.get_by_label("Email address").fill("admin@example.org")
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(base + "/dev/outbox/")  # back where the sign-in was asked for
            # The demo's first edition is there: each town's subject leads with its town.
            towns = ("Springfield: ", "Riverton: ", "Lakeside: ")
            assert sum(page.content().count(town) for town in towns) >= 9
            page.goto(base + "/")
            page.get_by_label("Your email address", exact=True).fill("newcomer@example.org")
            page.get_by_label("Your town", exact=True).select_option("riverton")
            page.get_by_label("Morning Digest").check()
            page.locator("#consent").check()
            time.sleep(2.5)  # the form refuses answers faster than a person types
            page.get_by_role("button", name="Sign up").click()
            page.wait_for_url("**/check-your-inbox")

            def confirmation_listed() -> bool:
                page.goto(base + "/dev/outbox/")
                return "newcomer@example.org" in page.content()

            wait_until(confirmation_listed, "the confirmation in the outbox")
            page.get_by_role("link", name=re.compile("Confirm", re.I)).first.click()
            link = re.search(re.escape(base) + r"/confirm/[A-Za-z0-9_.\-]+", page.content())
            assert link is not None, "no confirm link on the outbox's message page"
            page.goto(link.group(0))
            page.get_by_role("button", name="Confirm my subscription").click()
            page.wait_for_load_state()
            assert "is confirmed" in page.inner_text("main")
    finally:
        service.send_signal(signal.SIGINT)
        code = service.wait(timeout=60)
        log.close()
    output = (tmp_path / "serve.log").read_text(errors="replace")
    assert code == 0, output
    assert "Stopped." in output
    assert processes_in(tmp_path) == []  # the web app, worker and scheduler all stopped


def first_admin_password(log: Path) -> str:
    """The first admin's password as `digest serve` printed it ('' before it is printed)."""
    found = re.search(r"with the password\s+(\S+?);", log.read_text(errors="replace"))
    return found.group(1) if found else ""


def processes_in(directory: Path) -> list[str]:
    """Command lines of the processes still running with `directory` as their cwd."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cwd").resolve() == directory.resolve():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found
