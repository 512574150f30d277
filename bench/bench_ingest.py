"""Benchmark: poll 200 feeds of 50 items each from a local HTTP server, then poll them again.

The first poll fetches, parses and ingests every item (10,000 new stories, with wire copies
clustered); the second finds every feed unchanged (one 304 each). Both run through
digest.ingest.feeds.poll on one session and are committed, as `digest feeds poll` does. The
database is SQLite in a temporary folder unless --database-url names one (its tables are
dropped and created). Only 127.0.0.1 is contacted. Prints one JSON object.

    .venv/bin/python bench/bench_ingest.py
    .venv/bin/python bench/bench_ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/digest_bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from digest.db import make_engine, make_session_factory  # noqa: E402
from digest.ingest.feeds import poll  # noqa: E402
from digest.ingest.fetch import FetchOptions  # noqa: E402
from digest.models import Base, Community, Feed, Story  # noqa: E402
from tests.support.feeds import Item, rss  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
_WORDS = (
    "council budget school board bridge river storm library police fire market park road "
    "water tax mayor festival hospital farm college museum housing trail election court"
)
WORDS = _WORDS.split()
# About 300 words (no hyphens: they would split into the same few tokens), so titles
# overlap about as much as a real region's headlines do.
VOCABULARY = [f"{a}{b}" for a in WORDS for b in ("", "s", "ing", "ed", "er")] + [
    f"{a}{b}" for a in WORDS[:12] for b in WORDS[12:]
][:600]
SERVER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.support.http import FeedServer
server = FeedServer(Path(sys.argv[1]))
server.httpd.RequestHandlerClass.protocol_version = "HTTP/1.1"  # keep-alive, as real servers
server.start()
print(server.base_url, flush=True)
time.sleep(3600)
"""


def title(feed: int, item: int) -> str:
    chosen = random.Random(feed * 1000 + item).sample(VOCABULARY, 7)
    return " ".join(chosen).capitalize()


def feed_document(feed: int, items: int, base: str) -> str:
    entries = []
    for item in range(items):
        published = NOW - timedelta(minutes=feed + item * 17)
        if item % 10 == 0:  # one item in ten is wire copy carried by many towns
            wire = item // 10
            entries.append(
                Item(
                    f"Wire: statewide news item number {wire} for today",
                    f"https://wire.example/{wire}?utm_source=town{feed}",
                    guid=f"wire-{wire}",
                    published=published,
                )
            )
        else:
            entries.append(
                Item(
                    title(feed, item),
                    f"{base}/{feed}/{item}#top",
                    guid=f"{feed}-{item}",
                    published=published,
                    description=f"<p>Summary of story {item} with <b>markup</b>.</p>",
                )
            )
    return rss(entries, title=f"Town paper {feed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="digest-bench-ingest-"))
    url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)

    # The feeds' server runs in its own process, as a publisher's would: not on our GIL.
    www = scratch / "www"
    www.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(www), str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    with factory() as session, session.begin():
        towns = [
            Community(slug=f"town-{i}", name=f"Town {i}", timezone="America/Denver")
            for i in range(20)
        ]
        session.add_all(towns)
        session.flush()
        for feed in range(args.feeds):
            (www / f"f{feed}.xml").write_text(feed_document(feed, args.items, base_url))
            feed_url = f"{base_url}/f{feed}.xml"
            session.add(
                Feed(
                    url=feed_url,
                    community_id=towns[feed % 20].id,
                    section="news",
                    consecutive_failures=0,
                )
            )
    options = FetchOptions(timeout=30.0, concurrency=16)

    fetched_at: list[float] = []

    def run(moment: datetime) -> tuple[float, dict[str, float]]:
        fetched_at.clear()
        started = time.perf_counter()
        cpu_started = time.process_time()
        results = poll(
            factory,
            None,
            moment,
            options,
            on_fetched=lambda _: fetched_at.append(time.perf_counter()),
        )
        elapsed = time.perf_counter() - started
        statuses: dict[str, float] = {}
        statuses["fetch_seconds"] = round(max(fetched_at) - started, 3)
        # This process's CPU (the feed server is another process): on a machine shared with
        # other work, a steadier figure than the wall clock.
        statuses["cpu_seconds"] = round(time.process_time() - cpu_started, 3)
        for result in results:
            statuses[result.status] = statuses.get(result.status, 0) + 1
        return elapsed, statuses

    first, first_statuses = run(NOW)
    second, second_statuses = run(NOW + timedelta(minutes=15))
    with factory() as session:
        stories = session.scalar(select(func.count()).select_from(Story))
        clusters = session.scalar(select(func.count(func.distinct(Story.cluster_key))))
    server.terminate()
    server.wait()
    engine.dispose()
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "database": engine.dialect.name,
                "feeds": args.feeds,
                "items_per_feed": args.items,
                "first_poll_seconds": round(first, 3),
                "first_poll": first_statuses,
                "second_poll_seconds": round(second, 3),
                "second_poll": second_statuses,
                "stories": stories,
                "clusters": clusters,
                "targets": {"first_poll_seconds": 10, "second_poll_seconds": 1},
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
