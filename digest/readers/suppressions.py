"""Suppressions: addresses Digest never mails (hard bounce, complaint, manual, erased).

Operators manage the list (`digest suppressions`): list and search, add with a reason, lift
with a reason (the reader's consent history keeps both), import and export CSV.

Guarantees:
- An address is suppressed by the sha256 of its normal form (`digest.addresses`), so the
  suppression outlives an erasure and matches however the address is spelled.
- `suppress` is idempotent and safe under concurrency: suppressing an address twice, from two
  processes at once, keeps one row (the first reason wins) and raises nothing.
- `not_suppressed(Subscriber)` and `reader_suppressed(subscriber_id)` are plain SQL conditions
  on `subscribers.email_hash`, usable on SQLite and PostgreSQL: in the delivery engine's
  INSERT ... SELECT, and in the lease renewal just before each group is sent; `is_suppressed`
  and `suppressed_among` answer the same question for addresses.
None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.addresses import AddressError, email_hash, normalize_email
from digest.errors import DigestError
from digest.models import (
    ConsentAction,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from digest.readers.consent import Origin, record_consent


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


def reader_suppressed(subscriber_id: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL condition: the address of the subscriber with this id is suppressed (a column
    expression, for instance in a RETURNING clause)."""
    # Nested rather than joined: SQLAlchemy writes a RETURNING clause's columns without their
    # tables on SQLite, and each level here has one table, so no name is ambiguous.
    subscribers = Subscriber.__table__
    address = (
        select(subscribers.c.email_hash)
        .where(subscribers.c.id == subscriber_id)
        .correlate_except(subscribers)
    )
    return exists().where(Suppression.__table__.c.email_hash.in_(address))


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


# Managing the list: operators list, add, lift, import and export suppressions.

MANAGED_REASONS = {reason.value: reason for reason in SuppressionReason}
# The words an operator or a CSV may use for a reason, as stored.
REASON_WORDS = MANAGED_REASONS | {
    "hard-bounce": SuppressionReason.HARD_BOUNCE,
    "soft-bounce": SuppressionReason.SOFT_BOUNCE,
    "soft-bounce limit": SuppressionReason.SOFT_BOUNCE,
    "bounce": SuppressionReason.HARD_BOUNCE,
    "spam": SuppressionReason.COMPLAINT,
    "": SuppressionReason.MANUAL,
}


def reason_from_word(word: str) -> SuppressionReason:
    """The reason a word names (`manual`, `hard_bounce`, `hard-bounce`...); DigestError if none."""
    found = REASON_WORDS.get(word.strip().lower())
    if found is None:
        known = ", ".join(sorted(MANAGED_REASONS))
        raise DigestError(f"{word!r} is not a suppression reason (one of: {known})")
    return found


def list_suppressions(
    session: Session,
    search: str | None = None,
    reason: SuppressionReason | None = None,
    limit: int = 100,
) -> list[Suppression]:
    """Suppressions, newest first; `search` is part of an address or a whole one (any spelling).

    A whole address also finds a suppression kept by hash only (an erased reader).
    """
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())
    if search:
        pattern = f"%{search.strip().lower()}%"
        condition: ColumnElement[bool] = Suppression.email.like(pattern)
        if "@" in search:
            condition = or_(condition, Suppression.email_hash == address_hash(search))
        query = query.where(condition)
    if reason is not None:
        query = query.where(Suppression.reason == reason)
    return list(session.scalars(query.limit(limit)))


def add_suppression(
    session: Session, email: str, why: str, now: datetime, source: str
) -> tuple[Suppression, bool]:
    """Suppress an address by an operator's decision; (row, True when it is new).

    The reader's consent history records it (action `suppress`, with the reason given).
    Does not commit.
    """
    if not why.strip():
        raise DigestError("say why the address is suppressed (a reason is required)")
    email = normalize_email(email)  # AddressError (a DigestError) for a mistyped address
    existing = session.scalars(
        select(Suppression).where(Suppression.email_hash == address_hash(email))
    ).one_or_none()
    if existing is not None:
        return existing, False
    row = suppress(session, email, SuppressionReason.MANUAL, why.strip(), now)
    _record(session, email, ConsentAction.SUPPRESS, source, now, {"why": why.strip()})
    return row, True


def lift_suppression(
    session: Session, email: str, why: str, now: datetime, source: str
) -> Suppression:
    """Take an address off the list, with a reason kept in the reader's consent history.

    A reader marked bounced becomes active again (their subscriptions were kept); one who
    complained stays unsubscribed until they subscribe again. Raises DigestError when the
    address is not suppressed or no reason is given. Does not commit.
    """
    if not why.strip():
        raise DigestError("say why the suppression is lifted (a reason is required)")
    row = session.scalars(
        select(Suppression).where(Suppression.email_hash == address_hash(email))
    ).one_or_none()
    if row is None:
        raise DigestError(f"{email} is not suppressed")
    detail: dict[str, object] = {
        "why": why.strip(),
        "was": row.reason.value,
        "was_detail": row.detail,
        "since": row.created_at.isoformat(),
    }
    subscriber = _subscriber(session, email)
    if subscriber is not None and subscriber.status in (
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
    ):
        subscriber.status = SubscriberStatus.ACTIVE
    _record(session, email, ConsentAction.UNSUPPRESS, source, now, detail)
    session.delete(row)
    session.flush()
    return row


@dataclass(frozen=True)
class SuppressionImport:
    added: int
    already: int
    invalid: list[str]  # "line N: why", for the operator


def import_suppressions(
    session: Session, rows: Iterable[dict[str, str]], now: datetime, source: str
) -> SuppressionImport:
    """Suppress each row's `email` (reason and detail columns optional; reason: manual).

    Rows that name no valid address are reported by line, never stop the rest. Does not commit.
    """
    added = already = 0
    invalid = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        raw = (row.get("email") or "").strip()
        try:
            email = normalize_email(raw)
            reason = reason_from_word(row.get("reason") or "")
        except (AddressError, DigestError) as error:
            invalid.append(f"line {line}: {error}")
            continue
        if is_suppressed(session, email):
            already += 1
            continue
        detail = (row.get("detail") or "").strip() or f"imported ({source})"
        suppress(session, email, reason, detail, now)
        _record(session, email, ConsentAction.SUPPRESS, source, now, {"why": detail})
        added += 1
    return SuppressionImport(added, already, invalid)


EXPORT_COLUMNS = ("email", "email_hash", "reason", "detail", "created_at")


def export_suppressions(session: Session) -> Iterator[dict[str, str]]:
    """Every suppression as a CSV row (an erased reader's has a hash and no address)."""
    query = select(Suppression).order_by(Suppression.id).execution_options(yield_per=1000)
    for row in session.scalars(query):
        yield {
            "email": row.email or "",
            "email_hash": row.email_hash,
            "reason": row.reason.value,
            "detail": row.detail or "",
            "created_at": row.created_at.isoformat(),
        }


def _subscriber(session: Session, email: str) -> Subscriber | None:
    query = select(Subscriber).where(Subscriber.email_hash == address_hash(email))
    return session.scalars(query).first()


def _record(
    session: Session,
    email: str,
    action: ConsentAction,
    source: str,
    now: datetime,
    detail: dict[str, object],
) -> None:
    subscriber = _subscriber(session, email)
    if subscriber is not None:
        record_consent(session, subscriber.id, None, action, Origin(source[:200]), now, detail)
