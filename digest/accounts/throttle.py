"""Login throttling, stored in the database so every web process counts the same failures.

Three counts per attempt, so a storm of wrong passwords cannot lock the real user out:

- the account at this client (`pair`): FREE_FAILURES free failures in a row, then each one
  earns a wait that doubles (BASE_WAIT, 2 * BASE_WAIT, ... up to MAX_WAIT), during which this
  client's attempts on this account are refused;
- the client alone (`client`, an IPv6 address counted by its /64): CLIENT_FREE_FAILURES free,
  then the same doubling wait for every account tried from there (password spraying);
- the account everywhere (`account`): ACCOUNT_FREE_FAILURES free, then the account is locked
  only for clients that failed on it at least ACCOUNT_LOCK_SPARES times lately. A client with
  no recent failure (the real user elsewhere) is never refused for it: a distributed guess
  gets at most ACCOUNT_LOCK_SPARES tries per client instead of FREE_FAILURES.

Each attempt is counted before its password is checked, in one atomic upsert per key: a
parallel burst cannot slip past the count (the later attempts of a burst find the lock). A
correct password then takes its attempt back (`release`). A quiet FORGET_AFTER wipes a count.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.models import LoginThrottle

FREE_FAILURES = 5
CLIENT_FREE_FAILURES = 20
ACCOUNT_FREE_FAILURES = 10
ACCOUNT_LOCK_SPARES = 2
BASE_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(hours=1)
FORGET_AFTER = timedelta(hours=1)


class ThrottledError(Exception):
    """This attempt is refused before its password is checked; `wait` is in seconds."""

    def __init__(self, wait: int) -> None:
        super().__init__(f"login throttled: {wait} s to wait")
        self.wait = wait


@dataclass(frozen=True)
class Attempt:
    """The throttle keys of one login attempt."""

    pair: str
    client: str
    account: str


def client_key(address: str | None) -> str:
    """The client's address as counted: an IPv6 address by its /64 (one subscriber's block)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


def attempt_for(account: str, address: str | None) -> Attempt:
    name = account.strip().lower()[:320]
    client = client_key(address)
    return Attempt(
        pair=f"pair:{name}|{client}", client=f"client:{client}", account=f"account:{name}"
    )


def wait_after(failures: int, free: int = FREE_FAILURES) -> timedelta:
    """The wait earned by the n-th failure in a row, when `free` failures cost nothing."""
    if failures < free:
        return timedelta(0)
    doublings = min(failures - free, 16)
    return min(BASE_WAIT * (1 << doublings), MAX_WAIT)


def reserve(session: Session, attempt: Attempt, now: datetime) -> int:
    """Count the attempt as a failure before its password is checked.

    Returns the wait (seconds) that this attempt earns if its password is wrong (0: none).
    Raises ThrottledError when a lock refuses it: the caller's transaction must then roll
    back, so a refused attempt is not counted. Does not commit.
    """
    pair, pair_lock = _count(session, attempt.pair, now)
    client, client_lock = _count(session, attempt.client, now)
    account, account_lock = _count(session, attempt.account, now)
    waits = [_left(pair_lock, now), _left(client_lock, now)]
    if pair > ACCOUNT_LOCK_SPARES:  # this client failed on the account lately
        waits.append(_left(account_lock, now))
    if max(waits) > 0:
        raise ThrottledError(max(waits))
    earned = [
        _lock(session, attempt.pair, wait_after(pair), now),
        _lock(session, attempt.client, wait_after(client, CLIENT_FREE_FAILURES), now),
    ]
    _lock(session, attempt.account, wait_after(account, ACCOUNT_FREE_FAILURES), now)
    return math.ceil(max(earned).total_seconds())


def release(session: Session, attempt: Attempt) -> None:
    """A correct password: forget the account's failures, and take back the client's count."""
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.key.in_([attempt.pair, attempt.account]))
    )
    failures = LoginThrottle.failures - 1
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == attempt.client, LoginThrottle.failures > 0)
        .values(
            failures=failures,
            locked_until=case(
                (failures < CLIENT_FREE_FAILURES, None), else_=LoginThrottle.locked_until
            ),
        )
    )


def purge(session: Session, now: datetime) -> int:
    """Drop the counts quiet for FORGET_AFTER (their locks are over); returns how many."""
    result = session.execute(
        delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _count(session: Session, key: str, now: datetime) -> tuple[int, datetime | None]:
    """One more failure on `key`, atomically (the row stays locked until commit on
    PostgreSQL); returns the new count and the lock that was in force."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = LoginThrottle.__table__.c
    first = insert(LoginThrottle).values(key=key, failures=1, last_failure_at=now)
    statement = first.on_conflict_do_update(
        index_elements=[table.key],
        set_={
            "failures": case(
                (table.last_failure_at < now - FORGET_AFTER, 1), else_=table.failures + 1
            ),
            "last_failure_at": now,
        },
    ).returning(table.failures, table.locked_until)
    failures, locked_until = session.execute(statement).one()
    return int(failures), locked_until


def _lock(session: Session, key: str, wait: timedelta, now: datetime) -> timedelta:
    until = now + wait if wait else None
    session.execute(
        update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=until)
    )
    return wait


def _left(locked_until: datetime | None, now: datetime) -> int:
    if locked_until is None or locked_until <= now:
        return 0
    return math.ceil((locked_until - now).total_seconds())
