"""`digest edition`: build, send here into the Maildir outbox, status, and clear refusals."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from digest.cli import app
from digest.models import Edition, EditionStatus
from digest.settings import get_settings
from tests import factories


def outbox() -> mailbox.Maildir:
    return mailbox.Maildir(Path(get_settings().mail_url.removeprefix("maildir://")), create=True)


def test_build_then_send_here_into_the_outbox(committed: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with committed() as session, session.begin():
        springfield, riverton = factories.towns(session, ("springfield", "riverton"))
        letter = factories.newsletter(session)
        for town in (springfield, riverton):
            factories.readers(session, letter, town, 3)
            factories.stories(session, town, 4, now - timedelta(hours=1))
        factories.stories(session, None, 4, now - timedelta(hours=1))
    before = len(outbox())
    runner = CliRunner()

    built = runner.invoke(
        app, ["edition", "build", "--newsletter", "morning", "--at", "2026-11-24T06:00"]
    )
    assert built.exit_code == 0, built.output
    assert "springfield:" in built.output
    assert "riverton:" in built.output
    with committed() as session:
        edition = session.scalars(select(Edition)).one()
        assert edition.status == EditionStatus.READY

    sent = runner.invoke(app, ["edition", "send", str(edition.id), "--here"])
    assert sent.exit_code == 0, sent.output
    assert "sent" in sent.output
    assert len(outbox()) - before == 6
    with committed() as session:
        assert session.get_one(Edition, edition.id).status == EditionStatus.SENT

    again = runner.invoke(app, ["edition", "pause", str(edition.id)])
    assert again.exit_code != 0
    assert f"cannot pause edition {edition.id}: it is sent" in str(again.exception)


def test_unknown_newsletter_and_bad_time_are_clear(committed: sessionmaker[Session]) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["edition", "build", "--newsletter", "nope"])
    assert "no newsletter 'nope'" in str(missing.exception)
    bad = runner.invoke(app, ["edition", "build", "--newsletter", "nope", "--at", "6am"])
    assert "--at '6am' is not an ISO time" in str(bad.exception)
