"""Suppressions: by hash, idempotent, and usable in SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from digest.addresses import email_hash
from digest.models import Community, Subscriber, Suppression, SuppressionReason
from digest.readers.suppressions import (
    is_suppressed,
    not_suppressed,
    suppress,
    suppressed_among,
    unsuppress,
)

NOW = datetime(2025, 11, 24, 6, 0, tzinfo=UTC)


def town(session: Session) -> Community:
    community = Community(slug="springfield", name="Springfield", timezone="America/Chicago")
    session.add(community)
    session.flush()
    return community


def test_suppression_matches_any_spelling(session: Session) -> None:
    suppress(session, "Jane.Doe@Example.ORG", SuppressionReason.MANUAL, "asked by phone", NOW)
    assert is_suppressed(session, "jane.doe@example.org")
    assert is_suppressed(session, " <JANE.DOE@example.org> ")
    assert not is_suppressed(session, "jane.roe@example.org")
    row = session.scalars(select(Suppression)).one()
    assert row.email == "jane.doe@example.org"
    assert row.email_hash == email_hash("jane.doe@example.org")


def test_suppressing_twice_keeps_one_row_and_the_first_reason(session: Session) -> None:
    first = suppress(session, "jane@example.org", SuppressionReason.HARD_BOUNCE, "5.1.1", NOW)
    second = suppress(session, "JANE@example.org", SuppressionReason.COMPLAINT, "abuse", NOW)
    assert first.id == second.id
    assert second.reason == SuppressionReason.HARD_BOUNCE
    assert session.scalars(select(Suppression)).all() == [first]


def test_an_erased_address_stays_suppressed_by_its_hash(session: Session) -> None:
    session.add(
        Suppression(
            email_hash=email_hash("gone@example.org"),
            email=None,
            reason=SuppressionReason.ERASED,
            created_at=NOW,
        )
    )
    session.flush()
    assert is_suppressed(session, "Gone@Example.org")


def test_suppressed_among_answers_for_a_whole_batch(session: Session) -> None:
    suppress(session, "a@example.org", SuppressionReason.MANUAL, None, NOW)
    suppress(session, "c@example.org", SuppressionReason.MANUAL, None, NOW)
    batch = ["A@example.org", "b@example.org", "c@example.org"]
    assert suppressed_among(session, batch) == {"A@example.org", "c@example.org"}
    assert suppressed_among(session, []) == set()


def test_not_suppressed_filters_subscribers_in_sql(session: Session) -> None:
    community = town(session)
    # A Core bulk insert (as an import does) gets its hash from the column default.
    session.execute(
        insert(Subscriber),
        [{"email": f"r{i}@example.org", "community_id": community.id} for i in range(4)],
    )
    session.add(Subscriber(email="orm@example.org", community_id=community.id))
    session.flush()
    suppress(session, "r1@example.org", SuppressionReason.HARD_BOUNCE, None, NOW)
    suppress(session, "orm@example.org", SuppressionReason.COMPLAINT, None, NOW)
    mailable = session.scalars(
        select(Subscriber.email).where(not_suppressed()).order_by(Subscriber.email)
    ).all()
    assert mailable == ["r0@example.org", "r2@example.org", "r3@example.org"]


def test_subscriber_hash_follows_the_address(session: Session) -> None:
    community = town(session)
    subscriber = Subscriber(email="old@example.org", community_id=community.id)
    session.add(subscriber)
    session.flush()
    assert subscriber.email_hash == email_hash("old@example.org")
    subscriber.email = "new@example.org"
    session.flush()
    stored = session.scalar(select(Subscriber.email_hash).where(Subscriber.id == subscriber.id))
    assert stored == email_hash("new@example.org")
    subscriber.email = None  # erased
    session.flush()
    assert subscriber.email_hash is None


def test_unsuppress(session: Session) -> None:
    suppress(session, "jane@example.org", SuppressionReason.MANUAL, None, NOW)
    assert unsuppress(session, "JANE@example.org")
    assert not is_suppressed(session, "jane@example.org")
    assert not unsuppress(session, "jane@example.org")
