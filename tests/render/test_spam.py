"""SpamAssassin (Debian's, local rules only, no network tests) rates the emails as clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.curation.sections import Section
from digest.render.mime import Reader, personalize, transactional_template
from digest.render.transactional import render_transactional
from tests.support import digests
from tests.support.spam import THRESHOLD, spam_score

READER = Reader(delivery_id=501, subscriber_id=42, email="jane@example.org", name="Jane Doe")


def digest_message(sections: list[Section]) -> bytes:
    return digests.digest_message(sections, READER)


def test_a_digest_scores_at_most_one(tmp_path: Path) -> None:
    score, report = spam_score(digest_message(digests.sample_sections()), tmp_path)
    assert score <= 1.0, report


def test_a_digest_of_hostile_stories_stays_under_the_threshold(tmp_path: Path) -> None:
    score, report = spam_score(digest_message(digests.hostile_sections()), tmp_path)
    assert score < THRESHOLD, report


@pytest.mark.parametrize("kind", ["confirm", "welcome", "unsubscribed"])
def test_transactional_emails_score_at_most_one(kind: str, tmp_path: Path) -> None:
    settings = digests.settings()
    email = render_transactional(
        settings,
        kind,
        {
            "newsletters": ["The Morning Digest"],
            "community_name": "Springfield",
            "confirm_url": "https://news.springfield-times.example/confirm/TOKEN",
        },
    )
    template = transactional_template(settings, email, date=digests.EDITION_AT)
    score, report = spam_score(personalize(template, READER), tmp_path)
    assert score <= 1.0, report
