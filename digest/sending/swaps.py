"""The editor's sponsor swap for one edition and town, before any reader of it is mailed.

Before the town's segment is built, the swap is recorded and the build picks it up. A segment
built ahead and not yet started is rendered again from its frozen stories with the new ad, so
every reader of the town still gets the same one. Once the town has started sending, a swap
is refused.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.communities import get_community
from digest.curation.newsletters import get_newsletter
from digest.curation.sections import Section
from digest.errors import DigestError
from digest.models import Edition, EditionSegment, SponsorSwap
from digest.render.render import render_segment
from digest.sending.editions import freeze
from digest.settings import Settings
from digest.sponsors.choose import choose_slots, placements, swap_slot


def swap_sponsor(
    session: Session,
    settings: Settings,
    newsletter_slug: str,
    day: date,
    town_slug: str,
    campaign_slug: str,
    now: datetime,
) -> SponsorSwap:
    """Put the campaign in its slot of that day's edition in that town. Does not commit.

    Raises DigestError when the town's segment has started sending, or as `swap_slot` does.
    """
    newsletter = get_newsletter(session, newsletter_slug)
    town = get_community(session, town_slug)
    # Locked, so the scheduler cannot start the segment between this check and the new HTML.
    segment = session.scalars(
        select(EditionSegment)
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .where(
            Edition.newsletter_id == newsletter.id,
            EditionSegment.community_id == town.id,
            Edition.slot >= datetime.combine(day, datetime.min.time()),
            Edition.slot <= datetime.combine(day, datetime.max.time()),
        )
        .with_for_update(of=EditionSegment)
    ).first()
    if segment is not None and segment.started_at is not None:
        raise DigestError(
            f"the {day} edition of {newsletter_slug!r} for {town_slug!r} has started sending; "
            "every reader of it gets the ad it was frozen with"
        )
    swap = swap_slot(session, newsletter_slug, day, town_slug, campaign_slug, now)
    if segment is not None and segment.skip_reason is None and segment.html:
        _render_again(session, settings, segment, day)
    return swap


def _render_again(session: Session, settings: Settings, segment: EditionSegment, day: date) -> None:
    newsletter, town = segment.edition.newsletter, segment.community
    sponsors = choose_slots(session, newsletter, town, day)
    sections = [Section.from_json(data) for data in segment.sections]
    rendered = render_segment(
        settings, newsletter, town, sections, day, edition_id=segment.edition_id, sponsors=sponsors
    )
    segment.placements.clear()
    session.flush()  # the old rows go before the new ones take their (segment, position)
    segment.placements.extend(placements(sponsors))
    freeze(segment, rendered)
