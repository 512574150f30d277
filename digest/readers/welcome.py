"""The welcome email's promise: when the first edition comes, true to the newsletter.

"Tomorrow morning" is only right for a morning letter confirmed the evening before: the
sentence is computed from the newsletter's schedule in the reader's town, the reader's
frequency (a weekly reader waits for the weekly day) and the newsletter's kind (alerts come
when there is news).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.curation.schedules import slots_between, zone
from digest.i18n import DEFAULT_LANGUAGE, ENGLISH, clock, supported, translated, weekday
from digest.models import Newsletter
from digest.readers.audiences import WEEKLY

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def part_of_day(hour: int) -> str:
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def _today(part: str, language: str) -> str:
    if part == "morning":
        return translated(language, "this morning")
    if part == "afternoon":
        return translated(language, "this afternoon")
    if part == "evening":
        return translated(language, "this evening")
    return translated(language, "tonight")


def _tomorrow(part: str, language: str) -> str:
    if part == "morning":
        return translated(language, "tomorrow morning")
    if part == "afternoon":
        return translated(language, "tomorrow afternoon")
    if part == "evening":
        return translated(language, "tomorrow evening")
    return translated(language, "tonight")


def _on_day(day: str, part: str, language: str) -> str:
    if part == "morning":
        return translated(language, "on {day} morning", day=day)
    if part == "afternoon":
        return translated(language, "on {day} afternoon", day=day)
    if part == "evening":
        return translated(language, "on {day} evening", day=day)
    return translated(language, "on {day} night", day=day)


def first_edition(
    newsletter: Newsletter,
    frequency: str,
    timezone: str,
    town: str,
    now: datetime,
    weekly_day: str,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """One sentence in `language`: when the reader's first edition of `newsletter` arrives."""
    name = newsletter.name
    if newsletter.kind == "alert":
        return translated(
            language,
            "{newsletter}: we write only when there is breaking news in {town}.",
            newsletter=name,
            town=town,
        )
    local_now = now.astimezone(zone(timezone)).replace(tzinfo=None)
    for slot in slots_between(newsletter.schedule, timezone, now, now + timedelta(days=15)):
        if frequency == WEEKLY and slot.weekday() != WEEKDAYS.index(weekly_day):
            continue
        time = f"{slot:%H:%M}" if supported(language) == ENGLISH else clock(slot, language)
        days = (slot.date() - local_now.date()).days
        part = part_of_day(slot.hour)
        on_day = _on_day(weekday(slot, language), part, language)
        if frequency == WEEKLY:
            return translated(
                language,
                "{newsletter}: your first weekly edition, the week's best, arrives {when} "
                "at {time}.",
                newsletter=name,
                when=on_day,
                time=time,
            )
        when = {0: _today, 1: _tomorrow}.get(days)
        return translated(
            language,
            "{newsletter}: your first edition arrives {when} at {time}.",
            newsletter=name,
            when=when(part, language) if when else on_day,
            time=time,
        )
    return translated(
        language, "{newsletter}: your first edition arrives with the next edition.", newsletter=name
    )
