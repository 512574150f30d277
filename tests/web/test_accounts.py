"""Accounts in the admin through FastAPI's TestClient: signing in and out, the cookie, session
fixation, CSRF bound to the session, throttling, roles and towns, the audit log."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.accounts import throttle
from digest.clock import FixedClock
from digest.models import (
    AuditEntry,
    Edition,
    EditionStatus,
    LoginThrottle,
    Newsletter,
    Suppression,
)
from digest.settings import load_settings
from digest.web import create_app
from digest.web.security import FormGuard
from tests.factories import NOW
from tests.support.admin import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EDITOR_EMAIL,
    TOKEN_FIELD,
    TOWN_EDITOR_EMAIL,
    Newsroom,
    log_in,
    newsroom,
)
from tests.support.browser import WebServer
from tests.support.web import RecordingNotifier, form_token

MakeClient = Callable[..., TestClient]


class Starter:
    def send_edition(self, edition_id: int) -> None:
        pass


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    return newsroom(committed)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def make_client(room: Newsroom, clock: FixedClock) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(
        base_url: str = "http://127.0.0.1:8000", ip: str = "testclient", **overrides: Any
    ) -> TestClient:
        settings = load_settings(
            database_url=os.environ["DIGEST_DATABASE_URL"], base_url=base_url, **overrides
        )
        app = create_app(settings, notifier=RecordingNotifier(), clock=clock)
        app.state.edition_starter = Starter()
        client = TestClient(app, base_url=base_url, client=(ip, 50000))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def status_of(sessions: sessionmaker[Session], edition_id: int) -> EditionStatus:
    with sessions() as session:
        return session.get_one(Edition, edition_id).status


def actions(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(row.actor, row.action, row.target) for row in rows]


# Signing in and out


def test_sign_in_sets_a_strict_httponly_session_cookie(make_client: MakeClient) -> None:
    client = make_client()
    response = log_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("digest_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http in dev: a Secure cookie would never come back
    assert "Ada Admin" in client.get("/admin/").text


def test_on_https_the_cookie_is_host_prefixed_and_secure(make_client: MakeClient) -> None:
    client = make_client(base_url="https://news.example")
    response = log_in(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-digest_session=")
    assert "Secure" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie


def test_a_wrong_password_shows_the_form_again(make_client: MakeClient) -> None:
    client = make_client()
    for email, password in [
        (ADMIN_EMAIL, "wrong-password"),
        (ADMIN_EMAIL, ADMIN_PASSWORD + "x"),
        ("nobody@example.org", ADMIN_PASSWORD),
        (ADMIN_EMAIL, ""),
    ]:
        response = log_in(client, email, password)
        assert response.status_code == 401
        assert "do not match an active account" in response.text
        assert (
            "set-cookie" not in response.headers
            or "digest_session" not in response.headers["set-cookie"]
        )
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_on_the_server(make_client: MakeClient) -> None:
    client = make_client()
    log_in(client)
    stolen = client.cookies.get("digest_session")
    token = form_token(client.get("/admin/").text)
    response = client.post("/admin/logout", data={"form_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    thief = make_client()
    thief.cookies.set("digest_session", stolen or "")
    assert thief.get("/admin/", follow_redirects=False).status_code == 303  # to the login


def test_session_fixation_a_planted_id_is_never_adopted(make_client: MakeClient) -> None:
    client = make_client()
    client.cookies.set("digest_session", "planted-by-an-attacker", domain="127.0.0.1")
    assert client.get("/admin/", follow_redirects=False).status_code == 303
    response = log_in(client)
    fresh = client.cookies.get("digest_session")
    assert fresh
    assert fresh != "planted-by-an-attacker"
    attacker = make_client()
    attacker.cookies.set("digest_session", "planted-by-an-attacker")
    assert attacker.get("/admin/", follow_redirects=False).status_code == 303
    # Signing in again, even from a signed-in browser, gives yet another id.
    assert response.status_code == 303
    log_in(client)
    assert client.cookies.get("digest_session") != fresh


def test_after_login_it_goes_back_to_the_page_asked_for_never_elsewhere(
    make_client: MakeClient,
) -> None:
    client = make_client()
    for target, expected in [
        ("/admin/towns/", "/admin/towns/"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/admin/", "/admin/"),
    ]:
        page = client.get("/admin/login", params={"next": target})
        response = client.post(
            "/admin/login",
            data={
                "form_token": form_token(page.text),
                "email": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "next": target,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == expected, target


# CSRF


def test_csrf_a_post_without_the_session_token_is_refused(
    make_client: MakeClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    client = make_client()
    log_in(client)
    for data in ({}, {"form_token": ""}, {"form_token": "guessed"}):
        response = client.post(f"/admin/editions/{room.sending}/pause", data=data)
        assert response.status_code == 400
    assert status_of(committed, room.sending) == EditionStatus.SENDING


def test_csrf_a_planted_form_cookie_with_its_own_valid_token_is_refused(
    make_client: MakeClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    """The readers' double-submit pair, however valid, is no admin token: the admin's token is
    the session's own, which an attacker cannot plant."""
    client = make_client()
    log_in(client)
    attacker = make_client()
    page = attacker.get("/admin/login")  # the attacker's own pair: cookie + matching token
    planted_cookie = attacker.cookies.get("digest_form")
    planted_token = form_token(page.text)
    guard = FormGuard(load_settings(database_url=os.environ["DIGEST_DATABASE_URL"]))
    assert planted_cookie
    client.cookies.set("digest_form", planted_cookie, domain="127.0.0.1")
    response = client.post(
        f"/admin/editions/{room.sending}/cancel", data={"form_token": planted_token}
    )
    assert response.status_code == 400
    assert status_of(committed, room.sending) == EditionStatus.SENDING
    assert guard  # the same guard that accepts this pair on the readers' forms


def test_csrf_the_login_form_needs_its_token(make_client: MakeClient) -> None:
    client = make_client()
    response = client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert client.cookies.get("digest_session") is None


# Throttling


def test_five_failures_then_429_with_a_growing_wait_logged(
    make_client: MakeClient, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    caplog.set_level(logging.WARNING, logger="digest.web.auth")
    statuses = [log_in(client, EDITOR_EMAIL, "wrong-password").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    refused = log_in(client, EDITOR_EMAIL, ADMIN_PASSWORD)  # even the right password waits
    assert refused.status_code == 429
    first_wait = int(refused.headers["retry-after"])
    assert 0 < first_wait <= 30
    assert "Too many failed attempts" in refused.text
    assert "login throttled" in caplog.text
    clock.advance(seconds=31)
    assert log_in(client, EDITOR_EMAIL, "wrong-password").status_code == 429
    second = log_in(client, EDITOR_EMAIL, ADMIN_PASSWORD)
    assert int(second.headers["retry-after"]) > first_wait  # the wait grows
    clock.advance(seconds=61)
    assert log_in(client, EDITOR_EMAIL, ADMIN_PASSWORD).status_code == 303


def test_throttling_by_address_covers_every_account(make_client: MakeClient) -> None:
    client = make_client()
    for i in range(throttle.CLIENT_FREE_FAILURES):
        log_in(client, f"guess{i}@example.org", "wrong-password")
    assert log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 429
    elsewhere = make_client(ip="198.51.100.20")
    assert log_in(elsewhere, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303


def test_a_storm_of_wrong_passwords_never_locks_the_real_user_out(make_client: MakeClient) -> None:
    attackers = [make_client(ip=f"203.0.113.{n}") for n in range(1, 4)]
    for attacker in attackers[:2]:  # ten failures on the account, from two places
        answers = [log_in(attacker, ADMIN_EMAIL, "wrong-password").status_code for _ in range(7)]
        assert answers == [401, 401, 401, 401, 429, 429, 429]
        assert log_in(attacker, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 429
    # Now the account is locked for places that fail on it: a new place gets two tries only.
    answers = [log_in(attackers[2], ADMIN_EMAIL, "wrong-password").status_code for _ in range(3)]
    assert answers == [401, 401, 429]
    # Another account from the attackers' places is not locked by this one's failures.
    assert log_in(attackers[0], EDITOR_EMAIL, ADMIN_PASSWORD).status_code == 303
    # The real admin, from a place with no failure, signs in with the right password.
    real = make_client(ip="198.51.100.7")
    assert log_in(real, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
    # ... which ends the account-wide lock; the attackers' own locks stay.
    assert log_in(attackers[1], ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 429


def test_an_ipv6_client_is_throttled_by_its_64_block(make_client: MakeClient) -> None:
    for n in range(1, 6):  # five addresses of one /64, one failure each
        hopper = make_client(ip=f"2001:db8:5:6::{n:x}")
        log_in(hopper, EDITOR_EMAIL, "wrong-password")
    again = make_client(ip="2001:db8:5:6:ffff::1")
    assert log_in(again, EDITOR_EMAIL, ADMIN_PASSWORD).status_code == 429
    neighbour = make_client(ip="2001:db8:5:7::1")  # another /64
    assert log_in(neighbour, EDITOR_EMAIL, ADMIN_PASSWORD).status_code == 303


# Roles and towns


def test_an_editor_cannot_do_an_admins_task(
    make_client: MakeClient, committed: sessionmaker[Session]
) -> None:
    client = make_client()
    log_in(client, EDITOR_EMAIL)
    token = form_token(client.get("/admin/").text)
    assert client.get("/admin/newsletters/morning").status_code == 403
    assert client.get("/admin/audit/").status_code == 403
    response = client.post(
        "/admin/newsletters/morning",
        data={"form_token": token, "name": "Hijacked", "schedule": "0 6 * * *"},
    )
    assert response.status_code == 403
    assert "Only an admin" in response.text
    response = client.post(
        "/admin/suppressions/", data={"form_token": token, "email": "x@example.org", "why": "no"}
    )
    assert response.status_code == 403
    with committed() as session:
        assert session.scalar(select(Newsletter.name).where(Newsletter.slug == "morning")) != (
            "Hijacked"
        )
        assert session.scalar(select(Suppression.id)) is None


def test_an_editor_of_one_town_cannot_act_on_another(
    make_client: MakeClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    client = make_client()
    log_in(client, TOWN_EDITOR_EMAIL)
    page = client.get(f"/admin/editions/{room.sending}")
    response = client.post(
        f"/admin/editions/{room.sending}/pause", data={"form_token": form_token(page.text)}
    )
    assert response.status_code == 403  # the edition goes to Springfield too
    assert "only on these towns: Riverton" in response.text
    assert status_of(committed, room.sending) == EditionStatus.SENDING
    # Riverton's own edition is hers to act on.
    response = client.post(
        f"/admin/editions/{room.ready}/cancel",
        data={"form_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert status_of(committed, room.ready) == EditionStatus.CANCELLED
    assert client.get("/admin/readers/", params={"email": "reader0@springfield.example"})


def test_the_audit_log_records_controls_and_shows_them(
    make_client: MakeClient, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    client = make_client()
    log_in(client)
    token = form_token(client.get("/admin/").text)
    client.post(f"/admin/editions/{room.sending}/pause", data={"form_token": token})
    client.post(f"/admin/editions/{room.sending}/resume", data={"form_token": token})
    client.post(f"/admin/editions/{room.sending}/cancel", data={"form_token": token})
    assert actions(committed)[-3:] == [
        (ADMIN_EMAIL, "edition.pause", f"edition {room.sending}"),
        (ADMIN_EMAIL, "edition.resume", f"edition {room.sending}"),
        (ADMIN_EMAIL, "edition.cancel", f"edition {room.sending}"),
    ]
    html = client.get("/admin/audit/", params={"action": "edition."}).text
    assert html.count('data-label="What">edition.') == 3
    assert ADMIN_EMAIL in html


def test_a_parallel_burst_of_wrong_passwords_gets_only_the_free_tries(
    room: Newsroom, committed: sessionmaker[Session], tmp_path: Path
) -> None:
    """Against a real uvicorn server (its 40 threads): every attempt of the burst is in flight
    before any has been counted, yet only FREE_FAILURES passwords are checked."""
    server = WebServer({}, tmp_path / "web.log").start()
    burst = 16
    try:
        clients = [httpx.Client(base_url=server.url, timeout=60) for _ in range(burst)]
        tokens = [TOKEN_FIELD.search(c.get("/admin/login").text) for c in clients]
        start = threading.Barrier(burst)

        def attempt(n: int) -> int:
            token = tokens[n]
            assert token is not None
            start.wait()
            data = {"form_token": token.group(1), "email": EDITOR_EMAIL, "password": "wrong-pw"}
            return clients[n].post("/admin/login", data=data).status_code

        with ThreadPoolExecutor(burst) as pool:
            statuses = list(pool.map(attempt, range(burst)))
        for client in clients:
            client.close()
    finally:
        server.stop()
    assert statuses.count(401) == throttle.FREE_FAILURES - 1, statuses
    assert statuses.count(429) == burst - throttle.FREE_FAILURES + 1
    with committed() as session:
        pair = session.scalars(
            select(LoginThrottle).where(LoginThrottle.key.startswith("pair:"))
        ).one()
        assert pair.failures == throttle.FREE_FAILURES  # the refused ones were not counted
