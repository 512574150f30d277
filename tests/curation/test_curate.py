"""Curation: top and local stories for one town, each cluster once, never twice, deterministic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from digest.curation.curate import Curation, curate
from digest.models import (
    Community,
    Edition,
    EditionSegment,
    EditionStatus,
    Feed,
    Newsletter,
    Story,
)
from tests import factories
from tests.support.feeds import make_feed, put, story

AT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
H = timedelta(hours=1)


@dataclass
class Region:
    springfield: Community
    riverton: Community
    letter: Newsletter
    spring_feed: Feed
    river_feed: Feed
    wire: Feed
    regional: Feed


@pytest.fixture
def region(session: Session) -> Region:
    springfield, riverton = factories.towns(session, ("springfield", "riverton"))
    letter = factories.newsletter(session)
    return Region(
        springfield,
        riverton,
        letter,
        make_feed(
            session, "https://springfield.example/feed", springfield, title="Springfield Times"
        ),
        make_feed(session, "https://riverton.example/feed", riverton, title="Riverton Ledger"),
        make_feed(session, "https://wire.example/feed", title="Mountain Press Wire"),
        make_feed(session, "https://regional.example/feed", title="Regional Desk"),
    )


def add(
    session: Session,
    feed: Feed,
    title: str,
    hours_ago: float,
    url: str | None = None,
    seen_hours_ago: float | None = None,
) -> Story:
    slug = title.lower().replace(" ", "-")
    host = feed.url.split("/")[2]
    parsed = story(
        title,
        url or f"https://{host}/{slug}",
        AT - timedelta(hours=hours_ago),
        guid=f"{feed.id}:{slug}",
    )
    seen = AT - timedelta(hours=seen_hours_ago if seen_hours_ago is not None else hours_ago)
    (row,) = put(session, feed, [parsed], seen)
    return row


def titles(curation: Curation, key: str) -> list[str]:
    for section in curation.sections:
        if section.key == key:
            return [card.title for card in section.stories]
    return []


def all_cards(curation: Curation) -> list[str]:
    return [card.cluster_key for section in curation.sections for card in section.stories]


def send(
    session: Session,
    letter: Newsletter,
    town: Community,
    curation: Curation,
    at: datetime,
    status: EditionStatus = EditionStatus.SENT,
) -> None:
    """Record an edition for the town as the edition builder would freeze it."""
    edition = Edition(newsletter_id=letter.id, slot=at.replace(tzinfo=None), status=status)
    session.add(edition)
    session.flush()
    cards = [card for section in curation.sections for card in section.stories]
    session.add(
        EditionSegment(
            edition_id=edition.id,
            community_id=town.id,
            send_at=at,
            story_ids=[card.story_id for card in cards],
            cluster_keys=[card.cluster_key for card in cards],
        )
    )
    session.flush()


def test_a_wire_story_appears_once_as_the_readers_town_copy(
    session: Session, region: Region
) -> None:
    wire = add(session, region.wire, "State legislature passes rural broadband bill", 3)
    town = add(session, region.spring_feed, "State Legislature Passes Rural Broadband Bill", 2)
    assert wire.cluster_key == town.cluster_key
    add(session, region.spring_feed, "Library adds Sunday hours", 4)
    spring = curate(session, region.letter, region.springfield, AT)
    river = curate(session, region.letter, region.riverton, AT)
    assert titles(spring, "top")[0] == "State Legislature Passes Rural Broadband Bill"
    assert titles(river, "top")[0] == "State legislature passes rural broadband bill"
    for curation in (spring, river):
        keys = all_cards(curation)
        assert len(keys) == len(set(keys))
        assert keys.count(wire.cluster_key) == 1
    card = spring.sections[0].stories[0]
    assert (card.story_id, card.source, card.rank) == (town.id, "Springfield Times", 0)


def test_top_ranks_by_popularity_with_recency_decay_and_picks_first(
    session: Session, region: Region
) -> None:
    fresh = add(session, region.regional, "Fresh regional story", 1)
    popular = add(session, region.wire, "Popular wire story from this morning", 5)
    stale = add(session, region.wire, "Popular but old wire story", 40)
    pick = add(session, region.regional, "Editors like this one", 20)
    popular.popularity, stale.popularity = 1.0, 1.0
    pick.editors_pick = True
    session.flush()
    top = curate(session, region.letter, region.springfield, AT)
    assert titles(top, "top") == [
        "Editors like this one",
        "Popular wire story from this morning",
        "Fresh regional story",
    ]
    assert top.sections[0].stories[0].editors_pick
    assert fresh.id in {card.story_id for card in top.sections[0].stories}
    assert stale.id not in {card.story_id for s in top.sections for card in s.stories}


def test_local_is_the_towns_own_stories_newest_and_most_read_first(
    session: Session, region: Region
) -> None:
    region.letter.sections = {"top": 1, "local": 3}
    add(session, region.wire, "A wire story for the top slot", 1)
    add(session, region.spring_feed, "Old local story", 30)
    add(session, region.spring_feed, "New local story", 2)
    read = add(session, region.spring_feed, "Well read local story", 8)
    add(session, region.river_feed, "Riverton news only", 1)
    read.popularity = 1.0
    session.flush()
    curation = curate(session, region.letter, region.springfield, AT)
    assert titles(curation, "top") == ["A wire story for the top slot"]
    # Popularity lifts an 8-hour-old story above a 2-hour-old one; recency still counts.
    assert titles(curation, "local") == [
        "Well read local story",
        "New local story",
        "Old local story",
    ]
    assert curation.sections[1].title == "Local: Springfield"


def test_caps_and_optional_sections(session: Session, region: Region) -> None:
    region.letter.sections = {"top": 2, "local": 1, "most_read": 1, "just_posted": 2}
    for i in range(6):
        add(session, region.regional, f"Regional story number {i}", i + 1)
    for i in range(3):
        add(session, region.spring_feed, f"Springfield story number {i}", i + 1)
    read = add(session, region.wire, "Much read wire story today", 30)
    read.popularity = 0.1
    session.flush()
    curation = curate(session, region.letter, region.springfield, AT)
    assert [(s.key, len(s.stories)) for s in curation.sections] == [
        ("top", 2),
        ("local", 1),
        ("most_read", 1),
        ("just_posted", 2),
    ]
    assert titles(curation, "most_read") == ["Much read wire story today"]
    assert [card.rank for s in curation.sections for card in s.stories] == list(range(6))


def test_only_stories_inside_the_window_count(session: Session, region: Region) -> None:
    region.letter.window_hours = 24
    add(session, region.spring_feed, "Inside the window", 23)
    add(session, region.spring_feed, "Outside the window", 25)
    add(session, region.spring_feed, "Not yet seen at that time", 1, seen_hours_ago=-1)
    curation = curate(session, region.letter, region.springfield, AT)
    assert titles(curation, "local") == ["Inside the window"]
    assert curation.window_start == AT - timedelta(hours=24)


def test_a_story_left_out_yesterday_can_come_today_one_sent_never(
    session: Session, region: Region
) -> None:
    region.letter.sections = {"top": 0, "local": 1}
    add(session, region.spring_feed, "Sent yesterday", 30)
    add(session, region.spring_feed, "Left out yesterday", 31)
    first = curate(session, region.letter, region.springfield, AT - 24 * H)
    assert titles(first, "local") == ["Sent yesterday"]
    send(session, region.letter, region.springfield, first, AT - 24 * H)
    second = curate(session, region.letter, region.springfield, AT)
    assert titles(second, "local") == ["Left out yesterday"]
    assert second.window_start == AT - 48 * H


def test_an_edition_built_ahead_counts_before_its_send_time(
    session: Session, region: Region
) -> None:
    add(session, region.wire, "Governor signs water rights compact", 3)
    # Tomorrow's edition, built now: its send time has not come yet.
    tomorrow = curate(session, region.letter, region.springfield, AT + 24 * H)
    send(session, region.letter, region.springfield, tomorrow, AT + 24 * H, EditionStatus.READY)
    add(session, region.regional, "Another regional story", 1)
    after = curate(session, region.letter, region.springfield, AT + 30 * H)
    assert titles(after, "top") == ["Another regional story"]
    # And the edition of the slot itself sees its own stories (built again, it would match).
    again = curate(
        session,
        region.letter,
        region.springfield,
        AT + 24 * H,
        slot=(AT + 24 * H).replace(tzinfo=None),
    )
    assert "Governor signs water rights compact" in titles(again, "top")


def test_a_cluster_is_never_sent_twice_to_the_same_town(session: Session, region: Region) -> None:
    add(session, region.wire, "Governor signs water rights compact", 12)
    first = curate(session, region.letter, region.springfield, AT - 6 * H)
    send(session, region.letter, region.springfield, first, AT - 6 * H)
    # The town's site carries the same wire story later: it is the same cluster, already sent.
    add(session, region.spring_feed, "Governor Signs Water Rights Compact", 2)
    add(session, region.spring_feed, "Something new in town", 1)
    second = curate(session, region.letter, region.springfield, AT)
    assert titles(second, "top") + titles(second, "local") == ["Something new in town"]
    # Riverton never got it: it still does.
    river = curate(session, region.letter, region.riverton, AT)
    assert "Governor signs water rights compact" in titles(river, "top")


def test_an_edition_cancelled_before_sending_does_not_count(
    session: Session, region: Region
) -> None:
    add(session, region.wire, "Governor signs water rights compact", 12)
    first = curate(session, region.letter, region.springfield, AT - 6 * H)
    send(session, region.letter, region.springfield, first, AT - 6 * H, EditionStatus.CANCELLED)
    again = curate(session, region.letter, region.springfield, AT)
    assert titles(again, "top") == ["Governor signs water rights compact"]


def test_nothing_new_is_skipped_with_a_reason(session: Session, region: Region) -> None:
    add(session, region.spring_feed, "Last week's news", 24 * 7)
    curation = curate(session, region.letter, region.springfield, AT)
    assert curation.sections == []
    assert curation.skip_reason == "nothing new for Springfield since 2026-11-22 14:00 UTC"


def test_curation_is_deterministic(session: Session, region: Region) -> None:
    for i in range(8):  # equal times and scores: only the tie-break decides
        add(session, region.regional, f"Tied regional story {i}", 3)
        add(session, region.spring_feed, f"Tied local story {i}", 3)
    runs = [curate(session, region.letter, region.springfield, AT) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert len(all_cards(runs[0])) == 6


def test_a_story_only_the_town_carries_is_local_not_top(session: Session, region: Region) -> None:
    add(session, region.spring_feed, "Springfield only story", 1)
    add(session, region.wire, "Wire story from the region", 6)
    curation = curate(session, region.letter, region.springfield, AT)
    assert titles(curation, "top") == ["Wire story from the region"]
    assert titles(curation, "local") == ["Springfield only story"]
    # Another town's small story stays out of Riverton's Top (and its Local)...
    river = curate(session, region.letter, region.riverton, AT)
    assert titles(river, "top") == ["Wire story from the region"]
    assert titles(river, "local") == []


def test_another_towns_story_is_top_when_regionally_popular_or_picked(
    session: Session, region: Region
) -> None:
    popular = add(session, region.spring_feed, "Springfield story the region reads", 1)
    picked = add(session, region.spring_feed, "Springfield story an editor picked", 2)
    add(session, region.spring_feed, "Springfield library opens", 3)
    popular.popularity, picked.editors_pick = 0.6, True
    session.flush()
    river = curate(session, region.letter, region.riverton, AT)
    assert titles(river, "top") == [
        "Springfield story an editor picked",
        "Springfield story the region reads",
    ]
    # The threshold is the newsletter's.
    region.letter.weights = {"regional_popularity": 0.8}
    session.flush()
    river = curate(session, region.letter, region.riverton, AT)
    assert titles(river, "top") == ["Springfield story an editor picked"]


def test_a_story_stored_between_two_curations_in_one_session_is_seen(
    session: Session, region: Region
) -> None:
    add(session, region.spring_feed, "First local story", 3)
    before = curate(session, region.letter, region.springfield, AT)
    add(session, region.spring_feed, "Second local story", 2)
    after = curate(session, region.letter, region.springfield, AT)
    assert titles(before, "local") == ["First local story"]
    assert titles(after, "local") == ["Second local story", "First local story"]


def test_an_edited_story_between_two_curations_is_seen(session: Session, region: Region) -> None:
    add(session, region.regional, "Regional story one", 1)
    second = add(session, region.regional, "Regional story two", 2)
    assert titles(curate(session, region.letter, region.springfield, AT), "top")[0] == (
        "Regional story one"
    )
    second.editors_pick = True
    session.flush()
    assert titles(curate(session, region.letter, region.springfield, AT), "top")[0] == (
        "Regional story two"
    )
