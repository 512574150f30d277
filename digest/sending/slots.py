"""Which slot each town is due, in its own time zone, and building those editions.

A newsletter's slot is a local wall-clock time ("06:00 on 2 December"); each town reaches it at
its own instant. Towns in different zones can be due different slots at the same moment
(Hilo's "next 06:00" is still today when Berlin's is tomorrow), so building "the next edition"
builds one edition per distinct slot, each with the towns due it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest.curation.schedules import slots_between
from digest.models import Community, Edition, EditionStatus, Newsletter
from digest.sending.audience_segments import audience_segments
from digest.sending.editions import (
    add_segment,
    build_segment,
    edition_for_slot,
    last_slot_instant,
    reader_towns,
    settle_skipped,
)
from digest.settings import Settings

# An edition in these states that gains a town's segment with stories is ready to send (again).
REOPENED = (EditionStatus.BUILDING, EditionStatus.SENT, EditionStatus.SKIPPED)
# A schedule fires at least once a week; look a little further to be sure to find a slot.
HORIZON = timedelta(days=8)


def next_slot(newsletter: Newsletter, town: Community, after: datetime) -> datetime | None:
    """The town's first local slot whose instant is after `after` (aware), or None."""
    return next(
        iter(slots_between(newsletter.schedule, town.timezone, after, after + HORIZON)), None
    )


def latest_slot(newsletter: Newsletter, town: Community, now: datetime) -> datetime | None:
    """The town's latest local slot whose instant is at or before `now`, or None."""
    slots = list(slots_between(newsletter.schedule, town.timezone, now - HORIZON, now))
    return slots[-1] if slots else None


def next_due_slots(
    session: Session, newsletter: Newsletter, towns: list[Community], now: datetime
) -> dict[datetime, list[Community]]:
    """Each town's next slot not built yet (after `now` and after its last edition), grouped."""
    groups: dict[datetime, list[Community]] = defaultdict(list)
    for town in towns:
        last = last_slot_instant(session, newsletter, town)
        slot = next_slot(newsletter, town, max(now, last) if last else now)
        if slot is not None:
            groups[slot].append(town)
    return dict(sorted(groups.items()))


def latest_past_slots(
    newsletter: Newsletter, towns: list[Community], now: datetime
) -> dict[datetime, list[Community]]:
    """Each town's latest slot already reached (this morning's 06:00, in its zone), grouped."""
    groups: dict[datetime, list[Community]] = defaultdict(list)
    for town in towns:
        slot = latest_slot(newsletter, town, now)
        if slot is not None:
            groups[slot].append(town)
    return dict(sorted(groups.items()))


def build_slots(
    session: Session,
    settings: Settings,
    newsletter: Newsletter,
    groups: dict[datetime, list[Community]],
    now: datetime,
) -> list[Edition]:
    """Build each slot's edition for its towns; a town that has its segment keeps it.

    An edition that gains a segment with stories becomes ready (again, if it had been sent
    to other towns: only readers without a delivery get one). Does not commit.
    """
    built = []
    for slot, towns in groups.items():
        edition = edition_for_slot(session, newsletter, slot, now)
        session.flush()
        for town in towns:
            segment = build_segment(session, settings, edition, newsletter, town, now)
            extra = audience_segments(session, settings, edition, newsletter, town, now)
            # Every segment is added (a list, not a short-circuiting generator).
            fresh = [add_segment(session, s) and s.skip_reason is None for s in (segment, *extra)]
            added = any(fresh)
            if added and edition.status in REOPENED:
                edition.status = EditionStatus.READY
                edition.skip_reason = None
        settle_skipped(session, edition)
        built.append(edition)
    return built


def build_next(
    session: Session, settings: Settings, newsletter: Newsletter, now: datetime
) -> list[Edition]:
    """Build the next due slot of every town with readers, each in its own zone."""
    towns = reader_towns(session, newsletter)
    return build_slots(
        session, settings, newsletter, next_due_slots(session, newsletter, towns, now), now
    )
