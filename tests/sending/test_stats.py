"""The editor's counts: editions' progress, readers per town, signups per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from digest.models import ConsentAction, ConsentEvent, Delivery, DeliveryStatus, SubscriptionStatus
from digest.sending import delivery, stats
from tests import factories
from tests.factories import NOW


def test_edition_progress_counts_deliveries_by_status(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 4)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    first, second, *_ = session.query(Delivery).order_by(Delivery.id).all()
    first.status = DeliveryStatus.SENT
    second.status = DeliveryStatus.FAILED
    session.flush()

    (progress,) = stats.recent_editions(session)

    assert progress.id == edition.id
    assert progress.recipients == 4
    assert progress.counts == {"sent": 1, "failed": 1, "queued": 2}
    assert progress.percent == 50.0


def test_readers_are_counted_per_newsletter_and_town(session: Session) -> None:
    springfield, riverton = factories.towns(session, ("springfield", "riverton"))
    letter = factories.newsletter(session)
    factories.readers(session, letter, springfield, 3)
    factories.readers(session, letter, springfield, 2, SubscriptionStatus.PENDING, "p")
    factories.readers(session, letter, riverton, 1, SubscriptionStatus.UNSUBSCRIBED, "u")

    rows = {(row.newsletter, row.town): row for row in stats.readers_by_town(session)}

    assert rows[("morning", "springfield")].confirmed == 3
    assert rows[("morning", "springfield")].pending == 2
    assert rows[("morning", "riverton")].unsubscribed == 1
    assert rows[("morning", "riverton")].confirmed == 0


def test_signups_and_unsubscribes_per_day(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    (reader,) = factories.readers(session, letter, town, 1)
    today = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    events = [
        (ConsentAction.SIGNUP, today - timedelta(days=2)),
        (ConsentAction.SIGNUP, today - timedelta(days=2, hours=1)),
        (ConsentAction.CONFIRM, today - timedelta(days=1)),
        (ConsentAction.UNSUBSCRIBE, today),
        (ConsentAction.SIGNUP, today - timedelta(days=40)),  # outside the window
    ]
    session.add_all(
        ConsentEvent(subscriber_id=reader.id, action=action, occurred_at=when, source="test")
        for action, when in events
    )
    session.flush()

    days = stats.daily_signups(session, today.date(), days=3)

    assert [(d.day.day, d.signups, d.confirmations, d.unsubscribes) for d in days] == [
        (22, 2, 0, 0),
        (23, 0, 1, 0),
        (24, 0, 0, 1),
    ]
