"""Blips: a database or Redis that is away for a few seconds is waited for, not failed on.

`TRANSIENT` names the errors that mean "the service is not answering right now" (a restart,
a dropped connection, a failover); `until_answered` runs one transaction again, with a
growing pause, until the database answers. A batch uses it to keep the results the relay
has already accepted in memory and record them once the database is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from limits.errors import StorageError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from digest.db import is_locked

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_DB = (OperationalError, InterfaceError)
TRANSIENT_REDIS = (RedisConnectionError, RedisTimeoutError, StorageError)
TRANSIENT = TRANSIENT_DB + TRANSIENT_REDIS
# How long a batch waits for its database before giving up (its task then retries).
DB_WAIT_SECONDS = 600.0
FIRST_PAUSE = 0.2
LONGEST_PAUSE = 2.0


def until_answered(
    session: Session,
    work: Callable[[Session], T],
    what: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    wait: float = DB_WAIT_SECONDS,
) -> T:
    """`work(session)` in one transaction, again until the database answers (at most `wait`
    seconds, then the last error is raised)."""
    deadline = time.monotonic() + wait
    pause = FIRST_PAUSE
    while True:
        try:
            with session.begin():
                return work(session)
        except TRANSIENT_DB as exc:
            if not database_away(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("%s: database not answering, trying again: %s", what, first_line(exc))
            sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)


def database_away(exc: OperationalError | InterfaceError) -> bool:
    """True when the error means the database is not answering now, not that the statement is
    wrong: any connection error of a server, but of SQLite only "database is locked" (its
    OperationalError also covers a bad statement, which no wait mends)."""
    return type(exc.orig).__module__ != "sqlite3" or is_locked(exc)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
