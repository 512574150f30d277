"""Benchmark: the signup API (POST /api/subscriptions) at a steady rate, rate limits lifted.

Starts `uvicorn digest.web.server:app` on a free local port against a scratch database
(SQLite in a temporary folder unless --database-url names one; its tables are dropped and
created again, and two towns and a newsletter added), sends --rate requests per second for
--duration seconds
on an open loop (each request leaves on schedule, whether or not earlier ones have
answered) after --warmup seconds at the same rate that are not counted, each for a new
address, and prints one JSON object: requests, errors, achieved
rate and latency percentiles in milliseconds. Confirmation emails are queued on the broker
of the environment (DIGEST_BROKER_URL, else the embedded one in the scratch folder); no
worker is needed. Only 127.0.0.1 is contacted.

    .venv/bin/python bench/bench_signup.py --rate 200 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from environment import environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare_database(url: str) -> None:
    from digest.db import make_engine, make_session_factory
    from digest.models import Base, Community, Newsletter

    engine = make_engine(url)
    Base.metadata.drop_all(engine)  # a scratch database: start from nothing every run
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session, session.begin():
        session.add_all(
            [
                Community(slug="springfield", name="Springfield", timezone="America/Los_Angeles"),
                Community(slug="shelbyville", name="Shelbyville", timezone="America/Los_Angeles"),
                Newsletter(slug="morning", name="Morning Digest"),
            ]
        )
    engine.dispose()


def start_server(
    env: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "digest.web.server:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_until_healthy(process, port, log)
    except BaseException:
        process.kill()  # never leave a server behind, whatever went wrong
        process.wait(timeout=30)
        raise
    return process


def wait_until_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the web server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the web server did not start:\n{log.read_text()}")


CONNECTIONS = 64


def request_bytes(port: int, index: int) -> bytes:
    body = json.dumps(
        {
            "email": f"bench-{index}-{os.getpid()}@example.org",
            "community": "springfield" if index % 2 else "shelbyville",
            "newsletters": ["morning"],
            "consent": True,
        }
    ).encode()
    head = (
        f"POST /api/subscriptions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(
        (
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return status


async def open_loop(
    port: int, rate: float, duration: float, warmup: float, request: Callable[[int], bytes]
) -> dict[str, Any]:
    """Open loop: request i (`request(i)`, raw HTTP/1.1) is due at start + i/rate; its
    latency counts from that moment, so time spent waiting for a free connection is charged to
    the server (no coordinated omission). A small hand-written HTTP/1.1 client keeps the load
    generator's own CPU low (the machine's two cores are shared with the server). The first
    `warmup` seconds run at the same rate and are not counted (cold caches, first
    connections). Returns the measured requests' statuses and latencies, and those of the
    warm-up apart."""
    warm = int(rate * warmup)
    total = int(rate * duration)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    warmup_statuses: dict[str, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await queue.get()) is not None:
                index, due = item
                try:
                    writer.write(request(index))
                    key = str(await asyncio.wait_for(read_response(reader), timeout=30))
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    key = type(exc).__name__
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                counted = statuses if index >= warm else warmup_statuses
                counted[key] = counted.get(key, 0) + 1
                if index >= warm:
                    latencies.append((time.perf_counter() - due) * 1000)
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    begin = time.perf_counter() + 0.5
    for index in range(warm + total):
        due = begin + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        queue.put_nowait((index, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - (begin + warm / rate)
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

    return {
        "requests": total,
        "statuses": statuses,
        "warmup_statuses": warmup_statuses,
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(total / elapsed, 1),
        "duration_s": round(elapsed, 1),
        "warmup_s": warmup,
        "latency_ms": {
            "p50": percentile(50),
            "p95": percentile(95),
            "p99": percentile(99),
            "max": round(ordered[-1], 2),
            "mean": round(statistics.fmean(ordered), 2),
        },
    }


async def run_load(port: int, rate: float, duration: float, warmup: float) -> dict[str, Any]:
    """Signups at `rate` a second (see `open_loop`); every one should be accepted (202)."""
    result = await open_loop(port, rate, duration, warmup, lambda i: request_bytes(port, i))
    result.pop("warmup_statuses")
    return {"errors": result["requests"] - result["statuses"].get("202", 0), **result}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far, from /proc."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    total = 0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load not counted")
    parser.add_argument("--database-url", help="a scratch database (default: SQLite in a temp dir)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="digest-bench-signup-"))
    database_url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    prepare_database(database_url)
    port = free_port()
    env = {
        **os.environ,
        "DIGEST_ENV": "test",
        "DIGEST_VAR_DIR": str(scratch / "var"),
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_SECRET_KEY": "bench-secret-key-not-for-production",
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        # The limits are lifted: the benchmark measures the work, not the refusals.
        "DIGEST_SIGNUP_LIMIT_PER_IP": "1000000/second",
        "DIGEST_SIGNUP_LIMIT_PER_ADDRESS": "1000000/second",
    }
    server = start_server(env, port, args.workers, scratch / "web.log")
    try:
        cpu_before = cpu_seconds(server.pid)
        result = asyncio.run(run_load(port, args.rate, args.duration, args.warmup))
        server_cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    result.update(
        {
            "benchmark": "signup_api",
            "database": database_url.split(":", 1)[0],
            "broker": (os.environ.get("DIGEST_BROKER_URL") or "embedded filesystem").split(":")[0],
            "uvicorn_workers": args.workers,
            "server_cpu_ms_per_request": round(server_cpu * 1000 / result["requests"], 2),
            **environment(),
            "p99_under_100ms": result["latency_ms"]["p99"] < 100,
        }
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
