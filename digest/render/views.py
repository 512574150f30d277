"""What the digest templates show of each story and section, in the newsletter's language."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.curation.sections import JUST_POSTED, LOCAL, MOST_READ, TOP, Section, StoryCard
from digest.i18n import (
    DEFAULT_LANGUAGE,
    clock,
    short_date,
    translated,
)
from digest.i18n import supported as supported_language
from digest.i18n import weekday as weekday_name
from digest.ingest.click_links import STORY
from digest.ingest.story_text import (
    byline_name,
    first_name,
    one_line,
    safe_url,
    truncate,
)
from digest.models import Community, Newsletter
from digest.render import links
from digest.settings import Settings

log = logging.getLogger(__name__)

TITLE_LIMIT = 200
SUMMARY_LIMIT = 300
BRIEF_SUMMARY_LIMIT = 150  # every story but the lead: three lines on a phone


@dataclass(frozen=True)
class CardView:
    title: str
    url: str | None
    summary: str
    image_url: str | None
    image_alt: str
    byline: str
    editors_pick: bool
    lead: bool = False  # the edition's first story: the only one with a large image


# Curation names sections in English (digest.curation.curate.section_title); rendering shows
# them in the newsletter's language, by key. A Local section names its town after this prefix.
SECTION_TITLES = {
    TOP: "Top stories",
    MOST_READ: "Most read",
    JUST_POSTED: "Just posted",
}
LOCAL_PREFIX = "Local: "


def section_title(key: str, title: str, language: str) -> str:
    """A section's heading in `language`; a heading curation did not write is kept as is."""
    if key == LOCAL and title.startswith(LOCAL_PREFIX):
        return translated(language, "Local: {town}", town=title.removeprefix(LOCAL_PREFIX))
    if SECTION_TITLES.get(key) != title:
        return title
    if key == TOP:
        return translated(language, "Top stories")
    if key == MOST_READ:
        return translated(language, "Most read")
    return translated(language, "Just posted")


@dataclass(frozen=True)
class SectionView:
    key: str
    title: str
    cards: list[CardView] = field(default_factory=list)


def zone_of(community: Community) -> ZoneInfo:
    try:
        return ZoneInfo(community.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def published_label(
    published_at: datetime, edition_date: date, zone: ZoneInfo, language: str = DEFAULT_LANGUAGE
) -> str:
    """When a story was posted, relative to the edition's day: 'Yesterday, 5:30 pm'."""
    at = (published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)).astimezone(
        zone
    )
    time = clock(at, language)
    days = (edition_date - at.date()).days
    if days == 0:
        return translated(language, "Today, {time}", time=time)
    if days < 0:  # an edition sent late (catching up) carries stories newer than its day
        return f"{short_date(at, language)}, {time}"
    if days == 1:
        return translated(language, "Yesterday, {time}", time=time)
    if 1 < days < 7:
        return f"{weekday_name(at, language)}, {time}"
    return short_date(at, language)


def _card_view(
    card: StoryCard,
    edition_date: date,
    zone: ZoneInfo,
    lead: bool = False,
    language: str = DEFAULT_LANGUAGE,
) -> CardView:
    # A story's text is text (digest.ingest.parse.feed_text): shown as written, escaped.
    title = one_line(card.title, TITLE_LIMIT) or translated(language, "(untitled story)")
    author = truncate(byline_name(card.author), 80)
    parts = [translated(language, "By {author}", author=author)] if author else []
    if one_line(card.source):
        parts.append(one_line(card.source, 80))
    parts.append(published_label(card.published_at, edition_date, zone, language))
    image_url = safe_url(card.image_url)
    return CardView(
        title=title,
        url=safe_url(card.url),
        summary=one_line(card.summary, SUMMARY_LIMIT if lead else BRIEF_SUMMARY_LIMIT),
        image_url=image_url,
        image_alt=one_line(card.image_alt, 200) if image_url else "",
        byline=" · ".join(parts),
        editors_pick=card.editors_pick,
        lead=lead,
    )


def section_views(
    sections: list[Section],
    edition_date: date,
    zone: ZoneInfo,
    language: str = DEFAULT_LANGUAGE,
) -> list[SectionView]:
    """What the templates show: non-empty sections of cleaned cards, in `language`.

    The first card is the lead: it alone may show a large image and a long summary, so a
    dozen stories stay short enough to scroll on a phone.
    """
    views: list[SectionView] = []
    for section in sections:
        if not section.stories:
            continue
        cards = [
            _card_view(card, edition_date, zone, lead=not views and i == 0, language=language)
            for i, card in enumerate(section.stories)
        ]
        title = section_title(section.key, one_line(section.title, 80), language) or section.key
        views.append(SectionView(section.key, title, cards))
    return views


def greeting(name: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A reader's greeting by first name ("Hi Ana,"), or none when the name is no name."""
    first = first_name(name)
    return translated(language, "Hi {name},", name=first) if first else ""


def tracked_views(
    settings: Settings,
    newsletter: Newsletter,
    community: Community,
    sections: list[Section],
    views: list[SectionView],
    edition_id: int,
) -> list[SectionView]:
    """The views with each story link through the counted redirect (`links.tracked_url`).

    `views` are `section_views(sections, ...)`: the same non-empty sections, card for card.
    """
    kept = [section for section in sections if section.stories]
    out = []
    for view, section in zip(views, kept, strict=True):
        cards = [
            replace(
                card,
                url=links.tracked_url(
                    settings,
                    card.url,
                    edition_id,
                    community.id,
                    STORY,
                    story.story_id,
                    newsletter.utm_params or "",
                ),
            )
            if card.url is not None
            else card
            for card, story in zip(view.cards, section.stories, strict=True)
        ]
        out.append(SectionView(view.key, view.title, cards))
    return out


def language_of_newsletter(newsletter: Newsletter | None) -> str:
    """The language a newsletter's emails and pages speak (English when none is set)."""
    return supported_language(newsletter.language if newsletter else None)
