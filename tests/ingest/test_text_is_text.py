"""A story's text reaches readers as the feed meant it: text as written, HTML cleaned to text.

From an Atom feed through ingest, curation and the scheduler to the reader's email (its HTML
and its text part) and the archive's web version: a title of type "text" that looks like
markup is shown literally and escaped, an HTML title is cleaned, and nothing in either runs.
"""

from __future__ import annotations

import mailbox
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.ingest.parse import parse_feed
from digest.ingest.stories import ingest_stories
from digest.models import Edition, Feed
from digest.sending.scheduler import run_here
from digest.settings import load_settings
from digest.web import create_app
from tests import factories
from tests.support.digests import collect_links
from tests.support.markup import runnable_markup

SLOT = factories.NOW  # 06:00 in Springfield, the morning edition's slot
FEED_URL = "https://springfield.example/atom"
# As the publisher wrote them: type "text" is text (RFC 4287, section 3.1), type "html" is
# escaped HTML.
ENTRIES = [
    ("text", "Fish &amp; Chips &lt;Review&gt;", "Cod &lt;and&gt; chips, &amp;amp; more"),
    (
        "text",
        "&lt;script&gt;alert('title')&lt;/script&gt;Council meets &lt;b&gt;tonight&lt;/b&gt;",
        "&lt;img src=x onerror=alert('summary')&gt; Agenda inside",
    ),
    (
        "html",
        "Bridge &lt;b onclick=\"alert('click')\"&gt;reopens&lt;/b&gt;"
        "&lt;script&gt;alert('html')&lt;/script&gt;",
        "&lt;p&gt;Traffic&lt;br&gt;flows&lt;/p&gt;&lt;iframe src='https://evil.example'&gt;"
        "&lt;/iframe&gt;",
    ),
]
LITERAL_TITLES = [
    "Fish & Chips <Review>",
    "<script>alert('title')</script>Council meets <b>tonight</b>",
]
LITERAL_SUMMARIES = [
    "Cod <and> chips, &amp; more",
    "<img src=x onerror=alert('summary')> Agenda inside",
]


def atom_feed() -> bytes:
    entries = "".join(
        f"<entry><title type='{kind}'>{title}</title>"
        f"<link href='https://springfield.example/{n}'/><id>urn:springfield:{n}</id>"
        f"<updated>{(SLOT - timedelta(hours=n + 1)).isoformat()}</updated>"
        f"<summary type='{kind}'>{summary}</summary></entry>"
        for n, (kind, title, summary) in enumerate(ENTRIES)
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Springfield Times</title>{entries}</feed>"
    ).encode()


def seed(session: Session) -> None:
    [town] = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    letter.created_at = SLOT - timedelta(days=1)
    factories.readers(session, letter, town, 1)
    feed = Feed(url=FEED_URL, title="Springfield Times", community_id=town.id)
    session.add(feed)
    session.flush()
    parsed = parse_feed(atom_feed(), FEED_URL, SLOT - timedelta(minutes=30))
    ingest_stories(session, feed, parsed.stories, SLOT - timedelta(minutes=30))


def the_email(outbox: Path) -> EmailMessage:
    [raw] = list(mailbox.Maildir(outbox, factory=None, create=False))
    message = message_from_bytes(raw.as_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_shown_as_meant(html: str) -> None:
    assert runnable_markup(html) == []
    headlines = collect_links(html).headlines
    for title in [*LITERAL_TITLES, "Bridge reopens"]:
        assert title in headlines, (title, headlines)
    assert "&lt;script&gt;alert('title')&lt;/script&gt;" in html  # escaped, never a tag
    for cleaned in ("alert('html')", "alert('click')", "evil.example"):
        assert cleaned not in html


def test_text_stays_text_and_html_is_cleaned_in_the_email_and_the_archive(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    settings = load_settings(mail_url=f"maildir://{outbox}")
    with committed() as session, session.begin():
        seed(session)
    clock = FixedClock(SLOT)
    assert run_here(committed, settings, clock).sent == 1

    message = the_email(outbox)
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    assert_shown_as_meant(html_part.get_content())
    text = text_part.get_content()
    for written in [*LITERAL_TITLES, *LITERAL_SUMMARIES, "Bridge reopens", "Traffic flows"]:
        assert written in text, written
    for cleaned in ("alert('html')", "alert('click')", "evil.example"):
        assert cleaned not in text

    with committed() as session:
        edition_id = session.scalars(select(Edition.id)).one()
    with TestClient(create_app(settings, clock=clock), base_url=settings.base_url) as client:
        web_version = client.get(f"/archive/morning/{edition_id}/springfield")
    assert web_version.status_code == 200
    assert_shown_as_meant(web_version.text)
