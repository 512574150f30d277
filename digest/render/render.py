"""Rendering: an edition segment's sections become inlined HTML and text, once per town.

Jinja2 renders the newsletter's template with the stories as `digest.render.views` shows
them, premailer inlines its CSS once, and the lowest-ranked stories are dropped until the
HTML fits Gmail's budgets. The output keeps the reader's placeholders
(`digest.render.placeholders`), which `digest.render.mime` fills per reader, so neither
Jinja2 nor premailer ever runs per reader.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from markupsafe import Markup
from premailer import Premailer

from digest.curation.picks import clean_note
from digest.curation.sections import Section
from digest.errors import DigestError
from digest.i18n import (
    long_date,
    number,
)
from digest.i18n import supported as supported_language
from digest.ingest.click_links import SPONSOR, WEB_VERSION
from digest.ingest.story_text import (
    one_line,
    plain_text,
    safe_url,
)
from digest.models import Community, Newsletter
from digest.render import links
from digest.render.placeholders import (
    PLACEHOLDER_CONTEXT,
    email_html_bytes,
    unforged,
    unforged_fields,
    unforged_section,
    web_version_html,
)
from digest.render.senders import parse_mailbox, sender_of
from digest.render.sponsor_views import sponsor_views
from digest.render.subjects import subject_and_preheader
from digest.render.templates import email_templates
from digest.render.views import language_of_newsletter, section_views, tracked_views, zone_of
from digest.settings import Settings
from digest.sponsors.slots import SponsorSlot

log = logging.getLogger(__name__)

# Gmail clips an HTML part past about 102 KB and ignores a <style> past 16 KB; keep a margin.
HTML_BUDGET_BYTES = 100_000
STYLE_BUDGET_BYTES = 16_000

# Keeps the body's first words out of the inbox preview after the preheader.
PREHEADER_FILLER = "&#847;&zwnj;&nbsp;" * 40

STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)
NOTE_BREAKS = re.compile(r"</p>|<br\s*/?>", re.I)  # paragraphs of the note's text part
DOCTYPE = re.compile(r"^\s*<!DOCTYPE[^>]*>\s*", re.I)


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


# What every email's footer shows


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


def style_bytes(html: str) -> int:
    return sum(len(block.encode("utf-8")) for block in STYLE_BLOCK.findall(html))


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
    sections = [unforged_section(section) for section in sections]
    sponsors = {slot: unforged_fields(ad) for slot, ad in (sponsors or {}).items()}
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
    views = section_views(sections, edition_date, zone_of(community), language)
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


def normalize_text(text: str) -> str:
    """Text part tidied: LF line ends, no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return tidy.strip("\n") + "\n"
