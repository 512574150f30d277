"""Sample editions for rendering tests: a realistic town's sections, hostile stories, settings.

Everything here is built in memory (no database): rendering only reads Sections.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

from digest.curation.sections import JUST_POSTED, LOCAL, MOST_READ, TOP, Section, StoryCard
from digest.models import Community, Newsletter
from digest.render.mime import Reader
from digest.settings import Settings, load_settings

EDITION_DATE = date(2026, 11, 24)
# 06:00 in Springfield (America/Los_Angeles) on the edition's day.
EDITION_AT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
IMAGE_HOST = "https://images.springfield-times.example"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "secret_key": "render-tests-secret-key-0123456789",
        "base_url": "https://news.springfield-times.example",
        "sender": "Springfield Times <news@springfield-times.example>",
        "postal_address": "Springfield Times, 100 Main Street, Springfield, OR 97477, USA",
        "bounce_domain": "bounces.springfield-times.example",
    }
    values.update(overrides)
    return load_settings(**values)


def newsletter(**fields: object) -> Newsletter:
    values: dict[str, object] = {
        "id": 3,
        "slug": "morning",
        "name": "The Morning Digest",
        "template": "digest",
        "sender": None,
        "reply_to": None,
    }
    values.update(fields)
    return Newsletter(**values)


def community(**fields: object) -> Community:
    values: dict[str, object] = {
        "id": 1,
        "slug": "springfield",
        "name": "Springfield",
        "timezone": "America/Los_Angeles",
    }
    values.update(fields)
    return Community(**values)


STORIES = [
    (
        TOP,
        "City council approves $4.2 million plan to repave Main Street",
        "The 5-2 vote ends a year of debate. Work starts in March and will close two blocks "
        "at a time; businesses get signs and a parking map paid for by the city.",
        True,
        "Maria Lopez",
    ),
    (
        TOP,
        "Wildfire smoke expected to clear by Thursday, forecasters say",
        "Air quality should improve from 'unhealthy' to 'moderate' as winds shift west. "
        "Schools will keep recess indoors until then.",
        False,
        "Associated Press",
    ),
    (
        TOP,
        "State lawmakers weigh rural broadband grants for the valley",
        "A $60 million program would connect about 9,000 homes east of the river.",
        True,
        "Dan Whitaker",
    ),
    (
        LOCAL,
        "Springfield High robotics team heads to nationals",
        "The Gearheads beat 40 teams at the regional final with a robot built from parts of "
        "an old lawn mower.",
        True,
        "Priya Natarajan",
    ),
    (
        LOCAL,
        "Farmers market moves indoors to the old armory for winter",
        "Saturday hours stay the same: 9 am to 1 pm, with 30 vendors and live music.",
        False,
        "Tom Becker",
    ),
    (
        LOCAL,
        "Library extends weekend hours after record visits",
        "The main branch will open Sundays from noon to 5 pm starting next month.",
        False,
        None,
    ),
    (
        MOST_READ,
        "Where to see the holiday lights this year",
        "Twelve streets, two parks and one very ambitious cul-de-sac made our map.",
        True,
        "Staff",
    ),
    (
        MOST_READ,
        "Restaurant inspections: three downtown spots get top marks",
        "Inspectors found no critical violations at 14 of the 16 places they visited.",
        False,
        "Jen Ocampo",
    ),
    (
        JUST_POSTED,
        "Road closure: Bridge Street shut overnight for repairs",
        "Detour via Elm Avenue from 10 pm to 5 am Tuesday and Wednesday.",
        False,
        None,
    ),
    (
        JUST_POSTED,
        "High school football: Tigers win playoff opener 28-21",
        "A late interception sealed it; the quarter-final is Friday at home.",
        False,
        "Sam Ortiz",
    ),
]

SECTION_TITLES = {
    TOP: "Top stories",
    LOCAL: "Local: Springfield",
    MOST_READ: "Most read",
    JUST_POSTED: "Just posted",
}


def card(rank: int, **fields: object) -> StoryCard:
    values: dict[str, object] = {
        "story_id": 1000 + rank,
        "cluster_key": f"cluster-{rank}",
        "title": f"Story number {rank}",
        "url": f"https://www.springfield-times.example/news/{rank}",
        "summary": "A short summary of the story.",
        "published_at": EDITION_AT - timedelta(hours=2 + 3 * rank),
        "rank": rank,
        "image_url": None,
        "image_alt": "",
        "author": "A. Reporter",
        "source": "Springfield Times",
    }
    values.update(fields)
    return StoryCard(**values)  # type: ignore[arg-type]


def sample_sections() -> list[Section]:
    """A realistic morning edition for Springfield: 10 stories in four sections."""
    grouped: dict[str, list[StoryCard]] = {key: [] for key in SECTION_TITLES}
    for rank, (key, title, summary, image, author) in enumerate(STORIES):
        slug = "-".join(title.lower().split()[:5]).replace("$", "").replace(",", "")
        grouped[key].append(
            card(
                rank,
                title=title,
                summary=summary,
                url=f"https://www.springfield-times.example/news/2026/11/{slug}",
                image_url=f"{IMAGE_HOST}/photos/{rank}.jpg" if image else None,
                image_alt=f"Photo for: {title}" if image else "",
                author=author,
                source="Regional desk" if key == TOP else "Springfield Times",
                editors_pick=rank == 0,
            )
        )
    return [Section(key, SECTION_TITLES[key], tuple(cards)) for key, cards in grouped.items()]


LONG_TITLE = ("Supercalifragilistic" * 100)[:2000]  # one unbroken 2,000-character word
HOSTILE_TITLES = {
    "script": "<script>alert('owned')</script>Council meets <b>tonight</b>",
    "quotes": 'Mayor says "no comment" on O\'Brien\'s "plan" & the <budget>',
    "emoji": "Pumpkin festival 🎃🍂 draws record crowds 👨‍👩‍👧‍👦",
    "rtl": "مهرجان الخريف في المدينة — Autumn festival",
    "long": LONG_TITLE,
}


def hostile_sections() -> list[Section]:
    """Stories a hostile or careless feed could produce."""
    cards = [
        card(
            0,
            title=HOSTILE_TITLES["script"],
            summary="<img src=x onerror=alert(1)>Read <a href='javascript:alert(1)'>this</a>",
            url="javascript:alert(document.cookie)",
            image_url="javascript:alert(1)",
        ),
        card(1, title=HOSTILE_TITLES["quotes"], summary="Fish & chips 'n' \"more\" & < >"),
        card(
            2,
            title=HOSTILE_TITLES["emoji"],
            summary="Fun for all 🎉",
            image_url=f"{IMAGE_HOST}/broken/does-not-exist.jpg",
            image_alt="A broken picture",
        ),
        card(3, title=HOSTILE_TITLES["rtl"], summary="نص عربي طويل للاختبار", author="كاتب"),
        card(4, title=HOSTILE_TITLES["long"], summary="x" * 3000),
        card(5, title="No image, broken URL", image_url="http://", url="not a url at all"),
        card(6, title="Spaces in image URL", image_url='https://img.example/a b.jpg"onload=x'),
    ]
    return [Section(TOP, 'Top <stories> & "more"', tuple(cards))]


class LinkCollector(HTMLParser):
    """Every href and the text of every headline (h3) of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.headlines: list[str] = []
        self._in_headline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]
        if tag == "h3":
            self._in_headline = True
            self.headlines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3":
            self._in_headline = False

    def handle_data(self, data: str) -> None:
        if self._in_headline:
            self.headlines[-1] += data


def link_target(settings: Settings, url: str) -> str:
    """Where a link leads: the signed target of a tracked /r/ link, else the link itself."""
    from digest.ingest.click_links import TAG_SEPARATOR, read_link_token
    from digest.render.links import CLICK_TAG

    prefix = f"{settings.base_url}/r/"
    if not url.startswith(prefix):
        return url
    token = url.removeprefix(prefix).replace(CLICK_TAG, "").partition(TAG_SEPARATOR)[0]
    link = read_link_token(settings, token)
    assert link is not None, f"{url} is not a valid tracked link"
    return link.url


def collect_links(html: str) -> LinkCollector:
    collector = LinkCollector()
    collector.feed(html)
    return collector


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG with a darker lower band: a stand-in news photo, made offline."""
    dark = tuple(max(0, c - 60) for c in rgb)
    rows = b"".join(
        b"\x00" + bytes(dark if y > height * 2 // 3 else rgb) * width for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def digest_message(sections: list[Section], reader: Reader | None = None) -> bytes:
    """A sample reader's complete message for these sections, built as delivery builds it."""
    from digest.render.mime import personalize, segment_template
    from digest.render.render import render_segment

    settings_ = settings()
    letter = newsletter()
    rendered = render_segment(settings_, letter, community(), sections, EDITION_DATE, edition_id=77)
    template = segment_template(
        settings_,
        letter,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_key="e77.s1",
        date=EDITION_AT,
    )
    return personalize(template, reader or Reader(1, 1, "jane@example.org", "Jane"))
