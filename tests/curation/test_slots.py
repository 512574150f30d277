"""Slots in each town's own time: the next due slot, this morning's, missed ones, built ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Community, Edition, EditionSegment, EditionStatus, Newsletter
from digest.sending.editions import build_edition, dispatch_due
from digest.sending.previews import curate_next
from digest.sending.slots import build_next, latest_past_slots, next_due_slots
from digest.settings import load_settings
from tests import factories

# 11:38 UTC on Wednesday 2 December: 01:38 in Hilo, 12:38 in Berlin.
NOW = datetime(2026, 12, 2, 11, 38, tzinfo=UTC)


def towns(session: Session) -> tuple[Community, Community]:
    hilo = Community(slug="hilo", name="Hilo", timezone="Pacific/Honolulu")
    mitte = Community(slug="mitte", name="Mitte", timezone="Europe/Berlin")
    session.add_all([hilo, mitte])
    session.flush()
    return hilo, mitte


def setup(session: Session) -> tuple[Newsletter, Community, Community]:
    hilo, mitte = towns(session)
    letter = factories.newsletter(session)
    letter.schedule = "daily 06:00"
    letter.created_at = NOW - timedelta(days=3)
    for town in (hilo, mitte):
        factories.readers(session, letter, town, 1)
        factories.stories(session, town, 6, NOW - timedelta(hours=1))
    factories.stories(session, None, 8, NOW - timedelta(hours=1))
    session.flush()
    return letter, hilo, mitte


def test_the_next_due_slot_is_each_towns_own(session: Session) -> None:
    letter, hilo, mitte = setup(session)
    groups = next_due_slots(session, letter, [hilo, mitte], NOW)
    assert groups == {
        datetime(2026, 12, 2, 6, 0): [hilo],  # still ahead in Hilo today
        datetime(2026, 12, 3, 6, 0): [mitte],  # already past in Berlin: tomorrow's
    }
    built = build_next(session, load_settings(), letter, NOW)
    sends = session.execute(
        select(Community.slug, EditionSegment.send_at).join(
            EditionSegment, EditionSegment.community_id == Community.id
        )
    ).all()
    assert sorted(sends) == [
        ("hilo", datetime(2026, 12, 2, 16, 0, tzinfo=UTC)),
        ("mitte", datetime(2026, 12, 3, 5, 0, tzinfo=UTC)),
    ]
    assert [edition.status for edition in built] == [EditionStatus.READY] * 2


def test_this_mornings_slot_is_the_latest_past_six_in_each_zone(session: Session) -> None:
    letter, hilo, mitte = setup(session)
    assert latest_past_slots(letter, [hilo, mitte], NOW) == {
        datetime(2026, 12, 1, 6, 0): [hilo],
        datetime(2026, 12, 2, 6, 0): [mitte],
    }


def test_an_edition_built_ahead_for_tomorrow_never_repeats_todays(session: Session) -> None:
    letter, hilo, _ = setup(session)
    settings = load_settings()
    today = build_edition(session, settings, letter, datetime(2026, 12, 2, 6, 0), NOW, [hilo])
    tomorrow = build_edition(session, settings, letter, datetime(2026, 12, 3, 6, 0), NOW, [hilo])
    (first,) = today.segments
    (second,) = tomorrow.segments
    assert first.story_ids
    assert set(first.story_ids).isdisjoint(second.story_ids or [])
    # The preview of the next edition after today's agrees with what was built.
    upcoming = curate_next(session, letter, hilo, NOW + timedelta(hours=6))
    assert upcoming.slot == datetime(2026, 12, 3, 6, 0)


def test_slots_missed_while_down_end_skipped_with_the_reason(session: Session) -> None:
    letter, _, _ = setup(session)
    letter.created_at = NOW - timedelta(days=2)
    # Down for two days: the pass now finds the missed slots past the grace period.
    result = dispatch_due(session, load_settings(schedule_grace_minutes=60), NOW)
    editions = session.scalars(select(Edition).order_by(Edition.slot)).all()
    assert result.missed
    assert EditionStatus.BUILDING not in {edition.status for edition in editions}
    skipped = [edition for edition in editions if edition.status == EditionStatus.SKIPPED]
    assert skipped
    for edition in skipped:
        assert edition.skip_reason is not None
        assert "missed: due" in edition.skip_reason
