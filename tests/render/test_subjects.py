"""Each town's own subject and preheader, from the newsletter's templates."""

from __future__ import annotations

import pytest

from digest.curation.sections import LOCAL, TOP, Section
from digest.curation.subjects import check_template
from digest.errors import DigestError
from digest.render.subjects import subject_and_preheader
from tests.support import digests


def sections() -> list[Section]:
    return [
        Section(
            TOP,
            "Top stories",
            (
                digests.card(0, title="Winter storm warning for the region", community_id=None),
                digests.card(1, title="State budget passes", community_id=None),
            ),
        ),
        Section(
            LOCAL,
            "Local: Springfield",
            (
                digests.card(2, title="Council approves bike lanes", community_id=1),
                digests.card(3, title="Library adds Sunday hours", community_id=1),
            ),
        ),
    ]


def test_the_subject_leads_with_the_towns_own_story_and_counts_the_rest() -> None:
    subject, preheader = subject_and_preheader(
        digests.newsletter(), digests.community(), sections(), digests.EDITION_DATE
    )
    assert subject == "Springfield: Council approves bike lanes, and 3 more"
    assert preheader == (
        "Winter storm warning for the region · State budget passes · Library adds Sunday hours"
    )


def test_each_town_has_its_own_subject() -> None:
    riverton = digests.community(id=2, slug="riverton", name="Riverton")
    subject, _ = subject_and_preheader(
        digests.newsletter(), riverton, sections()[:1], digests.EDITION_DATE
    )
    # Riverton has no story of its own today: the edition's top story leads.
    assert subject == "Riverton: Winter storm warning for the region, and 1 more"


def test_the_towns_copy_of_a_regional_story_leads_when_it_has_no_local_story() -> None:
    top = sections()[0]
    cards = (top.stories[0], digests.card(1, title="Wire story, our copy", community_id=1))
    subject, _ = subject_and_preheader(
        digests.newsletter(),
        digests.community(),
        [Section(TOP, "Top stories", cards)],
        digests.EDITION_DATE,
    )
    assert subject == "Springfield: Wire story, our copy, and 1 more"


def test_a_newsletter_sets_its_own_templates() -> None:
    letter = digests.newsletter(
        subject_template="{newsletter} for {town}, {date}: {lead}",
        preheader_template="Also today: {next}",
    )
    subject, preheader = subject_and_preheader(
        letter, digests.community(), sections(), digests.EDITION_DATE
    )
    assert subject.startswith("The Morning Digest for Springfield, ")
    assert subject.endswith(": Council approves bike lanes")
    assert preheader.startswith("Also today: Winter storm")


def test_a_long_lead_is_shortened_and_the_count_kept() -> None:
    long = [
        Section(
            LOCAL,
            "Local",
            (digests.card(0, title="word " * 40, community_id=1), digests.card(1, community_id=1)),
        )
    ]
    subject, _ = subject_and_preheader(
        digests.newsletter(), digests.community(), long, digests.EDITION_DATE
    )
    assert len(subject) <= 110
    assert subject.endswith("…, and 1 more")


@pytest.mark.parametrize("template", ["{town.__class__}", "{secret}", "{lead!r}", "{town", "  "])
def test_a_bad_template_is_refused_with_a_clear_error(template: str) -> None:
    with pytest.raises(DigestError, match="template"):
        check_template(template)
