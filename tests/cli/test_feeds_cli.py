"""The feeds and curation commands (communities, feeds, newsletters, stories, curate)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from digest.cli import app
from digest.demo import copy_feeds, manifest
from digest.models import Story
from digest.settings import get_settings

runner = CliRunner()


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def feeds_dir(tmp_path: Path) -> Path:
    """A folder file:// feeds may be read from: under DIGEST_VAR_DIR/feeds, one per test."""
    return get_settings().var_dir / "feeds" / tmp_path.name


@pytest.fixture
def demo(committed: sessionmaker[Session], feeds_dir: Path) -> sessionmaker[Session]:
    """The demo's towns, feeds (copied with dates moved to now) and a newsletter, via the CLI."""
    for town in manifest()["communities"]:
        ok(
            "communities",
            "add",
            town["slug"],
            "--name",
            town["name"],
            "--timezone",
            town["timezone"],
        )
    for feed in copy_feeds(feeds_dir, datetime.now(UTC)):
        args = ["feeds", "add", feed.url, "--section", feed.section]
        if feed.community:
            args += ["--community", feed.community]
        if feed.kind == "most_read":
            args.append("--most-read")
        ok(*args)
    ok(
        "newsletters",
        "add",
        "morning",
        "--name",
        "Morning Digest",
        "--sections",
        "top=3,local=3,most_read=0",
    )
    return committed


def test_the_demo_feeds_ingest_and_curate_with_wire_copies_merged(
    demo: sessionmaker[Session],
) -> None:
    output = ok("feeds", "poll")
    assert "polled 6 feeds: 18 new stories, 0 edited, 0 feeds unchanged, 0 failed" in output
    with demo() as session:
        assert session.scalar(select(func.count()).select_from(Story)) == 18
        broadband = session.scalars(select(Story).where(Story.title.ilike("%broadband%"))).all()
        assert len(broadband) == 3
        assert len({s.cluster_key for s in broadband}) == 1
    assert "6 feeds unchanged" in ok("feeds", "poll", "--all")
    listing = ok("feeds", "list")
    assert listing.count("0 failures in a row") == 6
    spring = ok("curate", "--newsletter", "morning", "--community", "springfield")
    assert "Top stories" in spring
    assert "Local: Springfield" in spring
    assert spring.lower().count("rural broadband bill") == 1
    assert "Springfield Times" in spring.split("rural broadband bill")[1].splitlines()[0]
    lakeside = ok("curate", "--newsletter", "morning", "--community", "lakeside")
    assert lakeside.count("Winter storm warning") == 1
    assert "Lakeside Courier" in lakeside.split("Winter storm warning")[1].splitlines()[0]


def test_feed_health_is_listed_and_a_feed_removed(
    demo: sessionmaker[Session], feeds_dir: Path
) -> None:
    missing = (feeds_dir / "missing.xml").as_uri()
    ok("feeds", "add", missing, "--community", "riverton", "--no-check")
    ok("feeds", "poll")
    listing = ok("feeds", "list")
    assert "1 failure in a row" in listing
    assert "last error: cannot read" in listing
    assert "removed feed" in ok("feeds", "remove", missing)
    assert "missing.xml" not in ok("feeds", "list")


def test_lists_and_picks(demo: sessionmaker[Session]) -> None:
    ok("feeds", "poll")
    assert "America/Denver" in ok("communities", "list")
    assert "top=3,local=3" in ok("newsletters", "list")
    with demo() as session:
        story_id = session.scalar(select(Story.id).where(Story.title.like("Gas prices%")))
    assert "picked story" in ok("stories", "pick", str(story_id))
    output = ok("curate", "--newsletter", "morning", "--community", "riverton")
    first = output.split("Top stories")[1].strip().splitlines()[0]
    assert "Gas prices fall" in first
    assert "[editor's pick]" in first


def test_mistakes_are_one_clear_line(demo: sessionmaker[Session]) -> None:
    for args, message in [
        (
            ["communities", "add", "x", "--name", "X", "--timezone", "Mars/Base"],
            "unknown time zone 'Mars/Base'",
        ),
        (["feeds", "add", "ftp://a.example/f", "--community", "riverton"], "is not http(s)://"),
        (["feeds", "add", "file:///etc/passwd"], "outside the folders file:// feeds are read"),
        (
            ["feeds", "add", "https://a.example/f", "--community", "atlantis"],
            "no community 'atlantis'",
        ),
        (
            ["newsletters", "add", "x", "--name", "X", "--sections", "top=5,bottom=2"],
            "unknown section 'bottom'",
        ),
        (
            ["curate", "--newsletter", "evening", "--community", "riverton"],
            "no newsletter 'evening'",
        ),
        (
            ["curate", "--newsletter", "morning", "--community", "riverton", "--at", "noon"],
            "is not an ISO time",
        ),
    ]:
        result = runner.invoke(app, args, standalone_mode=False)
        assert result.exception is not None, args
        assert message in str(result.exception), args


def test_curate_with_nothing_new_says_so(demo: sessionmaker[Session]) -> None:
    output = ok("curate", "--newsletter", "morning", "--community", "riverton")
    assert output.startswith("skipped: nothing new for Riverton since")


def test_feeds_add_reads_the_feed_first_and_says_what_is_wrong(
    demo: sessionmaker[Session], feeds_dir: Path
) -> None:
    not_a_feed = feeds_dir / "page.html"
    not_a_feed.write_text("<html><body>Hello</body></html>")
    result = runner.invoke(app, ["feeds", "add", not_a_feed.as_uri()], standalone_mode=False)
    assert result.exception is not None
    assert "--no-check" in str(result.exception)
    copy = feeds_dir / "copy.xml"
    copy.write_bytes(sorted(feeds_dir.glob("*.xml"))[0].read_bytes())
    added = ok("feeds", "add", copy.as_uri())
    assert "items in it now" in added
    assert not_a_feed.name not in ok("feeds", "list")  # nothing was registered by the refusal


def test_a_file_feed_outside_the_allowed_folders_is_never_read(
    demo: sessionmaker[Session],
) -> None:
    ok("feeds", "add", "file:///etc/passwd", "--no-check")
    output = runner.invoke(app, ["feeds", "poll", "--all"]).output
    assert "root:" not in output
    assert "outside the folders file:// feeds are read from" in ok("feeds", "list")
    with demo() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Story).where(Story.url.like("%passwd%"))
            )
            == 0
        )
