"""Benchmark: the counted redirect GET /r/<token> at a steady rate, then every click accounted for.

Starts `uvicorn digest.web.server:app` on a free local port against a scratch database
(its tables are dropped and created again; a town, a newsletter and an edition added) and,
with --redis-url, Redis as the click buffer (the list the `flush_clicks` task drains). Sends
--rate requests per second for --duration seconds on an open loop (each request leaves on
schedule whether or not earlier ones have answered) after --warmup seconds at the same rate
that are not counted, over --links different tracked links, each request from a different
client (user agent) so none is taken for a scanner, with the tags of --readers different
deliveries (request i is reader i mod --readers: readers click again, so unique clicks are
fewer than clicks). Then stops the server (its shutdown flush), adds the buffered batches to
the database as the task does (timed), and checks that every click sent was counted and that
unique clicks match the distinct (link, reader) pairs sent. Prints one JSON object: requests,
errors, achieved rate, latency percentiles in milliseconds, server CPU per request, clicks
counted vs sent, unique clicks counted vs expected, and the time the task took to add them.
Only 127.0.0.1 is contacted.

    .venv/bin/python bench/bench_redirect.py --rate 1000 --duration 30 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/digest_bench \
        --redis-url redis://127.0.0.1:6379/4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_signup import cpu_seconds, free_port, open_loop, start_server
from environment import environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-not-for-production"


def prepare(url: str, base_url: str, links: int, readers: int) -> tuple[list[str], list[str]]:
    """A scratch database with one edition; returns the paths of `links` links (no tag) and
    the tags of `readers` deliveries."""
    from digest.db import make_engine, make_session_factory
    from digest.models import Base, Community, Edition, EditionStatus, Newsletter
    from digest.render.links import CLICK_TAG, click_tag, tracked_url
    from digest.settings import load_settings

    engine = make_engine(url)
    Base.metadata.drop_all(engine)  # a scratch database: start from nothing every run
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session, session.begin():
        town = Community(slug="springfield", name="Springfield", timezone="America/Los_Angeles")
        letter = Newsletter(slug="morning", name="Morning Digest")
        session.add_all([town, letter])
        session.flush()
        edition = Edition(
            newsletter_id=letter.id, slot=datetime(2026, 12, 2, 6), status=EditionStatus.SENT
        )
        session.add(edition)
        session.flush()
        ids = (edition.id, town.id)
    engine.dispose()
    settings = load_settings(env="test", secret_key=SECRET, base_url=base_url)
    sent = datetime(2026, 12, 2, 6, tzinfo=UTC)  # hours ago: no click is a scanner's
    tags = [click_tag(settings, sent, None, delivery) for delivery in range(1, readers + 1)]
    paths = []
    for i in range(links):
        target = f"https://news.example/2026/12/02/story-{i}?utm_source=digest"
        url = tracked_url(settings, target, ids[0], ids[1], "story", i + 1)
        paths.append(url.replace(CLICK_TAG, "").removeprefix(base_url))
    return paths, tags


def expected_uniques(sent: int, links: int, readers: int) -> tuple[int, int]:
    """Distinct (link, reader) pairs and distinct readers among the first `sent` requests."""
    pairs = {(i % links, i % readers) for i in range(sent)}
    return len(pairs), len({reader for _link, reader in pairs})


async def run_load(
    port: int, paths: list[str], tags: list[str], rate: float, duration: float, warmup: float
) -> dict[str, Any]:
    """Clicks at `rate` a second (bench_signup's open loop), each a different reader's link;
    every one, warm-up included, should be redirected (302) and counted."""

    def request(index: int) -> bytes:
        path = paths[index % len(paths)] + tags[index % len(tags)]
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"User-Agent: Mozilla/5.0 (bench reader {index})\r\n\r\n"
        ).encode()

    result = await open_loop(port, rate, duration, warmup, request)
    warm = result.pop("warmup_statuses")
    statuses = {
        key: result["statuses"].get(key, 0) + warm.get(key, 0)
        for key in {*warm, *result["statuses"]}
    }
    sent = sum(statuses.values())
    return {
        "requests": result["requests"],
        "sent_with_warmup": sent,
        "errors": sent - statuses.get("302", 0),
        **{key: value for key, value in result.items() if key != "requests"},
        "statuses": statuses,
    }


def counted_clicks(database_url: str, redis_url: str | None) -> dict[str, Any]:
    """Drain what the server left in Redis (as `flush_clicks` does, timed), then sum the
    counts: clicks, unique clicks per link, and the town's unique clickers."""
    from sqlalchemy import func, select

    from digest.db import make_engine, make_session_factory
    from digest.ingest.clicks import drain_redis
    from digest.models import LinkClicks, TownClickers

    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    batches, drain_s = 0, 0.0
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        began = time.perf_counter()
        batches = drain_redis(sessions, client, lambda: datetime.now(UTC), limit=100_000)
        drain_s = time.perf_counter() - began
        client.close()
    with sessions() as session:
        clicks = session.scalar(select(func.coalesce(func.sum(LinkClicks.clicks), 0)))
        uniques = session.scalar(select(func.coalesce(func.sum(LinkClicks.unique_clicks), 0)))
        town = session.scalar(select(func.coalesce(func.sum(TownClickers.unique_clicks), 0)))
    engine.dispose()
    return {
        "clicks": int(clicks or 0),
        "unique_clicks": int(uniques or 0),
        "town_unique_clickers": int(town or 0),
        "batches_drained": batches,
        "drain_s": round(drain_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000, help="requests per second")
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load not counted")
    parser.add_argument("--links", type=int, default=200, help="different tracked links")
    parser.add_argument("--readers", type=int, default=5000, help="different deliveries' tags")
    parser.add_argument("--database-url", help="a scratch database (default: SQLite in a temp dir)")
    parser.add_argument("--redis-url", help="Redis as the click buffer (default: none)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="digest-bench-redirect-"))
    database_url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    paths, tags = prepare(database_url, base_url, args.links, args.readers)
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).delete("digest:clicks:batches")
    env = {
        **os.environ,
        "DIGEST_ENV": "test",
        "DIGEST_VAR_DIR": str(scratch / "var"),
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_BASE_URL": base_url,
        "DIGEST_REDIS_URL": args.redis_url or "",
    }
    server = start_server(env, port, args.workers, scratch / "web.log")
    try:
        cpu_before = cpu_seconds(server.pid)
        load = run_load(port, paths, tags, args.rate, args.duration, args.warmup)
        result = asyncio.run(load)
        server_cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()  # a graceful stop: the last counts are flushed on the way out
        server.wait(timeout=30)
    counted = counted_clicks(database_url, args.redis_url)
    pairs, readers = expected_uniques(result["sent_with_warmup"], args.links, args.readers)
    result.update(
        {
            "benchmark": "click_redirect",
            "database": database_url.split(":", 1)[0],
            "click_buffer": "redis" if args.redis_url else "database",
            "uvicorn_workers": args.workers,
            "server_cpu_ms_per_request": round(server_cpu * 1000 / result["sent_with_warmup"], 3),
            "clicks_sent": result["sent_with_warmup"],
            "clicks_counted": counted["clicks"],
            "none_lost": counted["clicks"] == result["statuses"].get("302", 0),
            "unique_clicks_expected": pairs,
            "unique_clicks_counted": counted["unique_clicks"],
            "town_unique_clickers_expected": readers,
            "town_unique_clickers_counted": counted["town_unique_clickers"],
            "batches_drained": counted["batches_drained"],
            "drain_s": counted["drain_s"],
            **environment(),
            "p99_under_50ms": result["latency_ms"]["p99"] < 50,
        }
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
