"""The send rate limit: never more than the rate in any one-second interval, across processes.

Each grant is known only to lie between the time read just before the granting call and the
time read just after it. A window is counted as over the limit only when more than `rate`
grants lie certainly inside one second, so a slow, loaded machine cannot fail these tests,
while a limiter that grants too much does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from limits.storage import MemoryStorage

from digest.sending.send_rate import SendRateLimiter, open_rate_limiter
from digest.settings import load_settings

Grant = tuple[float, float]  # (read before the granting call, read after it)


def most_in_one_second(grants: list[Grant]) -> int:
    """The most grants that certainly fell within one second (of each other)."""
    ordered = sorted(grants)
    most = 0
    for start, _ in ordered:
        inside = [g for g in ordered if g[0] >= start and g[1] < start + 1.0]
        most = max(most, len(inside))
    return most


def take(limiter: SendRateLimiter, count: int) -> list[Grant]:
    grants = []
    for _ in range(count):
        before = limiter.acquire()
        grants.append((before, time.time()))
    return grants


def test_unlimited_never_waits() -> None:
    waits: list[float] = []
    limiter = SendRateLimiter(0, MemoryStorage(), "smtp://h:25", sleep=waits.append)
    take(limiter, 1000)
    assert waits == []


def test_in_process_limit_holds_across_threads() -> None:
    storage = MemoryStorage()
    waits: list[float] = []

    def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    limiters = [
        SendRateLimiter(20, storage, "maildir://outbox", sleep=recording_sleep) for _ in range(2)
    ]
    results: list[list[Grant]] = [[], []]
    threads = [
        threading.Thread(target=lambda i=i: results[i].extend(take(limiters[i], 25)))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    grants = results[0] + results[1]
    assert len(grants) == 50
    assert most_in_one_second(grants) <= 20
    assert waits, "50 messages at 20 per second must have waited"
    # The 41st grant cannot come before a second and the 21st has passed: two full seconds.
    assert max(after for _, after in grants) - min(before for before, _ in grants) >= 2.0


def test_each_transport_has_its_own_limit() -> None:
    storage = MemoryStorage()
    waits: list[float] = []
    first = SendRateLimiter(5, storage, "smtp://a:25", sleep=waits.append)
    second = SendRateLimiter(5, storage, "smtp://b:25", sleep=waits.append)
    take(first, 5)
    take(second, 5)
    assert waits == []


PROBE = """
import json, sys, time
from digest.sending.send_rate import open_rate_limiter
from digest.settings import load_settings

redis_url, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
limiter = open_rate_limiter(load_settings(redis_url=redis_url, send_rate=50), "smtp://relay:25")
grants = []
for _ in range(count):
    before = limiter.acquire()
    grants.append((before, time.time()))
with open(out, "w") as f:
    json.dump(grants, f)
"""


@pytest.mark.redis
def test_two_processes_share_the_limit_through_redis(
    redis_client: object, redis_url: str, tmp_path: Path
) -> None:
    outputs = [tmp_path / f"grants-{i}.json" for i in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROBE, redis_url, "75", str(out)],
            env={**os.environ},
            cwd=Path(__file__).parents[2],
        )
        for out in outputs
    ]
    assert [p.wait(timeout=60) for p in processes] == [0, 0]
    per_process = [json.loads(out.read_text()) for out in outputs]
    grants = [tuple(g) for grants in per_process for g in grants]
    assert [len(g) for g in per_process] == [75, 75]
    assert most_in_one_second(grants) <= 50  # type: ignore[arg-type]
    # 150 grants at 50 per second span at least two full seconds, whoever got them.
    assert max(g[1] for g in grants) - min(g[0] for g in grants) >= 2.0


def test_settings_choose_memory_without_redis() -> None:
    limiter = open_rate_limiter(load_settings(send_rate=10), "smtp://h:25")
    assert type(limiter.limiter.storage).__name__ == "MemoryStorage"
    assert limiter.per_second == 10


def test_without_redis_the_window_outlives_each_batch() -> None:
    """Each batch opens its own limiter; in one process they must still share one window."""
    settings = load_settings(send_rate=5, redis_url=None)
    first = open_rate_limiter(settings, "smtp://relay.example:25")
    second = open_rate_limiter(settings, "smtp://relay.example:25")
    grants = [first.limiter.hit(first.item, first.key) for _ in range(5)]
    assert all(grants)
    assert not second.limiter.hit(second.item, second.key)  # the sixth in the same second
