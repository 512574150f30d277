"""Suppressions: addresses Digest never mails (hard bounce, complaint, manual, erased).

Guarantees:
- An address is suppressed by the sha256 of its normal form (`digest.addresses`), so the
  suppression outlives an erasure and matches however the address is spelled.
- `suppress` is idempotent and safe under concurrency: suppressing an address twice, from two
  processes at once, keeps one row (the first reason wins) and raises nothing.
- `not_suppressed(Subscriber)` is a plain SQL condition on `subscribers.email_hash`, usable in
  the delivery engine's INSERT ... SELECT on SQLite and PostgreSQL; `is_suppressed` and
  `suppressed_among` answer the same question just before a send.
None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.addresses import AddressError, email_hash, normalize_email
from digest.models import Subscriber, Suppression, SuppressionReason


def normal_address(raw: str) -> str:
    """The normal form of any address Digest may meet, even one signup would refuse.

    Bounce reports name addresses as the remote server spelled them (`<Jane@Example.COM>`);
    those that fail validation are still lower-cased so that they hash like the stored one.
    """
    candidate = raw.strip().strip("<>").strip()
    try:
        return normalize_email(candidate)
    except AddressError:
        return candidate.lower()


def address_hash(raw: str) -> str:
    """sha256 hex of the address's normal form: the key of the suppression list."""
    return email_hash(normal_address(raw))


def suppress(
    session: Session,
    email: str,
    reason: SuppressionReason,
    detail: str | None,
    now: datetime,
) -> Suppression:
    """Put an address on the suppression list; returns its row (the existing one if any).

    An address already suppressed keeps its first reason. Does not commit.
    """
    digest = address_hash(email)
    values = {
        "email_hash": digest,
        "email": normal_address(email),
        "reason": reason,
        "detail": detail,
        "created_at": now,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(Suppression).values(**values).on_conflict_do_nothing())
    return session.scalars(select(Suppression).where(Suppression.email_hash == digest)).one()


def is_suppressed(session: Session, email: str) -> bool:
    """True when the address, however spelled, is on the suppression list."""
    query = select(Suppression.id).where(Suppression.email_hash == address_hash(email))
    return session.scalars(query).first() is not None


def suppressed_among(session: Session, emails: Iterable[str]) -> set[str]:
    """The given addresses (as given) that are suppressed: one query for a whole batch."""
    by_hash: dict[str, list[str]] = {}
    for email in emails:
        by_hash.setdefault(address_hash(email), []).append(email)
    if not by_hash:
        return set()
    found = session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(list(by_hash)))
    )
    return {email for digest in found for email in by_hash[digest]}


def suppressed_hashes(session: Session, hashes: Iterable[str]) -> set[str]:
    """Which of these address hashes (as stored on subscribers) are suppressed: one query."""
    wanted = list(set(hashes))
    if not wanted:
        return set()
    query = select(Suppression.email_hash).where(Suppression.email_hash.in_(wanted))
    return set(session.scalars(query))


def not_suppressed(subscriber: type[Subscriber] = Subscriber) -> ColumnElement[bool]:
    """SQL condition: the subscriber's address is not suppressed (for WHERE clauses).

    Uses the unique index on suppressions.email_hash; an erased subscriber (no hash) passes
    this test, so callers filter on subscriber status as well.
    """
    return ~exists().where(Suppression.email_hash == subscriber.email_hash)


def unsuppress(session: Session, email: str) -> bool:
    """Take an address off the list (an operator's decision); True when it was there."""
    row = session.scalars(
        select(Suppression).where(Suppression.email_hash == address_hash(email))
    ).one_or_none()
    if row is None:
        return False
    session.delete(row)
    return True
