"""Tracked links in the rendered email: signed once per segment, spliced per message, and
gone entirely when DIGEST_CLICK_TRACKING is off."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from digest.ingest.click_links import read_tag
from digest.render.mime import Reader, personalize, segment_template
from digest.render.placeholders import CLICK_TAG, web_version_html
from digest.render.render import render_segment
from digest.settings import Settings
from tests.support import digests

SENT_AT = datetime(2026, 11, 24, 14, 0, 5, tzinfo=UTC)
JANE = Reader(delivery_id=501, subscriber_id=42, email="jane@example.org", name="Jane")


def message_parts(settings: Settings, reader: Reader = JANE) -> tuple[str, str, str]:
    """(segment html, the reader's html part, the reader's text part)."""
    rendered = render_segment(
        settings,
        digests.newsletter(),
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
        edition_id=77,
    )
    template = segment_template(
        settings,
        digests.newsletter(),
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_key="e77.s9",
        date=SENT_AT,
    )
    message = message_from_bytes(personalize(template, reader, SENT_AT), policy=policy.default)
    assert isinstance(message, EmailMessage)
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None
    assert text is not None
    return rendered.html, str(html.get_content()), str(text.get_content())


def story_urls() -> list[str]:
    return [card.url for section in digests.sample_sections() for card in section.stories]


def test_the_tracking_switch_removes_every_redirect_from_both_parts() -> None:
    settings = digests.settings(click_tracking=False)
    segment, html, text = message_parts(settings)
    for part in (segment, html, text):
        assert "/r/" not in part
        assert CLICK_TAG not in part
    for url in story_urls():
        assert f'href="{url}"' in html
        assert url in text
    assert "https://news.springfield-times.example/archive/morning/77/springfield" in html


def test_story_links_are_signed_once_per_segment_and_tagged_per_message() -> None:
    settings = digests.settings()
    segment, html, text = message_parts(settings)
    targets = {digests.link_target(settings, href) for href in digests.collect_links(html).hrefs}
    assert set(story_urls()) <= targets
    tagged = [href for href in digests.collect_links(html).hrefs if "/r/" in href]
    assert tagged
    assert all("~t" in href for href in tagged)
    assert segment.count(CLICK_TAG) == len(tagged)  # the segment holds one placeholder per link
    tag = read_tag(settings, tagged[0].partition("~")[2])
    assert tag.sent_at == SENT_AT.replace(microsecond=0)
    assert tag.subscriber_id is None  # aggregates only: no reader in any link
    assert "~t" in text
    assert ".r42." not in html + text
    web = web_version_html(segment)
    assert CLICK_TAG not in web
    assert "~t" not in web


def test_per_reader_engagement_names_the_reader_unless_they_opted_out() -> None:
    settings = digests.settings(click_per_reader=True)
    _, html, text = message_parts(settings)
    tagged = [href for href in digests.collect_links(html).hrefs if "/r/" in href]
    assert read_tag(settings, tagged[0].partition("~")[2]).subscriber_id == 42
    assert ".r42." in text
    opted_out = Reader(501, 42, "jane@example.org", "Jane", counts_clicks=False)
    _, html, text = message_parts(settings, opted_out)
    assert ".r42." not in html + text
