"""Which ad fills each slot of one town's edition, chosen once when the segment is frozen.

For each position: the editor's swap for that day and town, else the paid campaign booked
there, else a house campaign, else nothing. What is chosen is rendered once per town, so every
reader of the segment gets the same ad, and the segment's placements record it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.communities import get_community
from digest.curation.newsletters import get_newsletter
from digest.errors import DigestError
from digest.models import (
    Campaign,
    Community,
    Newsletter,
    SponsorPlacement,
    SponsorSwap,
)
from digest.sponsors.campaigns import covers, get_campaign
from digest.sponsors.slots import POSITIONS, SponsorSlot, advertising_label, check_position


def choose_slots(
    session: Session, newsletter: Newsletter, town: Community, day: date
) -> dict[str, SponsorSlot]:
    """The ad of each filled position for the newsletter's edition of `day` in `town`."""
    live = [
        campaign
        for campaign in session.scalars(
            select(Campaign)
            .where(
                Campaign.cancelled_at.is_(None),
                Campaign.starts_on <= day,
                Campaign.ends_on >= day,
            )
            .order_by(Campaign.starts_on, Campaign.id)
        )
        if covers(campaign, newsletter.id, town.id, day)
    ]
    swaps = {
        swap.position: swap.campaign_id
        for swap in session.scalars(
            select(SponsorSwap).where(
                SponsorSwap.newsletter_id == newsletter.id,
                SponsorSwap.edition_date == day,
                SponsorSwap.community_id == town.id,
            )
        )
    }
    chosen: dict[str, SponsorSlot] = {}
    for position in POSITIONS:
        campaign = _pick(session, position, live, swaps.get(position))
        if campaign is not None:
            chosen[position] = slot_of(campaign)
    return chosen


def _pick(
    session: Session, position: str, live: list[Campaign], swapped_to: int | None
) -> Campaign | None:
    if swapped_to is not None:
        swapped = session.get(Campaign, swapped_to)
        if swapped is not None and swapped.cancelled_at is None:
            return swapped
    here = [campaign for campaign in live if campaign.position == position]
    paid = [campaign for campaign in here if not campaign.house]
    candidates = paid or here
    return candidates[0] if candidates else None


def slot_of(campaign: Campaign) -> SponsorSlot:
    """What the templates show for a campaign's creative."""
    creative = campaign.creative
    return SponsorSlot(
        position=campaign.position,
        label=advertising_label(creative.label, campaign.house),
        headline=creative.headline,
        text=creative.text,
        url=creative.link_url,
        image_url=creative.image_url,
        image_alt=creative.image_alt,
        sponsor=campaign.sponsor.name,
        campaign_id=campaign.id,
        creative_id=creative.id,
        house=campaign.house,
    )


def placements(slots: dict[str, SponsorSlot]) -> list[SponsorPlacement]:
    """The rows that freeze these slots with a segment (append to `segment.placements`)."""
    return [
        SponsorPlacement(
            position=slot.position, campaign_id=slot.campaign_id, creative_id=slot.creative_id
        )
        for slot in slots.values()
    ]


def swap_slot(
    session: Session,
    newsletter_slug: str,
    day: date,
    town_slug: str,
    campaign_slug: str,
    now: datetime,
) -> SponsorSwap:
    """Put a campaign in its position's slot of one day's edition in one town, over the booking.

    Raises DigestError when the campaign is cancelled or does not run that day. A segment
    already built is not changed here: `digest.sending.swaps.swap_sponsor` renders it again.
    """
    newsletter = get_newsletter(session, newsletter_slug)
    town = get_community(session, town_slug)
    campaign = get_campaign(session, campaign_slug)
    position = check_position(campaign.position)
    if campaign.cancelled_at is not None:
        raise DigestError(f"campaign {campaign_slug!r} is cancelled")
    if not campaign.starts_on <= day <= campaign.ends_on:
        raise DigestError(
            f"campaign {campaign_slug!r} runs from {campaign.starts_on} to {campaign.ends_on}, "
            f"not on {day}"
        )
    swap = session.scalar(
        select(SponsorSwap).where(
            SponsorSwap.newsletter_id == newsletter.id,
            SponsorSwap.edition_date == day,
            SponsorSwap.community_id == town.id,
            SponsorSwap.position == position,
        )
    )
    if swap is None:
        swap = SponsorSwap(
            newsletter_id=newsletter.id,
            edition_date=day,
            community_id=town.id,
            position=position,
            campaign_id=campaign.id,
            created_at=now,
        )
        session.add(swap)
    else:
        swap.campaign_id, swap.created_at = campaign.id, now
    session.flush()
    return swap
