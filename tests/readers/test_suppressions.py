"""Suppressions: by hash, idempotent, and usable in SQL on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from digest.addresses import email_hash
from digest.cli import app
from digest.errors import DigestError
from digest.models import (
    Community,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from digest.readers.consent import consent_events
from digest.readers.suppressions import (
    add_suppression,
    export_suppressions,
    import_suppressions,
    is_suppressed,
    lift_suppression,
    list_suppressions,
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


# Managing the list: list, add, lift, import, export (core and `digest suppressions`)


def reader_in(session: Session, email: str, status: SubscriberStatus) -> Subscriber:
    subscriber = Subscriber(email=email, community_id=town(session).id, status=status)
    session.add(subscriber)
    session.flush()
    return subscriber


def history(session: Session, subscriber: Subscriber) -> list[tuple[str, dict[str, object]]]:
    return [(e.action.value, e.detail or {}) for e in consent_events(session, subscriber.id)]


def test_adding_by_hand_needs_a_reason_and_is_in_the_history(session: Session) -> None:
    jane = reader_in(session, "jane@example.org", SubscriberStatus.ACTIVE)
    with pytest.raises(DigestError, match="say why"):
        add_suppression(session, "jane@example.org", "  ", NOW, "test")
    with pytest.raises(DigestError):
        add_suppression(session, "jane at example", "typo", NOW, "test")
    row, created = add_suppression(session, "Jane@Example.org", "asked by phone", NOW, "test")
    again, created_again = add_suppression(session, "jane@example.org", "twice", NOW, "test")
    assert (created, created_again, again.id) == (True, False, row.id)
    assert (row.reason, row.detail) == (SuppressionReason.MANUAL, "asked by phone")
    assert history(session, jane) == [("suppress", {"why": "asked by phone"})]


def test_lifting_restores_a_bounced_reader_and_records_why(session: Session) -> None:
    jane = reader_in(session, "jane@example.org", SubscriberStatus.BOUNCED)
    suppress(session, "jane@example.org", SuppressionReason.HARD_BOUNCE, "550 5.1.1", NOW)
    with pytest.raises(DigestError, match="say why"):
        lift_suppression(session, "jane@example.org", "", NOW, "test")
    lift_suppression(session, "JANE@example.org", "mailbox fixed, she wrote", NOW, "test")
    assert not is_suppressed(session, "jane@example.org")
    assert jane.status == SubscriberStatus.ACTIVE
    [(action, detail)] = history(session, jane)
    assert action == "unsuppress"
    assert detail["why"] == "mailbox fixed, she wrote"
    assert (detail["was"], detail["was_detail"]) == ("hard_bounce", "550 5.1.1")
    with pytest.raises(DigestError, match="is not suppressed"):
        lift_suppression(session, "jane@example.org", "again", NOW, "test")


def test_list_searches_by_part_or_whole_address_and_reason(session: Session) -> None:
    suppress(session, "jane@example.org", SuppressionReason.HARD_BOUNCE, None, NOW)
    suppress(session, "joe@example.net", SuppressionReason.COMPLAINT, None, NOW)
    erased = suppress(session, "gone@example.org", SuppressionReason.ERASED, None, NOW)
    erased.email = None
    session.flush()
    assert [r.email for r in list_suppressions(session, "example.org")] == ["jane@example.org"]
    assert [r.reason for r in list_suppressions(session, "Gone@Example.org")] == ["erased"]
    complaints = list_suppressions(session, reason=SuppressionReason.COMPLAINT)
    assert [r.email for r in complaints] == ["joe@example.net"]


def test_import_reports_bad_lines_and_export_round_trips(session: Session) -> None:
    rows = [
        {"email": "a@example.org", "reason": "", "detail": ""},
        {"email": "not an address", "reason": "", "detail": ""},
        {"email": "b@example.org", "reason": "hard-bounce", "detail": "old ESP list"},
        {"email": "c@example.org", "reason": "sorrow", "detail": ""},
        {"email": "A@example.org", "reason": "manual", "detail": ""},
    ]
    result = import_suppressions(session, rows, NOW, "old.csv")
    assert (result.added, result.already) == (2, 1)
    assert [problem.split(":")[0] for problem in result.invalid] == ["line 3", "line 5"]
    exported = {row["email"]: row for row in export_suppressions(session)}
    assert exported["b@example.org"]["reason"] == "hard_bounce"
    assert exported["b@example.org"]["detail"] == "old ESP list"
    assert exported["a@example.org"]["detail"] == "imported (old.csv)"
    assert exported["a@example.org"]["email_hash"] == email_hash("a@example.org")


def test_the_suppressions_command(committed: sessionmaker[Session], tmp_path: Path) -> None:
    runner = CliRunner()
    source = tmp_path / "in.csv"
    source.write_text("email,reason\nx@example.org,complaint\ny@example.org,\nbad,\n")
    imported = runner.invoke(app, ["suppressions", "import", str(source)])
    assert imported.exit_code == 0, imported.output
    assert "2 suppressed, 0 already suppressed, 1 skipped" in imported.output
    added = runner.invoke(app, ["suppressions", "add", "z@example.org", "-r", "typo trap"])
    assert "Suppressed z@example.org (manual: typo trap)" in added.output
    runner.invoke(app, ["suppressions", "add", "w@example.org", "-r", '=HYPERLINK("x")'])
    listed = runner.invoke(app, ["suppressions", "list", "example.org"])
    assert "4 suppression(s)." in listed.output
    assert "typo trap" in listed.output
    lifted = runner.invoke(app, ["suppressions", "lift", "x@example.org", "-r", "resolved"])
    assert "Lifted the complaint suppression of x@example.org: resolved." in lifted.output
    missing = runner.invoke(app, ["suppressions", "lift", "x@example.org", "-r", "again"])
    assert missing.exit_code != 0
    target = tmp_path / "out.csv"
    exported = runner.invoke(app, ["suppressions", "export", "-o", str(target)])
    assert "3 suppressions written" in exported.output
    with target.open() as file:
        rows = {row["email"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == ["w@example.org", "y@example.org", "z@example.org"]
    assert rows["w@example.org"]["detail"] == '\'=HYPERLINK("x")'  # a spreadsheet shows text
