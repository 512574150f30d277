"""Retention: old deliveries are folded into counts per edition, town and state, then deleted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus, EditionTownCount
from digest.sending import delivery
from digest.sending.progress import delivery_counts
from digest.sending.retention import purge_old_deliveries
from digest.settings import load_settings
from tests import factories
from tests.factories import NOW


def finished_edition(session: Session, finished_days_ago: int, slot_day: int) -> int:
    letter = session.scalars(select(factories.Newsletter)).first() or factories.newsletter(session)
    places = list(session.scalars(select(factories.Community).order_by(factories.Community.id)))
    edition = factories.ready_edition(
        session, letter, places, NOW.replace(tzinfo=None, day=slot_day, hour=6)
    )
    delivery.start_sending(session, edition, NOW)
    rows = session.scalars(select(Delivery).where(Delivery.edition_id == edition.id)).all()
    for index, row in enumerate(rows):
        row.status = DeliveryStatus.BOUNCED if index % 4 == 0 else DeliveryStatus.SENT
    edition.status = EditionStatus.SENT
    edition.finished_at = NOW - timedelta(days=finished_days_ago)
    return edition.id


def test_old_deliveries_become_counts_and_recent_ones_stay(
    committed: sessionmaker[Session],
) -> None:
    with committed() as session, session.begin():
        places = factories.towns(session, ("springfield", "riverton"))
        letter = factories.newsletter(session)
        for town in places:
            factories.readers(session, letter, town, 7)
        old = finished_edition(session, finished_days_ago=91, slot_day=1)
        recent = finished_edition(session, finished_days_ago=89, slot_day=2)
    with committed() as session:
        before = delivery_counts(session, old)
    settings = load_settings(delivery_retention_days=90, delivery_purge_batch=3)

    done = purge_old_deliveries(committed, settings, FixedClock(NOW))
    again = purge_old_deliveries(committed, settings, FixedClock(NOW))

    assert done == {"editions folded": 1, "deliveries folded": 14, "deliveries deleted": 14}
    assert again == {}
    with committed() as session:
        left = dict(
            session.execute(
                select(Delivery.edition_id, func.count()).group_by(Delivery.edition_id)
            ).all()
        )
        assert left == {recent: 14}
        assert delivery_counts(session, old) == before == {"sent": 10, "bounced": 4}
        per_town = session.execute(
            select(EditionTownCount.community_id, func.sum(EditionTownCount.count)).group_by(
                EditionTownCount.community_id
            )
        ).all()
        assert sorted(count for _, count in per_town) == [7, 7]
        assert session.get_one(Edition, old).folded_at == NOW
