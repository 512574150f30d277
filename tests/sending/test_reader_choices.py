"""Readers' own mix in the edition: other towns, some sections only, weekly, a pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import (
    Community,
    ConsentAction,
    ConsentEvent,
    Delivery,
    EditionSegment,
    Feed,
    Newsletter,
    Story,
    Subscriber,
)
from digest.readers.choices import pause, set_frequency, set_interests, set_other_towns
from digest.readers.consent import Origin
from digest.sending.delivery import start_sending
from digest.sending.editions import build_edition
from digest.settings import load_settings
from tests import factories

TUESDAY = datetime(2026, 11, 24, 6, 0)  # the weekly day in these tests
MONDAY = datetime(2026, 11, 23, 6, 0)
AT_TUESDAY = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 06:00 in Springfield
AT_MONDAY = AT_TUESDAY - timedelta(days=1)
PAGE = Origin("preferences page", ip="203.0.113.9")


def feed(session: Session, town: Community | None, section: str) -> Feed:
    made = Feed(
        url=f"https://news.example/{town.slug if town else 'wire'}/{section}.xml",
        community_id=town.id if town else None,
        section=section,
    )
    session.add(made)
    session.flush()
    return made


def story(
    session: Session, source: Feed, name: str, hours_ago: int, cluster: str = "", day: int = 1
) -> Story:
    when = AT_MONDAY + timedelta(days=day) - timedelta(hours=hours_ago)
    made = Story(
        feed_id=source.id,
        community_id=source.community_id,
        guid=name,
        url=f"https://news.example/{name}",
        title=name,
        published_at=when,
        first_seen_at=when,
        content_hash=name,
        cluster_key=cluster or name,
        section=source.section,
    )
    session.add(made)
    return made


def setting_up(session: Session) -> tuple[Newsletter, Subscriber, Subscriber]:
    springfield, riverton, lakeside = factories.towns(session)
    letter = factories.newsletter(session)
    letter.sections = {"top": 3, "local": 5}  # room for a whole week of a town's news
    for town in (springfield, riverton, lakeside):
        news, sports, schools = (feed(session, town, s) for s in ("news", "sports", "schools"))
        for n in range(2):  # one of each before Monday's edition, one before Tuesday's
            story(session, news, f"{town.slug}-news-{n}", 2, day=n)
            story(session, sports, f"{town.slug}-sports-{n}", 3, day=n)
            story(session, schools, f"{town.slug}-schools-{n}", 1, day=n)
    # One wire story both towns' news sites carry: one cluster, two copies.
    for town in (springfield, riverton):
        news = session.scalars(select(Feed).where(Feed.url.contains(f"/{town.slug}/news"))).one()
        story(session, news, f"{town.slug}-copy-of-the-fire", 1, cluster="the-fire")
    session.flush()
    mixer, plain = factories.readers(session, letter, springfield, 2)
    set_other_towns(session, mixer.id, ["riverton"], PAGE, AT_MONDAY)
    set_interests(session, mixer.id, "morning", ["sports", "news"], PAGE, AT_MONDAY)
    set_frequency(session, mixer.id, "morning", "weekly", PAGE, AT_MONDAY)
    return letter, mixer, plain


def delivered(session: Session, edition_id: int, reader: Subscriber) -> EditionSegment | None:
    delivery = session.scalars(
        select(Delivery).where(
            Delivery.edition_id == edition_id, Delivery.subscriber_id == reader.id
        )
    ).one_or_none()
    return None if delivery is None else session.get(EditionSegment, delivery.segment_id)


def test_two_towns_sports_and_news_weekly_get_both_towns_news_once(session: Session) -> None:
    settings = load_settings(weekly_day="tuesday")
    letter, mixer, plain = setting_up(session)

    monday = build_edition(session, settings, letter, MONDAY, AT_MONDAY)
    start_sending(session, monday, AT_MONDAY)
    assert delivered(session, monday.id, mixer) is None  # weekly: nothing on a Monday
    assert delivered(session, monday.id, plain) is not None

    tuesday = build_edition(session, settings, letter, TUESDAY, AT_TUESDAY)
    start_sending(session, tuesday, AT_TUESDAY)
    mine = delivered(session, tuesday.id, mixer)
    theirs = delivered(session, tuesday.id, plain)
    assert mine is not None
    assert theirs is not None
    assert mine.id != theirs.id
    stories = [session.get_one(Story, story_id) for story_id in mine.story_ids]
    local = {
        section["title"]: {
            session.get_one(Story, card["story_id"]).community_id for card in section["stories"]
        }
        for section in mine.sections
        if section["key"] == "local"
    }
    town_ids = {c.slug: c.id for c in session.scalars(select(Community))}
    assert local == {
        "Local: Springfield": {town_ids["springfield"]},
        "Local: Riverton": {town_ids["riverton"]},
    }
    assert {s.section for s in stories} <= {"news", "sports"}
    # The week's best: Monday's stories too, which this reader never had.
    assert {"riverton-news-0", "springfield-news-0"} <= {s.guid for s in stories}
    assert len(mine.cluster_keys) == len(set(mine.cluster_keys))  # nothing twice
    assert mine.cluster_keys.count("the-fire") == 1
    assert "Local: Riverton" in mine.html
    assert "Local: Riverton" not in theirs.html
    # The plain reader's segment is the town's edition: schools included, no Riverton.
    assert any("schools" in guid for guid in guids(session, theirs))


def guids(session: Session, segment: EditionSegment) -> list[str]:
    return [session.get_one(Story, story_id).guid for story_id in segment.story_ids]


def test_each_choice_is_a_consent_event(session: Session) -> None:
    _, mixer, _ = setting_up(session)
    events = session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscriber_id == mixer.id).order_by(ConsentEvent.id)
    ).all()
    assert [e.action for e in events] == [ConsentAction.PREFERENCES] * 3
    assert [sorted(e.detail) for e in events] == [["towns"], ["interests"], ["frequency"]]
    assert events[1].detail["interests"] == {"from": None, "to": ["news", "sports"]}
    assert events[0].ip == "203.0.113.9"


def test_a_paused_reader_gets_nothing_until_the_pause_ends(session: Session) -> None:
    settings = load_settings(weekly_day="tuesday")
    letter, _, plain = setting_up(session)
    pause(session, plain.id, 1, PAGE, AT_MONDAY - timedelta(hours=1))
    monday = build_edition(session, settings, letter, MONDAY, AT_MONDAY)
    start_sending(session, monday, AT_MONDAY)
    assert delivered(session, monday.id, plain) is None
    news = session.scalars(select(Feed).where(Feed.url.contains("/springfield/news"))).one()
    story(session, news, "a-week-later", 1, day=7)
    later = build_edition(
        session, settings, letter, MONDAY + timedelta(days=7), AT_MONDAY + timedelta(days=7)
    )
    start_sending(session, later, AT_MONDAY + timedelta(days=7))
    assert delivered(session, later.id, plain) is not None
