"""The scheduler: each town's slot at its own local time, once, with a grace period."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Community, Edition, EditionSegment, Newsletter
from digest.sending.editions import dispatch_due
from digest.settings import get_settings, load_settings
from tests import factories

SLOT = datetime(2026, 11, 24, 6, 0)
MOUNTAIN_SIX = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 06:00 in Riverton (Denver)
PACIFIC_SIX = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 06:00 in Springfield (Los Angeles)


def two_towns(session: Session) -> tuple[Newsletter, Community, Community]:
    springfield, riverton = factories.towns(session, ("springfield", "riverton"))
    letter = factories.newsletter(session)
    letter.schedule = "daily 06:00"
    letter.created_at = MOUNTAIN_SIX - timedelta(hours=12)
    for town in (springfield, riverton):
        factories.readers(session, letter, town, 2)
        factories.stories(session, town, 3, MOUNTAIN_SIX - timedelta(hours=1))
    factories.stories(session, None, 3, MOUNTAIN_SIX - timedelta(hours=1))
    session.flush()
    return letter, springfield, riverton


def segments(session: Session) -> list[tuple[str, datetime, datetime, str | None]]:
    rows = session.execute(
        select(Community.slug, Edition.slot, EditionSegment.send_at, EditionSegment.skip_reason)
        .join(EditionSegment, EditionSegment.community_id == Community.id)
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .order_by(EditionSegment.send_at)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_each_town_gets_its_segment_at_six_its_own_time(session: Session) -> None:
    settings = get_settings()
    two_towns(session)

    before = dispatch_due(session, settings, MOUNTAIN_SIX - timedelta(minutes=1))
    mountain = dispatch_due(session, settings, MOUNTAIN_SIX + timedelta(minutes=1))
    pacific = dispatch_due(session, settings, PACIFIC_SIX + timedelta(minutes=1))

    assert before.to_send == []
    assert len(mountain.to_send) == 1
    assert pacific.to_send == mountain.to_send  # the same edition, now with a second town
    assert segments(session) == [
        ("riverton", SLOT, MOUNTAIN_SIX, None),
        ("springfield", SLOT, PACIFIC_SIX, None),
    ]


def test_a_second_pass_or_a_restart_builds_nothing_again(session: Session) -> None:
    settings = get_settings()
    two_towns(session)
    first = dispatch_due(session, settings, PACIFIC_SIX + timedelta(minutes=1))
    again = dispatch_due(session, settings, PACIFIC_SIX + timedelta(minutes=2))
    assert len(first.to_send) == 1
    assert again.to_send == []
    assert len(segments(session)) == 2


def test_a_slot_missed_within_the_grace_period_is_sent_late(session: Session) -> None:
    settings = load_settings(schedule_grace_minutes=120)
    two_towns(session)
    result = dispatch_due(session, settings, PACIFIC_SIX + timedelta(minutes=30))  # 90 in Riverton
    assert len(result.to_send) == 1
    assert [row[3] for row in segments(session)] == [None, None]


def test_a_slot_missed_beyond_the_grace_period_is_skipped_and_recorded(session: Session) -> None:
    settings = load_settings(schedule_grace_minutes=120)
    two_towns(session)
    # The service was down from before 06:00 Mountain until 08:30 Mountain (07:30 Pacific).
    result = dispatch_due(session, settings, MOUNTAIN_SIX + timedelta(hours=2, minutes=30))
    assert result.to_send != []  # Springfield is 90 minutes late: still sent
    rows = {row[0]: row for row in segments(session)}
    assert rows["springfield"][3] is None
    reason = rows["riverton"][3]
    assert reason is not None
    assert reason.startswith("missed")
    assert any("riverton" in line for line in result.missed)


def test_hourly_passes_across_the_autumn_change_make_one_segment_a_day(session: Session) -> None:
    settings = get_settings()
    letter, springfield, riverton = two_towns(session)
    start = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    letter.created_at = start
    for hour in range(81):  # 31 Oct 12:05 to 3 Nov 20:05 UTC, across 1 Nov's fall-back
        now = start + timedelta(hours=hour, minutes=5)
        factories.stories(session, springfield, 1, now, tag=f"h{hour}-")
        factories.stories(session, riverton, 1, now, tag=f"h{hour}-")
        dispatch_due(session, settings, now)
    built = segments(session)
    local = {
        town: [
            send_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            for t, _, send_at, _ in built
            if t == town
        ]
        for town, zone in (("springfield", "America/Los_Angeles"), ("riverton", "America/Denver"))
    }
    # Riverton's 31 October slot (12:00 UTC) is when the newsletter began: not after it.
    assert local["riverton"] == [datetime(2026, 11, d, 6) for d in (1, 2, 3)]
    assert local["springfield"] == [datetime(2026, 10, 31, 6)] + [
        datetime(2026, 11, d, 6) for d in (1, 2, 3)
    ]
    assert all(reason is None for *_, reason in built)


def test_two_dispatchers_racing_build_each_segment_once(
    committed: sessionmaker[Session],
) -> None:
    settings = get_settings()
    with committed() as session, session.begin():
        two_towns(session)
    results: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            with committed() as session, session.begin():
                results.append(
                    dispatch_due(session, settings, PACIFIC_SIX + timedelta(minutes=1)).to_send
                )
        except (
            Exception
        ) as exc:  # a loser may fail on the unique constraint; it retries next minute
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with committed() as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == 1
        assert session.scalar(select(func.count()).select_from(EditionSegment)) == 2
    assert len(results) + len(errors) == 2
    assert results  # at least one dispatcher built the edition
