"""The rendered digest in Debian's headless Chromium: readable on a phone, fluid up to 600px.

Nothing leaves the machine: every request the page makes is answered locally (stand-in
photos) or refused (the broken image, anything else).
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest.curation.sections import Section
from digest.render.placeholders import web_version_html
from digest.render.render import render_segment
from tests.support import digests
from tests.support.browser import chromium, require_chromium, screenshot_dir

pytestmark = pytest.mark.browser

SCREENSHOTS = {375: "digest-phone.png", 600: "digest-desktop.png"}
PHOTO_COLOURS = [(70, 110, 150), (150, 95, 60), (80, 130, 90), (120, 90, 140)]

# Layout facts of the page, measured by the browser.
MEASURE = """() => {
  const width = window.innerWidth;
  const preheader = document.querySelector('.preheader');
  const texts = [];
  for (const el of document.querySelectorAll('body *')) {
    if (preheader && preheader.contains(el)) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0) continue;
    texts.push({tag: el.tagName, size: parseFloat(getComputedStyle(el).fontSize),
                text: el.textContent.trim().slice(0, 40)});
  }
  const images = [...document.images].map(img => {
    const box = img.getBoundingClientRect();
    return {src: img.src, left: box.left, right: box.right, width: box.width,
            natural: img.naturalWidth, loaded: img.complete && img.naturalWidth > 0};
  });
  return {width, scroll: document.documentElement.scrollWidth,
          bodyScroll: document.body.scrollWidth, texts, images,
          background: getComputedStyle(document.body).backgroundColor};
}"""


def email_html(sections: list[Section]) -> str:
    """The HTML part of a real message for a sample reader, as a mail client decodes it."""
    data = digests.digest_message(sections)
    part = message_from_bytes(data, policy=policy.default).get_body(("html",))  # type: ignore[attr-defined]
    return str(part.get_content())


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    require_chromium()
    with chromium() as context:
        yield context


def open_page(context: Any, html: str, width: int, color_scheme: str = "light") -> Any:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=color_scheme)
    photo_bytes = {
        index: digests.png(552, 310, colour) for index, colour in enumerate(PHOTO_COLOURS)
    }

    def answer(route: Any) -> None:
        url = route.request.url
        if url.startswith(digests.IMAGE_HOST + "/photos/"):
            index = int(url.rsplit("/", 1)[1].split(".")[0]) % len(PHOTO_COLOURS)
            route.fulfill(status=200, content_type="image/png", body=photo_bytes[index])
        else:
            route.abort()

    page.route("**/*", answer)
    page.set_content(html, wait_until="load")
    return page


def assert_readable(facts: dict[str, Any]) -> None:
    assert facts["scroll"] <= facts["width"], "the page scrolls sideways"
    assert facts["bodyScroll"] <= facts["width"]
    assert facts["texts"], "no text measured"
    small = [t for t in facts["texts"] if t["size"] < 14]
    assert not small, f"text under 14px: {small[:3]}"
    for image in facts["images"]:
        assert image["left"] >= 0, image
        assert image["right"] <= facts["width"] + 0.5, image
        assert image["width"] <= min(552, facts["width"]) + 0.5, image


@pytest.mark.parametrize("width", [320, 375, 600])
def test_digest_fits_the_screen_with_readable_text(
    browser_context: Any, width: int, tmp_path: Path
) -> None:
    page = open_page(browser_context, email_html(digests.sample_sections()), width)
    facts = page.evaluate(MEASURE)
    assert_readable(facts)
    loaded = [image for image in facts["images"] if image["loaded"]]
    assert len(loaded) == 4  # the photos were served, and scaled from 552px to the screen
    if width < 552:
        assert all(image["width"] < image["natural"] for image in loaded)
    assert page.get_by_text("Hi Jane,").is_visible()
    assert page.locator(
        ".headline-link", has_text="City council approves $4.2 million"
    ).is_visible()
    assert page.get_by_role("link", name="unsubscribe").is_visible()
    if width in SCREENSHOTS:
        shot = screenshot_dir(tmp_path) / SCREENSHOTS[width]
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    page.close()


@pytest.mark.parametrize("width", [320, 600])
def test_hostile_stories_stay_inside_the_screen(browser_context: Any, width: int) -> None:
    page = open_page(browser_context, email_html(digests.hostile_sections()), width)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    facts = page.evaluate(MEASURE)
    assert_readable(facts)
    assert dialogs == []
    [image] = facts["images"]
    assert not image["loaded"]  # the broken image: its box still fits
    assert page.get_by_role("link", name="Pumpkin festival 🎃🍂").is_visible()
    rtl = page.get_by_role("link", name="مهرجان الخريف في المدينة")
    assert rtl.evaluate("el => getComputedStyle(el.closest('[dir]')).direction") == "rtl"
    page.close()


def test_dark_mode_switches_the_palette(browser_context: Any) -> None:
    html = email_html(digests.sample_sections())
    light = open_page(browser_context, html, 375).evaluate(MEASURE)
    dark = open_page(browser_context, html, 375, color_scheme="dark").evaluate(MEASURE)
    assert light["background"] == "rgb(243, 239, 230)"
    assert dark["background"] == "rgb(22, 21, 20)"
    assert_readable(dark)


def test_web_version_fits_a_phone(browser_context: Any) -> None:
    rendered = render_segment(
        digests.settings(),
        digests.newsletter(),
        digests.community(),
        digests.sample_sections(),
        digests.EDITION_DATE,
    )
    page = open_page(browser_context, web_version_html(rendered.html), 320)
    assert_readable(page.evaluate(MEASURE))
    assert page.get_by_role("link", name="Get it in your inbox").is_visible()
    assert page.get_by_text("__DIGEST").count() == 0
    page.close()
