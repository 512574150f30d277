"""Every setting in the browser, through FastAPI's TestClient: newsletters, towns, feeds,
suppressions and readers; each problem shown on its form in words, each change audited."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Community, Feed, Newsletter, Suppression
from digest.render.senders import sender_of
from digest.settings import get_settings
from tests.factories import NOW
from tests.support.admin import TOWN_EDITOR_EMAIL, Newsroom, log_in
from tests.support.feeds import Item, rss
from tests.support.web import form_token
from tests.web.test_accounts import MakeClient, actions, clock, make_client, room

__all__ = ["clock", "make_client", "room"]  # the fixtures, shared with test_accounts


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    client = make_client()
    log_in(client)
    return client


def post(client: TestClient, page: str, path: str, data: dict[str, str]) -> object:
    token = form_token(client.get(page).text)
    return client.post(path, data={"form_token": token, **data}, follow_redirects=False)


def errors_of(html: str) -> list[str]:
    """The error messages shown next to the form's fields, as a reader sees them."""
    found = re.findall(r'<p class="error" id="[^"]+">([^<]+)</p>', html)
    return [unescape(message) for message in found]


NEWSLETTER = {
    "name": "Morning Digest",
    "description": "Every day",
    "schedule": "daily 07:30",
    "sections": "top=4,local=6",
    "sender_name": "Springfield Times",
    "sender_address": "news@springfield-times.example",
    "reply_to": "letters@springfield-times.example",
    "logo_url": "https://springfield-times.example/logo.png",
    "accent_color": "#0B4F8A",
    "footer_text": "Made in Springfield.",
    "language": "en",
    "active": "yes",
}


def test_newsletter_settings_are_saved_audited_and_followed(
    admin: TestClient, committed: sessionmaker[Session]
) -> None:
    response = post(admin, "/admin/newsletters/morning", "/admin/newsletters/morning", NEWSLETTER)
    assert response.status_code == 303  # type: ignore[attr-defined]
    with committed() as session:
        letter = session.scalars(select(Newsletter).where(Newsletter.slug == "morning")).one()
        assert letter.schedule == "daily 07:30"
        assert letter.sections == {"top": 4, "local": 6}
        assert letter.accent_color == "#0b4f8a"
        assert sender_of(get_settings(), letter) == (
            "Springfield Times",
            "news@springfield-times.example",
        )
    page = admin.get("/admin/newsletters/morning?done=saved").text
    assert "Springfield Times &lt;news@springfield-times.example&gt;" in page
    assert "07:30" in page  # the next edition follows the new schedule
    entry = actions(committed)[-1]
    assert entry[1:] == ("newsletter.update", "morning")


def test_newsletter_form_says_what_is_wrong_in_words(
    admin: TestClient, committed: sessionmaker[Session]
) -> None:
    bad = {
        **NEWSLETTER,
        "name": "",
        "schedule": "every morning",
        "sections": "top=5,gossip=3",
        "sender_address": "not an address",
        "logo_url": "http://insecure.example/logo.png",
        "accent_color": "blue",
        "language": "English!",
    }
    response = post(admin, "/admin/newsletters/morning", "/admin/newsletters/morning", bad)
    assert response.status_code == 400  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    found = errors_of(html)
    assert len(found) == 7, found
    assert "Give the newsletter a name readers will recognise." in found
    assert any("is not understood" in e for e in found)
    assert any("gossip" in e for e in found)
    assert 'aria-invalid="true"' in html
    assert 'value="every morning"' in html  # what was typed stays
    with committed() as session:
        letter = session.scalars(select(Newsletter).where(Newsletter.slug == "morning")).one()
        assert letter.schedule == "0 6 * * *"


def test_add_a_newsletter_and_refuse_a_taken_name(admin: TestClient) -> None:
    response = post(
        admin, "/admin/newsletters/", "/admin/newsletters/", {"slug": "evening", "name": "Evening"}
    )
    assert response.headers["location"] == "/admin/newsletters/evening?done=added"  # type: ignore[attr-defined]
    again = post(
        admin, "/admin/newsletters/", "/admin/newsletters/", {"slug": "evening", "name": "Again"}
    )
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert "Newsletter 'evening' already exists." in errors_of(again.text)  # type: ignore[attr-defined]


def test_towns_add_rename_and_move_time_zone(
    admin: TestClient, committed: sessionmaker[Session]
) -> None:
    response = post(
        admin,
        "/admin/towns/",
        "/admin/towns/",
        {"slug": "ogdenville", "name": "Ogdenville", "timezone": "America/Denver"},
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    bad = post(
        admin,
        "/admin/towns/ogdenville",
        "/admin/towns/ogdenville",
        {"name": "Ogdenville", "timezone": "Mars/Olympus"},
    )
    assert bad.status_code == 400  # type: ignore[attr-defined]
    assert "Unknown time zone 'Mars/Olympus'" in errors_of(bad.text)[0]  # type: ignore[attr-defined]
    post(
        admin,
        "/admin/towns/ogdenville",
        "/admin/towns/ogdenville",
        {"name": "North Ogdenville", "timezone": "America/Chicago"},
    )
    with committed() as session:
        town = session.scalars(select(Community).where(Community.slug == "ogdenville")).one()
        assert (town.name, town.timezone) == ("North Ogdenville", "America/Chicago")
    assert [a[1] for a in actions(committed)[-2:]] == ["town.add", "town.update"]
    assert "North Ogdenville" in admin.get("/admin/towns/").text


def test_a_feed_is_added_only_once_it_was_fetched_and_read(
    admin: TestClient, committed: sessionmaker[Session], tmp_path: Path
) -> None:
    folder = get_settings().var_dir / "feeds" / tmp_path.name
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "good.xml"
    good.write_text(rss([Item("Council votes", "https://news.example/a", published=NOW)]))
    broken = folder / "broken.xml"
    broken.write_text("<html>not a feed</html>")
    refused = post(
        admin, "/admin/feeds/", "/admin/feeds/", {"url": broken.as_uri(), "community": ""}
    )
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Check the address" in errors_of(refused.text)[0]  # type: ignore[attr-defined]
    added = post(
        admin,
        "/admin/feeds/",
        "/admin/feeds/",
        {"url": good.as_uri(), "community": "riverton", "section": "politics"},
    )
    assert added.status_code == 303  # type: ignore[attr-defined]
    with committed() as session:
        feed = session.scalars(select(Feed).where(Feed.url == good.as_uri())).one()
        assert (feed.community.slug, feed.section) == ("riverton", "politics")
        feed_id = feed.id
    assert "politics" in admin.get("/admin/feeds/").text
    post(admin, "/admin/feeds/", f"/admin/feeds/{feed_id}/pause", {})
    with committed() as session:
        assert session.get_one(Feed, feed_id).paused
    post(admin, "/admin/feeds/", f"/admin/feeds/{feed_id}/resume", {})
    post(admin, "/admin/feeds/", f"/admin/feeds/{feed_id}/remove", {})
    with committed() as session:
        assert session.get(Feed, feed_id) is None
    assert [a[1] for a in actions(committed)[-4:]] == [
        "feed.add",
        "feed.pause",
        "feed.resume",
        "feed.remove",
    ]


def test_suppressions_add_search_and_lift_with_reasons(
    admin: TestClient, committed: sessionmaker[Session]
) -> None:
    page = "/admin/suppressions/"
    missing = post(admin, page, page, {"email": "reader0@springfield.example", "why": ""})
    assert "Say why the address is suppressed" in missing.text  # type: ignore[attr-defined]
    bad = post(admin, page, page, {"email": "not-an-address", "why": "typo"})
    assert bad.status_code == 400  # type: ignore[attr-defined]
    added = post(
        admin, page, page, {"email": "Reader0@Springfield.example", "why": "asked by phone"}
    )
    assert added.status_code == 303  # type: ignore[attr-defined]
    found = admin.get(page, params={"q": "springfield"}).text
    assert "reader0@springfield.example" in found
    assert "asked by phone" in found
    assert "reader0" not in admin.get(page, params={"q": "riverton"}).text
    no_reason = post(admin, page, f"{page}lift", {"email": "reader0@springfield.example"})
    assert no_reason.status_code == 400  # type: ignore[attr-defined]
    lifted = post(
        admin, page, f"{page}lift", {"email": "reader0@springfield.example", "lift_why": "mistake"}
    )
    assert lifted.status_code == 303  # type: ignore[attr-defined]
    with committed() as session:
        assert session.scalar(select(Suppression.id)) is None
    assert [a[1] for a in actions(committed)[-2:]] == ["suppression.add", "suppression.lift"]


def test_find_a_reader_with_subscriptions_consent_and_deliveries(
    admin: TestClient, room: Newsroom
) -> None:
    html = admin.get("/admin/readers/", params={"email": "READER1@springfield.example"}).text
    assert "reader1@springfield.example" in html
    assert "Morning Digest" in html
    assert f'href="/admin/editions/{room.sending}"' in html
    assert admin.get("/admin/readers/", params={"email": "ghost@example.org"}).status_code == 404


def test_an_editor_of_one_town_finds_only_its_readers(make_client: MakeClient) -> None:
    client = make_client()
    log_in(client, TOWN_EDITOR_EMAIL)
    mine = client.get("/admin/readers/", params={"email": "reader0@riverton.example"})
    assert mine.status_code == 200
    theirs = client.get("/admin/readers/", params={"email": "reader0@springfield.example"})
    assert theirs.status_code == 403
    assert "reader0@springfield.example" not in theirs.text.split("<main", 1)[1]


def test_hold_for_approval_is_a_newsletter_setting_in_the_browser(
    admin: TestClient, committed: sessionmaker[Session]
) -> None:
    held = {
        **NEWSLETTER,
        "hold_for_approval": "yes",
        "if_unapproved": "skip",
        "approval_grace_minutes": "45",
    }
    response = post(admin, "/admin/newsletters/morning", "/admin/newsletters/morning", held)
    assert response.status_code in (200, 303)  # type: ignore[attr-defined]
    with committed() as session:
        letter = session.scalars(select(Newsletter).where(Newsletter.slug == "morning")).one()
        assert (letter.hold_for_approval, letter.if_unapproved) == (True, "skip")
        assert letter.approval_grace_minutes == 45
    bad = {**held, "if_unapproved": "maybe", "approval_grace_minutes": "soon"}
    response = post(admin, "/admin/newsletters/morning", "/admin/newsletters/morning", bad)
    assert response.status_code == 400  # type: ignore[attr-defined]
    found = errors_of(response.text)  # type: ignore[attr-defined]
    assert "Choose whether to send anyway or skip the edition." in found
    assert "Write a number of minutes from 0 to 1440." in found
