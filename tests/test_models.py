"""The constraints that carry Digest's guarantees, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.db import make_engine
from digest.models import (
    Community,
    ConsentAction,
    ConsentEvent,
    Delivery,
    Edition,
    EditionSegment,
    Newsletter,
    Subscriber,
    Subscription,
)

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def town(session: Session, slug: str = "springfield") -> Community:
    community = Community(slug=slug, name=slug.title(), timezone="America/Los_Angeles")
    session.add(community)
    session.flush()
    return community


def edition_with_segment(session: Session) -> tuple[Edition, EditionSegment, Subscriber]:
    community = town(session)
    newsletter = Newsletter(slug="morning", name="Morning Digest")
    reader = Subscriber(email="reader@example.com", community=community)
    session.add_all([newsletter, reader])
    session.flush()
    edition = Edition(newsletter_id=newsletter.id, slot=datetime(2026, 11, 24, 6, 0))
    session.add(edition)
    session.flush()
    segment = EditionSegment(edition_id=edition.id, community_id=community.id, send_at=NOW)
    session.add(segment)
    session.flush()
    return edition, segment, reader


def test_one_delivery_per_edition_and_reader(session: Session) -> None:
    edition, segment, reader = edition_with_segment(session)
    session.add(Delivery(edition_id=edition.id, segment_id=segment.id, subscriber_id=reader.id))
    session.flush()
    session.add(Delivery(edition_id=edition.id, segment_id=segment.id, subscriber_id=reader.id))
    with pytest.raises(IntegrityError):
        session.flush()


def test_one_edition_per_newsletter_and_slot(session: Session) -> None:
    edition, _, _ = edition_with_segment(session)
    session.add(Edition(newsletter_id=edition.newsletter_id, slot=edition.slot))
    with pytest.raises(IntegrityError):
        session.flush()


def test_one_segment_per_edition_and_town(session: Session) -> None:
    edition, segment, _ = edition_with_segment(session)
    session.add(
        EditionSegment(edition_id=edition.id, community_id=segment.community_id, send_at=NOW)
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_one_subscriber_per_address(session: Session) -> None:
    community = town(session)
    session.add(Subscriber(email="same@example.com", community_id=community.id))
    session.flush()
    session.add(Subscriber(email="same@example.com", community_id=community.id))
    with pytest.raises(IntegrityError):
        session.flush()


def test_erased_subscribers_do_not_collide(session: Session) -> None:
    community = town(session)
    session.add_all([Subscriber(email=None, community_id=community.id) for _ in range(2)])
    session.flush()


def test_one_subscription_per_reader_and_newsletter(session: Session) -> None:
    _, _, reader = edition_with_segment(session)
    newsletter_id = session.scalars(text("SELECT id FROM newsletters")).one()
    for _ in range(2):
        session.add(
            Subscription(subscriber_id=reader.id, newsletter_id=newsletter_id, source="test")
        )
    with pytest.raises(IntegrityError):
        session.flush()


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(Subscriber(email="orphan@example.com", community_id=999_999))
    with pytest.raises(IntegrityError):
        session.flush()


def test_times_come_back_aware_and_in_utc(session: Session) -> None:
    pacific = timezone(timedelta(hours=-8))
    community = town(session)
    session.add(community)
    community.created_at = datetime(2026, 11, 23, 22, 0, tzinfo=pacific)
    session.flush()
    session.expire_all()
    stored = session.get(Community, community.id)
    assert stored is not None
    assert stored.created_at == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(session: Session) -> None:
    community = town(session)
    community.created_at = datetime(2026, 11, 24, 6, 0)
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_consent_events_are_append_only(session: Session) -> None:
    community = town(session)
    reader = Subscriber(email="proof@example.com", community_id=community.id)
    session.add(reader)
    session.flush()
    event = ConsentEvent(subscriber_id=reader.id, action=ConsentAction.SIGNUP, source="form")
    session.add(event)
    session.flush()
    event.source = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        session.flush()


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
