"""The reader's placeholders: left in a rendered segment, filled per reader by `mime`.

Neither Jinja2 nor premailer runs per reader: a segment's HTML and text keep a placeholder for
the greeting, the address, the unsubscribe and preferences URLs and each tracked link's click
tag, and `digest.render.mime` splices each reader's values in. The HTML holds both the email's
personal parts and the web version's footer between marker comments: `email_html` keeps the
first, `web_version_html` the second. Content that spells a placeholder is defused first
(`unforged`), so only the renderer's own are ever filled.
"""

from __future__ import annotations

import logging
import re
from dataclasses import fields, replace
from typing import Any, TypeVar

from digest.curation.sections import Section, StoryCard
from digest.render import links
from digest.settings import Settings
from digest.sponsors.slots import SponsorSlot

log = logging.getLogger(__name__)

# Placeholders left in the rendered output and filled per reader by digest.render.mime. They use
# only characters that HTML serializers never escape in attributes or text.
GREETING = "__DIGEST_GREETING__"
EMAIL = "__DIGEST_EMAIL__"
UNSUBSCRIBE_URL = "__DIGEST_UNSUBSCRIBE_URL__"
PREFERENCES_URL = "__DIGEST_PREFERENCES_URL__"
CLICK_TAG = links.CLICK_TAG  # after each tracked link; a few dozen bytes per message
PLACEHOLDERS = (GREETING, EMAIL, UNSUBSCRIBE_URL, PREFERENCES_URL, CLICK_TAG)
PLACEHOLDER_CONTEXT = {
    "greeting": GREETING,
    "email": EMAIL,
    "unsubscribe_url": UNSUBSCRIBE_URL,
    "preferences_url": PREFERENCES_URL,
}
# What a placeholder looks like in content: a feed could carry "__DIGEST_EMAIL__" in a title
# or an image URL, and every reader's copy would then send their address (or their signed
# links) wherever the feed points.
FORGED_PLACEHOLDER = re.compile(r"_+(?=DIGEST_)")
Content = TypeVar("Content", StoryCard, SponsorSlot)

# Upper bound of what one placeholder becomes, beyond the base URL (a token is ~60 chars).
PERSONAL_VALUE_BYTES = 260
CLICK_TAG_BYTES = 40  # "~tSENT.rREADER.SIGNATURE"
EMAIL_REGION = re.compile(r"<!--\s*digest:email\s*-->(.*?)<!--\s*/digest:email\s*-->", re.S)
WEB_REGION = re.compile(r"<!--\s*digest:web\s*-->(.*?)<!--\s*/digest:web\s*-->", re.S)


def email_html(html: str) -> str:
    """The email variant of rendered HTML: personal parts kept, web-only parts removed."""
    return EMAIL_REGION.sub(r"\1", WEB_REGION.sub("", html))


def web_version_html(html: str) -> str:
    """The web variant (archive, view in browser): no personal parts, no placeholders."""
    return WEB_REGION.sub(r"\1", EMAIL_REGION.sub("", html)).replace(CLICK_TAG, "")


def email_html_bytes(settings: Settings, html: str) -> int:
    """Size of the email HTML once the largest personal values replace the placeholders."""
    variant = email_html(html)
    tags = variant.count(CLICK_TAG)
    count = sum(variant.count(placeholder) for placeholder in PLACEHOLDERS) - tags
    grown = count * (len(settings.base_url) + PERSONAL_VALUE_BYTES) + tags * CLICK_TAG_BYTES
    return len(variant.encode("utf-8")) + grown


def unforged(text: str) -> str:
    """Content that spells a placeholder loses an underscore, so that only the renderer's own
    placeholders are filled per reader ("__DIGEST_EMAIL__" in a feed becomes "_DIGEST_EMAIL__")."""
    return FORGED_PLACEHOLDER.sub("_", text) if "DIGEST_" in text else text


def unforged_fields(item: Content) -> Content:
    changes: dict[str, Any] = {
        each.name: unforged(value)
        for each in fields(item)
        if isinstance(value := getattr(item, each.name), str) and "DIGEST_" in value
    }
    return replace(item, **changes) if changes else item


def unforged_section(section: Section) -> Section:
    stories = tuple(unforged_fields(card) for card in section.stories)
    return replace(section, title=unforged(section.title), stories=stories)
