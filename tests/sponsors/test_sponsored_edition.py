"""End to end on the test database: a sponsor booked for one town is frozen into that town's
segment only (a house ad elsewhere), every reader of the town gets it through a real SMTP
server (aiosmtpd), and the report's impressions are exactly the messages delivered."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.errors import DigestError
from digest.ingest.click_buffer import HEAD, HUMAN, ClickBuffer
from digest.ingest.click_links import TrackedLink, read_link_token, read_tag
from digest.ingest.clicks import add_batch
from digest.models import Edition, EditionSegment, EditionStatus, Newsletter
from digest.sending import delivery
from digest.sending.batches import send_batch
from digest.sending.editions import build_edition
from digest.sending.swaps import swap_sponsor
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
from tests import factories
from tests.sending import test_sending as sending
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerProcess

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SLOT = datetime(2026, 12, 1, 6, 0)
PAID = "Snow shovels, 20% off this week"
HOUSE = "Reach your neighbours: advertise here"


def newsroom(committed: sessionmaker[Session]) -> int:
    """The edition of `seed`, built; returns its id."""
    with committed() as session, session.begin():
        letter = seed(session)
        return build_edition(session, load_settings(), letter, SLOT, NOW).id


def seed(session: Session) -> Newsletter:
    """Three towns with 3, 2 and 2 readers, stories, a paid campaign in Springfield and a
    house ad everywhere."""
    towns = factories.towns(session)
    letter = factories.newsletter(session)
    for town, count in zip(towns, (3, 2, 2), strict=True):
        factories.readers(session, letter, town, count)
        factories.stories(session, town, 3, NOW - timedelta(hours=2))
    factories.stories(session, None, 3, NOW - timedelta(hours=2))
    add_sponsor(session, "hardware", "Main Street Hardware")
    add_sponsor(session, "house", "Morning Digest")
    week = (date(2026, 11, 30), date(2026, 12, 6))
    book_campaign(
        session,
        "hardware",
        "hardware-dec",
        CreativeSpec(PAID, "https://hardware.example/winter", text="Open until 7 pm."),
        Booking(AFTER_TOP, *week, ("morning",), ("springfield",)),
    )
    book_campaign(
        session,
        "house",
        "house-all",
        CreativeSpec(HOUSE, "https://news.example/advertise", label="From the newsroom"),
        Booking(AFTER_TOP, *week, house=True),
    )
    return letter


def send(committed: sessionmaker[Session], edition_id: int, smtp: SMTPServer) -> None:
    settings = load_settings(mail_url=smtp.url)
    with committed() as session, session.begin():
        delivery.start_sending(session, session.get_one(Edition, edition_id), NOW)
        batches = delivery.plan_batches(session, edition_id, 100, NOW)
    with delivery.open_sender(settings) as sender:
        for first, last in batches:
            send_batch(committed, settings, edition_id, first, last, sender, FixedClock(NOW))


def test_the_sponsor_reaches_only_its_town_and_impressions_add_up(
    committed: sessionmaker[Session], smtp_server: SMTPServer
) -> None:
    edition_id = newsroom(committed)
    with committed() as session:
        segments = {
            s.community.slug: s
            for s in session.scalars(
                select(EditionSegment).where(EditionSegment.edition_id == edition_id)
            )
        }
        for slug, segment in segments.items():
            paid_here = slug == "springfield"
            assert (PAID in segment.html) is paid_here, slug
            assert (PAID in segment.text) is paid_here, slug
            assert (HOUSE in segment.html) is not paid_here, slug
            assert (HOUSE in segment.text) is not paid_here, slug
            assert [p.position for p in segment.placements] == [AFTER_TOP]

    # Lakeside's second reader is refused by the relay: not delivered, so no impression.
    smtp_server.refuse("reader1@lakeside.example")
    send(committed, edition_id, smtp_server)

    seen: Counter[str] = Counter()
    for received in smtp_server.received:
        message = received.message
        town = received.rcpt_tos[0].split("@")[1].removesuffix(".example")
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        ad = PAID if town == "springfield" else HOUSE
        assert ad in html, town
        assert ad in text, town
        assert (PAID if ad == HOUSE else HOUSE) not in html + text, town
        seen[town] += 1
    assert seen == Counter({"springfield": 3, "riverton": 2, "lakeside": 1})

    with committed() as session:
        paid = reports.campaign_report(session, get_campaign(session, "hardware-dec"))
        house = reports.campaign_report(session, get_campaign(session, "house-all"))
    assert [(t.label, t.impressions, t.editions) for t in paid.towns] == [("Springfield", 3, 1)]
    assert [(t.label, t.impressions) for t in house.towns] == [("Lakeside", 1), ("Riverton", 2)]
    assert paid.total.impressions + house.total.impressions == len(smtp_server.received)
    assert [d.label for d in paid.days] == ["2026-12-01"]

    # Two readers click the sponsor's link as it reached them, one of them twice; a scanner's
    # HEAD is left out.
    (link, first), (_same, second) = sponsor_links(smtp_server, "springfield")[:2]
    assert (link.kind, link.edition_id) == ("sponsor", edition_id)
    assert first != second
    clicks = ClickBuffer(burst_links=10)
    clicks.record(link, HUMAN, NOW, client="reader-a", clicker=first)
    clicks.record(link, HUMAN, NOW, client="reader-a", clicker=first)
    clicks.record(link, HUMAN, NOW, client="reader-b", clicker=second)
    clicks.record(link, HEAD, NOW, client="scanner", clicker=second)
    batch = clicks.take(NOW)
    assert batch is not None
    with committed() as session, session.begin():
        add_batch(session, batch, NOW)
    with committed() as session:
        paid = reports.campaign_report(session, get_campaign(session, "hardware-dec"))
    assert paid.clicks_counted
    assert reports.report_csv(paid).splitlines() == [
        "date,edition,town,impressions,clicks,unique_clicks,unique_estimated,click_rate",
        f"2026-12-01,{edition_id},springfield,3,3,2,0,0.6667",
    ]


def sponsor_links(smtp: SMTPServer, town: str) -> list[tuple[TrackedLink, str]]:
    """The counted link of the sponsor's ad and its delivery pseudonym, in each message the
    town's readers received."""
    settings = load_settings()
    found = []
    for received in smtp.received:
        if not received.rcpt_tos[0].endswith(f"@{town}.example"):
            continue
        html = received.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        for token, tag in re.findall(r'/r/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)~([^"<\s]+)', html):
            link = read_link_token(settings, token)
            clicker = read_tag(settings, tag).clicker
            if link is not None and link.kind == "sponsor" and clicker is not None:
                found.append((link, clicker))
                break
    assert found, f"no sponsor link in {town}'s messages"
    return found


def test_the_editors_swap_before_the_freeze_is_what_the_town_gets(
    committed: sessionmaker[Session],
) -> None:
    with committed() as session, session.begin():
        letter = seed(session)
        add_sponsor(session, "bakery", "Corner Bakery")
        bakery = book_campaign(
            session,
            "bakery",
            "bakery-lakeside",
            CreativeSpec("Fresh bread at six", "https://bakery.example/"),
            Booking(AFTER_TOP, date(2026, 12, 1), date(2026, 12, 1), ("morning",), ("lakeside",)),
        )
        swap_sponsor(
            session, load_settings(), "morning", SLOT.date(), "springfield", "bakery-lakeside", NOW
        )
        edition = build_edition(session, load_settings(), letter, SLOT, NOW)
        placed = {
            segment.community.slug: [p.campaign_id for p in segment.placements]
            for segment in edition.segments
        }
        springfield = next(s for s in edition.segments if s.community.slug == "springfield")
        assert "Fresh bread at six" in springfield.html
        assert PAID not in springfield.html
    assert placed["springfield"] == [bakery.id]
    assert placed["lakeside"] == [bakery.id]
    with committed() as session:
        house = get_campaign(session, "house-all").id
    assert placed["riverton"] == [house]  # no swap there: the house ad as booked


@pytest.mark.celery
def test_sent_by_a_real_worker_the_report_counts_every_delivered_message(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    edition_id = newsroom(committed)
    with committed() as session, session.begin():
        delivery.start_sending(session, session.get_one(Edition, edition_id), NOW)
    smtp_server.refuse("reader0@riverton.example")
    start_worker(mail_url=smtp_server.url)

    sending.send(edition_id)
    sending.wait_for(
        lambda: sending.edition_status(committed, edition_id) == EditionStatus.SENT,
        "the edition to be sent",
    )

    delivered = Counter(r.rcpt_tos[0].split("@")[1].split(".")[0] for r in smtp_server.received)
    assert delivered == Counter({"springfield": 3, "riverton": 1, "lakeside": 2})
    with committed() as session:
        paid = reports.campaign_report(session, get_campaign(session, "hardware-dec"))
        house = reports.campaign_report(session, get_campaign(session, "house-all"))
    figures = {t.label.lower(): t.impressions for t in [*paid.towns, *house.towns]}
    assert figures == dict(delivered)
    for received in smtp_server.received:
        town = received.rcpt_tos[0].split("@")[1].split(".")[0]
        body = received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert (PAID in body) is (town == "springfield")


def test_a_swap_renders_an_edition_built_ahead_again_until_it_starts_sending(
    committed: sessionmaker[Session],
) -> None:
    edition_id = newsroom(committed)  # built ahead: no town has started
    with committed() as session, session.begin():
        add_sponsor(session, "bakery", "Corner Bakery")
        book_campaign(
            session,
            "bakery",
            "bakery-lakeside",
            CreativeSpec("Fresh bread at six", "https://bakery.example/"),
            Booking(AFTER_TOP, date(2026, 12, 1), date(2026, 12, 1), ("morning",), ("lakeside",)),
        )
        swap_sponsor(
            session, load_settings(), "morning", SLOT.date(), "springfield", "bakery-lakeside", NOW
        )
    with committed() as session:
        segments = {
            s.community.slug: s
            for s in session.scalars(
                select(EditionSegment).where(EditionSegment.edition_id == edition_id)
            )
        }
        springfield = segments["springfield"]
        assert "Fresh bread at six" in springfield.html
        assert "Fresh bread at six" in springfield.text
        assert PAID not in springfield.html + springfield.text
        bakery = get_campaign(session, "bakery-lakeside").id
        assert [p.campaign_id for p in springfield.placements] == [bakery]
        assert PAID not in segments["riverton"].html  # other towns are untouched
    with committed() as session, session.begin():
        delivery.start_sending(session, session.get_one(Edition, edition_id), NOW)
    with committed() as session, session.begin(), pytest.raises(DigestError) as refused:
        swap_sponsor(
            session, load_settings(), "morning", SLOT.date(), "springfield", "hardware-dec", NOW
        )
    assert "has started sending" in str(refused.value)
