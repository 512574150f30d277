"""Benchmark: curate one edition for each of 20 towns over 10,000 recent stories.

Stories are spread over 20 town feeds, a regional desk and a wire feed (one story in ten is
wire copy that a town also carries, retitled and lightly rewritten, so clusters have several
members), all published in the last 24 hours, with popularity on one in five. Cluster keys
come from the real clustering (digest.ingest.clusters: URLs, wire ids, MinHash/LSH on title
and summary), timed on its own; each town has yesterday's edition, so curation reads what
was sent. The database is SQLite in a temporary folder unless --database-url names one (its
tables are dropped and created). Prints one JSON object: seconds for all towns, and per town.

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

from sqlalchemy import func, insert, text  # noqa: E402

from digest.curation.curate import curate  # noqa: E402
from digest.db import make_engine, make_session_factory  # noqa: E402
from digest.ingest.clusters import ClusterIndex  # noqa: E402
from digest.models import (  # noqa: E402
    Base,
    Community,
    Edition,
    EditionSegment,
    EditionStatus,
    Feed,
    Newsletter,
    Story,
)

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


# 2,000 words, each in about 1.3% of the stories' texts: below the 5% at which clustering
# counts a word as boilerplate (with 480 words every word was, and no copy was found by text).
WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "ti") for b in range(250)]


def words(rng: random.Random, n: int) -> list[str]:
    return rng.sample(WORDS, n)


def populate(session: object, towns: int, stories: int) -> float:
    """Store the stories; returns the seconds the clustering of them took."""
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
    index = ClusterIndex()
    clustering = 0.0
    wire_text: tuple[list[str], list[str]] = ([], [])
    for n in range(stories):
        published = AT - timedelta(seconds=rng.randrange(24 * 3600))
        title, summary = words(rng, 6), words(rng, 20)
        if n % 20 == 0:  # the wire's own story
            feed, url = wire, f"https://wire.example/{n}"
            wire_text = (title, summary)
        elif n % 20 == 10:  # a town's copy of the last wire story: retitled, lightly rewritten
            feed, url = feeds[rng.randrange(towns)], f"https://copy.example/{n}"
            title = [*wire_text[0][2:5], *words(rng, 3)]
            summary = [*wire_text[1][1:], *words(rng, 2)]
        elif n % 10 == 1:
            feed, url = regional, f"https://regional.example/{n}"
        else:
            feed = feeds[n % towns]
            url = f"https://town{n % towns}.example/{n}"
        started = time.perf_counter()
        text = (" ".join(title).capitalize(), " ".join(summary) + ".")
        key = index.assign(feed.id, url, text[0], published, text[1], url)
        clustering += time.perf_counter() - started
        rows.append(
            {
                "feed_id": feed.id,
                "community_id": feed.community_id,
                "guid": f"{feed.id}:{n}",
                "url": url,
                "title": text[0],
                "summary": text[1],
                "section": "news",
                "categories": [],
                "published_at": published,
                "first_seen_at": published,
                "updated_at": published,
                "content_hash": str(n),
                "revision": 1,
                "popularity": rng.random() if n % 5 == 0 else 0.0,
                "editors_pick": n % 997 == 0,
                "cluster_key": key,
                "image_alt": "",
            }
        )
    session.execute(insert(Story), rows)
    yesterday(session, places)
    return clustering


def yesterday(session: object, places: list[Community]) -> None:
    """Yesterday's edition for every town, with 11 of the stories, so history is read."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    letter = session.scalars(select(Newsletter)).one()
    edition = Edition(
        newsletter_id=letter.id,
        slot=(AT - timedelta(days=1)).replace(tzinfo=None),
        status=EditionStatus.SENT,
    )
    session.add(edition)
    session.flush()
    sent = session.execute(select(Story.id, Story.cluster_key).limit(11 * len(places))).all()
    for i, place in enumerate(places):
        mine = sent[11 * i : 11 * (i + 1)]
        session.add(
            EditionSegment(
                edition_id=edition.id,
                community_id=place.id,
                send_at=AT - timedelta(days=1),
                story_ids=[story_id for story_id, _ in mine],
                cluster_keys=[key for _, key in mine],
            )
        )
    session.flush()


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
        clustering = populate(session, args.towns, args.stories)

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
        clusters = session.scalar(select(func.count(func.distinct(Story.cluster_key))))
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
                "clusters": clusters,
                "clustering_seconds": round(clustering, 3),
                "target_total_seconds": 1,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
