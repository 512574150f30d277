"""Reading a feed document (RSS 0.9x/1.0/2.0 or Atom) into clean stories.

Everything a feed says is untrusted: titles and summaries become plain text (markup is
cleaned away, text is kept as written; see `feed_text`), links become absolute http(s) URLs
without tracking parameters or fragments,
dates become aware UTC times no later than the moment the feed was read, and a document that
declares XML entities is refused before feedparser sees it (entity bombs, external entities).
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import time
from collections.abc import Mapping
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
from digest.ingest.story_text import block_breaks, one_line, truncate

TITLE_MAX = 300
SUMMARY_MAX = 600
AUTHOR_MAX = 200
ALT_MAX = 300
CATEGORIES_MAX = 10

# HTML's elements (nh3's safe ones, the two it empties, and the others a browser acts on).
# feedparser calls an RSS title HTML only when each of its tags is one of its own safe ones, so
# a title holding <script> or <img onerror=...> is reported as "text/plain"; in RSS, whose
# types are guesses, a tag of one of these makes it HTML after all ("<Review>" stays text).
_OTHER_ELEMENTS = (
    "applet audio base basefont big blink body button canvas dialog embed fieldset font form "
    "frame frameset head html iframe input label legend link main marquee math menu meta "
    "meter nobr noembed noframes noscript object optgroup option output param picture "
    "plaintext progress section select slot source svg template textarea title track video xmp"
)
HTML_ELEMENTS = frozenset(nh3.ALLOWED_TAGS | nh3.CLEAN_CONTENT_TAGS | set(_OTHER_ELEMENTS.split()))
_TAG_NAME = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9]*)")

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
    declared = str(parsed.get("version", "")).startswith("atom")
    title = feed_text(channel.get("title_detail"), str(channel.get("title", "")), declared)
    result = ParsedFeed(title=truncate(title, TITLE_MAX), stories=[])
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride
    ):
        result.problems.append(f"malformed XML, read what could be: {parsed.bozo_exception}")
    seen: set[str] = set()
    for position, entry in enumerate(parsed.entries, start=1):
        story = _story(entry, base, now, declared)
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
    except (ParseError, ValueError, LookupError):  # LookupError: an unknown encoding
        return  # malformed: feedparser's lenient reader says what is wrong (see docstring)


def _describe(body: bytes, parsed: Any) -> str:
    head = body[:200].decode("utf-8", "replace").lower()
    if "<html" in head or "<!doctype html" in head:
        return "got an HTML page; check the URL"
    if parsed.get("bozo"):
        return f"malformed: {parsed.get('bozo_exception')}"
    return "no <rss>, <rdf:RDF> or <feed> element"


def _story(entry: Any, base: str, now: datetime, declared: bool) -> ParsedStory | None:
    url = canonical_url(str(entry.get("link", "")), base)
    if url is None:
        return None
    summary_value, summary_detail = _summary(entry)
    markup = "" if is_text(summary_detail, summary_value, declared) else summary_value
    image_url, image_alt = _image(entry, markup, url)
    title = feed_text(entry.get("title_detail"), str(entry.get("title", "")), declared)
    title = truncate(title, TITLE_MAX)
    summary = truncate(feed_text(summary_detail, summary_value, declared), SUMMARY_MAX)
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


def _summary(entry: Any) -> tuple[str, Mapping[str, Any] | None]:
    """The item's summary (else its first HTML content) and the details giving its type."""
    summary = str(entry.get("summary", ""))
    if summary:
        return summary, entry.get("summary_detail")
    for content in entry.get("content", []):
        if content.get("type") in ("text/html", "application/xhtml+xml"):
            return str(content.get("value", "")), content
    return "", None


def feed_text(detail: Mapping[str, Any] | None, value: str, declared: bool) -> str:
    """A title or summary as plain text on one line, read by the type the feed gave it.

    Text is kept as written ("Fish & Chips <Review>": whatever shows it escapes it); HTML and
    XHTML are cleaned to text. `declared`: the feed is Atom, whose types are the publisher's
    (RFC 4287, section 3.1: "text" unless it says "html" or "xhtml"); RSS types are
    feedparser's guesses, so there text holding an HTML tag is HTML (see HTML_ELEMENTS).
    """
    return one_line(value) if is_text(detail, value, declared) else clean_text(value)


def is_text(detail: Mapping[str, Any] | None, value: str, declared: bool) -> bool:
    """Whether a feed's text construct is plain text rather than markup (see feed_text)."""
    if detail is None or detail.get("type") != "text/plain":
        return False
    return declared or not any(name.lower() in HTML_ELEMENTS for name in _TAG_NAME.findall(value))


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


def clean_text(markup: str, limit: int | None = None) -> str:
    """Plain text of an HTML fragment: no tags, scripts or styles; whitespace collapsed.

    Text longer than `limit` is cut at a word boundary and ends with an ellipsis.
    """
    if not markup:
        return ""
    stripped = nh3.clean(block_breaks(markup), tags=set(), attributes={}, strip_comments=True)
    text = " ".join(html.unescape(stripped).split())
    # Unescaping can reveal text that looks like markup ("&lt;script&gt;"); it stays text
    # (rendering escapes it), but a reader should not see tag soup either.
    text = re.sub(r"</?[A-Za-z!][^<>]{0,200}>", "", text) if "<" in text else text
    text = one_line(text)
    return truncate(text, limit) if limit else text


def _first_words(text: str) -> str:
    return truncate(text, 80)


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
