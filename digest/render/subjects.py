"""A segment's subject and preheader: the town's own lead story first, from the newsletter's
templates (`digest.curation.subjects`), within the inbox's limits."""

from __future__ import annotations

import logging
import re
from datetime import date

from digest.curation.sections import LOCAL, Section, StoryCard
from digest.curation.subjects import DEFAULT_PREHEADER, DEFAULT_SUBJECT, fill
from digest.i18n import (
    long_date,
    number,
    translated,
    translated_plural,
)
from digest.ingest.story_text import (
    one_line,
    truncate,
)
from digest.models import Community, Newsletter
from digest.render.views import language_of_newsletter

log = logging.getLogger(__name__)

# Runs of white space but the no-break space, which French keeps before a colon.
SPACES = re.compile(r"[^\S\u00a0]+")
SUBJECT_LIMIT = 110
PREHEADER_LIMIT = 140


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
