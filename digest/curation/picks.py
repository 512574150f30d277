"""Editors' picks: what an editor changed in one edition, for one town or for all its towns.

Picks never re-curate. A segment keeps what curation chose (and the next candidates of each
section); `shape` applies the edition's picks to that, in the order they were made:

- a note: a short intro above the stories (the town's own note wins over the all-towns one);
- drop: the story's cluster (every copy) leaves the edition;
- swap: the story leaves and the section's next candidate not already in the edition takes
  its place;
- add: a story the editor found (or fetched by URL) joins a section;
- pin: the story goes to the head of its section, pins in the order they were placed, and
  shows as an editor's pick.

Reads only; the shell decides when to record picks and re-render (digest.sending.shaping).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import nh3
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from digest.curation.sections import SECTION_ORDER, Section, StoryCard
from digest.errors import DigestError
from digest.models import EditionPick, PickKind

NOTE_LIMIT = 1500  # characters of HTML: a short intro, not an article
NOTE_TAGS = {"p", "br", "b", "strong", "i", "em", "a"}
NOTE_ATTRIBUTES = {"a": {"href"}}


def clean_note(text: str) -> str:
    """The note as safe HTML: a few inline tags, http(s) links only; raises when too long."""
    cleaned = nh3.clean(
        text.strip(),
        tags=NOTE_TAGS,
        attributes=NOTE_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener",
    ).strip()
    if len(cleaned) > NOTE_LIMIT:
        raise DigestError(
            f"the note is {len(cleaned)} characters; keep it under {NOTE_LIMIT} (a short intro)"
        )
    return cleaned


@dataclass(frozen=True)
class Shaped:
    """A town's edition after the picks: its sections and its note (safe HTML, or "")."""

    sections: list[Section]
    note: str


def picks_for(session: Session, edition_id: int, community_id: int) -> list[EditionPick]:
    """The picks that apply to one town: its own and the all-towns ones, oldest first."""
    return list(
        session.scalars(
            select(EditionPick)
            .where(
                EditionPick.edition_id == edition_id,
                or_(EditionPick.community_id == community_id, EditionPick.community_id.is_(None)),
            )
            .order_by(EditionPick.id)
        )
    )


def shape(
    base: list[Section],
    spares: dict[str, list[StoryCard]],
    picks: list[EditionPick],
    added: dict[int, StoryCard],
    title_of: Callable[[str], str],
) -> Shaped:
    """Apply `picks` to what curation chose. `added` holds a card per added story id."""
    cards: dict[str, list[StoryCard]] = {key: [] for key in SECTION_ORDER}
    titles = {key: title_of(key) for key in SECTION_ORDER}
    for section in base:
        cards.setdefault(section.key, []).extend(section.stories)
        titles[section.key] = section.title
    gone: set[str] = set()
    for pick in picks:
        key = pick.cluster_key or ""
        if pick.kind is PickKind.DROP:
            _remove(cards, key)
            gone.add(key)
        elif pick.kind is PickKind.SWAP:
            _swap(cards, spares, key, gone)
        elif pick.kind is PickKind.ADD and pick.story_id in added:
            card = added[pick.story_id]
            _remove(cards, card.cluster_key)
            gone.discard(card.cluster_key)
            cards.setdefault(pick.section or SECTION_ORDER[0], []).append(card)
    pinned = _pins(picks)
    sections = []
    rank = 0
    for key in [*SECTION_ORDER, *(k for k in cards if k not in SECTION_ORDER)]:
        ordered = _ordered(cards.get(key, []), pinned)
        kept = []
        for card in ordered:
            chosen = card.editors_pick or card.cluster_key in pinned
            kept.append(replace(card, rank=rank, editors_pick=chosen))
            rank += 1
        if kept:
            sections.append(Section(key, titles.get(key, key), tuple(kept)))
    return Shaped(sections, _note(picks))


def _remove(cards: dict[str, list[StoryCard]], cluster_key: str) -> None:
    for key, listed in cards.items():
        cards[key] = [card for card in listed if card.cluster_key != cluster_key]


def _swap(
    cards: dict[str, list[StoryCard]],
    spares: dict[str, list[StoryCard]],
    cluster_key: str,
    gone: set[str],
) -> None:
    gone.add(cluster_key)
    present = {card.cluster_key for listed in cards.values() for card in listed}
    for key, listed in cards.items():
        for index, card in enumerate(listed):
            if card.cluster_key != cluster_key:
                continue
            spare = next(
                (
                    candidate
                    for candidate in spares.get(key, [])
                    if candidate.cluster_key not in present and candidate.cluster_key not in gone
                ),
                None,
            )
            if spare is None:
                del listed[index]
            else:
                listed[index] = spare
            return


def _pins(picks: list[EditionPick]) -> dict[str, int]:
    """Each pinned cluster's place; a town's own pin overrides an all-towns one."""
    pins = [p for p in picks if p.kind is PickKind.PIN]
    ordered = sorted(pins, key=lambda p: (p.community_id is not None, p.id))
    places: dict[str, int] = {}
    for pick in ordered:
        if pick.position is None:
            places.pop(pick.cluster_key or "", None)  # unpinned
        else:
            places[pick.cluster_key or ""] = pick.position
    return places


def _ordered(listed: list[StoryCard], pinned: dict[str, int]) -> list[StoryCard]:
    heads = [c for c in listed if c.cluster_key in pinned]
    heads.sort(key=lambda c: pinned[c.cluster_key])
    return heads + [c for c in listed if c.cluster_key not in pinned]


def current_note(session: Session, edition_id: int, community_id: int) -> str:
    """The note a town's edition shows now (safe HTML, or "")."""
    return _note(picks_for(session, edition_id, community_id))


def _note(picks: list[EditionPick]) -> str:
    """The latest note of the town, else the latest all-towns note ("" clears a note)."""
    own = [p for p in picks if p.kind is PickKind.NOTE and p.community_id is not None]
    shared = [p for p in picks if p.kind is PickKind.NOTE and p.community_id is None]
    latest = own or shared
    return clean_note(latest[-1].note or "") if latest else ""
