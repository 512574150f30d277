"""Click analytics' core: signed links, scanner buckets, the buffer, the store and the ranking."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.ingest import clicks
from digest.ingest.click_buffer import (
    AGENT,
    BURST,
    EARLY,
    HEAD,
    HUMAN,
    ClickBuffer,
    classify,
)
from digest.ingest.click_links import (
    SPONSOR,
    STORY,
    MessageTag,
    TrackedLink,
    make_link_token,
    make_tag,
    read_link_token,
    read_tag,
)
from digest.models import ClickEvent, Community, LinkClicks, PopularitySample, Story
from digest.readers.erase import erase_subscriber
from digest.render.links import with_utm
from digest.settings import load_settings
from tests import factories

NOW = factories.NOW
SETTINGS = load_settings(env="test", secret_key="clicks-test-secret-0123456789")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131 Safari/537.36"


def link(url: str = "https://news.example/a", item: int | None = 7, town: int = 2) -> TrackedLink:
    return TrackedLink(edition_id=1, community_id=town, kind=STORY, item_id=item, url=url)


# Signed links


def test_a_token_reads_back_exactly_the_link_it_signed() -> None:
    original = link("https://news.example/a?x=1&y=ü#top")
    assert read_link_token(SETTINGS, make_link_token(SETTINGS, original)) == original


def test_a_tampered_or_foreign_token_names_no_target() -> None:
    token = make_link_token(SETTINGS, link())
    payload, _, signature = token.partition(".")
    evil = make_link_token(SETTINGS, link("https://evil.example/"))
    assert read_link_token(SETTINGS, evil.partition(".")[0] + "." + signature) is None
    assert read_link_token(SETTINGS, payload + "." + signature[:-2] + "AA") is None
    assert read_link_token(SETTINGS, payload) is None
    assert read_link_token(SETTINGS, "") is None
    assert read_link_token(SETTINGS, "x" * 5000) is None
    other = load_settings(env="test", secret_key="another-secret-key-0123456789")
    assert read_link_token(other, token) is None


def test_links_signed_before_a_key_rotation_still_redirect() -> None:
    token = make_link_token(SETTINGS, link())
    rotated = load_settings(
        env="test",
        secret_key="the-new-secret-key-0123456789",
        secret_key_previous="clicks-test-secret-0123456789",
    )
    assert read_link_token(rotated, token) == link()


def test_the_tag_carries_the_send_time_and_only_a_signed_reader() -> None:
    tag = make_tag(SETTINGS, NOW, 42).removeprefix("~")
    assert read_tag(SETTINGS, tag) == MessageTag(NOW, 42)
    forged = tag.replace(".r42.", ".r43.")
    assert read_tag(SETTINGS, forged) == MessageTag(NOW, None)
    assert read_tag(SETTINGS, make_tag(SETTINGS, NOW).removeprefix("~")) == MessageTag(NOW)
    assert read_tag(SETTINGS, "garbage.r1.zz") == MessageTag(None, None)


def test_utm_parameters_are_added_once() -> None:
    utm = "utm_source=digest&utm_medium=email"
    assert with_utm("https://a.example/x", utm) == f"https://a.example/x?{utm}"
    assert with_utm("https://a.example/x?p=1#f", utm) == f"https://a.example/x?p=1&{utm}#f"
    kept = "https://a.example/x?utm_source=site"
    assert with_utm(kept, utm) == kept + "&utm_medium=email"
    assert with_utm("https://a.example/x", "") == "https://a.example/x"


# Scanners


def test_scanners_are_told_apart_from_readers() -> None:
    sent = MessageTag(sent_at=NOW)
    later = NOW + timedelta(minutes=5)
    assert classify("HEAD", BROWSER, sent, later, 10) == HEAD
    assert classify("GET", "Mozilla/5.0 (compatible; BingPreview/1.0b)", sent, later, 10) == AGENT
    assert classify("GET", "", sent, later, 10) == AGENT
    assert classify("GET", BROWSER, sent, NOW + timedelta(seconds=3), 10) == EARLY
    assert classify("GET", BROWSER, sent, later, 10) == HUMAN
    assert classify("GET", BROWSER, MessageTag(), later, 10) == HUMAN  # web version: no tag


def test_every_link_in_one_second_from_one_client_is_a_scanner_even_the_first_ones() -> None:
    buffer = ClickBuffer(burst_links=3)
    links = [link(f"https://news.example/{i}", item=i) for i in range(5)]
    at = NOW
    for i, each in enumerate(links[:2]):
        assert buffer.record(each, HUMAN, at + timedelta(milliseconds=100 * i), "scanner") == HUMAN
    assert buffer.record(links[2], HUMAN, at + timedelta(milliseconds=300), "scanner") == BURST
    assert buffer.record(links[3], HUMAN, at + timedelta(milliseconds=400), "scanner") == BURST
    # A reader clicking two links of the same edition is not a burst.
    assert buffer.record(links[4], HUMAN, at, "reader") == HUMAN
    assert buffer.record(links[0], HUMAN, at + timedelta(seconds=3), "scanner") == HUMAN
    batch = buffer.take(at)
    assert batch is not None
    totals = {row[4]: row[7] for row in batch["counts"]}
    assert totals[0] == {HUMAN: 1, BURST: 1}  # the later click, a new second, counts
    assert totals[1] == {HUMAN: 0, BURST: 1}
    assert totals[2] == {BURST: 1}
    assert totals[4] == {HUMAN: 1}
    assert buffer.take(at) is None


# The store (PostgreSQL under CI)


def _edition(session: Session) -> tuple[int, list[int], list[Story]]:
    places = factories.towns(session, ("springfield", "riverton"))
    letter = factories.newsletter(session)
    edition = factories.ready_edition(session, letter, places)
    made = factories.stories(session, None, 3, NOW - timedelta(hours=3))
    return edition.id, [p.id for p in places], made


def _batch(buffer: ClickBuffer) -> dict[str, object]:
    batch = buffer.take(NOW)
    assert batch is not None
    return batch


def test_a_batch_adds_to_the_counts_once_even_when_flushed_twice(session: Session) -> None:
    edition, (town, _), made = _edition(session)
    buffer = ClickBuffer(burst_links=3)
    target = TrackedLink(edition, town, STORY, made[0].id, made[0].url)
    for n in range(4):
        buffer.record(target, HUMAN, NOW, f"reader-{n}")
    buffer.record(target, HEAD, NOW, "gateway")
    batch = _batch(buffer)
    assert clicks.add_batch(session, batch, NOW) is True
    assert clicks.add_batch(session, batch, NOW) is False
    buffer.record(target, HUMAN, NOW + timedelta(hours=1), "reader-9")
    assert clicks.add_batch(session, _batch(buffer), NOW)
    row = session.scalars(select(LinkClicks)).one()
    assert (row.clicks, row.scanner_head, row.url) == (5, 1, made[0].url)
    assert row.last_click_at == NOW + timedelta(hours=1)
    assert session.scalars(select(ClickEvent)).all() == []  # no reader identity by default


def test_most_read_ranks_per_town_and_for_the_region(session: Session) -> None:
    edition, (springfield, riverton), made = _edition(session)
    buffer = ClickBuffer(burst_links=99)
    plan = {(springfield, 0): 5, (springfield, 1): 2, (riverton, 1): 4, (riverton, 2): 1}
    for (town, index), times in plan.items():
        target = TrackedLink(edition, town, STORY, made[index].id, made[index].url)
        for n in range(times):
            buffer.record(target, HUMAN, NOW, f"r{n}")
    clicks.add_batch(session, _batch(buffer), NOW)
    window = (NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    region = clicks.most_read(session, *window)
    assert [(r.story_id, r.clicks) for r in region] == [
        (made[1].id, 6),
        (made[0].id, 5),
        (made[2].id, 1),
    ]
    town = clicks.most_read(session, *window, community_id=riverton)
    assert [r.story_id for r in town] == [made[1].id, made[2].id]
    assert clicks.most_read(session, NOW + timedelta(hours=2), NOW + timedelta(hours=3)) == []


def test_clicks_blend_into_popularity_for_the_most_read_section(session: Session) -> None:
    edition, (town, _), made = _edition(session)
    session.add(
        PopularitySample(story_id=made[1].id, measured_at=NOW, source="site", views=9, score=1.0)
    )
    buffer = ClickBuffer(burst_links=99)
    for index, times in ((0, 4), (1, 2)):
        target = TrackedLink(edition, town, STORY, made[index].id, made[index].url)
        for n in range(times):
            buffer.record(target, HUMAN, NOW, f"r{n}")
    clicks.add_batch(session, _batch(buffer), NOW)
    blended = load_settings(env="test", click_popularity_weight=0.5)
    assert clicks.record_click_popularity(session, blended, NOW) == 2
    assert made[0].popularity == 0.5  # 4/4 clicks, no site figure
    assert made[1].popularity == 0.75  # 2/4 clicks blended with the site's 1.0
    alone = load_settings(env="test", click_popularity_weight=1.0)
    clicks.record_click_popularity(session, alone, NOW)
    assert (made[0].popularity, made[1].popularity) == (1.0, 0.5)


def test_reader_events_are_pruned_after_the_retention(session: Session) -> None:
    edition, (town, _), made = _edition(session)
    place = session.get_one(Community, town)
    (reader,) = factories.readers(session, factories.newsletter(session, "evening"), place, 1)
    buffer = ClickBuffer(burst_links=99)
    target = TrackedLink(edition, town, STORY, made[0].id, made[0].url)
    buffer.record(target, HUMAN, NOW - timedelta(days=100), "old", subscriber_id=reader.id)
    buffer.record(target, HUMAN, NOW, "new", subscriber_id=reader.id)
    clicks.add_batch(session, _batch(buffer), NOW)
    assert len(session.scalars(select(ClickEvent)).all()) == 2
    pruned = clicks.prune(session, load_settings(env="test", click_event_retention_days=90), NOW)
    assert pruned["events"] == 1
    assert session.scalars(select(ClickEvent.clicked_at)).all() == [NOW]
    assert session.scalars(select(LinkClicks.clicks)).all() == [2]  # aggregates stay


def test_a_click_naming_what_is_gone_never_blocks_its_batch(session: Session) -> None:
    edition, (town, _), made = _edition(session)
    place = session.get_one(Community, town)
    kept, erased, opted_out = factories.readers(
        session, factories.newsletter(session, "e"), place, 3
    )
    opted_out.click_opt_out = True
    assert kept.email is not None
    buffer = ClickBuffer(burst_links=99)
    target = TrackedLink(edition, town, STORY, made[0].id, made[0].url)
    for n, reader in enumerate((kept, erased, opted_out)):
        buffer.record(target, HUMAN, NOW, f"r{n}", subscriber_id=reader.id)
    buffer.record(
        TrackedLink(edition + 999, town, STORY, None, "https://gone.example/"), HUMAN, NOW, "x"
    )
    erase_subscriber(session, erased.email or "", NOW)
    assert clicks.add_batch(session, _batch(buffer), NOW)
    assert session.scalars(select(LinkClicks.clicks)).all() == [3]
    assert session.scalars(select(ClickEvent.subscriber_id)).all() == [kept.id]
    erase_subscriber(session, kept.email, NOW)
    assert session.scalars(select(ClickEvent)).all() == []  # erasure removes a reader's clicks


def test_sponsor_clicks_add_up_per_edition_and_town(session: Session) -> None:
    edition, (springfield, riverton), _made = _edition(session)
    buffer = ClickBuffer(burst_links=99)
    # In springfield one reader clicks twice and another once; in riverton one reader once.
    for town, clickers in ((springfield, ["a", "a", "b"]), (riverton, ["c"])):
        creative = TrackedLink(edition, town, SPONSOR, 5, "https://shop.example/")
        for n, clicker in enumerate(clickers):
            buffer.record(creative, HUMAN, NOW, f"r{town}{n}", clicker=f"{clicker}{town}")
        buffer.record(creative, HEAD, NOW, "gateway", clicker=f"gateway{town}")
    clicks.add_batch(session, _batch(buffer), NOW)
    assert clicks.clicks_by_item(session, SPONSOR, [5]) == [
        clicks.ItemClicks(edition, springfield, 5, 3, 2),
        clicks.ItemClicks(edition, riverton, 5, 1, 1),
    ]
    assert clicks.clicks_by_item(session, STORY, [5]) == []
