"""Reading a feed document (RSS 0.9x/1.0/2.0 or Atom) into clean stories.

Everything a feed says is untrusted: titles and summaries become plain text (no markup at
all survives), links become absolute http(s) URLs without tracking parameters or fragments,
dates become aware UTC times no later than the moment the feed was read, and a document that
declares XML entities is refused before feedparser sees it (entity bombs, external entities).
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import nh3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as defused_fromstring

from digest.errors import DigestError
from digest.ingest.story_text import block_breaks

TITLE_MAX = 300
SUMMARY_MAX = 600
AUTHOR_MAX = 200
ALT_MAX = 300
CATEGORIES_MAX = 10

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "_ga", "ref_src"}
)
TRACKING_PREFIXES = ("utm_", "_hs", "mkt_", "pk_")


class FeedError(DigestError):
    """A feed document that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True)
class ParsedStory:
    """One item of a feed, cleaned: every field is safe to store and show."""

    guid: str
    url: str
    title: str
    summary: str
    published_at: datetime
    image_url: str | None = None
    image_alt: str = ""
    author: str | None = None
    categories: tuple[str, ...] = ()
    dated: bool = True  # False: the feed gave no usable date, published_at is when first seen

    def content_hash(self) -> str:
        """A digest of what a reader sees; a change means the publisher edited the story."""
        parts = [
            self.url,
            self.title,
            self.summary,
            self.image_url or "",
            self.image_alt,
            self.author or "",
            "\x1f".join(self.categories),
            self.published_at.isoformat() if self.dated else "",
        ]
        return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


@dataclass
class ParsedFeed:
    """A feed document's title, its stories in document order, and what was wrong with items."""

    title: str
    stories: list[ParsedStory]
    problems: list[str] = field(default_factory=list)


def parse_feed(body: bytes, url: str, now: datetime, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from `url` at `now` (its HTTP Content-Type, if any).

    Raises FeedError when the document is not a feed at all, declares XML entities, or is so
    malformed that no item could be read. Items that cannot be used (no link) are left out
    and named in `problems`; duplicate guids keep their first item.
    """
    refuse_entities(body)
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    if not parsed.get("version"):
        raise FeedError(f"not an RSS or Atom feed ({_describe(body, parsed)})")
    if parsed.get("bozo") and not parsed.entries:
        raise FeedError(f"malformed XML: {parsed.get('bozo_exception')}")
    channel = parsed.feed
    base = _http_url(url) or _http_url(str(channel.get("link", ""))) or ""
    result = ParsedFeed(title=clean_text(str(channel.get("title", "")), TITLE_MAX), stories=[])
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride
    ):
        result.problems.append(f"malformed XML, read what could be: {parsed.bozo_exception}")
    seen: set[str] = set()
    for position, entry in enumerate(parsed.entries, start=1):
        story = _story(entry, base, now)
        if story is None:
            result.problems.append(f"item {position} has no usable link; left out")
            continue
        if story.guid in seen:
            result.problems.append(f"item {position} repeats guid {story.guid!r}; left out")
            continue
        seen.add(story.guid)
        result.stories.append(story)
    return result


def refuse_entities(body: bytes) -> None:
    """Raise FeedError if the document declares XML entities (before any is expanded).

    Malformed documents pass: feedparser's lenient reader then strips their DOCTYPE.
    """
    try:
        defused_fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedError(
            f"the document declares XML entities ({type(exc).__name__}); "
            "Digest refuses them to prevent entity-expansion and external-entity attacks"
        ) from None
    except (ParseError, ValueError):
        return  # malformed: feedparser's lenient reader says what is wrong (see docstring)


def _describe(body: bytes, parsed: Any) -> str:
    head = body[:200].decode("utf-8", "replace").lower()
    if "<html" in head or "<!doctype html" in head:
        return "got an HTML page; check the URL"
    if parsed.get("bozo"):
        return f"malformed: {parsed.get('bozo_exception')}"
    return "no <rss>, <rdf:RDF> or <feed> element"


def _story(entry: Any, base: str, now: datetime) -> ParsedStory | None:
    url = canonical_url(str(entry.get("link", "")), base)
    if url is None:
        return None
    summary_html = _summary_html(entry)
    image_url, image_alt = _image(entry, summary_html, url)
    title = clean_text(str(entry.get("title", "")), TITLE_MAX)
    summary = clean_text(summary_html, SUMMARY_MAX)
    guid = str(entry.get("id") or "").strip()[:1000] or url
    author = clean_text(str(entry.get("author", "")), AUTHOR_MAX) or None
    categories = tuple(
        dict.fromkeys(
            text
            for tag in entry.get("tags", [])[:CATEGORIES_MAX]
            if (text := clean_text(str(tag.get("term") or ""), 64))
        )
    )
    published_at, dated = story_time(entry, now)
    return ParsedStory(
        guid=guid,
        url=url,
        title=title or _first_words(summary) or url,
        summary=summary,
        published_at=published_at,
        dated=dated,
        image_url=image_url,
        image_alt=image_alt,
        author=author,
        categories=categories,
    )


def _summary_html(entry: Any) -> str:
    summary = str(entry.get("summary", ""))
    if summary:
        return summary
    for content in entry.get("content", []):
        if content.get("type") in ("text/html", "application/xhtml+xml"):
            return str(content.get("value", ""))
    return ""


def story_time(entry: Any, now: datetime) -> tuple[datetime, bool]:
    """When the story was published (aware UTC), and whether the feed said so.

    A missing or unreadable date gives (`now`, False): the time first seen. A date after `now`
    is a publisher's mistake (or a trick to stay on top of lists) and is treated as missing.
    """
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # plain dict.get: feedparser's own warns on a fallback
        if isinstance(value, time.struct_time):
            try:
                moment = datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
            return (moment, True) if moment <= now else (now, False)
    return now, False


def clean_text(markup: str, limit: int) -> str:
    """Plain text of an HTML fragment: no tags, scripts or styles; whitespace collapsed.

    Longer text is cut at a word boundary and ends with an ellipsis.
    """
    if not markup:
        return ""
    stripped = nh3.clean(block_breaks(markup), tags=set(), attributes={}, strip_comments=True)
    text = " ".join(html.unescape(stripped).split())
    # Unescaping can reveal text that looks like markup ("&lt;script&gt;"); it stays text
    # (rendering escapes it), but a reader should not see tag soup either.
    text = re.sub(r"</?[A-Za-z!][^<>]{0,200}>", "", text) if "<" in text else text
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:.-") + "\u2026"


def _first_words(text: str) -> str:
    return clean_text(text, 80)


def canonical_url(link: str, base: str = "") -> str | None:
    """An absolute http(s) URL without tracking parameters or fragment, or None if unusable."""
    link = link.strip()
    if not link:
        return None
    absolute = urljoin(base, link) if base else link
    parts = urlsplit(absolute)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    netloc = parts.netloc.lower()
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), netloc, path, urlencode(query), ""))


def _http_url(url: str) -> str | None:
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


def _image(entry: Any, summary_html: str, page_url: str) -> tuple[str | None, str]:
    """The story's image and its alt text: media:content, media:thumbnail, enclosure, <img>."""
    first_img = _first_img(summary_html) or _first_img(_content_html(entry))
    alt = _media_text(entry) or (first_img[1] if first_img else "")
    candidates: list[str] = []
    for media in entry.get("media_content", []):
        medium, kind = media.get("medium", ""), media.get("type", "")
        if medium == "image" or kind.startswith("image/") or (not medium and not kind):
            candidates.append(str(media.get("url", "")))
    candidates += [str(thumb.get("url", "")) for thumb in entry.get("media_thumbnail", [])]
    candidates += [
        str(link.get("href", ""))
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    if first_img:
        candidates.append(first_img[0])
    for candidate in candidates:
        image = _image_url(candidate, page_url)
        if image is not None:
            return image, clean_text(alt, ALT_MAX)
    return None, ""


def _image_url(link: str, base: str) -> str | None:
    link = link.strip()
    if not link:
        return None
    absolute = urljoin(base, link)
    parts = urlsplit(absolute)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(parts._replace(fragment=""))


def _content_html(entry: Any) -> str:
    return " ".join(
        str(content.get("value", ""))
        for content in entry.get("content", [])
        if content.get("type") in ("text/html", "application/xhtml+xml")
    )


def _media_text(entry: Any) -> str:
    # feedparser files <media:description> under content as text/plain.
    for content in entry.get("content", []):
        if content.get("type") == "text/plain" and content.get("value"):
            return str(content["value"])
    return str(entry.get("media_title", "") or "")


class _FirstImage(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.found is None and tag == "img":
            values = dict(attrs)
            if values.get("src"):
                self.found = (values["src"] or "", values.get("alt") or "")


def _first_img(markup: str) -> tuple[str, str] | None:
    if "<img" not in markup.lower():
        return None
    finder = _FirstImage()
    finder.feed(markup)
    finder.close()
    return finder.found
