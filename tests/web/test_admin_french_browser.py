"""In Chromium: the editors' pages and the advertiser's campaign report in French, with no
English message of the catalog left (tests/support/french.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import SYSTEM_CLOCK
from digest.models import EditionSegment, Newsletter
from digest.settings import load_settings
from digest.sponsors import reports
from digest.sponsors.campaigns import (
    Booking,
    CreativeSpec,
    add_sponsor,
    book_campaign,
    get_campaign,
)
from digest.sponsors.slots import AFTER_TOP
from tests.support.admin import ADMIN_EMAIL, ADMIN_PASSWORD, Newsroom, newsroom
from tests.support.browser import WebServer, chromium, require_chromium
from tests.support.french import english_left_in, french_page

pytestmark = pytest.mark.browser
# A newsletter's schedule is written in these words in any language ('daily 06:00').
SCHEDULE_SYNTAX = ("daily", "weekly")


@pytest.fixture
def room(committed: sessionmaker[Session]) -> Newsroom:
    """The admin's newsroom; its newsletter is French and carries a campaign."""
    require_chromium()
    now = SYSTEM_CLOCK.now()
    room = newsroom(committed, now)
    with committed() as session, session.begin():
        # French data too: the check reads English words, and "morning" is one.
        session.execute(update(Newsletter).values(language="fr"))
        session.execute(
            update(Newsletter)
            .where(Newsletter.slug == "morning")
            .values(slug="matin", name="Le Matin", description="Les nouvelles, chaque matin")
        )
        session.execute(update(EditionSegment).values(subject="Les nouvelles du jour"))
        add_sponsor(session, "quincaillerie", "Quincaillerie Centrale")
        letter = "matin"
        book_campaign(
            session,
            "quincaillerie",
            "quincaillerie-dec",
            CreativeSpec(headline="Outils en solde", link_url="https://quincaillerie.example/"),
            Booking(
                AFTER_TOP,
                now.date() - timedelta(days=3),
                now.date() + timedelta(days=3),
                newsletters=(letter,),
            ),
        )
    return room


@pytest.fixture
def server(room: Newsroom, tmp_path: Path) -> Iterator[WebServer]:
    web = WebServer({}, tmp_path / "web.log").start()
    yield web
    web.stop()


def report_path(committed: sessionmaker[Session], server: WebServer) -> str:
    settings = load_settings(base_url=server.url)
    with committed() as session:
        campaign = get_campaign(session, "quincaillerie-dec")
        return reports.report_url(settings, campaign).removeprefix(server.url)


def test_the_french_admin_in_chromium(
    server: WebServer, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    today = SYSTEM_CLOCK.now().date().isoformat()
    pages = {
        "overview": "/admin/",
        "edition": f"/admin/editions/{room.sending}",
        "desk": f"/admin/editions/{room.ready}/towns/riverton/desk",
        "desk, locked": f"/admin/editions/{room.sending}/towns/springfield/desk",
        "newsletters": "/admin/newsletters/",
        "newsletter": "/admin/newsletters/matin",
        "feeds": "/admin/feeds/",
        "towns": "/admin/towns/",
        "town": "/admin/towns/springfield",
        "campaigns": "/admin/sponsors/",
        "swap": f"/admin/sponsors/swap?newsletter=matin&town=springfield&day={today}",
        "campaign": "/admin/sponsors/quincaillerie-dec",
        "audit log": "/admin/audit/",
        "suppressions": "/admin/suppressions/",
    }
    with chromium() as context:
        page = context.new_page()
        page.goto(server.url + "/admin/login?lang=fr")
        french_page(page)
        page.get_by_label("Adresse courriel").fill(ADMIN_EMAIL)
        page.get_by_label("Mot de passe").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(server.url + "/admin/")
        texts = {}
        for name, path in pages.items():  # the choice made at sign-in sticks (a cookie)
            response = page.goto(server.url + path)
            assert response is not None
            assert response.status == 200, name
            texts[name] = french_page(page, syntax=SCHEDULE_SYNTAX)
        assert "Vue de la rédaction" in texts["overview"]
        assert "Mot de la rédaction" in texts["desk"]
        assert "elle ne peut plus être modifiée" in texts["desk, locked"]
        # The switch back to English, and the check finds English when there is some.
        page.goto(server.url + "/admin/?lang=en")
        english = page.evaluate("document.body.innerText")
        assert "Editor's view" in english_left_in(english)


def test_the_advertisers_report_speaks_its_newsletters_language(
    server: WebServer, room: Newsroom, committed: sessionmaker[Session]
) -> None:
    path = report_path(committed, server)
    with chromium(locale="en-CA") as context:  # an English browser: the newsletter decides
        page = context.new_page()
        response = page.goto(server.url + path)
        assert response is not None
        assert response.status == 200
        text = french_page(page)
        assert "Rapport de campagne" in text
        assert "Outils en solde" in text
