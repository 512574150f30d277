"""Schedules: when a newsletter's slots fall, as wall-clock times in each town's time zone.

A schedule is a cron line ("0 6 * * *") or a phrase ("daily 06:00", "weekly mon 06:00").
Slots are naive local times, the same for every town; a town's slot happens at that wall-clock
time in its own zone. Across daylight-saving changes every slot happens exactly once: a slot in
the skipped hour (02:30 on the spring-forward day) happens at the moment the clocks jump, and a
slot in the repeated hour happens at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from digest.errors import DigestError

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
PHRASE = re.compile(
    r"^(?P<every>daily|weekly\s+(?P<day>sun|mon|tue|wed|thu|fri|sat))\s+"
    r"(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)$"
)


def cron_line(schedule: str) -> str:
    """The cron line for a schedule; raises DigestError naming the schedule when it is bad."""
    text = " ".join(schedule.lower().split())
    match = PHRASE.match(text)
    if match:
        day = str(DAYS.index(match["day"])) if match["day"] else "*"
        return f"{int(match['minute'])} {int(match['hour'])} * * {day}"
    if not croniter.is_valid(text) or len(text.split()) != 5:
        raise DigestError(
            f"schedule {schedule!r} is not understood "
            "(write a cron line like '0 6 * * *', or 'daily 06:00', or 'weekly mon 06:00')"
        )
    return text


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DigestError(
            f"unknown time zone {name!r} (use an IANA name like America/Denver)"
        ) from None


def slot_instant(slot: datetime, timezone: str) -> datetime:
    """When a naive local slot happens in a town, in UTC (see the module's DST rule)."""
    tz = zone(timezone)
    local = slot.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != slot:
        # A wall-clock time that does not exist that day: the clocks jumped over it.
        # Happen at the jump, which is the earliest instant after the slot's naive time.
        instant = _jump_after(slot, tz)
    return instant


def _jump_after(slot: datetime, tz: ZoneInfo) -> datetime:
    probe = slot.replace(minute=0, second=0, microsecond=0)
    while probe.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != probe:
        probe += timedelta(minutes=1)  # walk to the first wall-clock minute that exists
    return probe.replace(tzinfo=tz).astimezone(UTC)


def slots_between(
    schedule: str, timezone: str, after: datetime, until: datetime
) -> Iterator[datetime]:
    """Naive local slots whose instants fall in (after, until], oldest first (aware bounds)."""
    tz = zone(timezone)
    # Start a day early in wall-clock time: DST can move an instant an hour across `after`.
    start = after.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    times = croniter(cron_line(schedule), start)
    while True:
        slot: datetime = times.get_next(datetime)
        instant = slot_instant(slot, timezone)
        if instant > until:
            return
        if instant > after:
            yield slot
