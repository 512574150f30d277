"""The editor's desk in the core: picks reshape the frozen segment, held editions wait for an
Approve (or follow the newsletter's grace/skip setting on the injectable clock), and a test
send reaches only the editor's address and counts nowhere."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.clock import FixedClock
from digest.errors import DigestError
from digest.models import (
    Community,
    Delivery,
    Edition,
    EditionSegment,
    EditionStatus,
    Newsletter,
    Story,
)
from digest.sending import approval, delivery, shaping
from digest.sending.editions import build_edition, dispatch_due
from digest.sending.proofs import prepare_proof, send_proof
from digest.settings import Settings, load_settings
from tests import factories

SLOT = datetime(2026, 11, 24, 6, 0)
MOUNTAIN_SIX = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 06:00 in Riverton (Denver)
PACIFIC_SIX = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 06:00 in Springfield (Los Angeles)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(mail_url=f"maildir://{tmp_path / 'outbox'}")


def newsroom(session: Session) -> tuple[Newsletter, Community, Community]:
    springfield, riverton = factories.towns(session, ("springfield", "riverton"))
    letter = factories.newsletter(session)
    letter.schedule = "daily 06:00"
    letter.created_at = MOUNTAIN_SIX - timedelta(hours=12)
    for town in (springfield, riverton):
        factories.readers(session, letter, town, 2)
        factories.stories(session, town, 5, MOUNTAIN_SIX - timedelta(hours=2))
    factories.stories(session, None, 6, MOUNTAIN_SIX - timedelta(hours=2))
    session.flush()
    return letter, springfield, riverton


def titles(segment: EditionSegment) -> dict[str, list[str]]:
    return {s["key"]: [c["title"] for c in s["stories"]] for s in segment.sections}


def segment_of(edition: Edition, town: Community) -> EditionSegment:
    return next(s for s in edition.segments if s.community_id == town.id)


def story(session: Session, title: str) -> Story:
    found = session.scalar(select(Story).where(Story.title == title))
    assert found is not None
    return found


def test_picks_reshape_what_is_frozen_and_sent(session: Session, settings: Settings) -> None:
    letter, springfield, riverton = newsroom(session)
    now = MOUNTAIN_SIX - timedelta(hours=1)
    edition = build_edition(session, settings, letter, SLOT, now)
    own = segment_of(edition, springfield)
    first, second, third = titles(own)["top"]
    riverton_top = titles(segment_of(edition, riverton))["top"]
    assert first in riverton_top
    by = "editor@desk.example"

    shaping.write_note(
        session, settings, edition, None, "<p>Snow <b>today</b><script>x()</script></p>", by, now
    )
    shaping.drop(session, settings, edition, springfield, story(session, first), by, now)
    shaping.pin(session, settings, edition, springfield, story(session, third), by, now)
    shaping.swap(session, settings, edition, None, story(session, "Springfield story 1"), by, now)

    after = titles(own)
    assert after["top"] == [third, second]  # the dropped one gone, the pinned one first
    assert after["local"] == ["Springfield story 0", "Springfield story 3", "Springfield story 2"]
    assert "Snow <b>today</b>" in own.html
    assert "x()" not in own.html
    assert "Snow today" in own.text
    assert own.subject.startswith("Springfield: Springfield story 0")  # the local lead
    # Riverton keeps the story dropped for Springfield, and has the all-towns note.
    assert titles(segment_of(edition, riverton))["top"] == riverton_top
    assert "Snow <b>today</b>" in segment_of(edition, riverton).html

    shaping.move(session, settings, edition, springfield, story(session, second), "up", by, now)
    assert titles(own)["top"] == [second, third]

    delivery.start_sending(session, edition, now)
    with pytest.raises(DigestError, match="can no longer be changed"):
        shaping.drop(session, settings, edition, None, story(session, second), by, now)


def test_a_story_added_by_url_joins_its_section(session: Session, settings: Settings) -> None:
    letter, springfield, _ = newsroom(session)
    now = MOUNTAIN_SIX - timedelta(hours=1)
    edition = build_edition(session, settings, letter, SLOT, now)
    old = factories.stories(session, None, 1, now - timedelta(days=5), tag="archive")[0]
    shaping.add(session, settings, edition, springfield, old, "top", "ed", now)
    top = titles(segment_of(edition, springfield))["top"]
    assert top[-1] == "Region story archive0"
    with pytest.raises(DigestError, match="no section 'sports'"):
        shaping.add(session, settings, edition, springfield, old, "sports", "ed", now)


def held(session: Session, if_unapproved: str = "send") -> tuple[Newsletter, Community, Community]:
    letter, springfield, riverton = newsroom(session)
    approval.set_hold(letter, True, if_unapproved, grace_minutes=30)
    return letter, springfield, riverton


def deliveries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Delivery)) or 0


def test_held_edition_is_built_ahead_and_waits_for_approval(
    session: Session, settings: Settings
) -> None:
    held(session)
    clock = FixedClock(MOUNTAIN_SIX - timedelta(minutes=61))
    assert approval.dispatch_held(session, settings, clock.now()).to_send == []
    assert session.scalar(select(func.count()).select_from(Edition)) == 0

    clock.advance(minutes=2)  # 59 minutes before Riverton's slot: built, waiting
    assert approval.dispatch_held(session, settings, clock.now()).to_send == []
    edition = session.scalars(select(Edition)).one()
    assert edition.status == EditionStatus.AWAITING
    assert dispatch_due(session, settings, clock.now()).to_send == []  # not the normal path

    clock.at = MOUNTAIN_SIX + timedelta(minutes=1)  # slot come, nobody approved, grace running
    assert approval.dispatch_held(session, settings, clock.now()).to_send == []
    approval.approve(session, edition, "ed", clock.now())
    assert approval.dispatch_held(session, settings, clock.now()).to_send == [edition.id]
    delivery.start_sending(session, edition, clock.now(), due_only=True)
    assert deliveries(session) == 2  # Riverton's readers only: Springfield's slot is later

    clock.at = PACIFIC_SIX
    assert approval.dispatch_held(session, settings, clock.now()).to_send == [edition.id]
    delivery.start_sending(session, edition, clock.now(), due_only=True)
    assert deliveries(session) == 4
    with pytest.raises(DigestError, match="only when awaiting"):
        approval.approve(session, edition, "ed", clock.now())


def test_unapproved_edition_is_sent_after_the_grace(session: Session, settings: Settings) -> None:
    held(session, "send")
    clock = FixedClock(MOUNTAIN_SIX - timedelta(minutes=30))
    approval.dispatch_held(session, settings, clock.now())
    clock.at = MOUNTAIN_SIX + timedelta(minutes=29)
    assert approval.dispatch_held(session, settings, clock.now()).to_send == []
    clock.advance(minutes=1)
    result = approval.dispatch_held(session, settings, clock.now())
    edition = session.scalars(select(Edition)).one()
    assert result.to_send == [edition.id]
    assert "without approval" in (edition.approved_by or "")
    assert any("without approval" in line for line in result.missed)


def test_unapproved_edition_is_skipped_with_the_reason(
    session: Session, settings: Settings
) -> None:
    held(session, "skip")
    clock = FixedClock(PACIFIC_SIX - timedelta(minutes=10))  # both towns built
    approval.dispatch_held(session, settings, clock.now())
    clock.at = PACIFIC_SIX + timedelta(minutes=1)
    result = approval.dispatch_held(session, settings, clock.now())
    edition = session.scalars(select(Edition)).one()
    assert result.to_send == []
    assert edition.status == EditionStatus.SKIPPED
    reasons = {s.skip_reason for s in edition.segments}
    assert reasons == {
        "not approved by its slot (13:00 UTC)",
        "not approved by its slot (14:00 UTC)",
    }
    assert deliveries(session) == 0


def read_outbox(settings: Settings) -> list[Message]:
    path = settings.mail_url.removeprefix("maildir://")
    box = mailbox.Maildir(path, create=False)
    return [message_from_bytes(bytes(message)) for message in box]


def test_test_send_is_marked_and_counts_nowhere(session: Session, settings: Settings) -> None:
    letter, springfield, _ = newsroom(session)
    now = MOUNTAIN_SIX - timedelta(hours=1)
    edition = build_edition(session, settings, letter, SLOT, now)
    shaping.write_note(session, settings, edition, springfield, "Proof me", "ed", now)
    proof = prepare_proof(session, edition, springfield)
    send_proof(settings, proof, "Editor@Desk.example", now)
    (message,) = read_outbox(settings)
    assert message["Subject"].startswith("[TEST] Springfield: ")
    assert message["X-Digest-Test"].startswith("yes")
    assert message["To"] == "editor@desk.example"
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert "Proof me" in text.get_payload(decode=True).decode()
    assert deliveries(session) == 0
    assert edition.recipient_count == 0
    with pytest.raises(DigestError, match="email address"):
        send_proof(settings, proof, "not an address", now)
