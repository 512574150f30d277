"""Schedules in each town's time zone, across both daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.curation.schedules import cron_line, slot_instant, slots_between
from digest.errors import DigestError

PACIFIC = "America/Los_Angeles"
MOUNTAIN = "America/Denver"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "cron"),
    [
        ("daily 06:00", "0 6 * * *"),
        ("weekly mon 6:30", "30 6 * * 1"),
        ("0 6 * * 1-5", "0 6 * * 1-5"),
    ],
)
def test_phrases_and_cron_lines(schedule: str, cron: str) -> None:
    assert cron_line(schedule) == cron


@pytest.mark.parametrize("schedule", ["daily 25:00", "sometimes", "0 6 * *", ""])
def test_a_bad_schedule_names_itself(schedule: str) -> None:
    with pytest.raises(DigestError, match="is not understood"):
        cron_line(schedule)


def test_six_oclock_is_six_oclock_in_each_town() -> None:
    slot = datetime(2026, 11, 24, 6, 0)
    assert slot_instant(slot, PACIFIC) == utc(2026, 11, 24, 14, 0)
    assert slot_instant(slot, MOUNTAIN) == utc(2026, 11, 24, 13, 0)


def test_daily_slots_for_two_towns_over_a_day() -> None:
    after, until = utc(2026, 11, 24, 0, 0), utc(2026, 11, 25, 0, 0)
    assert list(slots_between("daily 06:00", PACIFIC, after, until)) == [datetime(2026, 11, 24, 6)]
    assert list(slots_between("daily 06:00", MOUNTAIN, after, until)) == [datetime(2026, 11, 24, 6)]


def test_spring_forward_neither_skips_nor_doubles() -> None:
    # 2026-03-08: Pacific clocks jump from 02:00 to 03:00.
    after, until = utc(2026, 3, 7, 15, 0), utc(2026, 3, 10, 15, 0)
    daily_six = list(slots_between("daily 06:00", PACIFIC, after, until))
    assert daily_six == [datetime(2026, 3, d, 6) for d in (8, 9, 10)]
    assert slot_instant(datetime(2026, 3, 8, 6), PACIFIC) == utc(2026, 3, 8, 13, 0)  # PDT
    in_the_gap = list(slots_between("30 2 * * *", PACIFIC, after, until))
    assert in_the_gap == [datetime(2026, 3, d, 2, 30) for d in (8, 9, 10)]
    assert slot_instant(datetime(2026, 3, 8, 2, 30), PACIFIC) == utc(2026, 3, 8, 10, 0)  # 03:00 PDT


def test_fall_back_neither_skips_nor_doubles() -> None:
    # 2026-11-01: Pacific clocks fall back from 02:00 to 01:00; 01:30 happens twice.
    after, until = utc(2026, 10, 31, 15, 0), utc(2026, 11, 3, 15, 0)
    daily_six = list(slots_between("daily 06:00", PACIFIC, after, until))
    assert daily_six == [datetime(2026, 11, d, 6) for d in (1, 2, 3)]
    assert slot_instant(datetime(2026, 11, 1, 6), PACIFIC) == utc(2026, 11, 1, 14, 0)  # PST
    twice = list(slots_between("30 1 * * *", PACIFIC, after, until))
    assert twice == [datetime(2026, 11, d, 1, 30) for d in (1, 2, 3)]
    assert slot_instant(datetime(2026, 11, 1, 1, 30), PACIFIC) == utc(2026, 11, 1, 8, 30)  # first


def test_an_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(DigestError, match="unknown time zone 'Mars/Olympus'"):
        slot_instant(datetime(2026, 11, 24, 6), "Mars/Olympus")
