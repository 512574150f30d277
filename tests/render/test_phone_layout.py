"""A dozen stories read well on a phone: one large image at most, thumbnails, no gaps.

Measured in Debian's headless Chromium at 320, 375 and 600 px, light and dark, and checked
with axe-core. Every request the page makes is answered locally or refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from typing import Any

import pytest

from digest.curation.sections import LOCAL, MOST_READ, TOP, Section
from tests.support import digests
from tests.support.browser import axe_violations, chromium, require_chromium

pytestmark = pytest.mark.browser

SUMMARY = (
    "After two hours of public comment the council voted five to two to paint protected "
    "lanes from Fifth to Fourteenth Street next spring, with planters at each crossing and a "
    "review of parking on the side streets, which merchants asked for, due back in March "
    "before the work goes out to bid; the county will share the cost of the signals."
)
MAX_PHONE_HEIGHT = 3000

LAYOUT = """() => {
  const images = [...document.images].map(img => {
    const box = img.getBoundingClientRect();
    return {cls: img.className, width: box.width, height: box.height, alt: img.alt,
            loaded: img.complete && img.naturalWidth > 0};
  });
  return {width: window.innerWidth, scroll: document.documentElement.scrollWidth,
          height: document.documentElement.scrollHeight, images,
          background: getComputedStyle(document.body).backgroundColor};
}"""


def twelve_stories(with_images: set[int]) -> list[Section]:
    """The sample morning edition's ten stories and two more: twelve, in three sections."""
    cards = [card for section in digests.sample_sections() for card in section.stories]
    cards += [
        digests.card(
            10, title="Council approves protected bike lanes on Main Street", summary=SUMMARY
        ),
        digests.card(11, title="Harvest festival returns to the fairgrounds this weekend"),
    ]
    cards = [
        replace(
            card,
            image_url=f"{digests.IMAGE_HOST}/photos/{rank}.jpg" if rank in with_images else None,
            image_alt="",  # feeds rarely say: the link still needs a name
        )
        for rank, card in enumerate(cards)
    ]
    keys = [TOP] * 4 + [LOCAL] * 5 + [MOST_READ] * 3
    return [
        Section(
            key,
            key.replace("_", " ").title(),
            tuple(c for c, k in zip(cards, keys, strict=True) if k == key),
        )
        for key in (TOP, LOCAL, MOST_READ)
    ]


def email_html(sections: list[Section]) -> str:
    data = digests.digest_message(sections)
    part = message_from_bytes(data, policy=policy.default).get_body(("html",))  # type: ignore[attr-defined]
    return str(part.get_content())


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    require_chromium()
    with chromium() as browser_context:
        yield browser_context


def open_page(context: Any, html: str, width: int, scheme: str = "light") -> Any:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 800})
    page.emulate_media(color_scheme=scheme)
    photo = digests.png(552, 310, (70, 110, 150))

    def answer(route: Any) -> None:
        if route.request.url.startswith(digests.IMAGE_HOST + "/photos/"):
            route.fulfill(status=200, content_type="image/png", body=photo)
        else:
            route.abort()

    page.route("**/*", answer)
    page.set_content(html, wait_until="load")
    return page


@pytest.mark.parametrize("width", [320, 375, 600])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_dozen_stories_fit_a_phone_with_one_large_image(
    context: Any, width: int, scheme: str
) -> None:
    page = open_page(context, email_html(twelve_stories(set(range(12)))), width, scheme)
    facts = page.evaluate(LAYOUT)
    assert facts["scroll"] <= facts["width"], "the page scrolls sideways"
    large = [image for image in facts["images"] if image["cls"] == "story-image"]
    thumbs = [image for image in facts["images"] if image["cls"] == "thumb"]
    assert len(large) == 1
    assert large[0]["width"] > 250
    assert len(thumbs) == 11
    assert all(image["loaded"] and image["width"] <= 96 for image in thumbs)
    if width == 375:
        assert facts["height"] <= MAX_PHONE_HEIGHT, facts["height"]
    if scheme == "dark":
        assert facts["background"] == "rgb(22, 21, 20)"
    page.close()


def test_no_gap_where_an_image_is_missing(context: Any) -> None:
    with_images = open_page(context, email_html(twelve_stories({0, 3})), 375)
    without = open_page(context, email_html(twelve_stories(set())), 375)
    assert with_images.evaluate(LAYOUT)["images"][1]["cls"] == "thumb"
    # Only the two images add height: a story without one takes no space for it.
    grown = with_images.evaluate(LAYOUT)["height"] - without.evaluate(LAYOUT)["height"]
    assert 0 < grown < 320
    assert without.locator("img").count() == 0


def test_axe_finds_nothing_serious_and_image_links_have_names(context: Any) -> None:
    page = open_page(context, email_html(twelve_stories({0, 2, 5})), 375)
    assert axe_violations(page) == []
    headlines = [card.title for section in twelve_stories(set()) for card in section.stories]
    for image in page.evaluate(LAYOUT)["images"]:
        assert image["alt"] in headlines  # the headline, when the feed gives no alt text
    page.close()
