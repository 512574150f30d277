"""Benchmark: the list hygiene review (who lapsed) over a newsletter's readers.

Fills a scratch database (its tables are dropped and created again) with one newsletter with
hygiene on, --readers confirmed readers in one town, --editions editions delivered to every
reader one day apart, and a click (per-reader event) in the last edition for one reader in
--click-share; runs ANALYZE (the statistics autovacuum keeps); then times
`digest.readers.hygiene.review` (the read a pass starts with) and checks its answer: every
reader who never clicked lapsed, no clicker did. Prints one JSON object. Only the given
database is contacted.

    .venv/bin/python bench/bench_hygiene.py --readers 20000 --editions 12 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/digest_bench
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from environment import environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def fill(url: str, readers: int, editions: int, click_share: float) -> int:
    """The scratch data; returns how many readers clicked."""
    from sqlalchemy import insert, text

    from digest.db import make_engine, make_session_factory
    from digest.models import (
        Base,
        ClickEvent,
        Community,
        Delivery,
        DeliveryStatus,
        Edition,
        EditionSegment,
        EditionStatus,
        Newsletter,
        Subscriber,
        Subscription,
        SubscriptionStatus,
    )

    engine = make_engine(url)
    Base.metadata.drop_all(engine)  # a scratch database: start from nothing every run
    Base.metadata.create_all(engine)
    start = NOW - timedelta(days=editions + 1)
    clickers = int(readers * click_share)
    with make_session_factory(engine)() as session, session.begin():
        town = Community(slug="springfield", name="Springfield", timezone="UTC")
        letter = Newsletter(
            slug="morning",
            name="Morning",
            hygiene=True,
            hygiene_after_editions=editions - 2,
            hygiene_grace_editions=2,
            hygiene_since=start - timedelta(days=1),
        )
        session.add_all([town, letter])
        session.flush()
        session.execute(
            insert(Subscriber),
            [
                {"email": f"r{i}@bench.example", "community_id": town.id, "created_at": start}
                for i in range(readers)
            ],
        )
        ids = [
            row[0]
            for row in session.execute(
                Subscriber.__table__.select().with_only_columns(Subscriber.id)
            )
        ]
        session.execute(
            insert(Subscription),
            [
                {
                    "subscriber_id": sid,
                    "newsletter_id": letter.id,
                    "status": SubscriptionStatus.CONFIRMED,
                    "source": "bench",
                    "created_at": start - timedelta(days=30),
                    "confirmed_at": start - timedelta(days=30),
                }
                for sid in ids
            ],
        )
        for day in range(editions):
            at = start + timedelta(days=day)
            edition = Edition(
                newsletter_id=letter.id,
                slot=at.replace(tzinfo=None),
                status=EditionStatus.SENT,
            )
            session.add(edition)
            session.flush()
            segment = EditionSegment(
                edition_id=edition.id,
                community_id=town.id,
                send_at=at,
                subject="s",
                html="",
                text="",
            )
            session.add(segment)
            session.flush()
            session.execute(
                insert(Delivery),
                [
                    {
                        "edition_id": edition.id,
                        "segment_id": segment.id,
                        "subscriber_id": sid,
                        "status": DeliveryStatus.SENT,
                        "sent_at": at,
                    }
                    for sid in ids
                ],
            )
            if day == editions - 1:
                session.execute(
                    insert(ClickEvent),
                    [
                        {
                            "edition_id": edition.id,
                            "community_id": town.id,
                            "subscriber_id": sid,
                            "link_key": "a" * 64,
                            "clicked_at": at + timedelta(hours=1),
                        }
                        for sid in ids[:clickers]
                    ],
                )
    with engine.begin() as connection:
        # The planner's statistics, as autovacuum keeps them on a live database: without them
        # freshly filled tables get nested loops (minutes instead of a second).
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return clickers


def timed_review(url: str) -> tuple[float, dict[str, int]]:
    from sqlalchemy import select

    from digest.db import make_engine, make_session_factory
    from digest.models import Newsletter
    from digest.readers.hygiene import review
    from digest.settings import load_settings

    settings = load_settings(env="test", click_per_reader=True)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        letter = session.scalars(select(Newsletter)).one()
        began = time.perf_counter()
        lapses = review(session, settings, letter, NOW)
        seconds = time.perf_counter() - began
    engine.dispose()
    steps: dict[str, int] = {}
    for lapse in lapses:
        steps[str(lapse.step)] = steps.get(str(lapse.step), 0) + 1
    return seconds, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--editions", type=int, default=12)
    parser.add_argument("--click-share", type=float, default=0.3)
    parser.add_argument("--database-url", help="a scratch database (default: SQLite in a temp dir)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="digest-bench-hygiene-"))
    url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    began = time.perf_counter()
    clickers = fill(url, args.readers, args.editions, args.click_share)
    fill_s = time.perf_counter() - began
    seconds, steps = timed_review(url)
    result: dict[str, Any] = {
        "benchmark": "hygiene_review",
        "database": url.split(":", 1)[0],
        "readers": args.readers,
        "editions": args.editions,
        "deliveries": args.readers * args.editions,
        "clickers": clickers,
        "fill_s": round(fill_s, 1),
        "review_s": round(seconds, 2),
        "steps": steps,
        "lapsed_as_expected": steps == {"mail": args.readers - clickers},
        **environment(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
