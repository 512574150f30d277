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


def plain_text(value: str | None, limit: int | None = None) -> str:
    """Feed text as plain text: tags and script bodies gone, entities decoded, one line."""
    text = value or ""
    if "<" in text or "&" in text:
        text = htmlmod.unescape(nh3.clean(text, tags=set()))
    text = " ".join(CONTROL.sub(" ", text).split())
    return truncate(text, limit) if limit else text


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
