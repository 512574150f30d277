"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's advice)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from digest.errors import DigestError

MIN_LENGTH = 10
MAX_LENGTH = 200

_hasher = PasswordHasher()
# Each argon2id hash or check takes 64 MiB and most of a second: at most this many run at once
# in a process (the web's thread pool has 40), so a burst of logins waits instead of exhausting
# memory. One waits at most CHECK_QUEUE_SECONDS for its turn, then PasswordCheckBusyError.
CONCURRENT_CHECKS = 4
CHECK_QUEUE_SECONDS = 20.0
_turns = threading.BoundedSemaphore(CONCURRENT_CHECKS)


class PasswordCheckBusyError(DigestError):
    """Too many passwords are being checked at once: try again in a moment."""


@contextmanager
def _turn() -> Iterator[None]:
    if not _turns.acquire(timeout=CHECK_QUEUE_SECONDS):
        raise PasswordCheckBusyError("too many sign-ins at once: try again in a moment")
    try:
        yield
    finally:
        _turns.release()


# Verified when no account matches, so a wrong address costs as long as a wrong password
# and the answer's timing does not tell which addresses have accounts.
_DUMMY = _hasher.hash("not-a-password-of-anyone")


def check_strength(password: str) -> str:
    """The password if long enough; else DigestError saying how long it must be."""
    if len(password) < MIN_LENGTH:
        raise DigestError(f"the password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise DigestError(f"the password may have at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    checked = check_strength(password)
    with _turn():
        return _hasher.hash(checked)


def verify(stored: str | None, given: str) -> bool:
    """True when `given` is the password of `stored`; with None, spends the same time.

    Raises PasswordCheckBusyError when no turn comes within CHECK_QUEUE_SECONDS.
    """
    with _turn():
        try:
            return _hasher.verify(stored or _DUMMY, given[:MAX_LENGTH]) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)
