"""Rendering: an edition segment's sections become inlined HTML and text, once per town.

The output keeps four placeholders (greeting, address, unsubscribe and preferences URLs) that
`digest.render.mime` fills per reader, so neither Jinja2 nor premailer ever runs per reader.
The HTML holds both the email's personal parts and the web version's footer between marker
comments: `email_html` keeps the first, `web_version_html` the second.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup
from premailer import Premailer

from digest.curation.picks import clean_note
from digest.curation.sections import JUST_POSTED, LOCAL, MOST_READ, TOP, Section, StoryCard
from digest.curation.subjects import DEFAULT_PREHEADER, DEFAULT_SUBJECT, fill
from digest.errors import DigestError
from digest.i18n import (
    DEFAULT_LANGUAGE,
    clock,
    long_date,
    names_list,
    number,
    short_date,
    translated,
    translated_plural,
)
from digest.i18n import supported as supported_language
from digest.i18n import weekday as weekday_name
from digest.ingest.click_links import SPONSOR, STORY, WEB_VERSION
from digest.ingest.story_text import (
    byline_name,
    first_name,
    one_line,
    plain_text,
    safe_url,
    truncate,
)
from digest.models import Community, Newsletter
from digest.render import links
from digest.render.senders import parse_mailbox, sender_of
from digest.render.sponsor_views import sponsor_views
from digest.render.templates import email_templates
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

# Gmail clips an HTML part past about 102 KB and ignores a <style> past 16 KB; keep a margin.
HTML_BUDGET_BYTES = 100_000
STYLE_BUDGET_BYTES = 16_000
# Upper bound of what one placeholder becomes, beyond the base URL (a token is ~60 chars).
PERSONAL_VALUE_BYTES = 260
CLICK_TAG_BYTES = 40  # "~tSENT.rREADER.SIGNATURE"

TITLE_LIMIT = 200
SUMMARY_LIMIT = 300
BRIEF_SUMMARY_LIMIT = 150  # every story but the lead: three lines on a phone
SUBJECT_LIMIT = 110
PREHEADER_LIMIT = 140
# Keeps the body's first words out of the inbox preview after the preheader.
PREHEADER_FILLER = "&#847;&zwnj;&nbsp;" * 40

EMAIL_REGION = re.compile(r"<!--\s*digest:email\s*-->(.*?)<!--\s*/digest:email\s*-->", re.S)
WEB_REGION = re.compile(r"<!--\s*digest:web\s*-->(.*?)<!--\s*/digest:web\s*-->", re.S)
STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)
NOTE_BREAKS = re.compile(r"</p>|<br\s*/?>", re.I)  # paragraphs of the note's text part
DOCTYPE = re.compile(r"^\s*<!DOCTYPE[^>]*>\s*", re.I)
# Runs of white space but the no-break space, which French keeps before a colon.
SPACES = re.compile(r"[^\S\u00a0]+")

TRANSACTIONAL_KINDS = ("confirm", "welcome", "unsubscribed", "email_change")


@dataclass(frozen=True)
class RenderedSegment:
    """One town's edition, rendered and inlined once; `html` still holds the placeholders."""

    subject: str
    preheader: str
    html: str
    text: str
    sections: list[Section]  # what was kept, in order
    dropped_stories: int  # lowest-ranked stories left out to stay within the budgets
    html_bytes: int  # the email HTML's size with the largest personal values filled in
    style_bytes: int


@dataclass(frozen=True)
class RenderedEmail:
    """A transactional email; `html` and `text` hold the same placeholders as a digest."""

    kind: str
    subject: str
    html: str
    text: str
    language: str = DEFAULT_LANGUAGE  # of the words around the reader's greeting


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


def _zone(community: Community) -> ZoneInfo:
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


# What every email's footer shows


def language_of_newsletter(newsletter: Newsletter | None) -> str:
    """The language a newsletter's emails and pages speak (English when none is set)."""
    return supported_language(newsletter.language if newsletter else None)


def footer_context(
    settings: Settings, newsletter: Newsletter | None = None, language: str | None = None
) -> dict[str, Any]:
    name, address = sender_of(settings, newsletter)
    reply_to = parse_mailbox(newsletter.reply_to) if newsletter and newsletter.reply_to else None
    return {
        "lang": supported_language(language) if language else language_of_newsletter(newsletter),
        "publisher": name or address,
        "postal_address": one_line(settings.postal_address),
        "contact": reply_to[1] if reply_to else address,
        "placeholders": PLACEHOLDER_CONTEXT,
        "preheader_filler": PREHEADER_FILLER,
        "signup_url": links.signup_url(settings, newsletter.slug if newsletter else None),
        "archive_url": links.archive_url(settings),
    }


# premailer, once per segment


def inline_css(html: str) -> str:
    """Inline the <style> rules (premailer), keeping media queries and their !important.

    Never fetches anything: no base URL, no network, no external files.
    """
    transformed = Premailer(
        html,
        base_url=None,
        disable_link_rewrites=True,
        allow_network=False,
        allow_loading_external_files=False,
        strip_important=False,
        keep_style_tags=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        # Width and height attributes are written in the templates; CSS widths like 100%
        # must not overwrite the fixed pixel widths Outlook needs.
        disable_basic_attributes=["width", "height"],
    ).transform()
    # premailer drops the doctype; without it browsers fall back to quirks mode.
    return "<!DOCTYPE html>\n" + DOCTYPE.sub("", transformed)


def email_html(html: str) -> str:
    """The email variant of rendered HTML: personal parts kept, web-only parts removed."""
    return EMAIL_REGION.sub(r"\1", WEB_REGION.sub("", html))


def web_version_html(html: str) -> str:
    """The web variant (archive, view in browser): no personal parts, no placeholders."""
    return WEB_REGION.sub(r"\1", EMAIL_REGION.sub("", html)).replace(CLICK_TAG, "")


def style_bytes(html: str) -> int:
    return sum(len(block.encode("utf-8")) for block in STYLE_BLOCK.findall(html))


def email_html_bytes(settings: Settings, html: str) -> int:
    """Size of the email HTML once the largest personal values replace the placeholders."""
    variant = email_html(html)
    tags = variant.count(CLICK_TAG)
    count = sum(variant.count(placeholder) for placeholder in PLACEHOLDERS) - tags
    grown = count * (len(settings.base_url) + PERSONAL_VALUE_BYTES) + tags * CLICK_TAG_BYTES
    return len(variant.encode("utf-8")) + grown


# The digest


def unforged(text: str) -> str:
    """Content that spells a placeholder loses an underscore, so that only the renderer's own
    placeholders are filled per reader ("__DIGEST_EMAIL__" in a feed becomes "_DIGEST_EMAIL__")."""
    return FORGED_PLACEHOLDER.sub("_", text) if "DIGEST_" in text else text


def _unforged(item: Content) -> Content:
    changes: dict[str, Any] = {
        each.name: unforged(value)
        for each in fields(item)
        if isinstance(value := getattr(item, each.name), str) and "DIGEST_" in value
    }
    return replace(item, **changes) if changes else item


def _unforged_section(section: Section) -> Section:
    stories = tuple(_unforged(card) for card in section.stories)
    return replace(section, title=unforged(section.title), stories=stories)


def render_segment(
    settings: Settings,
    newsletter: Newsletter,
    community: Community,
    sections: list[Section],
    edition_date: date,
    *,
    edition_id: int | None = None,
    sponsors: Mapping[str, SponsorSlot] | None = None,
    note: str = "",
) -> RenderedSegment:
    """Render and inline one town's edition once, within the HTML and <style> budgets.

    Over budget, the lowest-ranked stories are dropped (and logged) until it fits. With an
    `edition_id` the "view in browser" link goes to the edition's web version, else to the
    newsletter's archive. `sponsors` (by position) are shown in their slots, inside the budget;
    `note` is the editor's intro (HTML, cleaned again here). Raises
    EmailTemplateError for a missing or broken template, and
    DigestError when the template alone exceeds a budget.
    """
    if isinstance(edition_date, datetime):
        edition_date = edition_date.date()
    sections = [_unforged_section(section) for section in sections]
    sponsors = {slot: _unforged(ad) for slot, ad in (sponsors or {}).items()}
    note = unforged(note)
    kept = [section for section in sections if section.stories]
    total = _count(kept)
    empty_size: int | None = None
    while True:
        html, text = _render_digest(
            settings, newsletter, community, kept, edition_date, edition_id, sponsors, note
        )
        size, styles = email_html_bytes(settings, html), style_bytes(html)
        if styles >= STYLE_BUDGET_BYTES:
            raise DigestError(
                f"template {template_name(newsletter) + '.html'!r}: its <style> is {styles} bytes "
                f"after inlining, over the {STYLE_BUDGET_BYTES}-byte budget; trim email.css"
            )
        if size < HTML_BUDGET_BYTES:
            break
        if empty_size is None:
            empty_html, _ = _render_digest(
                settings, newsletter, community, [], edition_date, edition_id, sponsors, note
            )
            empty_size = email_html_bytes(settings, empty_html)
        if not kept or empty_size >= HTML_BUDGET_BYTES:
            raise DigestError(
                f"template {template_name(newsletter) + '.html'!r} is {empty_size} bytes with no "
                f"stories, over the {HTML_BUDGET_BYTES}-byte budget"
            )
        per_story = (size - empty_size) / _count(kept)
        excess = math.ceil((size - HTML_BUDGET_BYTES + 1) / per_story)
        kept = drop_lowest_ranked(kept, max(1, excess))
    dropped = total - _count(kept)
    if dropped:
        log.warning(
            "%s for %s: dropped the %d lowest-ranked stories to keep the HTML under %d bytes",
            newsletter.slug,
            community.slug,
            dropped,
            HTML_BUDGET_BYTES,
        )
    subject, preheader = subject_and_preheader(newsletter, community, kept, edition_date)
    return RenderedSegment(subject, preheader, html, text, kept, dropped, size, styles)


def template_name(newsletter: Newsletter) -> str:
    """The newsletter's template (templates/email/NAME.html and NAME.txt); "digest" by default."""
    return newsletter.template or "digest"


def digest_context(
    settings: Settings,
    newsletter: Newsletter,
    community: Community,
    sections: list[Section],
    edition_date: date,
    edition_id: int | None = None,
    sponsors: Mapping[str, SponsorSlot] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Everything the digest templates show, the reader's parts as placeholders."""
    language = language_of_newsletter(newsletter)
    note_html = clean_note(note)
    views = section_views(sections, edition_date, _zone(community), language)
    subject, preheader = subject_and_preheader(newsletter, community, sections, edition_date)
    if edition_id is None:
        web_url = links.archive_url(settings, newsletter.slug)
    else:
        views = tracked_views(settings, newsletter, community, sections, views, edition_id)
        sponsors = {
            position: replace(
                slot,
                url=links.tracked_url(
                    settings, slot.url, edition_id, community.id, SPONSOR, slot.creative_id
                ),
            )
            for position, slot in (sponsors or {}).items()
            if safe_url(slot.url) is not None  # an unsafe link shows no ad, never a redirect
        }
        web_url = links.tracked_url(
            settings,
            links.web_version_url(settings, newsletter.slug, edition_id, community.slug),
            edition_id,
            community.id,
            WEB_VERSION,
        )
    return {
        **footer_context(settings, newsletter),
        "title": subject,
        "preheader": preheader,
        "newsletter_name": one_line(newsletter.name, 120),
        "community_name": one_line(community.name, 120),
        "edition_label": long_date(edition_date, language),
        "web_url": web_url,
        "sections": views,
        "story_count": (count := sum(len(view.cards) for view in views)),
        "story_count_label": number(count, language),
        "sponsors": sponsor_views(sponsors or {}, language),
        "note_html": Markup(note_html),  # noqa: S704 (cleaned by nh3 just above)
        "note_text": "\n\n".join(
            text for text in (plain_text(part) for part in NOTE_BREAKS.split(note_html)) if text
        ),
        # Branding set in the admin (checked there: an https logo, a #rrggbb colour).
        "logo_url": newsletter.logo_url or "",
        "accent_color": newsletter.accent_color or "",
        "footer_note": one_line(newsletter.footer_text or "", 500),
    }


def _render_digest(
    settings: Settings,
    newsletter: Newsletter,
    community: Community,
    sections: list[Section],
    edition_date: date,
    edition_id: int | None,
    sponsors: Mapping[str, SponsorSlot] | None = None,
    note: str = "",
) -> tuple[str, str]:
    context = digest_context(
        settings, newsletter, community, sections, edition_date, edition_id, sponsors, note
    )
    templates = email_templates(language=context["lang"])
    html = inline_css(templates.render(f"{template_name(newsletter)}.html", **context))
    text = normalize_text(templates.render(f"{template_name(newsletter)}.txt", **context))
    return html, text


def render_web_version(
    settings: Settings,
    newsletter: Newsletter,
    community: Community,
    sections: list[Section],
    edition_date: date,
    *,
    edition_id: int | None = None,
) -> str:
    """The web version of a town's edition: the same templates, no personal parts or tokens.

    For a segment already rendered, `web_version_html(segment.html)` gives the same page
    without rendering again.
    """
    rendered = render_segment(
        settings, newsletter, community, sections, edition_date, edition_id=edition_id
    )
    return web_version_html(rendered.html)


def drop_lowest_ranked(sections: list[Section], count: int) -> list[Section]:
    """The sections without their `count` highest-rank (least important) stories."""
    ranked = sorted(
        (
            (card.rank, s, i)
            for s, section in enumerate(sections)
            for i, card in enumerate(section.stories)
        ),
        reverse=True,
    )
    gone = {(s, i) for _rank, s, i in ranked[:count]}
    trimmed = [
        Section(
            section.key,
            section.title,
            tuple(card for i, card in enumerate(section.stories) if (s, i) not in gone),
        )
        for s, section in enumerate(sections)
    ]
    return [section for section in trimmed if section.stories]


def _count(sections: list[Section]) -> int:
    return sum(len(section.stories) for section in sections)


def subject_and_preheader(
    newsletter: Newsletter, community: Community, sections: list[Section], edition_date: date
) -> tuple[str, str]:
    """Each town's own subject and preheader, from the newsletter's templates.

    The lead is the town's best story of its own (its site's copy) when it has one, else the
    edition's top story; the preheader carries the next headlines (digest.curation.subjects).
    """
    language = language_of_newsletter(newsletter)
    name = one_line(newsletter.name, 60)
    cards = sorted(
        (card for section in sections for card in section.stories), key=lambda card: card.rank
    )
    cards = [card for card in cards if one_line(card.title)]
    if not cards:
        return name, translated(language, "The latest news from {newsletter}", newsletter=name)
    lead = _lead(community, sections, cards)
    rest = [one_line(card.title) for card in cards if card is not lead]
    values = {
        "town": one_line(community.name, 60),
        "newsletter": name,
        "date": long_date(edition_date, language, year=False),
        "lead": one_line(lead.title),
        "count": number(len(cards), language),
        "more": number(len(rest), language),
        "and_more": translated_plural(language, ", and {n} more", ", and {n} more", len(rest))
        if rest
        else "",
        "next": " · ".join(rest[:3]),
    }
    subject = fill(newsletter.subject_template or default_subject(language), values)
    preheader = fill(newsletter.preheader_template or DEFAULT_PREHEADER, values).strip()
    return _fit_subject(subject, values), truncate(preheader or values["lead"], PREHEADER_LIMIT)


def breaking_subject(newsletter: Newsletter, title: str) -> str:
    """An alert's subject, in the newsletter's language: 'Breaking: Bridge closed'."""
    language = language_of_newsletter(newsletter)
    return translated(language, "Breaking: {title}", title=title)[:300]


def breaking_section_title(newsletter: Newsletter) -> str:
    return translated(language_of_newsletter(newsletter), "Breaking news")


def default_subject(language: str) -> str:
    """DEFAULT_SUBJECT as `language` writes it (French puts a space before the colon)."""
    subject = translated(language, "{town}: {lead}{and_more}")
    return subject if subject != "{town}: {lead}{and_more}" else DEFAULT_SUBJECT


def _lead(community: Community, sections: list[Section], cards: list[StoryCard]) -> StoryCard:
    """The town's best story of its own: first of its Local section, else its own copy of a
    regional story, else the edition's top story."""
    local = [card for s in sections if s.key == LOCAL for card in s.stories if card in cards]
    own = [card for card in cards if card.community_id == community.id]
    return min(local, key=lambda c: c.rank) if local else own[0] if own else cards[0]


def _fit_subject(subject: str, values: dict[str, str]) -> str:
    """At most SUBJECT_LIMIT characters, shortening the lead first so ", and 8 more" stays."""
    one = SPACES.sub(" ", subject).strip()
    if len(one) <= SUBJECT_LIMIT or values["lead"] not in one:
        return truncate(one, SUBJECT_LIMIT)
    room = SUBJECT_LIMIT - (len(one) - len(values["lead"]))
    if room < 20:
        return truncate(one, SUBJECT_LIMIT)
    return one.replace(values["lead"], truncate(values["lead"], room), 1)


def normalize_text(text: str) -> str:
    """Text part tidied: LF line ends, no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return tidy.strip("\n") + "\n"


# Transactional emails


def transactional_subject(kind: str, names: str, language: str) -> str:
    """The subject of a transactional email about the newsletters `names`."""
    if kind == "confirm":
        return translated(language, "Please confirm your subscription to {names}", names=names)
    if kind == "welcome":
        return translated(language, "Welcome to {names}", names=names)
    if kind == "unsubscribed":
        return translated(language, "You have been unsubscribed from {names}", names=names)
    return translated(language, "Please confirm your new address")


def render_transactional(settings: Settings, kind: str, context: dict[str, Any]) -> RenderedEmail:
    """A confirm, welcome or unsubscribed email, inlined, with the reader's placeholders.

    `context` needs `newsletters` (list of names) and, for confirm, `confirm_url`; it may
    give `community_name`, `newsletter` (a Newsletter whose sender signs the email) and
    `language` (else the newsletter's, else English).
    Raises DigestError for an unknown kind, EmailTemplateError when a template or value is missing.
    """
    if kind not in TRANSACTIONAL_KINDS:
        raise DigestError(
            f"unknown transactional email {kind!r} (use {', '.join(TRANSACTIONAL_KINDS)})"
        )
    newsletter = context.get("newsletter")
    names = [one_line(name, 120) for name in context.get("newsletters", [])]
    values: dict[str, Any] = {
        **footer_context(settings, newsletter, context.get("language")),
        "community_name": one_line(context.get("community_name"), 120),
        **{
            k: v
            for k, v in context.items()
            if k not in ("newsletters", "community_name", "language")
        },
        "newsletters": names,
    }
    subject = truncate(
        transactional_subject(
            kind, names_list(names, values["lang"]) or values["publisher"], values["lang"]
        ),
        SUBJECT_LIMIT,
    )
    values.update(title=subject, preheader=subject)
    templates = email_templates(language=values["lang"])
    html = inline_css(templates.render(f"{kind}.html", **values))
    text = normalize_text(templates.render(f"{kind}.txt", **values))
    return RenderedEmail(kind=kind, subject=subject, html=html, text=text, language=values["lang"])
