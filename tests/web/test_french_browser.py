"""In Chromium: a French newsletter's pages and emails are French, with no English left.

"No English left" is checked against the catalog: no English message (or a piece of one
between its fields and tags) that French writes differently may appear in the visible text of
a page or an email's HTML, nor in its text part.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from digest.curation.sections import Section, StoryCard
from digest.models import Community, Newsletter
from digest.readers.consent import Origin
from digest.readers.signup import confirm, signup
from digest.render.links import confirm_url, preferences_url, unsubscribe_url
from digest.render.mime import Reader, compose, segment_template
from digest.render.placeholders import web_version_html
from digest.render.render import render_segment
from digest.sending.notices import compose_notice
from digest.settings import Settings, load_settings
from digest.sponsors.slots import AFTER_TOP, SponsorSlot
from tests.support.browser import WebServer, axe_violations, chromium, require_chromium
from tests.support.french import NBSP, english_left_in, french_page
from tests.support.web import START

pytestmark = pytest.mark.browser


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def french(committed: sessionmaker[Session]) -> dict[str, int]:
    """A town, a French newsletter and an English one; a reader of the French one, pending."""
    with committed() as session, session.begin():
        session.add_all(
            [
                Community(slug="riviere", name="Rivière-du-Loup", timezone="America/Toronto"),
                Newsletter(
                    slug="matin",
                    name="Le Matin",
                    description="Chaque matin à 6 h",
                    language="fr",
                    schedule="0 6 * * *",
                    sender="Le Journal <nouvelles@journal.example>",
                ),
                Newsletter(slug="weekend", name="Weekend Reads", description="Saturdays"),
            ]
        )
    with committed() as session, session.begin():
        outcome = signup(
            session,
            email="ana@example.org",
            community="riviere",
            newsletters=["matin"],
            consent=True,
            origin=Origin("test"),
            wording="J’accepte",
            now=START,
            resend_after=timedelta(minutes=15),
        )
        assert outcome.subscriber_id is not None
        return {"reader": outcome.subscriber_id}


@pytest.fixture
def server(french: dict[str, int], tmp_path: Path) -> Iterator[WebServer]:
    require_chromium()
    web = WebServer({"DIGEST_SIGNUP_MIN_FILL_SECONDS": "0"}, tmp_path / "web.log").start()
    yield web
    web.stop()


def parts(data: bytes) -> tuple[Message, str, str]:
    message = message_from_bytes(data)
    found = {
        part.get_content_type(): part.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
        for part in message.walk()
        if not part.is_multipart()
    }
    return message, found["text/html"], found["text/plain"]


def test_the_french_pages_in_chromium(
    server: WebServer, french: dict[str, int], committed: sessionmaker[Session]
) -> None:
    settings = load_settings(base_url=server.url)
    reader = french["reader"]
    with chromium(locale="en-US") as context:  # an English browser: the newsletter decides
        page = context.new_page()
        page.goto(server.url + "/?newsletter=matin")
        text = french_page(page)
        assert "Recevez les nouvelles locales" in text
        assert page.locator("#newsletter-matin").is_checked()
        assert axe_violations(page) == []  # longer French labels keep the page accessible
        page.click("button[type=submit]")  # no address, no consent: the errors, in French
        page.wait_for_url("**/signup")
        text = french_page(page)
        assert "Veuillez entrer votre adresse courriel." in text

        page.goto(confirm_url(settings, reader))
        assert "Confirmer mon abonnement" in french_page(page)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "Merci" in french_page(page)

        page.goto(preferences_url(settings, reader))
        text = french_page(page)
        assert "Vos préférences" in text
        assert f"Pendant 2{NBSP}semaines" in text or "Pendant 2 semaines" in text
        page.click("button[value=save]")
        page.wait_for_load_state()
        assert "Vos préférences sont enregistrées." in french_page(page)

        page.goto(unsubscribe_url(settings, reader))
        assert "Se désabonner" in french_page(page)
        page.goto(server.url + "/confirm/not-a-token?lang=fr")
        assert "Ce lien ne fonctionne pas" in french_page(page)

    with chromium(locale="fr-CA") as context:  # a French browser, a page of no newsletter
        page = context.new_page()
        page.goto(server.url + "/")
        assert "Votre adresse courriel" in french_page(page)
        page.goto(server.url + "/check-your-inbox")
        assert "Consultez votre boîte de réception" in french_page(page)
    with chromium(locale="en-US") as context:  # and English stays the default
        page = context.new_page()
        page.goto(server.url + "/")
        assert page.evaluate("document.documentElement.lang") == "en"
        english = page.evaluate("document.body.innerText")
        assert "Your email address" in english
        assert "Your email address" in english_left_in(english)  # the check finds English


def test_the_french_confirmation_and_welcome_emails_in_chromium(
    french: dict[str, int], committed: sessionmaker[Session], settings: Settings
) -> None:
    require_chromium()
    reader = french["reader"]
    with committed() as session, session.begin():
        notice = compose_notice(session, settings, "confirm", reader, START)
    assert notice is not None
    message, html, text = parts(notice.data)
    assert "Veuillez confirmer votre abonnement" in str(message["Subject"]) or message[
        "Subject"
    ].startswith("=?utf-8?")
    with committed() as session, session.begin():
        confirm(session, reader, Origin("test"), START)
    with committed() as session, session.begin():
        welcome = compose_notice(session, settings, "welcome", reader, START)
    assert welcome is not None
    _, welcome_html, welcome_text = parts(welcome.data)

    with chromium() as context:
        page = context.new_page()
        page.set_content(html)
        shown = french_page(page)
        assert "Oui, abonnez-moi" in shown
        assert "Le Journal" in shown  # who sends it, and where (CASL)
        page.set_content(welcome_html)
        shown = french_page(page)
        assert "Bienvenue" in shown
        assert "vous désabonner" in shown
        assert "demain matin" in shown or "matin à 6" in shown
    for part in (text, welcome_text):
        assert english_left_in(part) == [], part
    assert "Se désabonner" in welcome_text


def test_the_french_digest_in_chromium(settings: Settings) -> None:
    require_chromium()
    newsletter = Newsletter(
        id=7,
        slug="matin",
        name="Le Matin",
        language="fr",
        sender="Le Journal <nouvelles@journal.example>",
    )
    town = Community(id=3, slug="riviere", name="Rivière-du-Loup", timezone="America/Toronto")
    published = datetime(2026, 12, 1, 22, 15, tzinfo=UTC)
    cards = [
        StoryCard(
            story_id=i,
            cluster_key=f"c{i}",
            title=title,
            url=f"https://journal.example/{i}",
            summary="Le conseil municipal a voté hier soir.",
            published_at=published,
            rank=i,
            author="Marie Roy",
            source="Le Journal",
            editors_pick=i == 0,
            community_id=3 if i == 2 else None,
        )
        for i, title in enumerate(["Budget adopté", "Tempête de neige", "Nouvelle bibliothèque"])
    ]
    sections = [
        Section("top", "Top stories", tuple(cards[:2])),
        Section("local", "Local: Rivière-du-Loup", (cards[2],)),
        Section("most_read", "Most read", (cards[1],)),
    ]
    ad = SponsorSlot(
        position=AFTER_TOP,
        label="Sponsored",
        headline="Pain frais tous les matins",
        text="La boulangerie du quartier.",
        url="https://boulangerie.example/",
        image_url=None,
        image_alt="",
        sponsor="Boulangerie Roy",
        campaign_id=1,
        creative_id=1,
        house=False,
    )
    segment = render_segment(
        settings,
        newsletter,
        town,
        sections,
        date(2026, 12, 2),
        edition_id=11,
        sponsors={AFTER_TOP: ad},
    )
    assert segment.subject.startswith(f"Rivière-du-Loup{NBSP}: Nouvelle bibliothèque, et 3 autres")
    template = segment_template(
        settings,
        newsletter,
        subject=segment.subject,
        html=segment.html,
        text=segment.text,
        message_key="e11.s1",
        date=START,
    )
    data = compose(template, Reader(5, 9, "ana@example.org", "Ana Tremblay")).data
    _, html, text = parts(data)
    assert '<html lang="fr"' in html
    with chromium() as context:
        page = context.new_page()
        page.set_content(html)
        shown = french_page(page)
    for expected in (
        "Bonjour Ana,",
        "mercredi 2 décembre 2026",
        "À la une",
        "Actualité locale",
        "Les plus lus",
        "COMMANDITÉ",  # the label is in capitals (CSS)
        "Choix de la rédaction",
        "Par Marie Roy",
        f"Hier, 17{NBSP}h{NBSP}15",
        "Voir dans votre navigateur",
        "vous désabonner",
        "4 articles",
    ):
        assert expected in shown, expected
    assert english_left_in(text) == [], text
    assert "Se désabonner" in text
    assert "Bonjour Ana," in text
    with chromium() as context:  # the web version (archive, "view in your browser") too
        page = context.new_page()
        page.set_content(web_version_html(segment.html))
        assert "Ceci est la version Web" in french_page(page)
        # Its signup link opens the form of this newsletter, in its language.
        link = page.get_by_role("link", name="Recevez-la dans votre boîte de réception")
        assert link.get_attribute("href").endswith("/?newsletter=matin")
