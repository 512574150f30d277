"""Profile: where a batch run's CPU goes per message, per library and per function.

Seeds the delivery benchmark's edition (PostgreSQL, `--readers` readers), starts sending it,
then runs its batches one after the other in this process, as one worker would, against
Postfix's smtp-sink: first plainly (CPU and wall time per message), then under yappi's CPU
clock. Prints JSON. CPU per message, unlike a rate, barely moves with the machine's load.

    .venv/bin/python bench/profile_delivery.py --readers 4000
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yappi
from bench_delivery import (
    backend_pids,
    configure,
    cpu_seconds,
    free_port,
    recreate_database,
    seed,
)
from environment import environment
from profile_signup import library


def start_edition(database_url: str, edition_id: int, batch_size: int) -> list[tuple[int, int]]:
    from digest.db import make_engine, make_session_factory
    from digest.models import Edition
    from digest.sending import delivery

    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        with session.begin():
            edition = session.get_one(Edition, edition_id)
            delivery.start_sending(session, edition, datetime.now(UTC))
        with session.begin():
            batches = delivery.plan_batches(session, edition_id, batch_size, datetime.now(UTC))
    engine.dispose()
    return batches


def run_batches(edition_id: int, batches: list[tuple[int, int]]) -> tuple[int, float]:
    """Send the batches one after the other; returns the messages sent and the CPU seconds
    the PostgreSQL server processes serving this run used."""
    from digest.clock import SYSTEM_CLOCK
    from digest.db import make_engine, make_session_factory
    from digest.sending import batches as batch_runs
    from digest.sending import delivery
    from digest.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    sent = 0
    with delivery.open_sender(settings) as sender:
        for first, last in batches:
            counts = batch_runs.send_batch(
                make_session_factory(engine),
                settings,
                edition_id,
                first,
                last,
                sender,
                SYSTEM_CLOCK,
            )
            sent += counts.get("sent", 0)
    name = engine.url.database or ""
    server_cpu = sum(cpu_seconds(pid) for pid in backend_pids(settings.database_url, name))
    engine.dispose()
    return sent, server_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=4000, help="readers of each run")
    parser.add_argument("--towns", type=int, default=20)
    parser.add_argument("--database", default="digest_profile")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--top", type=int, default=25, help="functions listed, by own CPU")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="yappi's clock")
    args = parser.parse_args()

    port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "1024"])
    database_url = f"{args.postgres}/{args.database}"
    recreate_database(f"{args.postgres}/postgres", args.database)
    configure(database_url, args.redis, f"smtp://127.0.0.1:{port}", Path(tempfile.mkdtemp()))
    from digest.settings import get_settings

    batch_size = get_settings().batch_size
    result: dict[str, object] = {"benchmark": "delivery_cpu_profile", "readers": args.readers}
    try:
        runs = {}
        for name, slug, hour in (("plain", "plain", 13), ("profiled", "profiled", 14)):
            slot = datetime(2026, 11, 24, hour, 0, tzinfo=UTC)
            edition_id = seed(database_url, args.readers, args.towns, slot, slug)
            batches = start_edition(database_url, edition_id, batch_size)
            if name == "profiled":
                yappi.set_clock_type(args.clock)
                yappi.start(builtins=True)
            cpu, wall = time.process_time(), time.perf_counter()
            sent, server_cpu = run_batches(edition_id, batches)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            runs[name] = {
                "sent": sent,
                "cpu_ms_per_message": round(1000 * cpu / max(sent, 1), 3),
                "wall_ms_per_message": round(1000 * wall / max(sent, 1), 3),
                "messages_per_second": round(sent / wall, 1),
                "postgres_cpu_ms_per_message": round(1000 * server_cpu / max(sent, 1), 3),
            }
        yappi.stop()
    finally:
        sink.terminate()
    result["runs"] = runs
    sent = runs["profiled"]["sent"] or 1
    by_library: collections.Counter[str] = collections.Counter()
    functions = []
    for stat in yappi.get_func_stats():
        by_library[library(stat.module)] += stat.tsub
        functions.append((stat.tsub, f"{library(stat.module)}:{stat.name}", stat.ncall))
    result["cpu_ms_per_message_by_library"] = {
        name: round(1000 * seconds / sent, 3) for name, seconds in by_library.most_common()
    }
    result["top_functions_own_cpu_ms_per_message"] = [
        {"function": name, "ms": round(1000 * seconds / sent, 4), "calls": calls}
        for seconds, name, calls in sorted(functions, reverse=True)[: args.top]
    ]
    result["cumulative_ms_per_message_digest"] = {
        stat.name: round(1000 * stat.ttot / sent, 3)
        for stat in sorted(yappi.get_func_stats(), key=lambda s: -s.ttot)
        if library(stat.module) == "digest"
    }
    result["environment"] = environment()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
