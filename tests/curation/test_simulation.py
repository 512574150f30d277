"""Fourteen mornings in three towns, sent by the scheduler as the clock moves, read from the mail.

Three towns in three zones (Los Angeles crosses the end of daylight saving on 1 November 2026;
Berlin has just crossed it; Honolulu has none), ten feeds (two per town, a regional desk, a
weather desk, two wire services), wire stories retitled and lightly rewritten by the member
papers (some keep the wire's urn guid, some do not), popularity changing every day. Every hour
the feeds bring what was published and the scheduler runs its pass, sending in this process
through a Maildir. Then, from the messages each reader received:

- no reader gets the same story twice, counting a member paper's rewrite as the wire story;
- each reader gets 14 editions, each at 06:00 in their town, one per local day;
- each town's subject leads with its own story on every day its edition has one.
"""

from __future__ import annotations

import mailbox
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.ingest.clusters import ClusterIndex
from digest.ingest.parse import ParsedStory
from digest.ingest.stories import ingest_stories
from digest.models import (
    Community,
    Delivery,
    Edition,
    EditionStatus,
    Feed,
    Newsletter,
    Story,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.sending.scheduler import run_here
from digest.settings import Settings, load_settings
from tests.support.digests import link_target

START = datetime(2026, 10, 27, 0, 0, tzinfo=UTC)
DAYS = 14
TOWNS = {
    "springfield": ("Springfield", "America/Los_Angeles"),  # DST ends 1 November 2026
    "hilo": ("Hilo", "Pacific/Honolulu"),
    "mitte": ("Mitte", "Europe/Berlin"),
}
# Words the generator draws from: enough that two different stories share few of them.
VOCABULARY = [
    "council",
    "budget",
    "school",
    "library",
    "bridge",
    "river",
    "harbor",
    "museum",
    "hospital",
    "clinic",
    "airport",
    "ferry",
    "festival",
    "market",
    "orchard",
    "vineyard",
    "tunnel",
    "highway",
    "transit",
    "bus",
    "railway",
    "station",
    "stadium",
    "arena",
    "league",
    "team",
    "coach",
    "mayor",
    "governor",
    "senator",
    "sheriff",
    "judge",
    "court",
    "jury",
    "trial",
    "verdict",
    "lawsuit",
    "permit",
    "zoning",
    "housing",
    "rent",
    "tenant",
    "landlord",
    "wildfire",
    "flood",
    "storm",
    "snow",
    "drought",
    "heat",
    "wind",
    "power",
    "outage",
    "grid",
    "solar",
    "turbine",
    "battery",
    "factory",
    "plant",
    "layoffs",
    "hiring",
    "union",
    "strike",
    "wages",
    "tax",
    "levy",
    "bond",
    "measure",
    "ballot",
    "election",
    "recount",
    "candidate",
    "debate",
    "poll",
    "survey",
    "census",
    "study",
    "report",
    "audit",
    "scandal",
    "resign",
    "appoint",
    "hire",
    "fire",
    "retire",
    "honor",
    "award",
    "grant",
    "donation",
    "charity",
    "volunteer",
    "shelter",
    "pantry",
    "meal",
    "garden",
    "park",
    "trail",
    "beach",
    "lake",
    "forest",
    "canyon",
    "ridge",
    "valley",
    "island",
    "reef",
    "whale",
    "salmon",
    "eagle",
    "wolf",
    "bear",
    "deer",
    "cattle",
    "dairy",
    "wheat",
    "corn",
    "potato",
    "apple",
    "cherry",
    "bakery",
    "brewery",
    "restaurant",
    "chef",
    "menu",
    "opening",
    "closing",
    "expansion",
    "renovation",
    "demolition",
    "construction",
    "crane",
    "tower",
    "parking",
    "garage",
    "bicycle",
    "lane",
    "sidewalk",
    "crosswalk",
    "signal",
    "speed",
    "camera",
    "crash",
    "collision",
    "rescue",
    "search",
    "hiker",
    "climber",
    "swimmer",
    "diver",
    "pilot",
    "drone",
    "satellite",
    "telescope",
    "observatory",
    "lab",
    "vaccine",
    "outbreak",
    "virus",
    "flu",
    "measles",
    "nurse",
    "doctor",
    "surgeon",
    "teacher",
    "student",
    "graduation",
    "scholarship",
    "robotics",
    "chess",
    "orchestra",
    "choir",
    "theater",
    "gallery",
    "mural",
    "sculpture",
    "novel",
    "author",
    "poet",
    "film",
    "premiere",
    "concert",
    "parade",
    "carnival",
    "rodeo",
    "fair",
]
assert len(set(VOCABULARY)) == len(VOCABULARY)


@dataclass
class Item:
    """One story as a feed publishes it, with the real-world story it tells (ground truth)."""

    feed: str
    truth: str
    title: str
    summary: str
    published_at: datetime
    guid: str
    url: str


@dataclass
class World:
    items: list[Item] = field(default_factory=list)
    truth_by_url: dict[str, str] = field(default_factory=dict)
    town_urls: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    town_titles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def words(
    rng: random.Random, count: int, avoid: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    pool = [word for word in VOCABULARY if word not in avoid]
    return rng.sample(pool, count)


def headline(parts: list[str]) -> str:
    text = " ".join(parts)
    return text[0].upper() + text[1:]


def publish(world: World, item: Item, town: str | None) -> None:
    world.items.append(item)
    world.truth_by_url[item.url] = item.truth
    if town is not None:
        world.town_urls[town].add(item.url)
        world.town_titles[town].add(item.title)


def rewrite(rng: random.Random, item: Item, town: str, day: int, n: int, keep_guid: bool) -> Item:
    """A member paper's copy: a new title sharing three words, the summary lightly edited."""
    original = item.title.lower().split()
    kept = original[2:5]
    fresh = words(rng, 3, set(original))
    title = headline([fresh[0], *kept, fresh[1], town])
    summary = item.summary.split()
    del summary[rng.randrange(len(summary))]
    summary = [*summary[:10], fresh[2], *summary[10:], "reported", "locally"]
    slug = f"{town}-{day}-copy-{n}"
    return Item(
        feed=f"{town}-news",
        truth=item.truth,
        title=title,
        summary=" ".join(summary) + ".",
        published_at=item.published_at + timedelta(hours=rng.randint(1, 10)),
        guid=item.guid if keep_guid else f"https://{town}.example/{slug}",
        url=f"https://{town}.example/{slug}",
    )


def build_world(rng: random.Random) -> World:
    world = World()
    for day in range(-1, DAYS):
        base = START + timedelta(days=day)
        for n, wire in enumerate(("state-wire", "mountain-wire")):
            for k in range(3):
                parts = words(rng, 6)
                item = Item(
                    feed=wire,
                    truth=f"{wire}-{day}-{k}",
                    title=headline(parts),
                    summary=" ".join(words(rng, 22, set(parts))) + ".",
                    published_at=base + timedelta(hours=rng.randint(0, 23), minutes=5),
                    guid=f"urn:{wire}:2026:{day}:{k}",
                    url=f"https://{wire}.example/{day}/{k}",
                )
                publish(world, item, None)
                for t, town in enumerate(TOWNS):
                    if (day + k + n + t) % 3 == 0:  # each town carries some of the wire
                        copy = rewrite(rng, item, town, day, n * 10 + k, keep_guid=k % 2 == 0)
                        publish(world, copy, town)
        for desk in ("regional-desk", "weather-desk"):
            parts = words(rng, 5)
            item = Item(
                feed=desk,
                truth=f"{desk}-{day}",
                title=headline(parts),
                summary=" ".join(words(rng, 18, set(parts))) + ".",
                published_at=base + timedelta(hours=rng.randint(0, 23), minutes=20),
                guid=f"https://{desk}.example/{day}",
                url=f"https://{desk}.example/{day}",
            )
            publish(world, item, None)
        for town in TOWNS:
            # Some days a town has nothing of its own (a quiet Sunday for its reporters).
            count = 0 if day % 5 == 4 else rng.randint(1, 3)
            for k in range(count):
                feed = f"{town}-news" if k % 2 == 0 else f"{town}-sports"
                parts = words(rng, 5)
                item = Item(
                    feed=feed,
                    truth=f"{feed}-{day}-{k}",
                    title=headline([*parts, town]),
                    summary=" ".join(words(rng, 16, set(parts))) + ".",
                    published_at=base + timedelta(hours=rng.randint(0, 23), minutes=40),
                    guid=f"https://{town}.example/{day}/{k}",
                    url=f"https://{town}.example/{day}/{k}",
                )
                publish(world, item, town)
    world.items.sort(key=lambda item: (item.published_at, item.url))
    return world


def seed(session: Session) -> dict[str, Feed]:
    towns = {
        slug: Community(slug=slug, name=name, timezone=zone) for slug, (name, zone) in TOWNS.items()
    }
    session.add_all(towns.values())
    session.flush()
    feeds = {
        name: Feed(url=f"https://{name}.example/feed", title=name, community_id=None)
        for name in ("state-wire", "mountain-wire", "regional-desk", "weather-desk")
    }
    for slug, town in towns.items():
        for kind in ("news", "sports"):
            name = f"{slug}-{kind}"
            feeds[name] = Feed(url=f"https://{name}.example/feed", title=name, community_id=town.id)
    assert len(feeds) == 10
    session.add_all(feeds.values())
    letter = Newsletter(
        slug="morning",
        name="Morning Digest",
        schedule="daily 06:00",
        sections={"top": 3, "local": 3, "most_read": 2, "just_posted": 0},
        created_at=START,
    )
    session.add(letter)
    session.flush()
    for slug, town in towns.items():
        for i in range(2):
            reader = Subscriber(
                email=f"reader{i}@{slug}.example", name=f"Reader {i}", community_id=town.id
            )
            session.add(reader)
            session.flush()
            session.add(
                Subscription(
                    subscriber_id=reader.id,
                    newsletter_id=letter.id,
                    status=SubscriptionStatus.CONFIRMED,
                    source="simulation",
                )
            )
    session.flush()
    return feeds


def bring_in(session: Session, feeds: dict[str, Feed], items: list[Item], now: datetime) -> None:
    by_feed: dict[str, list[ParsedStory]] = defaultdict(list)
    for item in items:
        by_feed[item.feed].append(
            ParsedStory(
                guid=item.guid,
                url=item.url,
                title=item.title,
                summary=item.summary,
                published_at=item.published_at,
            )
        )
    if not by_feed:
        return
    index = ClusterIndex.load(session, now - timedelta(hours=12), now)
    for name, parsed in sorted(by_feed.items()):
        feed = session.get_one(Feed, feeds[name].id)
        ingest_stories(session, feed, parsed, now, index)


def new_popularity(session: Session, rng: random.Random, now: datetime) -> None:
    """Every day the readers' interest moves: some stories become popular, others fade."""
    recent = session.scalars(select(Story).where(Story.published_at >= now - timedelta(days=2)))
    for story in recent:
        story.popularity = round(rng.random(), 2) if rng.random() < 0.4 else 0.0


@dataclass(frozen=True)
class Received:
    town: str
    to: str
    subject: str
    urls: list[str]


def read_outbox(path: Path, settings: Settings) -> list[Received]:
    """The messages in the outbox, each with the story URLs its links lead to (through the
    counted redirect: tests/ingest/test_clicks.py)."""
    found = []
    for raw in mailbox.Maildir(path, factory=None, create=False):
        message = message_from_bytes(raw.as_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        to = str(message["To"])
        text = message.get_body(("plain",))
        assert text is not None
        links = re.findall(r"^(https?://\S+)$", text.get_content(), re.M)
        targets = [link_target(settings, link) for link in links]
        urls = [url for url in targets if re.fullmatch(r"https://\S+\.example/\S+", url)]
        town = to.split("@")[1].split(".")[0].rstrip(">")
        found.append(Received(town, to, str(message["Subject"]), urls))
    return found


@pytest.mark.timeout(900)
def test_fourteen_mornings_in_three_towns(committed: sessionmaker[Session], tmp_path: Path) -> None:
    rng = random.Random(13)
    world = build_world(rng)
    outbox = tmp_path / "outbox"
    settings = load_settings(mail_url=f"maildir://{outbox}", schedule_grace_minutes=30)
    with committed() as session, session.begin():
        feeds = seed(session)
    clock = FixedClock(START)
    pending = list(world.items)
    while clock.now() < START + timedelta(days=DAYS):
        now = clock.now()
        due = [item for item in pending if item.published_at <= now]
        pending = pending[len(due) :]
        with committed() as session, session.begin():
            bring_in(session, feeds, due, now)
            if now.hour == 0:
                new_popularity(session, rng, now)
        run_here(committed, settings, clock)
        clock.advance(hours=1)

    received = read_outbox(outbox, settings)
    with committed() as session:
        statuses = session.scalars(select(Edition.status)).all()
        sent_at = session.execute(
            select(Subscriber.email, Community.timezone, Delivery.sent_at)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .join(Community, Community.id == Subscriber.community_id)
        ).all()
    assert EditionStatus.BUILDING not in statuses

    # Each reader: 14 editions, each at 06:00 in their town, one per local day.
    days: dict[str, list[datetime]] = defaultdict(list)
    for email, zone, moment in sent_at:
        assert moment is not None, f"{email}: a delivery was not sent"
        days[email].append(moment.astimezone(ZoneInfo(zone)))
    assert len(days) == 6
    for email, moments in days.items():
        assert len(moments) == DAYS, email
        assert {(m.hour, m.minute) for m in moments} == {(6, 0)}, email
        assert len({m.date() for m in moments}) == DAYS, email

    # No reader gets a story twice, a member paper's rewrite counting as the wire story.
    by_reader: dict[str, list[Received]] = defaultdict(list)
    for message in received:
        by_reader[message.to].append(message)
    assert len(by_reader) == 6
    assert all(len(got) == DAYS for got in by_reader.values())
    for reader, messages in by_reader.items():
        truths = [world.truth_by_url[url] for message in messages for url in message.urls]
        assert truths, reader
        repeats = {truth for truth in truths if truths.count(truth) > 1}
        assert not repeats, f"{reader} got these stories twice: {sorted(repeats)}"

    # Each town's subject leads with its own story on days its edition has one.
    led = 0
    for message in received:
        own = world.town_urls[message.town] & set(message.urls)
        name = TOWNS[message.town][0]
        assert message.subject.startswith(f"{name}: "), message.subject
        if own:
            lead = message.subject.removeprefix(f"{name}: ").split(", and ")[0]
            assert lead in world.town_titles[message.town], message.subject
            led += 1
    assert led >= DAYS * 6 // 2  # most days a town has news of its own
