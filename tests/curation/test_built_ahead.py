"""An edition built ahead (`digest edition build` without --at) goes to each town at its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import Community, Delivery, Edition, EditionStatus, Subscriber
from digest.sending.editions import build_edition, dispatch_due
from digest.sending.scheduler import run_here
from digest.sending.slots import build_next
from digest.settings import load_settings
from tests import factories

EVENING = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)  # 12:00 in Springfield, 13:00 in Riverton
RIVERTON_SIX = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
SPRINGFIELD_SIX = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


def sent_at(factory: sessionmaker[Session]) -> dict[str, list[datetime]]:
    with factory() as session:
        rows = session.execute(
            select(Community.slug, Delivery.sent_at)
            .join(Subscriber, Subscriber.community_id == Community.id)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        ).all()
    found: dict[str, list[datetime]] = {}
    for slug, moment in rows:
        found.setdefault(slug, []).append(moment)
    return found


def test_each_town_gets_the_edition_built_ahead_at_its_own_six(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = load_settings(mail_url=f"maildir://{tmp_path / 'outbox'}")
    with committed() as session, session.begin():
        springfield, riverton = factories.towns(session, ("springfield", "riverton"))
        letter = factories.newsletter(session)
        letter.schedule = "daily 06:00"
        letter.created_at = EVENING - timedelta(hours=1)
        for town in (springfield, riverton):
            factories.readers(session, letter, town, 2)
            factories.stories(session, town, 3, EVENING - timedelta(hours=1))
        factories.stories(session, None, 3, EVENING - timedelta(hours=1))
    with committed() as session, session.begin():
        letter = session.get_one(type(letter), letter.id)
        (edition,) = build_next(session, settings, letter, EVENING)
        assert edition.slot == datetime(2026, 12, 3, 6, 0)
        assert edition.status == EditionStatus.READY

    clock = FixedClock(EVENING)
    while clock.now() <= SPRINGFIELD_SIX + timedelta(hours=2):
        run_here(committed, settings, clock)
        clock.advance(minutes=30)

    assert sent_at(committed) == {
        "riverton": [RIVERTON_SIX, RIVERTON_SIX],
        "springfield": [SPRINGFIELD_SIX, SPRINGFIELD_SIX],
    }
    with committed() as session:
        assert session.scalars(select(Edition.status)).all() == [EditionStatus.SENT]


def test_an_edition_built_ahead_whose_time_passed_while_down_ends_skipped(
    session: Session,
) -> None:
    (riverton,) = factories.towns(session, ("riverton",))
    letter = factories.newsletter(session)
    letter.schedule = "daily 06:00"
    letter.created_at = EVENING - timedelta(hours=1)
    factories.readers(session, letter, riverton, 1)
    factories.stories(session, riverton, 3, EVENING - timedelta(hours=1))
    settings = load_settings(schedule_grace_minutes=60)
    (edition,) = build_next(session, settings, letter, EVENING)
    assert edition.status == EditionStatus.READY
    # Down from the evening until three hours after Riverton's six o'clock.
    result = dispatch_due(session, settings, RIVERTON_SIX + timedelta(hours=3))
    assert edition.id not in result.to_send
    assert edition.status == EditionStatus.SKIPPED
    assert edition.skip_reason is not None
    assert "missed: due 3:00:00 ago" in edition.skip_reason
    assert any("riverton: missed" in line for line in result.missed)


def test_a_slot_before_one_built_further_ahead_is_still_sent(session: Session) -> None:
    (riverton,) = factories.towns(session, ("riverton",))
    letter = factories.newsletter(session)
    letter.schedule = "daily 06:00"
    letter.created_at = EVENING - timedelta(hours=1)
    factories.readers(session, letter, riverton, 1)
    factories.stories(session, riverton, 3, EVENING - timedelta(hours=1))
    factories.stories(session, None, 3, EVENING - timedelta(hours=1))
    settings = load_settings()
    later = build_edition(session, settings, letter, datetime(2026, 12, 4, 6, 0), EVENING)
    # News overnight: the later edition has its stories already; this is for tomorrow's.
    factories.stories(session, riverton, 2, RIVERTON_SIX - timedelta(hours=2), tag="night")
    result = dispatch_due(session, settings, RIVERTON_SIX + timedelta(minutes=1))
    tomorrow = session.scalars(
        select(Edition).where(Edition.slot == datetime(2026, 12, 3, 6, 0))
    ).one()
    assert result.to_send == [tomorrow.id]
    assert later.status == EditionStatus.READY  # still waiting for its own day
