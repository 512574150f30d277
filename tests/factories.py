"""Small builders of committed or rolled-back data for tests (plain model objects, no magic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import (
    Community,
    Edition,
    EditionSegment,
    EditionStatus,
    Feed,
    Newsletter,
    Story,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
TOWNS = {
    "springfield": ("Springfield", "America/Los_Angeles"),
    "riverton": ("Riverton", "America/Denver"),
    "lakeside": ("Lakeside", "America/Chicago"),
}


def towns(session: Session, slugs: tuple[str, ...] = tuple(TOWNS)) -> list[Community]:
    made = [Community(slug=slug, name=TOWNS[slug][0], timezone=TOWNS[slug][1]) for slug in slugs]
    session.add_all(made)
    session.flush()
    return made


def newsletter(session: Session, slug: str = "morning") -> Newsletter:
    letter = Newsletter(
        slug=slug,
        name="Morning Digest",
        sections={"top": 3, "local": 3, "most_read": 0, "just_posted": 0},
    )
    session.add(letter)
    session.flush()
    return letter


def readers(
    session: Session,
    letter: Newsletter,
    town: Community,
    count: int,
    status: SubscriptionStatus = SubscriptionStatus.CONFIRMED,
    prefix: str = "reader",
) -> list[Subscriber]:
    made = [
        Subscriber(
            email=f"{prefix}{i}@{town.slug}.example", name=f"Reader {i}", community_id=town.id
        )
        for i in range(count)
    ]
    session.add_all(made)
    session.flush()
    session.add_all(
        Subscription(subscriber_id=reader.id, newsletter_id=letter.id, status=status, source="test")
        for reader in made
    )
    session.flush()
    return made


def ready_edition(
    session: Session, letter: Newsletter, places: list[Community], slot: datetime | None = None
) -> Edition:
    """An edition ready to send, with a simple hand-written segment per town."""
    edition = Edition(
        newsletter_id=letter.id,
        slot=slot or datetime(2026, 11, 24, 6, 0),
        status=EditionStatus.READY,
        subject="Morning Digest",
    )
    session.add(edition)
    session.flush()
    for town in places:
        session.add(
            EditionSegment(
                edition_id=edition.id,
                community_id=town.id,
                send_at=NOW,
                subject=f"Today in {town.name}",
                preheader=f"The news from {town.name}",
                html=f"<html><body><h1>{town.name} news</h1></body></html>",
                text=f"{town.name} news\n",
            )
        )
    session.flush()
    return edition


def stories(
    session: Session, town: Community | None, count: int, published: datetime, tag: str = ""
) -> list[Story]:
    """`count` stories of a feed for `town` (or the regional desk), published an hour apart."""
    where = town.slug if town else "region"
    url = f"https://news.example/{where}/feed.xml"
    feed = session.scalar(select(Feed).where(Feed.url == url))
    if feed is None:
        feed = Feed(url=url, community_id=town.id if town else None, section="news")
        session.add(feed)
        session.flush()
    made = [
        Story(
            feed_id=feed.id,
            community_id=feed.community_id,
            guid=f"{where}-{tag}{i}",
            url=f"https://news.example/{where}/{tag}{i}",
            title=f"{where.title()} story {tag}{i}",
            summary=f"What happened in {where.title()}.",
            published_at=published - timedelta(hours=i),
            first_seen_at=published - timedelta(hours=i),
            content_hash=f"{where}{tag}{i}",
            cluster_key=f"{where}-{tag}{i}",
        )
        for i in range(count)
    ]
    session.add_all(made)
    session.flush()
    return made
