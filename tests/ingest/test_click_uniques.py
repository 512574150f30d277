"""Unique clickers without reader identity: the delivery pseudonym, the sketch, the store."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.ingest import clicks
from digest.ingest.click_buffer import HEAD, HUMAN, ClickBuffer
from digest.ingest.click_links import STORY, TrackedLink, clicker_of, make_tag, read_tag
from digest.ingest.click_uniques import EXACT_LIMIT, REGISTERS, STANDARD_ERROR, UniqueSketch
from digest.models import Delivery, DeliveryStatus, EditionSegment, LinkClicks, TownClickers
from digest.settings import load_settings
from tests import factories

NOW = factories.NOW
SETTINGS = load_settings(env="test", secret_key="clicks-test-secret-0123456789")


# The pseudonym in the tag


def test_a_digest_message_carries_its_delivery_pseudonym_and_no_reader_by_default() -> None:
    tag = read_tag(SETTINGS, make_tag(SETTINGS, NOW, None, delivery_id=501).removeprefix("~"))
    assert tag.clicker == clicker_of(SETTINGS, 501)
    assert tag.subscriber_id is None
    assert clicker_of(SETTINGS, 501) != clicker_of(SETTINGS, 502)
    both = read_tag(SETTINGS, make_tag(SETTINGS, NOW, 42, delivery_id=501).removeprefix("~"))
    assert (both.subscriber_id, both.clicker) == (42, clicker_of(SETTINGS, 501))


def test_a_forged_pseudonym_is_ignored() -> None:
    text = make_tag(SETTINGS, NOW, None, delivery_id=501).removeprefix("~")
    sent, clicker, signature = text.split(".")
    forged = f"{sent}.u{'A' * 11}.{signature}"
    assert read_tag(SETTINGS, forged).clicker is None
    other = load_settings(env="test", secret_key="another-secret-key-0123456789")
    assert read_tag(other, text).clicker is None
    assert read_tag(SETTINGS, f"{sent}.{clicker}").clicker is None  # no signature


# The sketch


def test_the_sketch_is_exact_up_to_its_limit_and_survives_storage() -> None:
    sketch = UniqueSketch()
    sketch.add(f"c{n % EXACT_LIMIT}" for n in range(3 * EXACT_LIMIT))
    assert (sketch.count(), sketch.exact) == (EXACT_LIMIT, True)
    again = UniqueSketch.from_bytes(sketch.to_bytes())
    assert (again.count(), again.exact) == (EXACT_LIMIT, True)


def test_past_its_limit_the_sketch_estimates_within_its_error_in_bounded_space() -> None:
    for size in (1_000, 20_000, 100_000):
        sketch = UniqueSketch()
        sketch.add(f"reader-{n}" for n in range(size))
        sketch.add(f"reader-{n}" for n in range(size // 2))  # repeat clicks change nothing
        assert not sketch.exact
        assert abs(sketch.count() - size) <= 3 * STANDARD_ERROR * size, (size, sketch.count())
        stored = sketch.to_bytes()
        assert len(stored) == REGISTERS + 1
        assert UniqueSketch.from_bytes(stored).count() == sketch.count()


def test_merged_sketches_count_the_union() -> None:
    small, large = UniqueSketch(), UniqueSketch()
    small.add(f"r{n}" for n in range(100))
    large.add(f"r{n}" for n in range(50, 150))
    small.merge(large)
    assert (small.count(), small.exact) == (150, True)
    big = UniqueSketch()
    big.add(f"r{n}" for n in range(5_000))
    big.merge(small)
    assert abs(big.count() - 5_000) <= 3 * STANDARD_ERROR * 5_000


# The store


def _edition(session: Session) -> tuple[int, list[int], list[int]]:
    places = factories.towns(session, ("springfield", "riverton"))
    edition = factories.ready_edition(session, factories.newsletter(session), places)
    made = factories.stories(session, None, 2, NOW - timedelta(hours=3))
    return edition.id, [p.id for p in places], [story.id for story in made]


def _add(session: Session, buffer: ClickBuffer) -> None:
    batch = buffer.take(NOW)
    assert batch is not None
    assert clicks.add_batch(session, batch, NOW)


def test_one_reader_clicking_five_times_is_one_unique_click(session: Session) -> None:
    edition, (town, _), (story, _) = _edition(session)
    target = TrackedLink(edition, town, STORY, story, "https://news.example/a")
    buffer = ClickBuffer(burst_links=99)
    for n in range(3):
        buffer.record(target, HUMAN, NOW, f"client-{n}", clicker="reader-a")
    _add(session, buffer)
    for n in range(2):  # a later batch: the same reader again, and a new one
        buffer.record(target, HUMAN, NOW, f"client-{n}", clicker="reader-a")
    buffer.record(target, HUMAN, NOW, "client-b", clicker="reader-b")
    buffer.record(target, HEAD, NOW, "gateway", clicker="reader-c")  # a scanner: not unique
    buffer.record(target, HUMAN, NOW, "web-version")  # no pseudonym: a click, not a unique
    _add(session, buffer)
    row = session.scalars(select(LinkClicks)).one()
    assert (row.clicks, row.unique_clicks, row.scanner_head) == (7, 2, 1)


def test_a_burst_of_links_from_one_message_leaves_no_unique_click(session: Session) -> None:
    edition, (town, _), (first, second) = _edition(session)
    buffer = ClickBuffer(burst_links=3)
    urls = ("https://news.example/a", "https://news.example/b", "https://news.example/c")
    for n, url in enumerate(urls):
        target = TrackedLink(edition, town, STORY, (first, second, None)[n], url)
        at = NOW + timedelta(milliseconds=100 * n)
        buffer.record(target, HUMAN, at, "gateway", clicker="scanned-reader")
    _add(session, buffer)
    assert session.scalars(select(LinkClicks.unique_clicks)).all() == [0, 0, 0]
    assert session.scalars(select(TownClickers.unique_clicks)).all() == []


def test_the_edition_page_rate_is_unique_clickers_of_any_link_per_delivered(
    session: Session,
) -> None:
    edition, (springfield, _), (first, second) = _edition(session)
    segment = session.scalars(
        select(EditionSegment).where(EditionSegment.community_id == springfield)
    ).one()
    place = segment.community
    readers = factories.readers(session, factories.newsletter(session, "other"), place, 4)
    session.add_all(
        Delivery(
            edition_id=edition,
            segment_id=segment.id,
            subscriber_id=reader.id,
            status=DeliveryStatus.SENT,
        )
        for reader in readers
    )
    buffer = ClickBuffer(burst_links=99)
    a = TrackedLink(edition, springfield, STORY, first, "https://news.example/a")
    b = TrackedLink(edition, springfield, STORY, second, "https://news.example/b")
    buffer.record(a, HUMAN, NOW, "1", clicker="reader-1")
    buffer.record(b, HUMAN, NOW, "1", clicker="reader-1")  # the same reader, another story
    buffer.record(a, HUMAN, NOW, "2", clicker="reader-2")
    buffer.record(a, HUMAN, NOW, "2", clicker="reader-2")
    _add(session, buffer)
    (town,) = [t for t in clicks.edition_clicks(session, edition) if t.community_id == springfield]
    assert (town.delivered, town.clicks, town.unique_clicks) == (4, 4, 2)
    assert town.click_rate == 0.5
    assert [(unique, count) for _title, count, unique in town.top_stories] == [(2, 3), (1, 1)]


def test_sketches_go_after_the_retention_and_their_counts_stay(session: Session) -> None:
    edition, (town, _), (story, _) = _edition(session)
    target = TrackedLink(edition, town, STORY, story, "https://news.example/a")
    buffer = ClickBuffer(burst_links=99)
    buffer.record(target, HUMAN, NOW, "1", clicker="reader-1")
    buffer.record(target, HUMAN, NOW, "2", clicker="reader-2")
    _add(session, buffer)
    settings = load_settings(env="test", click_event_retention_days=90)
    assert clicks.prune(session, settings, NOW + timedelta(days=91))["sketches"] == 2
    row = session.scalars(select(LinkClicks)).one()
    assert (row.unique_clicks, row.clickers) == (2, None)
    buffer.record(target, HUMAN, NOW, "3", clicker="reader-3")
    _add(session, buffer)
    session.refresh(row)
    assert (row.unique_clicks, row.clickers) == (3, None)


def test_a_burst_straddling_a_flush_corrects_the_next_batch() -> None:
    buffer = ClickBuffer(burst_links=3)
    urls = ("https://news.example/a", "https://news.example/b", "https://news.example/c")
    links = [TrackedLink(1, 2, STORY, None, url) for url in urls]
    buffer.record(links[0], HUMAN, NOW, "gateway", clicker="scanned")
    buffer.record(links[1], HUMAN, NOW + timedelta(milliseconds=100), "gateway", clicker="scanned")
    first = buffer.take(NOW)
    assert first is not None
    at = NOW + timedelta(milliseconds=200)
    assert buffer.record(links[2], HUMAN, at, "gateway", clicker="scanned") == "scanner_burst"
    second = buffer.take(at)
    assert second is not None
    corrections = {row[5]: (row[7], row[8]) for row in second["counts"]}
    assert corrections[urls[0]] == ({HUMAN: -1, "scanner_burst": 1}, [])
    assert corrections[urls[2]] == ({"scanner_burst": 1}, [])
