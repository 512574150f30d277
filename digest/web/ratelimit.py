"""Signup rate limits per client IP and per address, shared through Redis when configured.

With DIGEST_REDIS_URL every web process counts in the same Redis; without it each process
keeps its own counts in memory (the embedded mode runs one process).
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from digest.settings import Settings

log = logging.getLogger(__name__)


def storage_uri(redis_url: str | None) -> str:
    """The `limits` storage URI for DIGEST_REDIS_URL (memory:// without one)."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


class SignupLimiter:
    """Counts signups; `check` says how long to wait when a limit is reached."""

    def __init__(self, settings: Settings) -> None:
        storage = storage_from_string(storage_uri(settings.redis_url))
        assert isinstance(storage, Storage)  # a synchronous storage: no async+ scheme is used
        self.limiter = FixedWindowRateLimiter(storage)
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
