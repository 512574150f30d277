"""`digest newsletters hygiene` and `digest hygiene run --dry-run`, as an operator types them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Newsletter, Subscription
from tests.cli.test_cli import digest
from tests.sending.test_hygiene_pass import build


def test_hygiene_is_refused_without_per_reader_engagement_in_one_line(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    with committed() as session, session.begin():
        session.add(Newsletter(slug="evening", name="Evening"))
    refused = digest("newsletters", "hygiene", "evening", "--on", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: evening: list hygiene needs per-reader engagement (DIGEST_CLICK_PER_READER=true):"
        " without it nobody can tell who did not click"
    ]
    shown = digest("newsletters", "hygiene", "evening", cwd=tmp_path)
    assert "list hygiene off" in shown.stdout
    turned = digest(
        "newsletters",
        "hygiene",
        "evening",
        "--on",
        "--after",
        "8",
        "--grace",
        "2",
        cwd=tmp_path,
        DIGEST_CLICK_PER_READER="true",
    )
    assert turned.returncode == 0, turned.stderr
    assert "on: a re-engagement email after 8 editions without a click" in turned.stdout


def test_a_dry_run_lists_who_would_be_mailed_and_changes_nothing(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    build(committed, datetime.now(UTC) - timedelta(days=5))
    dry = digest("hygiene", "run", "--dry-run", cwd=tmp_path, DIGEST_CLICK_PER_READER="true")
    assert dry.returncode == 0, dry.stderr
    for lapsed in ("reader0", "reader1", "reader2"):  # the opted-out and the newcomer are not
        assert f"{lapsed}@springfield.example" in dry.stdout
    assert "reader3@" not in dry.stdout
    assert "reader4@" not in dry.stdout
    assert "3 mailed" in dry.stdout
    with committed() as session:
        assert set(session.scalars(select(Subscription.reengage_state))) == {None}
    unknown = digest(
        "hygiene", "run", "--newsletter", "nope", cwd=tmp_path, DIGEST_CLICK_PER_READER="true"
    )
    assert unknown.returncode == 2
    assert "no newsletter 'nope'" in unknown.stderr
