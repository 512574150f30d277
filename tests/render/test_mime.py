"""MIME: each reader's message spliced from one encoded template parses back clean and complete."""

from __future__ import annotations

import html as htmlmod
import re
import smtplib
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime

import pytest

from digest.curation.sections import TOP, Section
from digest.ingest.click_links import read_tag
from digest.render.links import CLICK_TAG, click_tag
from digest.render.mime import (
    MessageTemplate,
    MimeError,
    Reader,
    compose,
    header_lines_ok,
    personalize,
    segment_template,
    transactional_template,
)
from digest.render.placeholders import EMAIL, GREETING, PREFERENCES_URL, UNSUBSCRIBE_URL, email_html
from digest.render.render import RenderedSegment, render_segment
from digest.render.transactional import render_transactional
from digest.settings import Settings
from digest.tokens import (
    PREFERENCES,
    UNSUBSCRIBE,
    delivery_id_from_verp,
    read_token,
    read_unsubscribe_mail_address,
)
from tests.support import digests
from tests.support.smtp import SMTPServer

SENT_AT = datetime(2026, 11, 24, 14, 0, 5, tzinfo=UTC)
JANE = Reader(delivery_id=501, subscriber_id=42, email="jane@example.org", name="Jane Doe")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return digests.settings()


@pytest.fixture(scope="module")
def rendered(settings: Settings) -> RenderedSegment:
    return render_segment(
        settings,
        digests.newsletter(),
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
        edition_id=77,
    )


def template_for(
    settings: Settings, rendered: RenderedSegment, **newsletter: object
) -> MessageTemplate:
    return segment_template(
        settings,
        digests.newsletter(**newsletter),
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_key="e77.s9",
        date=SENT_AT,
    )


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The decoded HTML and text, with MIME's canonical CRLF line ends read as LF."""
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None
    assert text is not None
    return (
        str(html.get_content()).replace("\r\n", "\n"),
        str(text.get_content()).replace("\r\n", "\n"),
    )


def to_header(data: bytes) -> tuple[str, str]:
    """(name, address) of the To header, decoded as RFC 2047 says (adjacent words join)."""
    raw = message_from_bytes(data)["To"]
    return parseaddr(str(make_header(decode_header(raw))))


def test_message_parses_back_with_every_header(
    settings: Settings, rendered: RenderedSegment
) -> None:
    composed = compose(template_for(settings, rendered), JANE)
    message = parse(composed.data)
    assert message.defects == []
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    for part in message.iter_parts():
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.defects == []
    assert message["From"] == "Springfield Times <news@springfield-times.example>"
    assert message["To"] == "Jane Doe <jane@example.org>"
    assert message["Subject"] == rendered.subject
    assert parsedate_to_datetime(message["Date"]) == SENT_AT
    assert re.fullmatch(
        r"<e77\.s9\.501\.[0-9a-f]{16}@springfield-times\.example>", message["Message-ID"]
    )
    assert composed.message_id == message["Message-ID"]
    assert message["List-Id"] == "The Morning Digest <morning.springfield-times.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["MIME-Version"] == "1.0"
    assert message["Reply-To"] is None
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert len(message.get_all(name) or []) == 1, name
        assert not message[name].defects, name


def test_list_unsubscribe_has_an_https_url_and_a_mailto_for_this_reader_and_list(
    settings: Settings, rendered: RenderedSegment
) -> None:
    message = parse(personalize(template_for(settings, rendered), JANE))
    https, mailto = (value.strip().strip("<>") for value in message["List-Unsubscribe"].split(","))
    assert https.startswith("https://news.springfield-times.example/u/")
    token = https.rpartition("/")[2]
    assert read_token(settings, UNSUBSCRIBE, token) == {"s": 42, "n": 3}
    address, _, query = mailto.removeprefix("mailto:").partition("?")
    assert read_unsubscribe_mail_address(settings, address) == (42, 3)
    assert address.endswith("@bounces.springfield-times.example")
    assert len(address.partition("@")[0]) <= 64  # RFC 5321's limit on a local part
    assert query == "subject=unsubscribe"


def test_envelope_sender_is_a_verp_address_naming_the_delivery(
    settings: Settings, rendered: RenderedSegment
) -> None:
    composed = compose(template_for(settings, rendered), JANE)
    assert composed.mail_from.endswith("@bounces.springfield-times.example")
    assert delivery_id_from_verp(settings, composed.mail_from) == 501


def test_bodies_are_the_segment_with_only_the_personal_parts_filled_in(
    settings: Settings, rendered: RenderedSegment
) -> None:
    message = parse(personalize(template_for(settings, rendered), JANE))
    html, text = parts(message)
    https = message["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    prefs = next(line for line in text.splitlines() if "/preferences/" in line).split(": ")[1]
    assert read_token(settings, PREFERENCES, prefs.rpartition("/")[2]) == {"s": 42}
    values = {
        GREETING: "Hi Jane,",
        EMAIL: "jane@example.org",
        UNSUBSCRIBE_URL: https,
        PREFERENCES_URL: prefs,
    }
    expected_html, expected_text = email_html(rendered.html), rendered.text
    for placeholder, value in values.items():
        expected_html = expected_html.replace(placeholder, value)
        expected_text = expected_text.replace(placeholder, value)
    # After each tracked link: when the message was sent and the delivery's pseudonym (no
    # reader: per-reader is off).
    tag = click_tag(settings, template_for(settings, rendered).date, None, JANE.delivery_id)
    assert tag.startswith("~t")
    assert ".r" not in tag
    assert read_tag(settings, tag.removeprefix("~")).clicker is not None
    expected_html = expected_html.replace(CLICK_TAG, tag)
    expected_text = expected_text.replace(CLICK_TAG, tag)
    assert html == expected_html
    assert text == expected_text


def test_text_part_carries_every_headline_and_link_of_the_html(
    settings: Settings, rendered: RenderedSegment
) -> None:
    html, text = parts(parse(personalize(template_for(settings, rendered), JANE)))
    found = digests.collect_links(html)
    assert len(found.headlines) == 10
    for headline in found.headlines:
        assert headline in text
    web_links = [href for href in found.hrefs if href.startswith("http")]
    assert len(web_links) >= 13  # stories, view in browser, unsubscribe, preferences
    for href in web_links:
        assert href in text
    for href in found.hrefs:
        if href.startswith("mailto:"):
            assert href.removeprefix("mailto:") in text


def test_every_line_is_within_the_limits(settings: Settings) -> None:
    hostile = render_segment(
        settings,
        digests.newsletter(name="Springfield " * 30),
        digests.community(),
        digests.hostile_sections(),
        digests.EDITION_DATE,
    )
    long_name = "Bartholomew-Maximilian " * 8
    data = personalize(
        template_for(settings, hostile, name="Springfield " * 30),
        Reader(7, 8, "a.very.long.address.for.testing@sub.domain.springfield.example", long_name),
    )
    assert header_lines_ok(data)
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 78 for line in body.split(b"\r\n"))
    assert all(len(line) <= 200 for line in head.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    message = parse(data)
    assert message.defects == []
    assert to_header(data) == (
        long_name.strip()[:120].rstrip(),
        "a.very.long.address.for.testing@sub.domain.springfield.example",
    )


FIRST_NAMES = {
    "Zo\xeb \xc5ngstr\xf6m-\u0141ukasiewicz \U0001f600": "Zo\xeb",
    'Smith, John "Johnny" (Jr.)': "John",
    "Jane": "Jane",
    "\u0623\u062d\u0645\u062f \u0645\u062d\u0645\u062f": "\u0623\u062d\u0645\u062f",
}


@pytest.mark.parametrize(
    "name",
    ["Zoë Ångström-Łukasiewicz 😀", 'Smith, John "Johnny" (Jr.)', "أحمد محمد", "Jane"],
)
def test_reader_names_are_encoded_and_read_back(
    settings: Settings, rendered: RenderedSegment, name: str
) -> None:
    data = personalize(template_for(settings, rendered), Reader(1, 2, "r@example.org", name))
    assert data.isascii()
    message = parse(data)
    assert to_header(data) == (name, "r@example.org")
    html, text = parts(message)
    first = FIRST_NAMES[name]
    assert f"Hi {first}," in text
    assert f"Hi {htmlmod.escape(first)}," in html


def test_cr_and_lf_in_a_name_or_subject_never_add_a_header(settings: Settings) -> None:
    sneaky = "Weekly\r\nBcc: victim@example.net\r\nX-Injected: 1"
    rendered = render_segment(
        settings,
        digests.newsletter(name=sneaky),
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
    )
    template = segment_template(
        settings,
        digests.newsletter(name=sneaky, sender=f"{sneaky} <news@springfield-times.example>"),
        subject=f"Hello\r\nBcc: victim@example.net\nX-Injected: 2\r{rendered.subject}",
        html=rendered.html,
        text=rendered.text,
        message_key="e1.s1",
        date=SENT_AT,
    )
    reader = Reader(3, 4, "r@example.org", "Eve\r\nBcc: victim@example.net\nX-Injected: 3")
    message = parse(personalize(template, reader))
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert message["Subject"].startswith("Hello Bcc: victim@example.net X-Injected: 2 ")
    assert parseaddr(message["To"]) == (
        "Eve Bcc: victim@example.net X-Injected: 3",
        "r@example.org",
    )
    [sender] = message["From"].addresses
    assert sender.addr_spec == "news@springfield-times.example"
    assert sender.display_name == "Weekly Bcc: victim@example.net X-Injected: 1"
    assert message.defects == []


def test_a_recipient_address_that_could_break_a_header_is_refused(
    settings: Settings, rendered: RenderedSegment
) -> None:
    template = template_for(settings, rendered)
    for bad in ("jane@example.org\r\nBcc: x@y.z", "jane doe@example.org", "no-at-sign"):
        with pytest.raises(MimeError, match="cannot be a recipient"):
            compose(template, Reader(1, 2, bad))


def test_reply_to_appears_when_the_newsletter_has_one(
    settings: Settings, rendered: RenderedSegment
) -> None:
    template = template_for(settings, rendered, reply_to="Desk <desk@springfield-times.example>")
    message = parse(personalize(template, JANE))
    assert message["Reply-To"] == "Desk <desk@springfield-times.example>"


def test_each_reader_gets_their_own_tokens_and_message_id(
    settings: Settings, rendered: RenderedSegment
) -> None:
    template = template_for(settings, rendered)
    first = parse(personalize(template, JANE))
    second = parse(personalize(template, Reader(502, 43, "sam@example.org", None)))
    assert first["List-Unsubscribe"] != second["List-Unsubscribe"]
    assert re.fullmatch(
        r"<e77\.s9\.502\.[0-9a-f]{16}@springfield-times\.example>", second["Message-ID"]
    )
    assert second["To"] == "sam@example.org"
    assert "Hi " not in parts(second)[1]  # no name, no greeting
    # A retry of the same delivery keeps its Message-ID, so the mailbox can drop a duplicate.
    assert parse(personalize(template, JANE))["Message-ID"] == first["Message-ID"]


def test_transactional_email_has_no_list_headers_and_a_plain_bounce_sender(
    settings: Settings,
) -> None:
    email = render_transactional(
        settings,
        "confirm",
        {"newsletters": ["The Morning Digest"], "confirm_url": "https://x.example/confirm/T"},
    )
    template = transactional_template(settings, email, date=SENT_AT)
    composed = compose(template, Reader(None, 42, "jane@example.org", "Jane"))
    message = parse(composed.data)
    assert message["List-Unsubscribe"] is None
    assert message["List-Id"] is None
    assert composed.mail_from == "bounces@bounces.springfield-times.example"
    assert message["Subject"] == "Please confirm your subscription to The Morning Digest"
    html, text = parts(message)
    assert "https://x.example/confirm/T" in text
    assert 'href="https://x.example/confirm/T"' in html
    assert "jane@example.org" in text
    assert "Hi Jane," in text


def test_the_bytes_go_through_a_real_smtp_server_unchanged(
    settings: Settings, rendered: RenderedSegment, smtp_server: SMTPServer
) -> None:
    composed = compose(template_for(settings, rendered), JANE)
    host, port = smtp_server.url.removeprefix("smtp://").split(":")
    with smtplib.SMTP(host, int(port)) as client:
        client.sendmail(composed.mail_from, [JANE.email], composed.data)
    [received] = smtp_server.received
    assert received.mail_from == composed.mail_from
    message = parse(received.data)
    assert parts(message) == parts(parse(composed.data))


def test_a_segment_with_no_stories_still_makes_a_valid_message(settings: Settings) -> None:
    rendered = render_segment(
        settings,
        digests.newsletter(),
        digests.community(),
        [Section(TOP, "Top stories", ())],
        digests.EDITION_DATE,
    )
    message = parse(personalize(template_for(settings, rendered), JANE))
    assert message["Subject"] == "The Morning Digest"
    assert "100 Main Street" in parts(message)[1]


def test_content_that_spells_a_placeholder_never_receives_a_readers_values() -> None:
    """A feed carrying "__DIGEST_EMAIL__" must not make each copy send its reader's address
    and signed links to the feed's server."""
    bait = "e=__DIGEST_EMAIL__&p=__DIGEST_PREFERENCES_URL__&u=___DIGEST_UNSUBSCRIBE_URL__"
    hostile = digests.card(
        0,
        title="Win a prize, __DIGEST_GREETING__ __DIGEST_EMAIL__",
        summary="Claim it: __DIGEST_UNSUBSCRIBE_URL__",
        url=f"https://tracker.example/story?{bait}",
        image_url=f"https://tracker.example/pixel.gif?{bait}",
        image_alt="__DIGEST_EMAIL__",
        author="__DIGEST_EMAIL__",
    )
    sections = [Section(TOP, "Top stories __DIGEST_EMAIL__", (hostile,))]
    reader = Reader(5, 41, "jane.reader@example.org", "Jane")
    html, text = parts(parse(digests.digest_message(sections, reader)))

    pixel = re.search(r'src="(https://tracker\.example/[^"]*)"', html)
    assert pixel is not None
    assert pixel.group(1) == (
        "https://tracker.example/pixel.gif?e=_DIGEST_EMAIL__&amp;p=_DIGEST_PREFERENCES_URL__"
        "&amp;u=_DIGEST_UNSUBSCRIBE_URL__"
    )
    assert "Win a prize, _DIGEST_GREETING__ _DIGEST_EMAIL__" in html
    for part in (html, text):  # the reader's address only where the footer says why they get it
        assert part.count("jane.reader@example.org") == 1
        assert "Claim it: _DIGEST_UNSUBSCRIBE_URL__" in part
