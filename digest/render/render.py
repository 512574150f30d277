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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup
from premailer import Premailer

from digest.curation.picks import clean_note
from digest.curation.sections import LOCAL, Section, StoryCard
from digest.curation.subjects import DEFAULT_PREHEADER, DEFAULT_SUBJECT, fill
from digest.errors import DigestError
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

TRANSACTIONAL_KINDS = ("confirm", "welcome", "unsubscribed", "email_change", "reengage")


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


def published_label(published_at: datetime, edition_date: date, zone: ZoneInfo) -> str:
    """When a story was posted, relative to the edition's day: 'Yesterday, 5:30 pm'."""
    at = (published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)).astimezone(
        zone
    )
    clock = f"{at.hour % 12 or 12}:{at.minute:02d} {'am' if at.hour < 12 else 'pm'}"
    days = (edition_date - at.date()).days
    if days == 0:
        return f"Today, {clock}"
    if days < 0:  # an edition sent late (catching up) carries stories newer than its day
        return f"{at:%a} {at.day} {at:%b}, {clock}"
    if days == 1:
        return f"Yesterday, {clock}"
    if 1 < days < 7:
        return f"{at:%A}, {clock}"
    return f"{at:%a} {at.day} {at:%b}"


def _card_view(card: StoryCard, edition_date: date, zone: ZoneInfo, lead: bool = False) -> CardView:
    title = plain_text(card.title, TITLE_LIMIT) or "(untitled story)"
    author = truncate(byline_name(card.author), 80)
    parts = [f"By {author}"] if author else []
    if plain_text(card.source):
        parts.append(plain_text(card.source, 80))
    parts.append(published_label(card.published_at, edition_date, zone))
    image_url = safe_url(card.image_url)
    return CardView(
        title=title,
        url=safe_url(card.url),
        summary=plain_text(card.summary, SUMMARY_LIMIT if lead else BRIEF_SUMMARY_LIMIT),
        image_url=image_url,
        image_alt=plain_text(card.image_alt, 200) if image_url else "",
        byline=" · ".join(parts),
        editors_pick=card.editors_pick,
        lead=lead,
    )


def section_views(sections: list[Section], edition_date: date, zone: ZoneInfo) -> list[SectionView]:
    """What the templates show: non-empty sections of cleaned cards, in the given order.

    The first card is the lead: it alone may show a large image and a long summary, so a
    dozen stories stay short enough to scroll on a phone.
    """
    views: list[SectionView] = []
    for section in sections:
        if not section.stories:
            continue
        cards = [
            _card_view(card, edition_date, zone, lead=not views and i == 0)
            for i, card in enumerate(section.stories)
        ]
        views.append(SectionView(section.key, one_line(section.title, 80) or section.key, cards))
    return views


def greeting(name: str | None) -> str:
    """A reader's greeting by first name ("Hi Ana,"), or none when the name is no name."""
    first = first_name(name)
    return f"Hi {first}," if first else ""


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


def footer_context(settings: Settings, newsletter: Newsletter | None = None) -> dict[str, Any]:
    name, address = sender_of(settings, newsletter)
    reply_to = parse_mailbox(newsletter.reply_to) if newsletter and newsletter.reply_to else None
    return {
        "lang": (newsletter.language if newsletter else "") or "en",
        "publisher": name or address,
        "postal_address": one_line(settings.postal_address),
        "contact": reply_to[1] if reply_to else address,
        "placeholders": PLACEHOLDER_CONTEXT,
        "preheader_filler": PREHEADER_FILLER,
        "signup_url": links.signup_url(settings),
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
    note_html = clean_note(note)
    views = section_views(sections, edition_date, _zone(community))
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
        "edition_label": f"{edition_date:%A} {edition_date.day} {edition_date:%B %Y}",
        "web_url": web_url,
        "sections": views,
        "story_count": sum(len(view.cards) for view in views),
        "sponsors": sponsor_views(sponsors or {}),
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
    templates = email_templates()
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
    name = one_line(newsletter.name, 60)
    cards = sorted(
        (card for section in sections for card in section.stories), key=lambda card: card.rank
    )
    cards = [card for card in cards if plain_text(card.title)]
    if not cards:
        return name, f"The latest news from {name}"
    lead = _lead(community, sections, cards)
    rest = [plain_text(card.title) for card in cards if card is not lead]
    values = {
        "town": one_line(community.name, 60),
        "newsletter": name,
        "date": f"{edition_date:%A} {edition_date.day} {edition_date:%B}",
        "lead": plain_text(lead.title),
        "count": str(len(cards)),
        "more": str(len(rest)),
        "and_more": f", and {len(rest)} more" if rest else "",
        "next": " · ".join(rest[:3]),
    }
    subject = fill(newsletter.subject_template or DEFAULT_SUBJECT, values)
    preheader = fill(newsletter.preheader_template or DEFAULT_PREHEADER, values).strip()
    return _fit_subject(subject, values), truncate(preheader or values["lead"], PREHEADER_LIMIT)


def _lead(community: Community, sections: list[Section], cards: list[StoryCard]) -> StoryCard:
    """The town's best story of its own: first of its Local section, else its own copy of a
    regional story, else the edition's top story."""
    local = [card for s in sections if s.key == LOCAL for card in s.stories if card in cards]
    own = [card for card in cards if card.community_id == community.id]
    return min(local, key=lambda c: c.rank) if local else own[0] if own else cards[0]


def _fit_subject(subject: str, values: dict[str, str]) -> str:
    """At most SUBJECT_LIMIT characters, shortening the lead first so ", and 8 more" stays."""
    one = " ".join(subject.split())
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


def render_transactional(settings: Settings, kind: str, context: dict[str, Any]) -> RenderedEmail:
    """A confirm, welcome or unsubscribed email, inlined, with the reader's placeholders.

    `context` needs `newsletters` (list of names) and, for confirm, `confirm_url`; it may
    give `community_name` and `newsletter` (a Newsletter whose sender signs the email).
    Raises DigestError for an unknown kind, EmailTemplateError when a template or value is missing.
    """
    if kind not in TRANSACTIONAL_KINDS:
        raise DigestError(
            f"unknown transactional email {kind!r} (use {', '.join(TRANSACTIONAL_KINDS)})"
        )
    newsletter = context.get("newsletter")
    names = [one_line(name, 120) for name in context.get("newsletters", [])]
    values: dict[str, Any] = {
        **footer_context(settings, newsletter),
        "community_name": one_line(context.get("community_name"), 120),
        **{k: v for k, v in context.items() if k not in ("newsletters", "community_name")},
        "newsletters": names,
    }
    joined = ", ".join(names) or values["publisher"]
    subject = truncate(
        {
            "confirm": f"Please confirm your subscription to {joined}",
            "welcome": f"Welcome to {joined}",
            "unsubscribed": f"You have been unsubscribed from {joined}",
            "email_change": "Please confirm your new address",
            "reengage": f"Do you still want {joined}?",
        }[kind],
        SUBJECT_LIMIT,
    )
    values.update(title=subject, preheader=subject)
    templates = email_templates()
    html = inline_css(templates.render(f"{kind}.html", **values))
    text = normalize_text(templates.render(f"{kind}.txt", **values))
    return RenderedEmail(kind=kind, subject=subject, html=html, text=text)
