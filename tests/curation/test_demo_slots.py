"""The demo sends each town this morning's edition in its own zone; the preview shows the next."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from digest.clock import FixedClock
from digest.db import make_engine, make_session_factory
from digest.demo.seed import run_demo
from digest.models import Community, Edition, EditionSegment, EditionStatus, Newsletter
from digest.sending.editions import dispatch_due
from digest.sending.previews import preview_next_edition
from digest.settings import load_settings

# 11:38 UTC on Wednesday 2 December 2026: still Wednesday's small hours in every demo town.
NOW = datetime(2026, 12, 2, 11, 38, tzinfo=UTC)


def test_the_demo_sends_this_mornings_slot_and_the_preview_shows_tomorrows(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        var_dir=str(tmp_path / "var"),
        mail_url=f"maildir://{tmp_path / 'outbox'}",
    )
    summary = run_demo(settings, FixedClock(NOW))
    assert summary.messages == 9
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(Community.slug, Edition.slot, EditionSegment.send_at, Edition.status)
            .join(EditionSegment, EditionSegment.community_id == Community.id)
            .join(Edition, Edition.id == EditionSegment.edition_id)
        ).all()
        # The latest 06:00 already past in each town: Tuesday's, sent on Tuesday morning.
        for slug, slot, send_at, status in rows:
            assert slot == datetime(2026, 12, 1, 6, 0), slug
            assert send_at < NOW
            assert status == EditionStatus.SENT
        letter = session.scalars(select(Newsletter)).one()
        for town in session.scalars(select(Community)):
            preview = preview_next_edition(session, settings, letter, town, NOW)
            assert preview.slot == datetime(2026, 12, 2, 6, 0)
            assert preview.send_at > NOW
            assert preview.skip_reason is None, preview.skip_reason
        # The scheduler sends the next one normally: nothing is due or missed right now.
        dispatched = dispatch_due(session, settings, NOW)
        assert dispatched.to_send == []
        assert dispatched.missed == []
    engine.dispose()
