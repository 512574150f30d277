"""Which language an editor's page speaks: `?lang=` (remembered in a cookie), else the
browser's Accept-Language, else English; and the French admin's words."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.settings import load_settings
from digest.web import create_app
from tests.factories import NOW
from tests.support.admin import Newsroom, log_in, newsroom
from tests.support.web import RecordingNotifier

FRENCH_BROWSER = {"accept-language": "fr-CA,fr;q=0.9,en;q=0.8"}


def make_client(**overrides: Any) -> TestClient:
    settings = load_settings(database_url=os.environ["DIGEST_DATABASE_URL"], **overrides)
    app = create_app(settings, notifier=RecordingNotifier(), clock=FixedClock(NOW))
    return TestClient(app, base_url="http://127.0.0.1:8000")


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    return newsroom(committed)


@pytest.fixture
def client(room: Newsroom) -> Iterator[TestClient]:
    """Signed in as an admin."""
    with make_client() as client:
        assert log_in(client).status_code == 303
        yield client


def language_cookie(response: Any) -> str:
    return next(
        (value for value in response.headers.get_list("set-cookie") if "digest_lang=" in value),
        "",
    )


def test_an_editor_sees_english_by_default(client: TestClient) -> None:
    page = client.get("/admin/")
    assert '<html lang="en">' in page.text
    assert "<h1>Editor's view</h1>" in page.text
    assert page.headers["content-language"] == "en"
    assert 'href="?lang=fr" hreflang="fr" lang="fr">Français</a>' in page.text
    assert language_cookie(page) == ""


def test_an_editor_sees_the_browsers_language(client: TestClient) -> None:
    page = client.get("/admin/", headers=FRENCH_BROWSER)
    assert '<html lang="fr">' in page.text
    assert "<h1>Vue de la rédaction</h1>" in page.text
    assert page.headers["content-language"] == "fr"
    assert 'href="?lang=en" hreflang="en" lang="en">English</a>' in page.text
    assert language_cookie(page) == ""  # nothing chosen, nothing remembered


def test_the_editors_choice_sticks_across_pages_and_beats_the_browser(
    client: TestClient, room: Newsroom
) -> None:
    chosen = client.get("/admin/?lang=fr")
    assert '<html lang="fr">' in chosen.text
    cookie = language_cookie(chosen).lower()
    assert cookie.startswith("digest_lang=fr;")
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # http: a Secure cookie would not come back
    edition = client.get(f"/admin/editions/{room.sending}")
    assert '<html lang="fr">' in edition.text
    assert f"Édition {room.sending}\u00a0:" in edition.text
    back = client.get("/admin/?lang=en", headers=FRENCH_BROWSER)
    assert '<html lang="en">' in back.text
    assert language_cookie(back).lower().startswith("digest_lang=en;")
    later = client.get(f"/admin/editions/{room.sending}", headers=FRENCH_BROWSER)
    assert '<html lang="en">' in later.text


def test_a_remembered_language_we_do_not_have_falls_back_to_the_browser(
    client: TestClient,
) -> None:
    client.cookies.set("digest_lang", "es")
    assert '<html lang="fr">' in client.get("/admin/", headers=FRENCH_BROWSER).text
    assert '<html lang="en">' in client.get("/admin/").text


def test_the_language_cookie_is_secure_on_https(room: Newsroom) -> None:
    with make_client(base_url="https://digest.example") as client:
        login = client.get("/admin/login?lang=fr")
    assert "Connexion au pupitre de la rédaction" in login.text
    cookie = language_cookie(login).lower()
    assert cookie.startswith("digest_lang=fr;")
    assert "secure" in cookie
    assert "samesite=lax" in cookie


def test_the_french_login_refusal(room: Newsroom) -> None:
    with make_client() as client:
        client.get("/admin/login?lang=fr")
        refused = log_in(client, password="not-the-password")
    assert refused.status_code == 401
    assert "ne correspondent à aucun compte actif" in refused.text
