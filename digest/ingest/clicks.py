"""The click store: batches of counts added to the aggregates, "most read in the newsletter",
the per-town report, and retention.

Counts live in `link_clicks`, one row per edition, town and link, with no reader identity;
per-reader events (`click_events`) exist only with DIGEST_CLICK_PER_READER and are pruned
after DIGEST_CLICK_EVENT_RETENTION_DAYS. Newsletter clicks are a popularity source like the
site's own figures (`digest.ingest.popularity`): `record_click_popularity` ranks them and
blends them into `Story.popularity`, which curation's "Most read" section reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.ingest.click_buffer import BUCKETS, clickers_of
from digest.ingest.click_links import STORY
from digest.ingest.click_uniques import add_clickers, is_estimate
from digest.models import (
    ClickBatch,
    ClickEvent,
    Community,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionSegment,
    EditionTownCount,
    LinkClicks,
    PopularitySample,
    Story,
    Subscriber,
    SubscriberStatus,
    TownClickers,
)
from digest.settings import Settings

log = logging.getLogger(__name__)

REDIS_BATCHES = "digest:clicks:batches"  # a Redis list of JSON batches, oldest first
CLICK_SOURCE = "newsletter-clicks"  # PopularitySample.source of the click ranking


def add_batch(session: Session, batch: dict[str, Any], now: datetime) -> bool:
    """Add a buffered batch to the counts; False (nothing done) when it was added before.

    One upsert per row; does not commit. The batch id is recorded in the same transaction,
    so a batch retried after a crash is never counted twice.
    """
    if session.get(ClickBatch, batch["id"]) is not None:
        return False
    session.add(ClickBatch(id=batch["id"], flushed_at=now))
    # A link stays valid after its edition, town or reader is gone: skip what names them,
    # so one such click can never block a batch (and every batch after it) for good.
    editions, towns, readers = _existing(session, batch)
    by_link: dict[tuple[int, int, str], list[str]] = {}
    for row in batch["counts"]:
        edition, community, link_key, kind, item, url, last, buckets = row[:8]
        if edition in editions and community in towns:
            _upsert(session, edition, community, link_key, kind, item, url, last, buckets)
            if clickers_of(row):
                by_link[(edition, community, link_key)] = clickers_of(row)
    if by_link:
        add_clickers(session, by_link, now)
    events = [
        ClickEvent(
            edition_id=edition,
            community_id=community,
            link_key=link_key,
            subscriber_id=subscriber,
            clicked_at=datetime.fromisoformat(at),
        )
        for edition, community, link_key, subscriber, at in batch["events"]
        if edition in editions and community in towns and subscriber in readers
    ]
    session.add_all(events)
    session.flush()
    return True


def _existing(session: Session, batch: dict[str, Any]) -> tuple[set[int], set[int], set[int]]:
    """The batch's editions and towns that exist, and its readers who may be counted."""
    rows = batch["counts"] + batch["events"]
    editions = {row[0] for row in rows}
    towns = {row[1] for row in rows}
    readers = {row[3] for row in batch["events"]}
    return (
        set(session.scalars(select(Edition.id).where(Edition.id.in_(editions)))),
        set(session.scalars(select(Community.id).where(Community.id.in_(towns)))),
        set(
            session.scalars(
                select(Subscriber.id).where(
                    Subscriber.id.in_(readers),
                    Subscriber.status != SubscriberStatus.ERASED,
                    Subscriber.click_opt_out.is_(False),
                )
            )
        )
        if readers
        else set(),
    )


def _upsert(
    session: Session,
    edition: int,
    community: int,
    link_key: str,
    kind: str,
    item: int | None,
    url: str,
    last: str,
    buckets: dict[str, int],
) -> None:
    values: dict[str, Any] = {b: int(buckets.get(b, 0)) for b in BUCKETS}
    last_at = datetime.fromisoformat(last)
    row = {
        "edition_id": edition,
        "community_id": community,
        "link_key": link_key,
        "kind": kind,
        "item_id": item,
        "url": url[:2048],
        "last_click_at": last_at,
        **values,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(LinkClicks).values(**row)
    table = LinkClicks.__table__.c
    update: dict[str, Any] = {b: table[b] + values[b] for b in BUCKETS}
    update["last_click_at"] = func.max(table.last_click_at, last_at)
    if dialect is postgresql:
        update["last_click_at"] = func.greatest(table.last_click_at, last_at)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["edition_id", "community_id", "link_key"], set_=update
        )
    )


def push_batch(redis: Any, batch: dict[str, Any]) -> None:
    """Queue a batch in Redis for the `flush_clicks` task (one RPUSH per batch)."""
    redis.rpush(REDIS_BATCHES, json.dumps(batch, separators=(",", ":")))


def drain_redis(
    sessions: Callable[[], Session], redis: Any, now: Callable[[], datetime], limit: int = 1000
) -> int:
    """Add the batches waiting in Redis to the counts, oldest first; returns how many.

    Owns its transactions: a batch leaves Redis only after its counts committed, and one
    committed twice (a crash between the two) is skipped by its id.
    """
    done = 0
    while done < limit:
        raw = redis.lindex(REDIS_BATCHES, 0)
        if raw is None:
            break
        with sessions() as session, session.begin():
            add_batch(session, json.loads(raw), now())
        redis.lpop(REDIS_BATCHES)
        done += 1
    return done


@dataclass(frozen=True)
class StoryClicks:
    story_id: int
    clicks: int


def most_read(
    session: Session,
    since: datetime,
    until: datetime,
    community_id: int | None = None,
    limit: int = 10,
) -> list[StoryClicks]:
    """Stories by counted clicks in the newsletter between two times, for a town or the region.

    "Between" is by each link's last click: an edition's clicks count while it is being read.
    """
    total = func.sum(LinkClicks.clicks)
    query = (
        select(LinkClicks.item_id, total)
        .where(
            LinkClicks.kind == STORY,
            LinkClicks.item_id.is_not(None),
            LinkClicks.last_click_at >= since,
            LinkClicks.last_click_at <= until,
        )
        .group_by(LinkClicks.item_id)
        .having(total > 0)
        .order_by(total.desc(), LinkClicks.item_id)
        .limit(limit)
    )
    if community_id is not None:
        query = query.where(LinkClicks.community_id == community_id)
    return [StoryClicks(int(item), int(clicks)) for item, clicks in session.execute(query)]


def record_click_popularity(session: Session, settings: Settings, now: datetime) -> int:
    """Blend the region's newsletter clicks into Story.popularity; returns stories scored.

    Score: clicks / the most clicked story's clicks, over DIGEST_CLICK_POPULARITY_WINDOW_HOURS,
    blended with the site's latest score by DIGEST_CLICK_POPULARITY_WEIGHT. Does not commit.
    """
    since = now - timedelta(hours=settings.click_popularity_window_hours)
    ranking = most_read(session, since, now, limit=200)
    if not ranking or settings.click_popularity_weight == 0:
        return 0
    weight = settings.click_popularity_weight
    top = ranking[0].clicks
    ids = [entry.story_id for entry in ranking]
    stories = {story.id: story for story in session.scalars(select(Story).where(Story.id.in_(ids)))}
    for rank, entry in enumerate(ranking, start=1):
        story = stories.get(entry.story_id)
        if story is None:
            continue
        click_score = entry.clicks / top
        site = _site_score(session, story.id)
        session.add(
            PopularitySample(
                story_id=story.id,
                measured_at=now,
                source=CLICK_SOURCE,
                views=entry.clicks,
                rank=rank,
                score=click_score,
            )
        )
        story.popularity = weight * click_score + (1 - weight) * site
    session.flush()
    return len(stories)


def _site_score(session: Session, story_id: int) -> float:
    latest = session.scalar(
        select(PopularitySample.score)
        .where(PopularitySample.story_id == story_id, PopularitySample.source != CLICK_SOURCE)
        .order_by(PopularitySample.measured_at.desc())
        .limit(1)
    )
    return float(latest or 0.0)


def prune(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Delete per-reader events, batch ids and unique-clicker sketches past their retention.

    A sketch's count stays; only the pseudonyms' traces go. Does not commit.
    """
    events_cutoff = now - timedelta(days=settings.click_event_retention_days)
    events = session.execute(delete(ClickEvent).where(ClickEvent.clicked_at < events_cutoff))
    batches = session.execute(
        delete(ClickBatch).where(ClickBatch.flushed_at < now - timedelta(days=7))
    )
    sketches = sum(
        _count(
            session.execute(
                update(table)
                .where(table.last_click_at < events_cutoff, table.clickers.is_not(None))
                .values(clickers=None)
            )
        )
        for table in (LinkClicks, TownClickers)
    )
    return {"events": _count(events), "batches": _count(batches), "sketches": sketches}


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class TownClicks:
    """One town's part of an edition: what was delivered, clicked, and the scanners left out."""

    community_id: int
    delivered: int
    clicks: int
    unique_clicks: int  # readers of the email who clicked any link (see click_uniques)
    scanner_clicks: int
    # (story title, or its URL when gone; clicks; unique clicks), most clicked first
    top_stories: list[tuple[str, int, int]]
    estimated: bool = False  # True when unique_clicks is a HyperLogLog estimate

    @property
    def click_rate(self) -> float | None:
        """Unique clickers per delivered message."""
        return self.unique_clicks / self.delivered if self.delivered else None


def edition_clicks(session: Session, edition_id: int, top: int = 5) -> list[TownClicks]:
    """Per town of an edition: delivered messages, clicks, unique clickers, scanners, top stories.

    Delivered counts include an old edition's folded counts (digest.sending.retention).
    """
    delivered = _delivered_per_town(session, edition_id)
    rows = session.scalars(
        select(LinkClicks)
        .where(LinkClicks.edition_id == edition_id)
        .order_by(LinkClicks.unique_clicks.desc(), LinkClicks.clicks.desc(), LinkClicks.id)
    ).all()
    uniques = {
        row.community_id: row
        for row in session.scalars(
            select(TownClickers).where(TownClickers.edition_id == edition_id)
        )
    }
    towns = sorted(set(delivered) | {row.community_id for row in rows})
    ids = {row.item_id for row in rows if row.kind == STORY and row.item_id is not None}
    titles = dict(
        session.execute(select(Story.id, Story.title).where(Story.id.in_(ids))).tuples().all()
    )
    report = []
    for town in towns:
        mine = [row for row in rows if row.community_id == town]
        stories = [
            (titles.get(row.item_id or 0, row.url), row.clicks, row.unique_clicks)
            for row in mine
            if row.kind == STORY and row.clicks > 0
        ]
        clickers = uniques.get(town)
        report.append(
            TownClicks(
                community_id=town,
                delivered=int(delivered.get(town, 0)),
                clicks=sum(row.clicks for row in mine),
                unique_clicks=clickers.unique_clicks if clickers else 0,
                scanner_clicks=sum(
                    row.scanner_head + row.scanner_agent + row.scanner_early + row.scanner_burst
                    for row in mine
                ),
                top_stories=stories[:top],
                estimated=clickers is not None and is_estimate(clickers.clickers),
            )
        )
    return report


def _delivered_per_town(session: Session, edition_id: int) -> dict[int, int]:
    kept = (
        select(EditionSegment.community_id, func.count(Delivery.id))
        .join(Delivery, Delivery.segment_id == EditionSegment.id)
        .where(EditionSegment.edition_id == edition_id, Delivery.status == DeliveryStatus.SENT)
        .group_by(EditionSegment.community_id)
    )
    folded = select(EditionTownCount.community_id, EditionTownCount.count).where(
        EditionTownCount.edition_id == edition_id, EditionTownCount.status == DeliveryStatus.SENT
    )
    delivered: dict[int, int] = {}
    for town, count in [*session.execute(kept).tuples(), *session.execute(folded).tuples()]:
        delivered[town] = delivered.get(town, 0) + int(count)
    return delivered


@dataclass(frozen=True)
class ItemClicks:
    edition_id: int
    community_id: int
    item_id: int
    clicks: int  # counted (scanners left out)
    unique_clicks: int  # distinct readers of the email among them (per link, see click_uniques)
    estimated: bool = False  # True when unique_clicks is a HyperLogLog estimate


def clicks_by_item(session: Session, kind: str, item_ids: list[int]) -> list[ItemClicks]:
    """Counted and unique clicks on links of one kind naming these items, per edition and town.

    For reports such as a sponsor campaign's (kind "sponsor", the creatives' ids). An item
    with several links in one town's edition (rare) adds its links' unique clicks up.
    """
    if not item_ids:
        return []
    rows = session.scalars(
        select(LinkClicks)
        .where(LinkClicks.kind == kind, LinkClicks.item_id.in_(item_ids))
        .order_by(LinkClicks.edition_id, LinkClicks.community_id, LinkClicks.item_id)
    ).all()
    found: dict[tuple[int, int, int], ItemClicks] = {}
    for row in rows:
        key = (row.edition_id, row.community_id, int(row.item_id or 0))
        before = found.get(key, ItemClicks(*key, 0, 0))
        found[key] = ItemClicks(
            *key,
            before.clicks + row.clicks,
            before.unique_clicks + row.unique_clicks,
            before.estimated or is_estimate(row.clickers),
        )
    return list(found.values())
