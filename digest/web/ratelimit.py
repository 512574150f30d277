"""Counts the web app keeps for a while, shared through Redis when configured: signup rate
limits per client IP and per address, and the tokens of signed webhook posts already seen.

With DIGEST_REDIS_URL every web process counts in the same Redis; without it each process
keeps its own counts in memory (the embedded mode runs one process).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta

from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from digest.settings import Settings

log = logging.getLogger(__name__)


def storage_uri(redis_url: str | None) -> str:
    """The `limits` storage URI for DIGEST_REDIS_URL (memory:// without one)."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def _storage(settings: Settings) -> Storage:
    storage = storage_from_string(storage_uri(settings.redis_url))
    assert isinstance(storage, Storage)  # a synchronous storage: no async+ scheme is used
    return storage


class SignupLimiter:
    """Counts signups; `check` says how long to wait when a limit is reached."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = FixedWindowRateLimiter(_storage(settings))
        self.per_ip: RateLimitItem = parse(settings.signup_limit_per_ip)
        self.per_address: RateLimitItem = parse(settings.signup_limit_per_address)

    def check(self, ip: str, address: str | None) -> int | None:
        """Count one signup; None when allowed, else the seconds to wait before trying again.

        When the limit store cannot be reached the signup is allowed (logged): a broken
        Redis must not turn readers away; the other defences (CSRF, honeypot) still hold.
        """
        try:
            if not self.limiter.hit(self.per_ip, "signup-ip", ip):
                return self._retry_after(self.per_ip, "signup-ip", ip)
            if address and not self.limiter.hit(self.per_address, "signup-address", address):
                return self._retry_after(self.per_address, "signup-address", address)
        except Exception:  # the storage's errors differ per backend (redis, memory)
            log.exception("rate limit store unreachable; signup allowed without a limit")
        return None

    def _retry_after(self, item: RateLimitItem, *keys: str) -> int:
        reset = self.limiter.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))


class SeenTokens:
    """Tokens of signed webhook posts seen in the last `keep`: a replayed signature is refused."""

    def __init__(self, settings: Settings, keep: timedelta) -> None:
        self.limiter = MovingWindowRateLimiter(_storage(settings))
        self.once: RateLimitItem = RateLimitItemPerSecond(1, int(keep.total_seconds()))

    def first_time(self, kind: str, token: str) -> bool:
        """True the first time this token is seen within `keep` (atomic across processes).

        When the store cannot be reached the post is let through (logged): the signature's
        timestamp still bounds a replay to minutes, and a relay's bounces are not lost.
        """
        try:
            return self.limiter.hit(self.once, f"seen-{kind}", token[:200])
        except Exception:  # the storage's errors differ per backend (redis, memory)
            log.exception("token store unreachable; a %s post is accepted unchecked", kind)
            return True

    def forget(self, kind: str, token: str) -> None:
        """Forget a token whose post was not recorded, so the relay's retry is accepted."""
        try:
            self.limiter.clear(self.once, f"seen-{kind}", token[:200])
        except Exception:
            log.exception("token store unreachable; a %s token stays remembered", kind)
