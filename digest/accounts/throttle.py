"""Login throttling, by account and by client address, stored in the database so every web
process counts the same failures.

The first FREE_FAILURES failures in a row cost nothing; each one after earns a wait that
doubles (BASE_WAIT, 2 * BASE_WAIT, ... up to MAX_WAIT). A quiet FORGET_AFTER wipes the count.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from digest.models import LoginThrottle

FREE_FAILURES = 5
BASE_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(hours=1)
FORGET_AFTER = timedelta(hours=1)


def keys(account: str, address: str | None) -> list[str]:
    """The throttle keys of one login attempt: its account and its client address."""
    found = [f"account:{account.strip().lower()[:320]}"]
    if address:
        found.append(f"address:{address[:64]}")
    return found


def wait_seconds(session: Session, names: list[str], now: datetime) -> int:
    """Seconds before another attempt is allowed for these keys (0: allowed now)."""
    waits = [0.0]
    for name in names:
        row = session.get(LoginThrottle, name)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            waits.append((row.locked_until - now).total_seconds())
    return math.ceil(max(waits))


def wait_after(failures: int) -> timedelta:
    """The wait earned by the n-th failure in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 16)
    return min(BASE_WAIT * (1 << doublings), MAX_WAIT)


def record_failure(session: Session, names: list[str], now: datetime) -> int:
    """Count one failure on each key; returns the longest wait it earned, in seconds."""
    longest = timedelta(0)
    for name in names:
        row = session.get(LoginThrottle, name)
        if row is None:
            row = LoginThrottle(key=name, failures=0)
            session.add(row)
        stale = row.last_failure_at is not None and now - row.last_failure_at > FORGET_AFTER
        row.failures = 1 if stale else (row.failures or 0) + 1
        row.last_failure_at = now
        wait = wait_after(row.failures)
        row.locked_until = now + wait if wait else None
        longest = max(longest, wait)
    session.flush()
    return math.ceil(longest.total_seconds())


def clear(session: Session, names: list[str]) -> None:
    """Forget the failures of these keys (after a successful login to the account)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(names)))
