"""Rendering: one town's edition becomes inlined HTML and text, safely, within Gmail's budgets."""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.curation.sections import TOP, Section
from digest.errors import DigestError
from digest.render.placeholders import (
    EMAIL,
    GREETING,
    PLACEHOLDERS,
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    email_html,
    web_version_html,
)
from digest.render.render import (
    HTML_BUDGET_BYTES,
    STYLE_BUDGET_BYTES,
    RenderedSegment,
    drop_lowest_ranked,
    inline_css,
    render_segment,
    render_web_version,
)
from digest.render.templates import EmailTemplateError, Templates, templates_dir
from digest.render.transactional import render_transactional
from digest.render.views import published_label
from tests.support import digests
from tests.support.http import FeedServer
from tests.support.markup import runnable_markup

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered() -> RenderedSegment:
    return render_segment(
        digests.settings(),
        digests.newsletter(),
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
        edition_id=77,
    )


def test_digest_shows_every_section_story_and_link(rendered: RenderedSegment) -> None:
    html, text = rendered.html, rendered.text
    settings = digests.settings()
    links = digests.collect_links(html)
    targets = {digests.link_target(settings, href) for href in links.hrefs}
    text_targets = {
        digests.link_target(settings, word) for word in text.split() if word.startswith("http")
    }
    for section in digests.sample_sections():
        assert section.title in html
        assert section.title.upper() in text
        for card in section.stories:
            assert card.title in links.headlines
            assert card.title in text
            assert card.url in targets  # through the counted redirect (tests/ingest/test_clicks)
            assert card.url in text_targets
    assert "https://news.springfield-times.example/archive/morning/77/springfield" in targets
    assert rendered.dropped_stories == 0
    # The town's best local story leads; the region's top stories follow in the preheader.
    assert rendered.subject.startswith("Springfield: Springfield High robotics team")
    assert rendered.subject.endswith(", and 9 more")
    assert rendered.preheader.startswith("City council approves")


def test_layout_is_hybrid_fluid_with_outlook_ghost_tables(rendered: RenderedSegment) -> None:
    html = rendered.html
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en"' in html
    assert '<!--[if mso]><table role="presentation" align="center" width="600"' in html
    assert re.search(r"max-width:\s*600px", html)
    tables = re.findall(r"<table[^>]*>", html)
    assert tables
    assert all('role="presentation"' in table for table in tables)
    assert 'class="preheader"' in html
    assert "display:none" in html
    assert rendered.preheader in html
    images = re.findall(r"<img[^>]*>", html)
    assert images
    # The lead's image is large and fluid; the others are thumbnails of a fixed width.
    large, *thumbs = images
    assert 'width="552"' in large
    assert "max-width:552px" in large
    assert all('width="96"' in img and "max-width:96px" in img for img in thumbs)
    assert all("alt=" in img and "height:auto" in img for img in images)


def test_media_queries_and_dark_mode_survive_inlining_with_important(
    rendered: RenderedSegment,
) -> None:
    html = rendered.html
    assert "@media screen and (max-width: 600px)" in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert "padding: 16px !important" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    # Rules that could be inlined were, and left the <style> block.
    assert "font-size:16px" in html.replace("; ", ";")
    assert ".summary {" not in html.split("@media")[0]


def test_placeholders_stay_for_the_reader_and_web_version_has_none(
    rendered: RenderedSegment,
) -> None:
    html = rendered.html
    mail = email_html(html)
    for placeholder in (GREETING, EMAIL, UNSUBSCRIBE_URL, PREFERENCES_URL):
        assert placeholder in mail
        assert placeholder in rendered.text
    assert "Get it in your inbox" not in mail
    web = web_version_html(html)
    assert not any(placeholder in web for placeholder in PLACEHOLDERS)
    assert "View in your browser" not in web
    # The signup link opens this newsletter's form (ticked, in its language).
    assert 'href="https://news.springfield-times.example/?newsletter=morning"' in web
    assert "100 Main Street" in web
    assert "City council approves" in web


def test_render_web_version_matches_the_stored_segment(rendered: RenderedSegment) -> None:
    web = render_web_version(
        digests.settings(),
        digests.newsletter(),
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
        edition_id=77,
    )
    assert web == web_version_html(rendered.html)


def test_footer_meets_casl_with_sender_address_contact_reason_and_links(
    rendered: RenderedSegment,
) -> None:
    for part in (email_html(rendered.html), rendered.text):
        assert "Springfield Times" in part
        assert "100 Main Street, Springfield, OR 97477, USA" in part
        assert "news@springfield-times.example" in part
        assert "You get this email because" in part
        assert UNSUBSCRIBE_URL in part
        assert PREFERENCES_URL in part


def test_reply_to_is_the_footer_contact() -> None:
    letter = digests.newsletter(reply_to="Editors <editors@springfield-times.example>")
    result = render_segment(
        digests.settings(),
        letter,
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
    )
    assert "mailto:editors@springfield-times.example" in result.html


def test_hostile_stories_render_safely_and_readably() -> None:
    result = render_segment(
        digests.settings(),
        digests.newsletter(),
        digests.community(),
        digests.hostile_sections(),
        digests.EDITION_DATE,
    )
    html, text = result.html, result.text
    # A story's text is text, even when it looks like markup (an Atom title of type "text"):
    # shown as written, escaped in the HTML part, so nothing in it ever runs.
    assert runnable_markup(html) == []
    assert "<b>" not in html
    assert "<budget>" not in html
    headlines = digests.collect_links(html).headlines
    assert digests.HOSTILE_TITLES["script"] in headlines
    assert digests.HOSTILE_TITLES["script"] in text
    assert "&lt;script&gt;alert('owned')&lt;/script&gt;Council meets" in html
    assert digests.HOSTILE_TITLES["quotes"] in headlines
    assert digests.HOSTILE_TITLES["quotes"] in text
    assert "Fish &amp; chips 'n' \"more\" &amp; &lt; &gt;" in html
    assert "🎃🍂" in html
    assert "🎃🍂" in text
    assert "مهرجان الخريف" in html
    assert 'dir="auto"' in html
    # A section title is Digest's own text: shown literally, escaped in HTML.
    assert 'Top &lt;stories&gt; &amp; "more"</h2>' in html
    assert '== TOP <STORIES> & "MORE" ==' in text
    # The 2,000-character title is cut short, with an ellipsis, in both parts.
    assert digests.LONG_TITLE not in html
    assert digests.LONG_TITLE[:150] in html
    assert "…" in html
    assert digests.LONG_TITLE[:150] in text
    # Unsafe image and story URLs are left out; the broken-but-valid image keeps its alt.
    images = re.findall(r"<img[^>]*>", html)
    assert len(images) == 1
    assert 'alt="A broken picture"' in images[0]
    assert "not a url" not in html
    assert 'href="http://"' not in html
    assert "No image, broken URL" in html


def test_an_edition_over_budget_drops_its_lowest_ranked_stories_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cards = tuple(
        digests.card(
            rank,
            title=f"Story {rank}: " + "a headline long enough to fill a card " * 2,
            summary="A summary with enough words to weigh something. " * 8,
            image_url=f"{digests.IMAGE_HOST}/{rank}.jpg",
            image_alt="A photo",
        )
        for rank in range(150)
    )
    big = [Section(TOP, "Top stories", cards[::2]), Section("local", "Local", cards[1::2])]
    with caplog.at_level(logging.WARNING, logger="digest.render.render"):
        result = render_segment(
            digests.settings(),
            digests.newsletter(),
            digests.community(),
            big,
            digests.EDITION_DATE,
        )
    assert result.dropped_stories > 0
    assert result.html_bytes < HTML_BUDGET_BYTES
    assert len(email_html(result.html).encode()) < HTML_BUDGET_BYTES
    kept = sorted(card.rank for section in result.sections for card in section.stories)
    assert kept == list(range(150 - result.dropped_stories))
    assert f"dropped the {result.dropped_stories} lowest-ranked stories" in caplog.text
    # It keeps as many stories as fit: one more would not.
    assert result.dropped_stories < 150
    assert result.style_bytes < STYLE_BUDGET_BYTES


def test_drop_lowest_ranked_removes_the_highest_ranks_and_empty_sections() -> None:
    sections = [
        Section(TOP, "Top", (digests.card(0), digests.card(5))),
        Section("local", "Local", (digests.card(3),)),
    ]
    trimmed = drop_lowest_ranked(sections, 2)
    assert [[c.rank for c in s.stories] for s in trimmed] == [[0]]


def test_published_label_is_relative_to_the_edition_day_in_the_towns_time() -> None:
    zone = ZoneInfo("America/Los_Angeles")
    day = date(2026, 11, 24)
    assert published_label(datetime(2026, 11, 24, 13, 30, tzinfo=UTC), day, zone) == (
        "Today, 5:30 am"
    )
    assert published_label(datetime(2026, 11, 24, 1, 5, tzinfo=UTC), day, zone) == (
        "Yesterday, 5:05 pm"
    )
    assert published_label(datetime(2026, 11, 21, 20, 0, tzinfo=UTC), day, zone) == (
        "Saturday, 12:00 pm"
    )
    assert published_label(datetime(2026, 11, 2, 20, 0, tzinfo=UTC), day, zone) == "Mon 2 Nov"


def test_premailer_never_fetches_a_stylesheet(feed_server: FeedServer) -> None:
    url = feed_server.add("style.css", "p { color: red; }")
    page = f'<html><head><link rel="stylesheet" href="{url}"></head><body><p>x</p></body></html>'
    inlined = inline_css(page)
    assert feed_server.hits("style.css") == 0
    assert "color:red" not in inlined.replace(" ", "")


def test_missing_newsletter_template_names_it() -> None:
    with pytest.raises(EmailTemplateError, match=r"'weekly\.html' is missing"):
        render_segment(
            digests.settings(),
            digests.newsletter(template="weekly"),
            digests.community(),
            digests.sample_sections(),
            digests.EDITION_DATE,
        )


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.html").write_text("<p>\n{% if %}\n</p>")
    (tmp_path / "needs.html").write_text("<p>{{ missing_value }}</p>")
    (tmp_path / "child.html").write_text('{% extends "gone.html" %}')
    templates = Templates(tmp_path)
    with pytest.raises(EmailTemplateError, match=r"'broken\.html' has an error on line 2"):
        templates.render("broken.html")
    with pytest.raises(EmailTemplateError, match=r"'needs\.html' failed.*missing_value"):
        templates.render("needs.html")
    with pytest.raises(EmailTemplateError, match=r"'gone\.html' is missing.*'child\.html'"):
        templates.render("child.html")


@pytest.mark.parametrize("kind", ["confirm", "welcome", "unsubscribed"])
def test_transactional_emails_render_both_parts(kind: str) -> None:
    settings = digests.settings()
    email = render_transactional(
        settings,
        kind,
        {
            "newsletters": ["The Morning Digest", "Weekend <Edition>"],
            "community_name": "Springfield",
            "confirm_url": "https://news.springfield-times.example/confirm/TOKEN",
        },
    )
    assert "The Morning Digest, Weekend &lt;Edition&gt;" in email.html
    assert "The Morning Digest, Weekend <Edition>" in email.text
    assert "The Morning Digest" in email.subject
    for part in (email.html, email.text):
        assert "100 Main Street" in part
        assert GREETING in part
    if kind == "confirm":
        assert email.text.count("https://news.springfield-times.example/confirm/TOKEN") == 1
        assert 'href="https://news.springfield-times.example/confirm/TOKEN"' in email.html
        assert UNSUBSCRIBE_URL not in email.html
    if kind == "welcome":
        assert UNSUBSCRIBE_URL in email.html
        assert PREFERENCES_URL in email.text


def test_transactional_mistakes_are_named() -> None:
    settings = digests.settings()
    with pytest.raises(DigestError, match="unknown transactional email 'farewell'"):
        render_transactional(settings, "farewell", {"newsletters": []})
    with pytest.raises(EmailTemplateError, match=r"'confirm\.html'.*confirm_url"):
        render_transactional(settings, "confirm", {"newsletters": ["The Morning Digest"]})


def test_templates_are_found_and_packaged_for_a_normal_install() -> None:
    assert templates_dir() == ROOT / "templates"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data_files = config["tool"]["setuptools"]["data-files"]
    packaged = {
        path
        for target, patterns in data_files.items()
        for pattern in patterns
        for path in ROOT.glob(pattern)
        if target.startswith("share/digest/templates")
    }
    email_files = set((ROOT / "templates" / "email").iterdir())
    assert email_files <= packaged
    assert (ROOT / "templates/email/digest.html") in email_files


def test_rendering_is_deterministic(rendered: RenderedSegment) -> None:
    again = render_segment(
        digests.settings(),
        digests.newsletter(),
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
        edition_id=77,
    )
    assert again.html == rendered.html
    assert again.text == rendered.text
