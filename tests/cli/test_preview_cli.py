"""`digest preview` writes a town's edition as HTML, text and a complete .eml for an editor."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from digest.db import make_engine, make_session_factory
from digest.models import Base, Community, Feed, Newsletter, Story

AT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
HEADLINES = [
    "City council approves plan to repave Main Street",
    "Springfield High robotics team heads to nationals",
    "Farmers market moves indoors for winter",
]

pytest.importorskip(
    "digest.curation.curate", reason="digest.curation.curate (curation) is not there yet"
)


def digest(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A SQLite database with a town, a newsletter and a few fresh local stories."""
    url = f"sqlite:///{tmp_path / 'preview.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session, session.begin():
        town = Community(slug="springfield", name="Springfield", timezone="America/Los_Angeles")
        session.add(town)
        session.add(
            Newsletter(
                slug="morning",
                name="The Morning Digest",
                sections={"top": 3, "local": 3, "most_read": 0, "just_posted": 0},
            )
        )
        session.flush()
        feed = Feed(url="http://127.0.0.1:9/springfield.xml", community_id=town.id)
        session.add(feed)
        session.flush()
        for n, title in enumerate(HEADLINES):
            session.add(
                Story(
                    feed_id=feed.id,
                    community_id=town.id,
                    guid=f"story-{n}",
                    url=f"https://www.springfield-times.example/news/{n}",
                    title=title,
                    summary=f"What happened, in two sentences ({n}).",
                    published_at=AT - timedelta(hours=2 + n),
                    first_seen_at=AT - timedelta(hours=2 + n),
                    updated_at=AT - timedelta(hours=2 + n),
                    content_hash=f"{n:064d}",
                    cluster_key=f"cluster-{n}",
                    popularity=10.0 - n,
                )
            )
    engine.dispose()
    return url


def test_preview_writes_html_text_eml_and_web_version(database: str, tmp_path: Path) -> None:
    out = tmp_path / "preview"
    result = digest(
        "preview",
        "--newsletter",
        "morning",
        "--community",
        "springfield",
        "--out",
        str(out),
        "--at",
        AT.isoformat(),
        cwd=tmp_path,
        DIGEST_DATABASE_URL=database,
    )
    assert result.returncode == 0, result.stderr
    assert "Subject: Springfield: " in result.stdout
    assert "Next edition for springfield: " in result.stdout
    html = (out / "digest.html").read_text()
    text = (out / "digest.txt").read_text()
    web = (out / "web.html").read_text()
    message = message_from_bytes((out / "digest.eml").read_bytes(), policy=policy.default)
    assert message["To"] == "Sample Reader <sample.reader@example.com>"
    assert message["List-Unsubscribe"]
    assert message["Message-ID"]
    for headline in HEADLINES:
        assert headline in html
        assert headline in text
        assert headline in web
    assert "Hi Sample," in html
    assert "__DIGEST" not in html + text + web


def test_preview_of_an_unknown_town_says_which(database: str, tmp_path: Path) -> None:
    result = digest(
        "preview",
        "--newsletter",
        "morning",
        "--community",
        "atlantis",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        DIGEST_DATABASE_URL=database,
    )
    assert result.returncode == 2
    assert "no community 'atlantis'" in result.stderr
