"""`digest newsletters hold`, `digest edition approve` and `digest edition test-send`."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from digest.cli import app
from digest.models import Edition, EditionStatus, Newsletter
from digest.settings import get_settings
from tests import factories


def test_hold_approve_and_test_send(committed: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with committed() as session, session.begin():
        (springfield,) = factories.towns(session, ("springfield",))
        letter = factories.newsletter(session)
        factories.readers(session, letter, springfield, 2)
        factories.stories(session, springfield, 3, now - timedelta(hours=1))
    runner = CliRunner()

    held = runner.invoke(app, ["newsletters", "hold", "morning", "--if-unapproved", "skip"])
    assert held.exit_code == 0, held.output
    bad = runner.invoke(app, ["newsletters", "hold", "morning", "--if-unapproved", "later"])
    assert bad.exit_code != 0
    assert "neither 'send' nor 'skip'" in str(bad.exception)
    with committed() as session:
        letter = session.scalars(select(Newsletter)).one()
        assert letter.hold_for_approval
        assert letter.if_unapproved == "skip"

    built = runner.invoke(
        app, ["edition", "build", "--newsletter", "morning", "--at", "2026-11-24T06:00"]
    )
    assert built.exit_code == 0, built.output
    with committed() as session, session.begin():
        edition = session.scalars(select(Edition)).one()
        edition.status = EditionStatus.AWAITING  # as the scheduler leaves a held edition

    outbox = mailbox.Maildir(Path(get_settings().mail_url.removeprefix("maildir://")), create=True)
    before = len(outbox)
    proof = runner.invoke(
        app,
        ["edition", "test-send", str(edition.id), "--town", "springfield", "--to", "ed@x.example"],
    )
    assert proof.exit_code == 0, proof.output
    assert len(outbox) == before + 1
    approved = runner.invoke(app, ["edition", "approve", str(edition.id), "--by", "ed"])
    assert approved.exit_code == 0, approved.output
    again = runner.invoke(app, ["edition", "approve", str(edition.id), "--by", "ed"])
    assert "only when awaiting" in str(again.exception)
    with committed() as session:
        assert session.get_one(Edition, edition.id).approved_by == "ed"
