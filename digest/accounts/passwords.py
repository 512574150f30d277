"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's advice)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from digest.errors import DigestError

MIN_LENGTH = 10
MAX_LENGTH = 200

_hasher = PasswordHasher()
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
    return _hasher.hash(check_strength(password))


def verify(stored: str | None, given: str) -> bool:
    """True when `given` is the password of `stored`; with None, spends the same time."""
    try:
        return _hasher.verify(stored or _DUMMY, given[:MAX_LENGTH]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)
