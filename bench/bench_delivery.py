"""Delivery end to end: PostgreSQL, Redis, two Celery worker processes and Postfix's smtp-sink.

Prints JSON with
- `ceiling`: a plain smtplib loop pushing prebuilt messages of the same size, with as many
  processes as there are workers: the most this machine's SMTP path allows;
- `end_to_end`: a `--readers` edition over `--towns` towns, from `send_edition` being enqueued
  to the last delivery recorded as sent, and its ratio to the ceiling;
- `fanout` (with `--fanout N`): creating the deliveries of an N-reader edition and enqueueing
  its batches, with this process's peak memory;
- `purge` (with `--purge`): folding and deleting the sent edition's deliveries as retention
  does (batches of 5,000), its rows per second, and the table's bytes per delivery row.

    .venv/bin/python bench/bench_delivery.py --readers 100000 --towns 20 --fanout 1000000

`--plot docs/img/delivery.svg` also draws messages sent over time against the ceiling's slope.

It drops and recreates the database named by --database (default digest_bench) and flushes
the Redis database named by --redis (default db 9). Needs `smtp-sink` (Debian: postfix).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def configure(database_url: str, redis_url: str, mail_url: str, var_dir: Path) -> dict[str, str]:
    env = {
        "DIGEST_ENV": "test",
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_BROKER_URL": redis_url,
        "DIGEST_MAIL_URL": mail_url,
        "DIGEST_VAR_DIR": str(var_dir),
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_BASE_URL": "https://news.example",
        "DIGEST_BOUNCE_DOMAIN": "bounces.news.example",
    }
    os.environ.update(env)
    return env


def recreate_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()


def sample_sections(town: str) -> list:  # type: ignore[type-arg]
    from digest.curation.sections import LOCAL, TOP, Section, StoryCard

    now = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)

    def card(i: int, where: str) -> StoryCard:
        return StoryCard(
            story_id=i,
            cluster_key=f"c{where}{i}",
            rank=i,
            published_at=now - timedelta(hours=i),
            title=f"{where} council weighs plan {i} for the river trail and the old mill",
            url=f"https://news.example/{where.lower()}/story-{i}",
            summary="Residents packed the hall on Monday as the council heard two hours of "
            "comment on the plan, which would link the trail to the mill district. " * 2,
            image_url=f"https://news.example/img/{i}.jpg",
            image_alt="The river trail at dawn",
            author="Staff reporter",
            source=f"{where} Times",
        )

    return [
        Section(TOP, "Top stories", tuple(card(i, "Region") for i in range(5))),
        Section(LOCAL, f"Local: {town}", tuple(card(i + 10, town) for i in range(5))),
    ]


def seed(database_url: str, readers: int, towns: int, slot: datetime, slug: str) -> int:
    """Towns, a newsletter, `readers` confirmed readers (in SQL) and a rendered edition."""
    from sqlalchemy import text

    from digest.curation.sections import sections_to_json
    from digest.db import make_engine, make_session_factory
    from digest.models import Base, Community, Edition, EditionSegment, EditionStatus, Newsletter
    from digest.render.render import render_segment
    from digest.settings import get_settings

    settings = get_settings()
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        places = session.query(Community).order_by(Community.id).all()
        if not places:
            places = [
                Community(slug=f"town{i}", name=f"Town {i}", timezone="America/Denver")
                for i in range(towns)
            ]
            session.add_all(places)
            session.flush()
        letter = Newsletter(slug=slug, name="Morning Digest")
        session.add(letter)
        session.flush()
        edition = Edition(
            newsletter_id=letter.id,
            slot=slot.replace(tzinfo=None),
            status=EditionStatus.READY,
            subject="Morning Digest",
        )
        session.add(edition)
        session.flush()
        for town in places:
            sections = sample_sections(town.name)
            rendered = render_segment(
                settings, letter, town, sections, slot.date(), edition_id=edition.id
            )
            session.add(
                EditionSegment(
                    edition_id=edition.id,
                    community_id=town.id,
                    send_at=slot,
                    sections=sections_to_json(rendered.sections),
                    subject=rendered.subject,
                    preheader=rendered.preheader,
                    html=rendered.html,
                    text=rendered.text,
                )
            )
        ids = [town.id for town in places]
        offset = session.execute(text("SELECT coalesce(max(id), 0) FROM subscribers")).scalar_one()
        session.execute(
            text(
                "INSERT INTO subscribers"
                " (email, email_hash, name, community_id, status, created_at, updated_at) "
                "SELECT 'reader' || (g + :offset) || '@example.org', "
                "encode(sha256(('reader' || (g + :offset) || '@example.org')::bytea), 'hex'), "
                "'Reader ' || g, (:ids)[1 + (g % :n)], 'active', now(), now() "
                "FROM generate_series(1, :readers) AS g"
            ),
            {"offset": offset, "ids": ids, "n": len(ids), "readers": readers},
        )
        session.execute(
            text(
                "INSERT INTO subscriptions"
                " (subscriber_id, newsletter_id, status, source, created_at)"
                " SELECT id, :letter, 'confirmed', 'bench', now()"
                " FROM subscribers WHERE id > :offset"
            ),
            {"letter": letter.id, "offset": offset},
        )
        edition_id = edition.id
    engine.dispose()
    return edition_id


def one_message(edition_id: int) -> tuple[str, bytes]:
    """A real composed message of this edition: the size the ceiling loop pushes."""
    from sqlalchemy import select

    from digest.db import make_engine, make_session_factory
    from digest.models import EditionSegment
    from digest.render.mime import Reader, compose
    from digest.sending.messages import template_of
    from digest.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        segment = session.scalars(
            select(EditionSegment).where(EditionSegment.edition_id == edition_id)
        ).first()
        assert segment is not None
        template = template_of(settings, segment, datetime.now(UTC))
        message = compose(template, Reader(1, 1, "reader1@example.org", "Reader 1"))
    engine.dispose()
    return message.mail_from, message.data


def push(port: int, mail_from: str, data: bytes, count: int, start: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(start, start + count):
            smtp.sendmail(mail_from, [f"reader{i}@example.org"], data)


def ceiling(port: int, mail_from: str, data: bytes, count: int, processes: int) -> float:
    per = count // processes
    workers = [
        multiprocessing.Process(target=push, args=(port, mail_from, data, per, i * per))
        for i in range(processes)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return per * processes / (time.perf_counter() - started)


def start_workers(env: dict[str, str], count: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(count):
        log = (logs / f"worker{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers.celery_app",
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "WARNING",
                    "--hostname",
                    f"bench{i}@%h",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
    time.sleep(4)  # solo workers log nothing at WARNING when ready; give them time to connect
    return procs


def cpu_seconds(pid: int) -> float:
    """User plus system CPU a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(database_url: str, name: str) -> list[int]:
    """The PostgreSQL server processes serving connections to the database `name`."""
    from sqlalchemy import text

    from digest.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as connection:
        pids = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalars()
        found = [int(pid) for pid in pids]
    engine.dispose()
    return found


def cpu_by_role(
    roles: dict[str, list[int]], before: dict[int, float], messages: int
) -> dict[str, dict[str, float]]:
    """CPU seconds each role's processes used since `before`, and milliseconds per message."""
    out = {}
    for role, pids in roles.items():
        seconds = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids)
        out[role] = {
            "cpu_seconds": round(seconds, 2),
            "cpu_ms_per_message": round(1000 * seconds / messages, 3),
        }
    return out


def sent_count(database_url: str, edition_id: int) -> int:
    from sqlalchemy import text

    from digest.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM deliveries WHERE edition_id = :e AND status = 'sent'"),
            {"e": edition_id},
        ).scalar_one()
    engine.dispose()
    return int(count)


def end_to_end(
    database_url: str, edition_id: int, readers: int, timeout: float
) -> tuple[float, list[tuple[float, int]]]:
    """Messages per second from enqueueing to the last one recorded, and (seconds, sent) samples."""
    from workers.tasks import send_edition

    started = time.perf_counter()
    send_edition.delay(edition_id)
    samples = [(0.0, 0)]
    while samples[-1][1] < readers:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"end to end: not done after {timeout} s")
        time.sleep(0.5)
        samples.append((time.perf_counter() - started, sent_count(database_url, edition_id)))
    return readers / samples[-1][0], samples


def write_plot(path: Path, samples: list[tuple[float, int]], ceiling: float) -> None:
    """An SVG line of messages sent over time, with the smtplib ceiling's slope for scale."""
    width, height, pad = 640, 320, 48
    end_t, end_n = samples[-1]
    top = max(end_n, 1)

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * t / end_t

    def y(n: float) -> float:
        return height - pad - (height - 2 * pad) * min(n, top) / top

    line = " ".join(f"{x(t):.1f},{y(n):.1f}" for t, n in samples)
    limit_t = min(end_t, top / ceiling)
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">'
        f'<rect width="{width}" height="{height}" fill="white"/>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="#444"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#444"/>'
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(limit_t):.1f}" y2="{y(ceiling * limit_t):.1f}" '
        f'stroke="#999" stroke-dasharray="4 4"/>'
        f'<polyline points="{line}" fill="none" stroke="#0b4f8a" stroke-width="2"/>'
        f'<text x="{pad}" y="{pad - 12}">messages sent (of {end_n:,})</text>'
        f'<text x="{width - pad}" y="{height - pad + 30}" text-anchor="end">'
        f"seconds ({end_t:.0f} s in all)</text>"
        f'<text x="{x(limit_t) - 4:.1f}" y="{y(ceiling * limit_t) + 16:.1f}" text-anchor="end" '
        f'fill="#666">smtplib ceiling ({ceiling:,.0f}/s)</text>'
        f'<text x="{width - pad}" y="{y(end_n) + 16:.1f}" text-anchor="end" fill="#0b4f8a">'
        f"Digest ({end_n / end_t:,.0f}/s)</text></svg>\n"
    )


class PeakMemory:
    """Samples the resident memory of the database and broker processes while work runs."""

    NAMES = ("postgres", "redis-server")

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    if not proc.name.isdigit():
                        continue
                    name = (proc / "comm").read_text().strip()
                    if name not in self.NAMES:
                        continue
                    rss_kb = next(
                        int(line.split()[1])
                        for line in (proc / "status").read_text().splitlines()
                        if line.startswith("VmRSS:")
                    )
                except (OSError, StopIteration, ValueError):
                    continue
                key = f"{name} (largest process)"
                self.peaks[key] = max(self.peaks.get(key, 0.0), round(rss_kb / 1024, 1))
            self.stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()


def fanout(database_url: str, edition_id: int) -> dict[str, object]:
    from digest.db import make_engine, make_session_factory
    from digest.models import Edition
    from digest.sending import delivery
    from digest.settings import get_settings
    from workers.tasks import send_batch

    settings = get_settings()
    engine = make_engine(database_url)
    with PeakMemory() as memory, make_session_factory(engine)() as session:
        started = time.perf_counter()
        with session.begin():
            edition = session.get_one(Edition, edition_id)
            created = delivery.start_sending(session, edition, datetime.now(UTC))
            edition.status = edition.status.PAUSED  # so no worker starts on it
        created_at = time.perf_counter()
        with session.begin():
            batches = delivery.plan_batches(
                session, edition_id, settings.batch_size, datetime.now(UTC)
            )
        for first, last in batches:
            send_batch.delay(edition_id, first, last)
        done = time.perf_counter()
    engine.dispose()
    return {
        "deliveries": created,
        "batches": len(batches),
        "create_seconds": round(created_at - started, 2),
        "plan_and_enqueue_seconds": round(done - created_at, 2),
        "total_seconds": round(done - started, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_of_services": memory.peaks,
    }


def purge(database_url: str, edition_id: int, batch: int) -> dict[str, object]:
    """Fold and delete a finished edition's deliveries as retention would, timed; with the
    table's bytes per row, which give its size under a retention period."""
    from sqlalchemy import text

    from digest.clock import FixedClock
    from digest.db import make_engine, make_session_factory
    from digest.sending.retention import purge_old_deliveries
    from digest.settings import load_settings

    engine = make_engine(database_url)
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("VACUUM ANALYZE deliveries"))
        rows = connection.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
        size = connection.execute(text("SELECT pg_total_relation_size('deliveries')")).scalar_one()
        connection.execute(
            text(
                "UPDATE editions SET status = 'sent', finished_at = now() - interval '100 days'"
                " WHERE id = :e"
            ),
            {"e": edition_id},
        )
    settings = load_settings(database_url=database_url, delivery_purge_batch=batch)
    started = time.perf_counter()
    done = purge_old_deliveries(
        make_session_factory(engine), settings, FixedClock(datetime.now(UTC))
    )
    seconds = time.perf_counter() - started
    engine.dispose()
    per_row = size / max(rows, 1)
    return {
        "deliveries_deleted": done.get("deliveries deleted", 0),
        "purge_batch": batch,
        "seconds": round(seconds, 2),
        "rows_per_second": round(done.get("deliveries deleted", 0) / seconds, 1),
        "bytes_per_delivery_row_with_indexes": round(per_row, 1),
        "table_gb_at_1m_a_day_kept_90_days": round(per_row * 90e6 / 1e9, 1),
        "table_gb_at_1m_a_day_kept_365_days": round(per_row * 365e6 / 1e9, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--towns", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fanout", type=int, default=0, help="readers of the fan-out edition")
    parser.add_argument("--database", default="digest_bench")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--plot", help="write an SVG of messages sent over time to this path")
    parser.add_argument(
        "--purge", action="store_true", help="then fold and delete the edition's deliveries"
    )
    args = parser.parse_args()

    port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "1024"])
    database_url = f"{args.postgres}/{args.database}"
    recreate_database(f"{args.postgres}/postgres", args.database)
    var_dir = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    env = configure(database_url, args.redis, f"smtp://127.0.0.1:{port}", var_dir)
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    result: dict[str, object] = {
        "readers": args.readers,
        "towns": args.towns,
        "workers": args.workers,
        "cpus": os.cpu_count(),
    }
    try:
        slot = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
        edition_id = seed(database_url, args.readers, args.towns, slot, "morning")
        mail_from, data = one_message(edition_id)
        result["message_bytes"] = len(data)
        top = ceiling(port, mail_from, data, min(args.readers, 40_000), args.workers)
        result["ceiling_messages_per_second"] = round(top, 1)
        procs = start_workers(env, args.workers, var_dir)
        try:
            before = {pid: cpu_seconds(pid) for pid in [sink.pid, *(p.pid for p in procs)]}
            rate, samples = end_to_end(database_url, edition_id, args.readers, args.timeout)
            roles = {
                "workers": [p.pid for p in procs],
                "postgres_backends": backend_pids(database_url, args.database),
                "smtp_sink": [sink.pid],
            }
            result["end_to_end_cpu"] = cpu_by_role(roles, before, args.readers)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=60)
        result["end_to_end_messages_per_second"] = round(rate, 1)
        result["ratio_to_ceiling"] = round(rate / top, 3)
        if args.plot:
            write_plot(Path(args.plot), samples, top)
        if args.purge:
            result["purge"] = purge(database_url, edition_id, 5000)
        if args.fanout:
            big = seed(database_url, args.fanout, args.towns, slot + timedelta(days=1), "big")
            result["fanout"] = fanout(database_url, big)
            redis.Redis.from_url(args.redis).flushdb()
    finally:
        sink.terminate()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
