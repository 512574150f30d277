"""Previews: a town's next edition as it would go out, curated from the stories known now.

Nothing is written: the preview is curated and rendered in memory, and its HTML is the web
variant (no greeting, address or personal links), so it can be shown to an editor as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest.curation.curate import curate
from digest.curation.schedules import slot_instant, slots_between
from digest.models import Community, Newsletter
from digest.render.render import render_segment, web_version_html
from digest.settings import Settings
from digest.sponsors.choose import choose_slots

# A schedule fires at least once a week; look a little further to be sure to find a slot.
HORIZON = timedelta(days=8)


@dataclass(frozen=True)
class Preview:
    """A town's next edition: its slot and either its rendered page or why it would be skipped."""

    newsletter: str
    town: str
    slot: datetime | None  # naive local wall-clock time; None when the schedule never fires
    send_at: datetime  # aware UTC instant the stories were curated for
    subject: str = ""
    html: str = ""  # the web variant: safe to show as is
    stories: int = 0
    dropped_stories: int = 0
    skip_reason: str | None = None
    sponsors: tuple[str, ...] = ()  # "position: sponsor (campaign)" for each filled slot


def next_slot(newsletter: Newsletter, town: Community, now: datetime) -> datetime | None:
    """The town's next local slot of the newsletter's schedule after `now` (aware), or None."""
    return next(iter(slots_between(newsletter.schedule, town.timezone, now, now + HORIZON)), None)


def preview_next_edition(
    session: Session, settings: Settings, newsletter: Newsletter, town: Community, now: datetime
) -> Preview:
    """Curate and render the town's next edition as of its next slot. Reads only.

    Raises DigestError for a bad schedule, time zone or template.
    """
    slot = next_slot(newsletter, town, now)
    at = slot_instant(slot, town.timezone) if slot is not None else now
    edition_date = slot.date() if slot is not None else now.date()
    curation = curate(session, newsletter, town, at)
    if curation.skip_reason is not None:
        return Preview(newsletter.slug, town.slug, slot, at, skip_reason=curation.skip_reason)
    # The sponsors booked (or swapped in) for that day, as the frozen segment will carry them.
    sponsors = choose_slots(session, newsletter, town, edition_date)
    rendered = render_segment(
        settings, newsletter, town, curation.sections, edition_date, sponsors=sponsors
    )
    return Preview(
        newsletter.slug,
        town.slug,
        slot,
        at,
        subject=rendered.subject,
        html=web_version_html(rendered.html),
        stories=sum(len(section.stories) for section in rendered.sections),
        dropped_stories=rendered.dropped_stories,
        sponsors=tuple(
            f"{slot.position}: {slot.sponsor}{' (house ad)' if slot.house else ''}"
            for slot in sponsors.values()
        ),
    )
