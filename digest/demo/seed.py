"""The demo: towns, feeds, a newsletter and a few readers, then this morning's edition.

`run_demo` is what `digest demo` does and what `digest serve` does on an empty database:
migrate, seed (once), ingest the shipped sample feeds, build each town's edition of this
morning (the latest 06:00 already past in its own zone) and deliver it through
DIGEST_MAIL_URL (the Maildir outbox by default). Running it again seeds nothing twice and
sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.clock import Clock
from digest.curation.communities import add_community
from digest.curation.newsletters import add_newsletter
from digest.db import make_engine, make_session_factory, upgrade_database
from digest.demo import copy_feeds, manifest
from digest.ingest.feeds import add_feed, poll
from digest.ingest.fetch import FetchOptions
from digest.models import Community, Edition, EditionStatus, FeedKind, Newsletter, Story
from digest.readers.imports import import_subscribers
from digest.sending.editions import reader_towns
from digest.sending.scheduler import send_here
from digest.sending.slots import build_slots, latest_past_slots
from digest.settings import Settings
from digest.sponsors.campaigns import Booking, CreativeSpec, add_sponsor, book_campaign
from digest.sponsors.slots import AFTER_TOP

NEWSLETTER = "morning"
READERS = ("ana", "ben", "chloe")
SPONSORED_TOWN = "springfield"  # the demo's sample sponsor is booked here; a house ad elsewhere
CAMPAIGN_DAYS = 60


@dataclass
class DemoSummary:
    seeded: bool = False
    stories: int = 0
    feed_errors: list[str] = field(default_factory=list)
    edition_id: int | None = None  # the latest of edition_ids
    edition_ids: list[int] = field(default_factory=list)
    edition_status: str = ""
    messages: int = 0
    outbox: str = ""


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Community))


def seed_demo(session: Session, settings: Settings, now: datetime) -> None:
    """Towns and feeds from the shipped manifest, the Morning Digest, three readers per town.

    The feeds are copied under var/demo-feeds with their dates moved to `now`. Does not commit.
    """
    data = manifest()
    for town in data["communities"]:
        add_community(session, town["slug"], town["name"], town["timezone"])
    towns = {town.slug: town for town in session.scalars(select(Community))}
    for feed in copy_feeds(settings.var_dir / "demo-feeds", now):
        town = towns[feed.community] if feed.community else None
        add_feed(session, feed.url, town, feed.section, FeedKind(feed.kind))
    letter = add_newsletter(
        session,
        NEWSLETTER,
        "Morning Digest",
        "daily 06:00",
        {"top": 4, "local": 4, "most_read": 3, "just_posted": 0},
        description="The region's top stories and your town's news, every morning at 06:00.",
    )
    letter.created_at = now
    rows = [
        {"email": f"{name}@{slug}.example", "name": name.title(), "community": slug}
        for slug in towns
        for name in READERS
    ]
    import_subscribers(
        session,
        rows,
        source="demo readers created by `digest demo`",
        community=None,
        newsletters=[NEWSLETTER],
        now=now,
    )
    seed_sponsors(session, now)


def seed_sponsors(session: Session, now: datetime) -> None:
    """A sample sponsor booked after the top stories in one town; a house ad everywhere else."""
    first, last = now.date() - timedelta(days=1), now.date() + timedelta(days=CAMPAIGN_DAYS)
    add_sponsor(session, "main-street-hardware", "Main Street Hardware", "ads@hardware.example")
    book_campaign(
        session,
        "main-street-hardware",
        "hardware-winter",
        CreativeSpec(
            headline="Winter-ready in one stop: 20% off snow shovels and de-icer",
            link_url="https://hardware.example/winter",
            label="Sponsored",
            text="Family-run on Main Street since 1962. Open 7 am to 7 pm, free parking behind "
            "the store.",
        ),
        Booking(AFTER_TOP, first, last, (NEWSLETTER,), (SPONSORED_TOWN,)),
    )
    add_sponsor(session, "house", "Morning Digest")
    book_campaign(
        session,
        "house",
        "house-advertise",
        CreativeSpec(
            headline="Reach your neighbours: advertise in the Morning Digest",
            link_url="https://news.example/advertise",
            label="From the newsroom",
            text="One local business per town and morning. Ask us for this month's rates.",
        ),
        Booking(AFTER_TOP, first, last, (NEWSLETTER,), (), house=True),
    )


def run_demo(settings: Settings, clock: Clock) -> DemoSummary:
    """Seed if the database is empty, ingest, build this morning's edition and deliver it."""
    summary = DemoSummary(outbox=settings.mail_url)
    engine = make_engine(settings.database_url)
    try:
        upgrade_database(engine)
        factory = make_session_factory(engine)
        now = clock.now()
        with factory() as session, session.begin():
            if is_empty(session):
                seed_demo(session, settings, now)
                summary.seeded = True
        results = poll(factory, None, now, FetchOptions.from_settings(settings))
        summary.feed_errors = [f"{r.url}: {r.error}" for r in results if r.error]
        with factory() as session:
            summary.stories = session.scalar(select(func.count()).select_from(Story)) or 0
        with factory() as session, session.begin():
            # Each town gets the edition its readers would have had this morning: the latest
            # 06:00 already past in its own zone. The scheduler then sends the next one.
            letter = session.scalars(select(Newsletter).where(Newsletter.slug == NEWSLETTER)).one()
            groups = latest_past_slots(letter, reader_towns(session, letter), now)
            built = build_slots(session, settings, letter, groups, now)
            ready = [
                e.id for e in built if e.status in (EditionStatus.READY, EditionStatus.SENDING)
            ]
            ids = [edition.id for edition in built]
        for edition_id in ready:
            summary.messages += send_here(factory, settings, edition_id, clock)
        with factory() as session:
            editions = [session.get_one(Edition, edition_id) for edition_id in ids]
            summary.edition_ids = ids
            summary.edition_id = ids[-1] if ids else None
            summary.edition_status = ", ".join(str(edition.status) for edition in editions)
    finally:
        engine.dispose()
    return summary


def outbox_path(settings: Settings) -> Path | None:
    """Where the Maildir outbox is, when mail goes to one."""
    if settings.mail_url.startswith("maildir://"):
        return Path(settings.mail_url.removeprefix("maildir://"))
    return None
