"""`digest schedule run`, `digest edition build` without --at, and editors' cluster commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from digest.cli import app
from digest.demo.seed import seed_demo
from digest.errors import DigestError
from digest.models import Edition, EditionStatus, Newsletter, Story
from digest.settings import get_settings

runner = CliRunner()


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def demo(committed: sessionmaker[Session]) -> sessionmaker[Session]:
    """The demo's towns, feeds, newsletter and readers, its stories polled; nothing sent."""
    with committed() as session, session.begin():
        seed_demo(session, get_settings(), datetime.now(UTC))
    ok("feeds", "poll")
    return committed


def test_slots_missed_while_down_end_skipped_and_the_next_is_built_per_town(
    demo: sessionmaker[Session],
) -> None:
    with demo() as session, session.begin():
        letter = session.scalars(select(Newsletter)).one()
        letter.created_at = datetime.now(UTC) - timedelta(days=3)
    output = ok("schedule", "run", "--here")
    assert "skipped morning" in output
    assert "beyond the grace period" in output
    with demo() as session:
        statuses = set(session.scalars(select(Edition.status)))
    assert EditionStatus.BUILDING not in statuses
    assert EditionStatus.SKIPPED in statuses

    built = ok("edition", "build", "--newsletter", "morning")
    # Each town's next 06:00 in its own zone: ready, with its stories.
    assert built.count("ready") >= 1
    for town in ("springfield", "riverton", "lakeside"):
        assert f"  {town}: " in built
    assert "stories" in built


def test_an_editor_merges_splits_and_lists_a_cluster(demo: sessionmaker[Session]) -> None:
    with demo() as session:
        stories = session.scalars(select(Story).order_by(Story.id)).all()
        first, second = stories[0].id, stories[1].id
    assert "1 stories joined" in ok("stories", "merge", str(first), str(second))
    listing = ok("stories", "cluster", str(first))
    assert str(second) in listing
    assert "a cluster of its own" in ok("stories", "split", str(second))
    result = runner.invoke(app, ["stories", "split", str(second)], standalone_mode=False)
    assert isinstance(result.exception, DigestError)  # `digest` prints it on one line
    assert "alone in its cluster" in str(result.exception)


def test_a_newsletters_weights_and_templates_are_set_or_refused_clearly(
    demo: sessionmaker[Session],
) -> None:
    output = ok(
        "newsletters",
        "set",
        "morning",
        "--weights",
        "regional_popularity=0.7",
        "--subject",
        "{town} this morning: {lead}",
    )
    assert "'regional_popularity': 0.7" in output
    with demo() as session:
        letter = session.scalars(select(Newsletter)).one()
        assert letter.weights["regional_popularity"] == 0.7
        assert letter.subject_template == "{town} this morning: {lead}"
    args = ["newsletters", "set", "morning", "--subject", "{secret}"]
    bad = runner.invoke(app, args, standalone_mode=False)
    assert isinstance(bad.exception, DigestError)
    assert "unknown field {secret}" in str(bad.exception)
