"""Booking: one sponsor per slot per edition and town, house ads fill what is left, the
editor's swap wins for one day, and bad input is refused in one clear line."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from digest.errors import DigestError, NotFoundError
from digest.models import Community, Newsletter
from digest.sponsors.campaigns import (
    Booking,
    CreativeSpec,
    add_sponsor,
    book_campaign,
    cancel_campaign,
)
from digest.sponsors.choose import choose_slots, swap_slot
from digest.sponsors.slots import AFTER_TOP, BEFORE_FOOTER, PRESENTED_BY
from tests import factories
from tests.factories import NOW

DAY = date(2026, 12, 1)


@pytest.fixture
def places(session: Session) -> tuple[Newsletter, list[Community]]:
    towns = factories.towns(session)
    letter = factories.newsletter(session)
    add_sponsor(session, "hardware", "Main Street Hardware")
    add_sponsor(session, "bakery", "Corner Bakery")
    add_sponsor(session, "house", "Morning Digest")
    return letter, towns


def ad(headline: str = "Snow shovels, 20% off") -> CreativeSpec:
    return CreativeSpec(headline=headline, link_url="https://shop.example/winter")


def booking(
    towns: tuple[str, ...] = ("springfield",),
    position: str = AFTER_TOP,
    first: date = DAY,
    last: date = DAY + timedelta(days=6),
    house: bool = False,
) -> Booking:
    return Booking(position, first, last, ("morning",), towns, house)


def test_a_second_sponsor_for_the_same_slot_town_and_days_is_refused(
    session: Session, places: object
) -> None:
    book_campaign(session, "hardware", "hardware-dec", ad(), booking())
    with pytest.raises(DigestError) as refused:
        book_campaign(
            session,
            "bakery",
            "bakery-dec",
            ad("Fresh bread"),
            booking(
                ("springfield", "riverton"),
                first=DAY + timedelta(days=6),
                last=DAY + timedelta(days=9),
            ),
        )
    message = str(refused.value)
    assert "'bakery-dec' clashes with 'hardware-dec'" in message
    assert "after-top slot of morning in springfield from 2026-12-07 to 2026-12-07" in message
    assert "\n" not in message


def test_other_towns_positions_or_days_do_not_clash(session: Session, places: object) -> None:
    book_campaign(session, "hardware", "hardware-dec", ad(), booking())
    book_campaign(session, "bakery", "b1", ad(), booking(("riverton",)))
    book_campaign(session, "bakery", "b2", ad(), booking(position=BEFORE_FOOTER))
    book_campaign(
        session,
        "bakery",
        "b3",
        ad(),
        booking(first=DAY + timedelta(days=7), last=DAY + timedelta(days=8)),
    )
    book_campaign(session, "house", "house-all", ad(), booking((), house=True))


def test_a_campaign_for_every_town_clashes_with_one_for_a_town(
    session: Session, places: object
) -> None:
    book_campaign(session, "hardware", "hardware-dec", ad(), booking(("lakeside",)))
    with pytest.raises(DigestError, match="clashes with 'hardware-dec'"):
        book_campaign(session, "bakery", "everywhere", ad(), booking(()))


def test_a_cancelled_campaign_frees_its_slot(session: Session, places: object) -> None:
    book_campaign(session, "hardware", "hardware-dec", ad(), booking())
    cancel_campaign(session, "hardware-dec", NOW)
    book_campaign(session, "bakery", "bakery-dec", ad(), booking())
    with pytest.raises(DigestError, match="already cancelled"):
        cancel_campaign(session, "hardware-dec", NOW)


def test_the_paid_ad_goes_to_its_town_and_the_house_ad_everywhere_else(
    session: Session, places: tuple[Newsletter, list[Community]]
) -> None:
    letter, towns = places
    paid = book_campaign(session, "hardware", "hardware-dec", ad(), booking())
    house = book_campaign(
        session,
        "house",
        "house-all",
        ad("Advertise here"),
        booking((), last=DAY + timedelta(days=30), house=True),
    )
    chosen = {
        town.slug: choose_slots(session, letter, town, DAY + timedelta(days=2)) for town in towns
    }
    assert chosen["springfield"][AFTER_TOP].campaign_id == paid.id
    assert chosen["springfield"][AFTER_TOP].sponsor == "Main Street Hardware"
    assert not chosen["springfield"][AFTER_TOP].house
    for slug in ("riverton", "lakeside"):
        assert chosen[slug][AFTER_TOP].campaign_id == house.id
        assert chosen[slug][AFTER_TOP].house
    assert set(chosen["springfield"]) == {AFTER_TOP}  # nothing booked in the other positions
    outside = choose_slots(session, letter, towns[0], DAY + timedelta(days=7))
    assert outside[AFTER_TOP].campaign_id == house.id  # the paid one has ended


def test_the_editors_swap_wins_for_that_day_and_town_only(
    session: Session, places: tuple[Newsletter, list[Community]]
) -> None:
    letter, towns = places
    book_campaign(session, "hardware", "hardware-dec", ad(), booking())
    other = book_campaign(session, "bakery", "bakery-riverton", ad(), booking(("riverton",)))
    swap_slot(session, "morning", DAY, "springfield", "bakery-riverton", NOW)
    assert choose_slots(session, letter, towns[0], DAY)[AFTER_TOP].campaign_id == other.id
    assert choose_slots(session, letter, towns[0], DAY + timedelta(days=1))[AFTER_TOP].sponsor == (
        "Main Street Hardware"
    )
    with pytest.raises(DigestError, match="runs from 2026-12-01 to 2026-12-07, not on 2026-12-20"):
        swap_slot(session, "morning", date(2026, 12, 20), "springfield", "bakery-riverton", NOW)


@pytest.mark.parametrize(
    ("creative", "where", "message"),
    [
        (CreativeSpec("", "https://a.example"), booking(), "needs a headline"),
        (CreativeSpec("Hi", "javascript:alert(1)"), booking(), "not an absolute http(s) URL"),
        (
            CreativeSpec("Hi", "https://a.example", image_url="https://a.example/i.jpg"),
            booking(),
            "needs alt text",
        ),
        (CreativeSpec("Hi", "https://a.example"), booking(position="sidebar"), "unknown position"),
        (
            CreativeSpec("Hi", "https://a.example"),
            booking(first=DAY, last=DAY - timedelta(days=1)),
            "ends (2026-11-30) before it starts",
        ),
        (CreativeSpec("x" * 121, "https://a.example"), booking(), "at most 120"),
    ],
)
def test_bad_bookings_are_refused_with_a_clear_line(
    session: Session, places: object, creative: CreativeSpec, where: Booking, message: str
) -> None:
    with pytest.raises(DigestError, match=re.escape(message)):
        book_campaign(session, "hardware", "bad", creative, where)


def test_unknown_names_say_what_is_missing(session: Session, places: object) -> None:
    with pytest.raises(NotFoundError, match="no sponsor 'nobody'"):
        book_campaign(session, "nobody", "c", ad(), booking())
    with pytest.raises(NotFoundError, match="no community 'atlantis'"):
        book_campaign(session, "hardware", "c", ad(), booking(("atlantis",)))
    with pytest.raises(DigestError, match="already exists"):
        add_sponsor(session, "hardware", "Again")


def test_presented_by_is_its_own_slot(
    session: Session, places: tuple[Newsletter, list[Community]]
) -> None:
    letter, towns = places
    book_campaign(session, "hardware", "a", ad(), booking())
    book_campaign(session, "bakery", "b", ad(), booking(position=PRESENTED_BY))
    assert set(choose_slots(session, letter, towns[0], DAY)) == {PRESENTED_BY, AFTER_TOP}
