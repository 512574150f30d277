"""Popularity ("Most read"): readings of how much stories are read, stored with their time.

A source is a feed marked most-read, whose order is its rank, or a JSON or CSV document of
url and views. Each reading becomes a PopularitySample per matching story (every copy with
that canonical URL) and sets the story's `popularity` to the newest score, between 0 and 1:
1/rank for a ranked list, views / the document's most views for a views document.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.ingest.parse import FeedError, canonical_url, parse_feed
from digest.models import PopularitySample, Story

MATCHED, UNMATCHED = "matched", "unmatched"
MAX_READINGS = 1000


@dataclass(frozen=True)
class Reading:
    """One line of a popularity source: a story's URL and its views or its rank."""

    url: str
    views: int | None = None
    rank: int | None = None


def read_source(body: bytes, url: str, now: datetime, content_type: str | None) -> list[Reading]:
    """The readings in a popularity document: JSON, CSV, or an RSS/Atom most-read list.

    Raises FeedError (naming the expected shapes) when the document is none of them.
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    text_start = body.lstrip()[:1]
    if kind == "application/json" or url.endswith(".json") or text_start in (b"[", b"{"):
        return _json_readings(body)
    if kind in ("text/csv", "application/csv") or url.endswith(".csv"):
        return _csv_readings(body)
    feed = parse_feed(body, url, now, content_type)
    return [
        Reading(url=story.url, rank=rank)
        for rank, story in enumerate(feed.stories[:MAX_READINGS], start=1)
    ]


def _json_readings(body: bytes) -> list[Reading]:
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise FeedError(f"popularity JSON is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("stories", data.get("items"))
    if not isinstance(data, list):
        raise FeedError(
            'popularity JSON must be a list of {"url": ..., "views": ...} (or {"stories": [...]})'
        )
    return _readings((row.get("url"), row.get("views")) for row in data if isinstance(row, dict))


def _csv_readings(body: bytes) -> list[Reading]:
    text = body.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    fields = {name.strip().lower(): name for name in reader.fieldnames or []}
    if "url" not in fields or "views" not in fields:
        raise FeedError("popularity CSV needs a header line with the columns url and views")
    return _readings((row.get(fields["url"]), row.get(fields["views"])) for row in reader)


def _readings(rows: Any) -> list[Reading]:
    readings: list[Reading] = []
    for url, views in rows:
        link = canonical_url(str(url or ""))
        try:
            count = int(float(str(views)))
        except ValueError:
            continue
        if link is not None and count >= 0:
            readings.append(Reading(url=link, views=count))
        if len(readings) >= MAX_READINGS:
            break
    return readings


def score(reading: Reading, most_views: int) -> float:
    """A reading's score between 0 and 1."""
    if reading.rank is not None:
        return 1.0 / reading.rank
    return (reading.views or 0) / most_views if most_views else 0.0


def record_readings(
    session: Session, source: str, readings: list[Reading], now: datetime
) -> Counter[str]:
    """Store a sample per matching story and update Story.popularity; returns matched/unmatched.

    Does not commit.
    """
    counts: Counter[str] = Counter()
    if not readings:
        return counts
    most_views = max((reading.views or 0 for reading in readings), default=0)
    stories: dict[str, list[Story]] = {}
    urls = list({reading.url for reading in readings})
    for story in session.scalars(select(Story).where(Story.url.in_(urls)).order_by(Story.id)):
        stories.setdefault(story.url, []).append(story)
    for reading in readings:
        matches = stories.get(reading.url, [])
        counts[MATCHED if matches else UNMATCHED] += 1
        value = score(reading, most_views)
        for story in matches:
            session.add(
                PopularitySample(
                    story_id=story.id,
                    measured_at=now,
                    source=source[:200],
                    views=reading.views,
                    rank=reading.rank,
                    score=value,
                )
            )
            story.popularity = value
    session.flush()
    return counts
