"""Sponsors and campaigns: add, list, book (refusing a clash), cancel.

One sponsor per slot per edition and town: two paid campaigns clash when their dates overlap
and they share the position, a newsletter and a town. House campaigns fill unsold slots and
never clash. Core functions: they take a Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.communities import check_slug, get_community
from digest.curation.newsletters import get_newsletter
from digest.errors import AlreadyExistsError, DigestError, NotFoundError
from digest.ingest.story_text import safe_url
from digest.models import Campaign, Community, Creative, Newsletter, Sponsor
from digest.sponsors.slots import check_position

HEADLINE_LIMIT = 120
TEXT_LIMIT = 300


@dataclass(frozen=True)
class CreativeSpec:
    """What a campaign shows: its label marks it as advertising; the image needs alt text."""

    headline: str
    link_url: str
    label: str = "Sponsored"
    text: str = ""
    image_url: str | None = None
    image_alt: str = ""


@dataclass(frozen=True)
class Booking:
    """Where and when a campaign runs; empty newsletters or towns mean every one."""

    position: str
    starts_on: date
    ends_on: date
    newsletters: tuple[str, ...] = ()
    towns: tuple[str, ...] = ()
    house: bool = False


def add_sponsor(session: Session, slug: str, name: str, contact: str | None = None) -> Sponsor:
    """Add an advertiser; raises DigestError for a bad slug or one already taken."""
    check_slug(slug, "sponsor")
    if session.scalar(select(Sponsor.id).where(Sponsor.slug == slug)) is not None:
        raise AlreadyExistsError("sponsor", f"sponsor {slug!r} already exists")
    sponsor = Sponsor(slug=slug, name=" ".join(name.split()) or slug, contact=contact or None)
    session.add(sponsor)
    session.flush()
    return sponsor


def get_sponsor(session: Session, slug: str) -> Sponsor:
    sponsor = session.scalar(select(Sponsor).where(Sponsor.slug == slug))
    if sponsor is None:
        raise NotFoundError("sponsor", f"no sponsor {slug!r}")
    return sponsor


def list_sponsors(session: Session) -> list[Sponsor]:
    return list(session.scalars(select(Sponsor).order_by(Sponsor.name)))


def get_campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise NotFoundError("campaign", f"no campaign {slug!r}")
    return campaign


def list_campaigns(session: Session, include_cancelled: bool = False) -> list[Campaign]:
    """Campaigns by start date (then slug); cancelled ones only when asked."""
    query = select(Campaign).order_by(Campaign.starts_on, Campaign.slug)
    if not include_cancelled:
        query = query.where(Campaign.cancelled_at.is_(None))
    return list(session.scalars(query))


def book_campaign(
    session: Session, sponsor_slug: str, slug: str, creative: CreativeSpec, booking: Booking
) -> Campaign:
    """Book a creative; raises DigestError for bad input or a clash with a paid campaign."""
    check_slug(slug, "campaign")
    if session.scalar(select(Campaign.id).where(Campaign.slug == slug)) is not None:
        raise AlreadyExistsError("campaign", f"campaign {slug!r} already exists")
    sponsor = get_sponsor(session, sponsor_slug)
    check_position(booking.position)
    if booking.ends_on < booking.starts_on:
        raise DigestError(
            f"campaign {slug!r}: it ends ({booking.ends_on}) before it starts ({booking.starts_on})"
        )
    letters = sorted({get_newsletter(session, name).id for name in booking.newsletters})
    towns = sorted({get_community(session, name).id for name in booking.towns})
    campaign = Campaign(
        slug=slug,
        sponsor_id=sponsor.id,
        creative=_creative(sponsor, creative),
        position=booking.position,
        starts_on=booking.starts_on,
        ends_on=booking.ends_on,
        newsletter_ids=letters,
        community_ids=towns,
        house=booking.house,
    )
    if not booking.house:
        clash = next(iter(clashes(session, campaign)), None)
        if clash is not None:
            raise DigestError(_clash_message(session, campaign, clash))
    session.add(campaign)
    session.flush()
    return campaign


def cancel_campaign(session: Session, slug: str, now: datetime) -> Campaign:
    """Stop a campaign from being placed in editions not yet frozen; reports keep its past."""
    campaign = get_campaign(session, slug)
    if campaign.cancelled_at is not None:
        raise DigestError(f"campaign {slug!r} was already cancelled")
    campaign.cancelled_at = now
    return campaign


def clashes(session: Session, campaign: Campaign) -> list[Campaign]:
    """Live paid campaigns that would share a slot of some edition and town with `campaign`."""
    query = select(Campaign).where(
        Campaign.house.is_(False),
        Campaign.cancelled_at.is_(None),
        Campaign.position == campaign.position,
        Campaign.starts_on <= campaign.ends_on,
        Campaign.ends_on >= campaign.starts_on,
    )
    if campaign.id is not None:
        query = query.where(Campaign.id != campaign.id)
    return [
        other
        for other in session.scalars(query.order_by(Campaign.starts_on))
        if _overlap(other.newsletter_ids, campaign.newsletter_ids)
        and _overlap(other.community_ids, campaign.community_ids)
    ]


def covers(campaign: Campaign, newsletter_id: int, community_id: int, day: date) -> bool:
    """Whether the campaign is booked for that newsletter, town and day (and not cancelled)."""
    return (
        campaign.cancelled_at is None
        and campaign.starts_on <= day <= campaign.ends_on
        and (not campaign.newsletter_ids or newsletter_id in campaign.newsletter_ids)
        and (not campaign.community_ids or community_id in campaign.community_ids)
    )


def _overlap(one: list[int], other: list[int]) -> bool:
    # An empty list means every newsletter (or town), which overlaps anything.
    return not one or not other or bool(set(one) & set(other))


def _creative(sponsor: Sponsor, spec: CreativeSpec) -> Creative:
    headline = " ".join(spec.headline.split())
    if not headline:
        raise DigestError("a creative needs a headline")
    if len(headline) > HEADLINE_LIMIT:
        raise DigestError(f"the headline is {len(headline)} characters (at most {HEADLINE_LIMIT})")
    text = " ".join(spec.text.split())
    if len(text) > TEXT_LIMIT:
        raise DigestError(f"the text is {len(text)} characters (at most {TEXT_LIMIT})")
    link = safe_url(spec.link_url)
    if link is None:
        raise DigestError(f"link {spec.link_url!r} is not an absolute http(s) URL")
    image = safe_url(spec.image_url) if spec.image_url else None
    if spec.image_url and image is None:
        raise DigestError(f"image {spec.image_url!r} is not an absolute http(s) URL")
    alt = " ".join(spec.image_alt.split())
    if image and not alt:
        raise DigestError("an image needs alt text (--alt), for readers who cannot see it")
    return Creative(
        sponsor_id=sponsor.id,
        label=" ".join(spec.label.split())[:40] or "Sponsored",
        headline=headline,
        text=text,
        image_url=image,
        image_alt=alt,
        link_url=link,
    )


def _names(session: Session, model: type[Newsletter] | type[Community], ids: list[int]) -> str:
    if not ids:
        return "every " + ("newsletter" if model is Newsletter else "town")
    rows = session.scalars(select(model.slug).where(model.id.in_(ids)).order_by(model.slug))
    return ", ".join(rows)


def _clash_message(session: Session, campaign: Campaign, other: Campaign) -> str:
    letters = set(campaign.newsletter_ids) & set(other.newsletter_ids) or set(
        campaign.newsletter_ids or other.newsletter_ids
    )
    towns = set(campaign.community_ids) & set(other.community_ids) or set(
        campaign.community_ids or other.community_ids
    )
    start = max(campaign.starts_on, other.starts_on)
    end = min(campaign.ends_on, other.ends_on)
    return (
        f"campaign {campaign.slug!r} clashes with {other.slug!r}: both want the "
        f"{campaign.position} slot of {_names(session, Newsletter, sorted(letters))} in "
        f"{_names(session, Community, sorted(towns))} from {start} to {end} "
        "(one sponsor per slot per edition and town; change the dates, towns or position)"
    )
