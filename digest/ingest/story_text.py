"""Story text as readers see it: feed HTML made plain, cut to length, only safe URLs.

Feeds are untrusted: a title or summary may carry tags, scripts, entities or control
characters, and a URL may be `javascript:` or malformed.
"""

from __future__ import annotations

import html as htmlmod
import re
from urllib.parse import urlsplit

import nh3

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
# Tags that end a line or a block when a browser shows them: as text they are a word break.
BLOCK_TAG = re.compile(
    r"<\s*/?\s*(br|p|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|section|article|"
    r"header|footer|aside|nav|figure|figcaption|dd|dt|dl|hr)\b[^>]*>",
    re.I,
)
# "desk@regional.example (Regional Desk)": RSS's author is an address with the name after it.
ADDRESS_AND_NAME = re.compile(r"^\s*\S+@\S+\s*\((?P<name>[^()]+)\)\s*$")
ADDRESS = re.compile(r"^\s*<?\S+@\S+>?\s*$")


def plain_text(value: str | None, limit: int | None = None) -> str:
    """Feed text as plain text: tags and script bodies gone, entities decoded, one line."""
    text = value or ""
    if "<" in text or "&" in text:
        text = htmlmod.unescape(nh3.clean(block_breaks(text), tags=set()))
    text = " ".join(CONTROL.sub(" ", text).split())
    return truncate(text, limit) if limit else text


def block_breaks(markup: str) -> str:
    """HTML with its block tags and <br> turned into spaces, so words on each side stay apart."""
    return BLOCK_TAG.sub(" ", markup) if "<" in markup else markup


def byline_name(author: str | None) -> str:
    """The author as a reader should see it: "desk@x.example (Regional Desk)" -> "Regional Desk".

    A bare address is no name: nothing is shown rather than an address.
    """
    text = plain_text(author)
    match = ADDRESS_AND_NAME.match(text)
    if match:
        return " ".join(match["name"].split())
    return "" if ADDRESS.match(text) else text


def first_name(name: str | None) -> str:
    """The first word of a reader's name when it looks like a name, else "" (no greeting).

    "Smith, John" is written family name first: the given name follows the comma.
    """
    text = one_line(name)
    family, comma, given = text.partition(",")
    words = (given if comma and given.strip() else family).split()
    if not words or "@" in words[0] or not any(ch.isalpha() for ch in words[0]):
        return ""
    return words[0].strip(",;:")


def one_line(value: str | None, limit: int | None = None) -> str:
    """Text Digest itself keeps (names, addresses) on one line; taken literally, never as HTML."""
    text = " ".join(CONTROL.sub(" ", value or "").split())
    return truncate(text, limit) if limit else text


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word where one is near, ending in an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def safe_url(url: str | None) -> str | None:
    """An absolute http(s) URL fit for an href or src, or None."""
    if not url:
        return None
    candidate = url.strip()
    if len(candidate) > 2048 or any(ch in candidate for ch in " \t\r\n\"'<>\\`"):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return candidate
