"""A newsroom with some history, for the editor's view: editions, readers, feeds, signups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.curation.schedules import slot_instant
from digest.models import (
    ConsentAction,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionSegment,
    EditionStatus,
    Feed,
    Newsletter,
    SubscriptionStatus,
)
from digest.sending import delivery
from tests import factories
from tests.factories import NOW

ADMIN_PASSWORD = "editor-password-for-tests"


@dataclass(frozen=True)
class Newsroom:
    sent: int  # edition fully sent
    sending: int  # edition half-way: 4 sent, 1 failed, 4 queued of 9
    ready: int  # Riverton's edition of today, built, not started


def newsroom(sessions: sessionmaker[Session], now: datetime = NOW) -> Newsroom:
    """Two towns, one newsletter, 9 confirmed readers, three editions, feeds and signups."""
    with sessions() as session, session.begin():
        springfield, riverton = factories.towns(session, ("springfield", "riverton"))
        letter = factories.newsletter(session)
        letter.description = "The region's top stories and your town's, every morning at 6"
        session.add(Newsletter(slug="weekend", name="Weekend Reads", description="Saturdays"))
        factories.readers(session, letter, springfield, 6)
        factories.readers(session, letter, springfield, 2, SubscriptionStatus.PENDING, "p")
        factories.readers(session, letter, riverton, 3)
        factories.readers(session, letter, riverton, 1, SubscriptionStatus.UNSUBSCRIBED, "u")
        factories.stories(session, springfield, 4, now - timedelta(hours=1))
        factories.stories(session, None, 3, now - timedelta(hours=2))
        sent = _edition(session, letter, [springfield, riverton], now, days_ago=2)
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.edition_id == sent.id)
            .values(status=DeliveryStatus.SENT)
        )
        sent.status = EditionStatus.SENT
        sent.finished_at = now - timedelta(days=2)
        sending = _edition(session, letter, [springfield, riverton], now, days_ago=1)
        rows = session.scalars(
            select(Delivery).where(Delivery.edition_id == sending.id).order_by(Delivery.id)
        ).all()
        outcomes = [DeliveryStatus.SENT] * 4 + [DeliveryStatus.FAILED]
        for row, status in zip(rows, outcomes, strict=False):
            row.status = status
        # Riverton's edition of today, built and not started (Springfield's is still to come).
        ready = factories.ready_edition(session, letter, [riverton], _slot(now, days_ago=0))
        failing = session.scalars(select(Feed).where(Feed.community_id.is_(None))).one()
        failing.consecutive_failures = 3
        failing.last_error = "HTTP 503 from news.example (Service Unavailable)"
        for feed in session.scalars(select(Feed).where(Feed.community_id.is_not(None))):
            feed.last_success_at = now - timedelta(minutes=10)
        for segment in session.scalars(select(EditionSegment)):
            # At the slot's own moment in the town, as the scheduler sets it.
            segment.send_at = slot_instant(segment.edition.slot, segment.community.timezone)
        _consent_history(session, now)
        return Newsroom(sent.id, sending.id, ready.id)


def _edition(
    session: Session, letter: object, places: list[object], now: datetime, days_ago: int
) -> Edition:
    edition = factories.ready_edition(session, letter, places, _slot(now, days_ago))  # type: ignore[arg-type]
    delivery.start_sending(session, edition, now - timedelta(days=days_ago))
    session.flush()
    return edition


def _slot(now: datetime, days_ago: int) -> datetime:
    """The 06:00 slot (local wall-clock time) of `days_ago` days before `now`'s day."""
    return datetime.combine(now.date() - timedelta(days=days_ago), time(6, 0))


def _consent_history(session: Session, now: datetime) -> None:
    pattern = [3, 5, 2, 6, 4, 8, 3, 7, 5, 9, 4, 6, 10, 7]
    for days_ago, signups in enumerate(pattern):
        when = now - timedelta(days=days_ago, hours=2)
        for _i in range(signups):
            session.add(ConsentEvent(action=ConsentAction.SIGNUP, occurred_at=when, source="test"))
        for _i in range(days_ago % 3):
            session.add(
                ConsentEvent(action=ConsentAction.UNSUBSCRIBE, occurred_at=when, source="test")
            )
    session.flush()
