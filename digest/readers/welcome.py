"""The welcome email's promise: when the first edition comes, true to the newsletter.

"Tomorrow morning" is only right for a morning letter confirmed the evening before: the
sentence is computed from the newsletter's schedule in the reader's town, the reader's
frequency (a weekly reader waits for the weekly day) and the newsletter's kind (alerts come
when there is news).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.curation.schedules import slots_between, zone
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


def first_edition(
    newsletter: Newsletter,
    frequency: str,
    timezone: str,
    town: str,
    now: datetime,
    weekly_day: str,
) -> str:
    """One sentence: when the reader's first edition of `newsletter` arrives."""
    if newsletter.kind == "alert":
        return f"{newsletter.name}: we write only when there is breaking news in {town}."
    local_now = now.astimezone(zone(timezone)).replace(tzinfo=None)
    for slot in slots_between(newsletter.schedule, timezone, now, now + timedelta(days=15)):
        if frequency == WEEKLY and slot.weekday() != WEEKDAYS.index(weekly_day):
            continue
        when = f"at {slot:%H:%M}"
        days = (slot.date() - local_now.date()).days
        part = part_of_day(slot.hour)
        if frequency == WEEKLY:
            return (
                f"{newsletter.name}: your first weekly edition, the week's best, arrives on "
                f"{slot:%A} {part} {when}."
            )
        day = {0: "this", 1: "tomorrow"}.get(days)
        if day == "this":
            return f"{newsletter.name}: your first edition arrives this {part} {when}."
        if day == "tomorrow":
            part_phrase = "tonight" if part == "night" else f"tomorrow {part}"
            return f"{newsletter.name}: your first edition arrives {part_phrase} {when}."
        return f"{newsletter.name}: your first edition arrives on {slot:%A} {part} {when}."
    return f"{newsletter.name}: your first edition arrives with the next edition."
