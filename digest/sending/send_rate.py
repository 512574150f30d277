"""The send rate: at most DIGEST_SEND_RATE messages per second through one transport.

Guarantees:
- Over ANY one-second interval, at most `per_second` slots are granted for one key, counted
  across every process that shares the storage: Redis when DIGEST_REDIS_URL is set (every
  worker on every machine), memory otherwise (one process). The burst is therefore at most
  `per_second` messages at once, after a quiet second; steady sending is spread out by the
  waits. The counting is `limits`' moving window (a Redis list of grant times, updated by one
  Lua script), not a hand-made counter.
- `acquire()` blocks until a slot is granted; it never grants more than the limit and never
  gives up, not even while Redis restarts (it waits for it). With a rate of 0 it returns at
  once.
- Grant times are the clock of the process asking (`time.time()`); machines sharing one Redis
  must keep their clocks in step (NTP), or the limit drifts by their skew.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import lru_cache

from limits import RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from digest.sending.blips import TRANSIENT_REDIS
from digest.settings import Settings

log = logging.getLogger(__name__)

# The shortest wait between two tries, so that waiters do not spin on the storage.
MIN_WAIT = 0.001
# The longest single wait: a waiter looks again at least this often.
MAX_WAIT = 1.0


def limits_storage_uri(redis_url: str | None) -> str:
    """The `limits` storage URI for DIGEST_REDIS_URL (memory:// without one)."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


class SendRateLimiter:
    """Grants send slots under a per-second limit shared through `storage`.

    `sleep` and `clock` are injectable (tests record the waits); `clock` must be the clock the
    storage counts with, `time.time`, for the waits to be right.
    """

    def __init__(
        self,
        per_second: int,
        storage: Storage,
        key: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_second = per_second
        self.key = key
        self.item = RateLimitItemPerSecond(max(per_second, 1), 1, namespace="digest-send")
        self.limiter = MovingWindowRateLimiter(storage)
        self.sleep = sleep
        self.clock = clock
        self.waited = 0.0  # seconds spent waiting, for progress reports and benchmarks

    def acquire(self) -> float:
        """Wait until one message may be sent now; returns at once when unlimited.

        Returns `clock()` as read just before the slot was granted (for tests and reports).
        """
        pause = MIN_WAIT
        while True:
            asked = self.clock()
            if self.per_second == 0:
                return asked
            try:
                if self.limiter.hit(self.item, self.key):
                    return asked
                self._wait_for_slot()
                pause = MIN_WAIT
            except TRANSIENT_REDIS as exc:
                # Redis restarting is a blip: wait for it (the batch's lease is kept alive by
                # its heartbeat meanwhile) rather than fail the batch and lose its results.
                log.warning("send rate: Redis not answering, waiting: %s", exc)
                pause = min(max(pause * 2, 0.1), MAX_WAIT)
                self.waited += pause
                self.sleep(pause)

    def _wait_for_slot(self) -> None:
        reset = self.limiter.get_window_stats(self.item, self.key).reset_time
        wait = min(max(reset - self.clock(), MIN_WAIT), MAX_WAIT)
        self.waited += wait
        self.sleep(wait)


@lru_cache(maxsize=4)
def shared_storage(uri: str) -> Storage:
    """One storage per process and URI: every batch a process sends counts in the same window.

    Without Redis the window lives in this process's memory, so it must outlive each batch.
    """
    storage = storage_from_string(uri)
    assert isinstance(storage, Storage)  # a sync URI gives a sync storage
    return storage


def open_rate_limiter(settings: Settings, transport_name: str) -> SendRateLimiter:
    """The limiter for one transport (its `name`), on Redis when DIGEST_REDIS_URL is set."""
    storage = shared_storage(limits_storage_uri(settings.redis_url))
    return SendRateLimiter(settings.send_rate, storage, transport_name)
