"""A sponsored digest in headless Chromium: the ad is visible, named as an advertisement,
readable and inside the screen from 320px to 600px, in light and dark mode."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest

from digest.render.mime import Reader, personalize, segment_template
from digest.render.render import render_segment
from digest.sponsors.slots import AFTER_TOP, PRESENTED_BY
from tests.render.test_render_browser import MEASURE, assert_readable, open_page
from tests.sponsors.test_sponsor_rendering import slot
from tests.support import digests
from tests.support.browser import chromium, require_chromium

pytestmark = pytest.mark.browser


def sponsored_email_html() -> str:
    """The HTML part of a real message with a boxed ad (with a photo) and a presented-by line."""
    settings = digests.settings()
    letter = digests.newsletter()
    rendered = render_segment(
        settings,
        letter,
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
        edition_id=77,
        sponsors={
            AFTER_TOP: slot(image_url=f"{digests.IMAGE_HOST}/photos/9.jpg"),
            PRESENTED_BY: slot(PRESENTED_BY, label="Presented by", headline=""),
        },
    )
    template = segment_template(
        settings,
        letter,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_key="e77.s1",
        date=digests.EDITION_AT,
    )
    data = personalize(template, Reader(1, 1, "jane@example.org", "Jane"))
    part = message_from_bytes(data, policy=policy.default).get_body(("html",))  # type: ignore[attr-defined]
    return str(part.get_content())


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    require_chromium()
    with chromium() as context:
        yield context


@pytest.mark.parametrize(("width", "scheme"), [(320, "light"), (600, "light"), (375, "dark")])
def test_the_ad_is_visible_marked_and_fits(browser_context: Any, width: int, scheme: str) -> None:
    page = open_page(browser_context, sponsored_email_html(), width, color_scheme=scheme)
    facts = page.evaluate(MEASURE)
    assert_readable(facts)
    link = page.get_by_role("link", name="Winter-ready in one stop: 20% off snow shovels")
    assert link.is_visible()
    assert link.get_attribute("href") == "https://hardware.example/winter"
    boxed = page.locator('table[aria-label="Advertisement"]')
    assert boxed.get_by_text("Sponsored", exact=True).is_visible()
    assert page.locator('p[aria-label="Advertisement"]').get_by_text("Presented by").is_visible()
    if scheme == "dark":  # the box follows the palette: light text on a dark box
        colours = boxed.locator(".sponsor-text").evaluate(
            "el => [getComputedStyle(el).color, getComputedStyle(el.closest('td')).backgroundColor]"
        )
        assert colours == ["rgb(236, 232, 225)", "rgb(43, 41, 38)"]
    photo = next(i for i in facts["images"] if i["src"].endswith("/photos/9.jpg"))
    assert photo["loaded"]
    assert photo["right"] <= width
    page.close()
