"""Segments for readers' own choices: other towns, some sections only, weekly.

One segment per (town, audience) of an edition, rendered once for every reader with the same
choices (see digest.readers.audiences): premailer still runs once per segment, never per
reader. A reader's segment merges their own town's edition, curated with their interests,
with the local news of the other towns they follow; a story two towns carry appears once.
Weekly audiences get a segment only on the weekly day, curated from the whole week; their
earlier weekly segments say what they already had.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.curate import Curation, curate, section_title
from digest.curation.schedules import slot_instant
from digest.curation.sections import LOCAL, Section, sections_to_json
from digest.models import (
    Community,
    Edition,
    EditionSegment,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.audiences import WEEKLY, Audience, parse_audience
from digest.sending import shaping
from digest.settings import Settings

WEEK_HOURS = 7 * 24
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def town_audiences(session: Session, newsletter: Newsletter, town: Community) -> list[str]:
    """The audiences other than "" among the town's confirmed, active readers."""
    query = (
        select(Subscription.audience)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.newsletter_id == newsletter.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscription.audience != "",
            Subscriber.status == SubscriberStatus.ACTIVE,
            Subscriber.community_id == town.id,
        )
        .distinct()
        .order_by(Subscription.audience)
    )
    return list(session.scalars(query))


def audience_segments(
    session: Session,
    settings: Settings,
    edition: Edition,
    newsletter: Newsletter,
    town: Community,
    now: datetime,
) -> list[EditionSegment]:
    """The segments of the town's audiences for this edition (weekly ones on the weekly day)."""
    weekly_day = edition.slot.weekday() == WEEKDAYS.index(settings.weekly_day)
    made = []
    for key in town_audiences(session, newsletter, town):
        audience = parse_audience(key)
        if audience.frequency == WEEKLY and not weekly_day:
            continue  # weekly readers get no segment, hence no delivery, on the other days
        made.append(build_audience_segment(session, settings, edition, newsletter, town, key, now))
    return made


def build_audience_segment(
    session: Session,
    settings: Settings,
    edition: Edition,
    newsletter: Newsletter,
    town: Community,
    key: str,
    now: datetime,
) -> EditionSegment:
    segment = EditionSegment(
        edition_id=edition.id,
        community_id=town.id,
        audience=key,
        send_at=slot_instant(edition.slot, town.timezone),
    )
    audience = parse_audience(key)
    sections = merged_sections(session, newsletter, town, audience, key, edition.slot, now)
    if not sections:
        segment.skip_reason = f"nothing new for {town.name} ({key})"
        return segment
    # Rendered like every segment: with the editor's picks for the town and its sponsor slots.
    segment.curated = {"sections": sections_to_json(sections), "at": now.isoformat()}
    shaping.freeze(session, settings, edition, segment, town)
    return segment


def merged_sections(
    session: Session,
    newsletter: Newsletter,
    town: Community,
    audience: Audience,
    key: str,
    slot: datetime,
    now: datetime,
) -> list[Section]:
    """The reader's town's sections, then each other town's local news; each story once."""
    window = WEEK_HOURS if audience.frequency == WEEKLY else None

    def chosen(place: Community) -> Curation:
        return curate(
            session,
            newsletter,
            place,
            now,
            slot=slot,
            audience=key,
            interests=audience.interests,
            window_hours=window,
        )

    home = chosen(town)
    sent = _sent_to_audience(session, newsletter, town, key, now)
    sections = list(home.sections)
    seen = {card.cluster_key for section in sections for card in section.stories}
    others = session.scalars(
        select(Community).where(Community.slug.in_(audience.other_towns)).order_by(Community.slug)
    )
    for place in others:
        for section in chosen(place).sections:
            if section.key != LOCAL:
                continue
            cards = tuple(
                card
                for card in section.stories
                if card.cluster_key not in seen and card.cluster_key not in sent
            )
            seen.update(card.cluster_key for card in cards)
            if cards:
                sections.append(Section(LOCAL, section_title(LOCAL, place), cards))
    return sections


def _sent_to_audience(
    session: Session, newsletter: Newsletter, town: Community, key: str, now: datetime
) -> set[str]:
    """Stories this audience already had (its earlier segments, filed under the home town):
    the other towns' curations do not know them, so they are checked here."""
    rows = session.scalars(
        select(EditionSegment.cluster_keys)
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .where(
            Edition.newsletter_id == newsletter.id,
            EditionSegment.community_id == town.id,
            EditionSegment.audience == key,
            EditionSegment.skip_reason.is_(None),
            EditionSegment.send_at <= now,
            EditionSegment.send_at >= now - timedelta(days=14),
        )
    )
    return {str(cluster) for keys in rows for cluster in keys or ()}
