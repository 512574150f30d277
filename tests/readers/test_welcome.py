"""The welcome email promises the first edition when it really comes."""

from __future__ import annotations

from datetime import UTC, datetime

from digest.models import Newsletter
from digest.readers.welcome import first_edition

LA = "America/Los_Angeles"
EVENING_IN_LA = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Monday 19:00 in Los Angeles
MORNING_IN_LA = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 09:00 in Los Angeles


def letter(schedule: str, kind: str = "digest") -> Newsletter:
    return Newsletter(slug="x", name="The Letter", schedule=schedule, kind=kind)


def say(newsletter: Newsletter, now: datetime, frequency: str = "daily") -> str:
    return first_edition(newsletter, frequency, LA, "Springfield", now, "sunday")


def test_a_morning_letter_confirmed_in_the_evening_comes_tomorrow_morning() -> None:
    assert say(letter("daily 06:00"), EVENING_IN_LA) == (
        "The Letter: your first edition arrives tomorrow morning at 06:00."
    )


def test_an_evening_letter_confirmed_in_the_morning_comes_this_evening() -> None:
    assert say(letter("daily 18:00"), MORNING_IN_LA) == (
        "The Letter: your first edition arrives this evening at 18:00."
    )
    assert "tomorrow morning" not in say(letter("daily 18:00"), MORNING_IN_LA)


def test_a_weekly_reader_waits_for_the_weekly_day() -> None:
    assert say(letter("daily 06:00"), MORNING_IN_LA, "weekly") == (
        "The Letter: your first weekly edition, the week's best, arrives on Sunday morning "
        "at 06:00."
    )


def test_a_weekly_letter_names_its_day_and_alerts_promise_no_time() -> None:
    assert "on Friday morning at 07:00" in say(letter("weekly fri 07:00"), MORNING_IN_LA)
    assert say(letter("daily 06:00", kind="alert"), MORNING_IN_LA) == (
        "The Letter: we write only when there is breaking news in Springfield."
    )
