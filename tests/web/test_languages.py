"""Readers' pages in French or English: the newsletter's language, else the browser's."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import ConsentEvent, Newsletter
from digest.readers.consent import Origin
from digest.readers.signup import signup
from digest.render.links import confirm_url, preferences_url, unsubscribe_url
from digest.settings import Settings, load_settings
from digest.web import create_app
from tests.support.web import START, RecordingNotifier, form_token, populate, signup_fields

FRENCH_BROWSER = {"accept-language": "fr-CA,fr;q=0.9,en;q=0.8"}
ENGLISH_BROWSER = {"accept-language": "en-US,en;q=0.9"}


@pytest.fixture
def settings() -> Settings:
    return load_settings(database_url=os.environ["DIGEST_DATABASE_URL"], signup_min_fill_seconds=0)


@pytest.fixture
def client(committed: sessionmaker[Session], settings: Settings) -> Iterator[TestClient]:
    populate(committed)
    app = create_app(settings, notifier=RecordingNotifier(), clock=FixedClock(START))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


def make_french(sessions: sessionmaker[Session], slug: str = "morning") -> None:
    with sessions() as session, session.begin():
        session.execute(update(Newsletter).where(Newsletter.slug == slug).values(language="fr"))


def reader_of(sessions: sessionmaker[Session], newsletters: list[str]) -> int:
    with sessions() as session, session.begin():
        outcome = signup(
            session,
            email="lecteur@example.org",
            community="springfield",
            newsletters=newsletters,
            consent=True,
            origin=Origin("test"),
            wording="J’accepte",
            now=START,
            resend_after=timedelta(minutes=15),
        )
        assert outcome.subscriber_id is not None
        return outcome.subscriber_id


def test_the_signup_page_speaks_the_browsers_language(client: TestClient) -> None:
    french = client.get("/", headers=FRENCH_BROWSER)
    assert '<html lang="fr">' in french.text
    assert "Votre adresse courriel" in french.text
    assert "Your email address" not in french.text
    assert "J’accepte de recevoir par courriel" in french.text  # the consent, in French
    assert french.headers["content-language"] == "fr"
    assert "Accept-Language" in french.headers["vary"]

    english = client.get("/", headers=ENGLISH_BROWSER)
    assert '<html lang="en">' in english.text
    assert "Your email address" in english.text
    assert '<html lang="en">' in client.get("/").text  # no header: English, the default
    assert '<html lang="fr">' in client.get("/?lang=fr", headers=ENGLISH_BROWSER).text


def test_a_newsletters_signup_page_speaks_its_language(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    make_french(committed)
    page = client.get("/?newsletter=morning", headers=ENGLISH_BROWSER)
    assert '<html lang="fr">' in page.text
    assert re.search(r'value="morning"\s+checked', page.text)  # ticked for the reader
    # An English newsletter's page is English, whatever the browser.
    assert '<html lang="en">' in client.get("/?newsletter=weekend", headers=FRENCH_BROWSER).text
    # An unknown newsletter leaves the choice to the browser.
    assert '<html lang="fr">' in client.get("/?newsletter=nope", headers=FRENCH_BROWSER).text


def test_the_french_form_answers_in_french_and_records_the_french_consent(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    make_french(committed)
    page = client.get("/?newsletter=morning", headers=ENGLISH_BROWSER)
    token = form_token(page.text)
    refused = client.post(
        "/signup",
        data={"form_token": token, "lang": "fr", **signup_fields(consent=None)},
        headers=ENGLISH_BROWSER,
    )
    assert refused.status_code == 422
    assert '<html lang="fr">' in refused.text
    assert "Veuillez cocher la case pour indiquer que vous acceptez" in refused.text

    accepted = client.post(
        "/signup",
        data={"form_token": form_token(refused.text), "lang": "fr", **signup_fields()},
        headers=ENGLISH_BROWSER,
        follow_redirects=False,
    )
    assert accepted.headers["location"] == "/check-your-inbox?lang=fr"
    inbox = client.get(accepted.headers["location"], headers=ENGLISH_BROWSER)
    assert "Consultez votre boîte de réception" in inbox.text
    with committed() as session:
        event = session.scalars(select(ConsentEvent)).one()
        assert event.detail["wording"].startswith("J’accepte de recevoir par courriel")


def test_an_address_error_is_shown_in_french(client: TestClient) -> None:
    page = client.get("/", headers=FRENCH_BROWSER)
    fields = {"form_token": form_token(page.text), "lang": "fr"}
    answer = client.post("/signup", data={**fields, **signup_fields(email="jane@gmial.com")})
    assert "vouliez-vous dire jane@gmail.com" in answer.text


def test_a_readers_pages_follow_the_newsletters_language(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    make_french(committed)
    reader = reader_of(committed, ["morning"])
    confirm = client.get(confirm_url(settings, reader), headers=ENGLISH_BROWSER)
    assert '<html lang="fr">' in confirm.text
    assert "Confirmer mon abonnement" in confirm.text
    confirmed = client.post(
        confirm_url(settings, reader), data={"form_token": form_token(confirm.text)}
    )
    assert "Vous êtes abonné" in confirmed.text
    preferences = client.get(preferences_url(settings, reader), headers=ENGLISH_BROWSER)
    assert '<html lang="fr">' in preferences.text
    assert "Enregistrer mes préférences" in preferences.text
    saved = client.post(
        preferences_url(settings, reader),
        data={
            "form_token": form_token(preferences.text),
            "community": "springfield",
            "newsletters": ["morning"],
            "action": "save",
        },
    )
    assert "Vos préférences sont enregistrées." in saved.text
    leave = client.get(unsubscribe_url(settings, reader), headers=ENGLISH_BROWSER)
    assert "Se désabonner" in leave.text
    left = client.post(
        unsubscribe_url(settings, reader), data={"form_token": form_token(leave.text)}
    )
    assert "Vous êtes désabonné" in left.text


def test_pages_of_no_newsletter_follow_the_browser(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    bad = client.get("/confirm/not-a-token", headers=FRENCH_BROWSER)
    assert bad.status_code == 400
    assert "Ce lien ne fonctionne pas" in bad.text
    assert "This link does not work" in client.get("/confirm/not-a-token").text
    missing = client.get("/no/such/page", headers=FRENCH_BROWSER)
    assert missing.status_code == 404
    assert "Page introuvable" in missing.text
    # The archive of every newsletter: all English, it is English; French and English mixed,
    # the browser chooses.
    assert '<html lang="en">' in client.get("/archive/", headers=FRENCH_BROWSER).text
    make_french(committed)
    archive = client.get("/archive/", headers=FRENCH_BROWSER)
    assert "Éditions précédentes" in archive.text
    broken = client.get("/r/not-a-signed-link", headers=FRENCH_BROWSER)  # a story link, mangled
    assert broken.status_code == 404
    assert "Ce lien n’est pas valide." in broken.text


def test_the_editors_sign_in_page_speaks_the_browsers_language(client: TestClient) -> None:
    login = client.get("/admin/login", headers=FRENCH_BROWSER)
    assert '<html lang="fr">' in login.text
    assert "Mot de passe" in login.text


def test_the_embedded_forms_api_speaks_the_browsers_language(client: TestClient) -> None:
    options = client.get("/api/signup-options", headers=FRENCH_BROWSER).json()
    assert options["consent_wording"].startswith("J’accepte")
    refused = client.post(
        "/api/subscriptions",
        json={"email": "", "community": "x", "newsletters": [], "consent": False},
        headers=FRENCH_BROWSER,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"]["email"] == "Veuillez entrer votre adresse courriel."


def test_a_readers_page_links_to_itself_in_the_other_language(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    make_french(committed)
    french = client.get("/?newsletter=morning")
    link = 'href="?newsletter=morning&amp;lang=en" hreflang="en" lang="en">English</a>'
    assert link in french.text
    english = client.get("/?newsletter=morning&lang=en")
    assert '<html lang="en">' in english.text
    assert 'hreflang="fr" lang="fr">Français</a>' in english.text
    # The links are relative: from a page a form answered, its address leads back to the form.
    again = client.get("/signup?lang=en", follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, "/?lang=en")
    reader = reader_of(committed, ["morning"])
    asked = preferences_url(settings, reader).removeprefix(settings.base_url) + "/email?lang=en"
    back = client.get(asked, follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"].endswith("?lang=en")
    assert '<html lang="en">' in client.get(back.headers["location"]).text
    # The editors' pages have them too (tests/web/test_admin_languages.py).
    assert 'href="?lang=fr" hreflang="fr"' in client.get("/admin/login").text
