"""Previews: a town's next edition as it would go out, curated from the stories known now.

Nothing is written: the preview is curated and rendered in memory. `curate_next` is the one
definition of "the next edition" that the admin preview and `digest preview` share: the
town's next slot in its own zone, curated for that slot as the scheduler would build it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from digest.curation.curate import Curation, curate
from digest.curation.schedules import slot_instant
from digest.models import Community, Newsletter
from digest.render.placeholders import web_version_html
from digest.render.render import RenderedSegment, render_segment
from digest.sending.slots import next_slot
from digest.settings import Settings
from digest.sponsors.choose import choose_slots


@dataclass(frozen=True)
class NextEdition:
    """A town's next slot (None when the schedule never fires), its instant and its stories."""

    slot: datetime | None
    send_at: datetime
    curation: Curation


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
    rendered: RenderedSegment | None = None  # the email variant, for a sample message
    sponsors: tuple[str, ...] = ()  # "position: sponsor (campaign)" for each filled slot


def curate_next(
    session: Session, newsletter: Newsletter, town: Community, now: datetime
) -> NextEdition:
    """The town's next edition after `now` (aware), curated as the scheduler will. Reads only."""
    slot = next_slot(newsletter, town, now)
    if slot is None:
        return NextEdition(None, now, curate(session, newsletter, town, now))
    at = slot_instant(slot, town.timezone)
    return NextEdition(slot, at, curate(session, newsletter, town, max(now, at), slot=slot))


def preview_next_edition(
    session: Session, settings: Settings, newsletter: Newsletter, town: Community, now: datetime
) -> Preview:
    """Curate and render the town's next edition as of its next slot. Reads only.

    Raises DigestError for a bad schedule, time zone or template.
    """
    upcoming = curate_next(session, newsletter, town, now)
    slot, at, curation = upcoming.slot, upcoming.send_at, upcoming.curation
    if curation.skip_reason is not None:
        return Preview(newsletter.slug, town.slug, slot, at, skip_reason=curation.skip_reason)
    edition_date = slot.date() if slot is not None else now.date()
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
        rendered=rendered,
        sponsors=tuple(
            f"{ad.position}: {ad.sponsor}{' (house ad)' if ad.house else ''}"
            for ad in sponsors.values()
        ),
    )
