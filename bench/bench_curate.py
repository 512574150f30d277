"""Benchmark: curate one edition for each of 20 towns over 10,000 recent stories.

Stories are spread over 20 town feeds, a regional desk and a wire feed (one story in ten is
wire copy that several towns also carry, so clusters have several members), all published
in the last 24 hours, with popularity on one in five. The database is SQLite in a temporary
folder unless --database-url names one (its tables are dropped and created). Prints one
JSON object: seconds for all towns, and per town.

    .venv/bin/python bench/bench_curate.py
    .venv/bin/python bench/bench_curate.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/digest_bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from digest.curation.curate import curate  # noqa: E402
from digest.db import make_engine, make_session_factory  # noqa: E402
from digest.ingest.clusters import url_cluster_key  # noqa: E402
from digest.models import Base, Community, Feed, Newsletter, Story  # noqa: E402

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def populate(session: object, towns: int, stories: int) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    places = [
        Community(slug=f"town-{i}", name=f"Town {i}", timezone="America/Chicago")
        for i in range(towns)
    ]
    session.add_all(places)
    session.flush()
    feeds = [
        Feed(
            url=f"https://town{i}.example/feed",
            community_id=place.id,
            title=f"Town {i}",
            consecutive_failures=0,
        )
        for i, place in enumerate(places)
    ]
    regional = Feed(url="https://regional.example/feed", title="Regional", consecutive_failures=0)
    wire = Feed(url="https://wire.example/feed", title="Wire", consecutive_failures=0)
    session.add_all([*feeds, regional, wire])
    session.add(
        Newsletter(
            slug="morning",
            name="Morning",
            sections={"top": 5, "local": 5, "most_read": 3, "just_posted": 3},
        )
    )
    session.flush()
    rng = random.Random(7)
    rows = []
    for n in range(stories):
        published = AT - timedelta(seconds=rng.randrange(24 * 3600))
        if n % 10 == 0:  # wire copy: the wire's own row, carried by a town under the wire URL
            feed = wire if n % 20 == 0 else feeds[rng.randrange(towns)]
            url = f"https://wire.example/{n // 20}"
        elif n % 10 == 1:
            feed, url = regional, f"https://regional.example/{n}"
        else:
            feed = feeds[n % towns]
            url = f"https://town{n % towns}.example/{n}"
        rows.append(
            {
                "feed_id": feed.id,
                "community_id": feed.community_id,
                "guid": f"{feed.id}:{n}",
                "url": url,
                "title": f"Story number {n}",
                "summary": "A summary.",
                "section": "news",
                "categories": [],
                "published_at": published,
                "first_seen_at": published,
                "updated_at": published,
                "content_hash": str(n),
                "revision": 1,
                "popularity": rng.random() if n % 5 == 0 else 0.0,
                "editors_pick": n % 997 == 0,
                "cluster_key": url_cluster_key(url),
                "image_alt": "",
            }
        )
    session.execute(insert(Story), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--towns", type=int, default=20)
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--spare", type=int, default=0, help="Also curate with N spares.")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="digest-bench-curate-"))
    url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        populate(session, args.towns, args.stories)

    with factory() as session, session.begin():
        from sqlalchemy import select

        letter = session.scalars(select(Newsletter)).one()
        places = list(session.scalars(select(Community).order_by(Community.id)))
        per_town = []
        cards = 0
        started = time.perf_counter()
        for place in places:
            town_started = time.perf_counter()
            curation = curate(session, letter, place, AT)
            if args.spare:  # as a first swap at the desk does: the next candidates
                curate(session, letter, place, AT, spare=args.spare)
            per_town.append(time.perf_counter() - town_started)
            cards += sum(len(section.stories) for section in curation.sections)
        total = time.perf_counter() - started
    engine.dispose()
    print(
        json.dumps(
            {
                "benchmark": "curate",
                "database": engine.dialect.name,
                "towns": args.towns,
                "stories": args.stories,
                "spare": args.spare,
                "total_seconds": round(total, 3),
                "per_town_ms": {
                    "mean": round(1000 * total / len(per_town), 1),
                    "max": round(1000 * max(per_town), 1),
                },
                "cards": cards,
                "target_total_seconds": 1,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
