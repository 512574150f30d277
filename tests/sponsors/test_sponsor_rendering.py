"""A sponsor's slot in a real rendering: both parts, marked as advertising, inside the budget,
and SpamAssassin still rates the digest as clean (at or under 0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.curation.sections import LOCAL, TOP
from digest.render.mime import Reader, personalize, segment_template
from digest.render.placeholders import email_html
from digest.render.render import HTML_BUDGET_BYTES, render_segment
from digest.sponsors.slots import AFTER_TOP, BEFORE_FOOTER, PRESENTED_BY, SponsorSlot
from tests.support import digests
from tests.support.spam import spam_score

READER = Reader(delivery_id=501, subscriber_id=42, email="jane@example.org", name="Jane Doe")


def slot(position: str = AFTER_TOP, **fields: object) -> SponsorSlot:
    values: dict[str, object] = {
        "position": position,
        "label": "Sponsored",
        "headline": "Winter-ready in one stop: 20% off snow shovels",
        "text": "Family-run on Main Street since 1962. Open 7 am to 7 pm.",
        "url": "https://hardware.example/winter",
        "image_url": "https://hardware.example/img/shovels.jpg",
        "image_alt": "Three red snow shovels against a brick wall",
        "sponsor": "Main Street Hardware",
        "campaign_id": 7,
        "creative_id": 9,
        "house": False,
    }
    values.update(fields)
    return SponsorSlot(**values)  # type: ignore[arg-type]


def rendered(sponsors: dict[str, SponsorSlot], sections: list | None = None):  # type: ignore[no-untyped-def,type-arg]
    # Tracking off: these tests read the ad's own link (the counted redirect has its own).
    return render_segment(
        digests.settings(click_tracking=False),
        digests.newsletter(),
        digests.community(),
        sections if sections is not None else digests.sample_sections(),
        digests.EDITION_DATE,
        edition_id=77,
        sponsors=sponsors,
    )


def test_the_ad_follows_the_top_stories_in_both_parts() -> None:
    segment = rendered({AFTER_TOP: slot()})
    html = email_html(segment.html)
    ad = html.index("Winter-ready in one stop")
    assert html.index("Top stories") < ad < html.index("Local: Springfield")
    assert 'href="https://hardware.example/winter"' in html
    assert 'alt="Three red snow shovels against a brick wall"' in html
    assert 'aria-label="Advertisement"' in html
    assert ">Sponsored<" in html
    text = segment.text
    assert text.index("== TOP STORIES ==") < text.index("SPONSORED") < text.index("== LOCAL")
    assert "From Main Street Hardware: https://hardware.example/winter" in text


def test_each_position_has_its_place() -> None:
    segment = rendered(
        {
            PRESENTED_BY: slot(
                PRESENTED_BY, label="Presented by", sponsor="Valley Credit Union", headline=""
            ),
            BEFORE_FOOTER: slot(BEFORE_FOOTER, headline="Free checking for students"),
        }
    )
    html = email_html(segment.html)
    assert html.index("Presented by") < html.index("Here is what is new")
    assert html.index("Just posted") < html.index("Free checking") < html.index("Questions or")
    assert "Winter-ready" not in html
    assert "Presented by Valley Credit Union: https://hardware.example/winter" in segment.text


def test_a_label_that_does_not_say_advertising_is_marked_anyway() -> None:
    from digest.sponsors.slots import advertising_label

    assert advertising_label("Winter deals", house=False) == "Advertisement · Winter deals"
    assert advertising_label("Presented by", house=False) == "Presented by"
    assert advertising_label("From the newsroom", house=True) == "From the newsroom"


def test_without_a_top_section_the_ad_comes_before_the_first_section() -> None:
    local_only = [s for s in digests.sample_sections() if s.key == LOCAL]
    html = email_html(rendered({AFTER_TOP: slot()}, local_only).html)
    assert html.count("Winter-ready in one stop") == 1
    assert html.index("Winter-ready") < html.index("Local: Springfield")
    assert all(s.key != TOP for s in local_only)


def test_a_hostile_creative_is_escaped_and_a_bad_link_shows_no_ad() -> None:
    hostile = slot(headline="<script>alert(1)</script>Sale", text="<b>bold</b> & more")
    html = email_html(rendered({AFTER_TOP: hostile}).html)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html
    html = email_html(rendered({AFTER_TOP: slot(url="javascript:alert(1)")}).html)
    assert "Winter-ready" not in html


def test_the_ad_counts_against_the_size_budget() -> None:
    many = [digests.card(rank, summary="word " * 80) for rank in range(400)]
    from digest.curation.sections import Section

    segment = rendered({AFTER_TOP: slot()}, [Section(TOP, "Top stories", tuple(many))])
    assert segment.dropped_stories > 0
    assert segment.html_bytes < HTML_BUDGET_BYTES
    assert "Winter-ready in one stop" in segment.html


def test_spamassassin_rates_a_sponsored_digest_at_or_under_zero(tmp_path: Path) -> None:
    segment = rendered({AFTER_TOP: slot(), PRESENTED_BY: slot(PRESENTED_BY, label="Presented by")})
    template = segment_template(
        digests.settings(),
        digests.newsletter(),
        subject=segment.subject,
        html=segment.html,
        text=segment.text,
        message_key="e77.s1",
        date=digests.EDITION_AT,
    )
    score, report = spam_score(personalize(template, READER), tmp_path)
    assert score <= 0.0, report


@pytest.mark.parametrize("house", [False, True])
def test_house_and_paid_ads_render_the_same_way(house: bool) -> None:
    html = email_html(rendered({AFTER_TOP: slot(house=house, label="From the newsroom")}).html)
    assert ("Advertisement · " in html) is False  # the label comes from advertising_label
    assert "From the newsroom" in html
