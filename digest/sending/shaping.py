"""Shaping an edition at the editor's desk: record a pick, then freeze the segments again.

Each change re-renders the segments it touches at once, so the preview an editor looks at is
the very HTML and text that will be sent. An edition can be shaped until its first town starts
sending; a change to an approved edition withdraws the approval (the editor approves what
they saw). Core functions: they take a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from digest.curation.curate import Curation, curate, section_title, story_cards
from digest.curation.picks import Shaped, clean_note, picks_for, shape
from digest.curation.sections import SECTION_ORDER, Section, StoryCard, sections_to_json
from digest.errors import DigestError, NotFoundError
from digest.models import (
    Community,
    Delivery,
    Edition,
    EditionPick,
    EditionSegment,
    EditionStatus,
    PickKind,
    Story,
)
from digest.render.render import render_segment
from digest.settings import Settings
from digest.sponsors.choose import choose_slots, placements

# Next candidates kept per section for swaps (curated on the first swap).
SPARES = 5
EDITABLE = (
    EditionStatus.BUILDING,
    EditionStatus.AWAITING,
    EditionStatus.READY,
    EditionStatus.SKIPPED,
)
ALL_DROPPED = "every story was dropped by an editor"


def curated(curation: Curation, at: datetime) -> dict[str, object]:
    """What a segment keeps of curation: its sections and the time they were curated for."""
    return {"sections": sections_to_json(curation.sections), "at": at.isoformat()}


def _with_spares(session: Session, edition: Edition, segment: EditionSegment) -> None:
    """Each section's next candidates, curated once, on the first swap (not at every build):
    the same curation as of the same time, with higher caps."""
    kept = segment.curated
    if "spares" in kept or "at" not in kept:
        return
    at = datetime.fromisoformat(str(kept["at"]))
    candidates = curate(
        session, edition.newsletter, segment.community, at, slot=edition.slot, spare=SPARES
    )
    chosen = {card["cluster_key"] for section in kept["sections"] for card in section["stories"]}
    spares = {
        section.key: [c.to_json() for c in section.stories if c.cluster_key not in chosen]
        for section in candidates.sections
    }
    segment.curated = {**kept, "spares": spares}  # a new dict: JSON columns track assignment


def freeze(
    session: Session,
    settings: Settings,
    edition: Edition,
    segment: EditionSegment,
    town: Community,
    skip_reason: str | None = None,
) -> None:
    """Apply the edition's picks for the town to what curation chose, and render the result.

    The one place a segment is rendered: at build, after each desk change and after a sponsor
    swap. The town's sponsor slots are chosen here, rendered once with the segment and kept
    as its placements (what impressions are counted from). Does not commit.
    """
    if not segment.curated and segment.sections:  # frozen before the desk existed: keep it
        segment.curated = {"sections": list(segment.sections), "spares": {}}
    base = [Section.from_json(item) for item in segment.curated.get("sections", [])]
    spares = {
        key: [StoryCard.from_json(card) for card in cards]
        for key, cards in segment.curated.get("spares", {}).items()
    }
    picks = picks_for(session, edition.id, town.id)
    # Without picks the sections stay as curated: a reader's mix may hold one Local per town.
    shaped = (
        shape(base, spares, picks, _added(session, picks), lambda k: section_title(k, town))
        if picks
        else Shaped(base, "")
    )
    if segment.placements:
        segment.placements.clear()
        session.flush()  # the old rows go before new ones take their (segment, position)
    if not shaped.sections:
        segment.skip_reason = skip_reason or (ALL_DROPPED if base else "nothing to send")
        segment.sections, segment.story_ids, segment.cluster_keys = [], [], []
        segment.subject = segment.preheader = segment.html = segment.text = ""
        return
    sponsors = choose_slots(session, edition.newsletter, town, edition.slot.date())
    rendered = render_segment(
        settings,
        edition.newsletter,
        town,
        shaped.sections,
        edition.slot.date(),
        edition_id=edition.id,
        sponsors=sponsors,
        note=shaped.note,
    )
    segment.placements.extend(placements(sponsors))
    kept = rendered.sections
    segment.skip_reason = None
    segment.sections = sections_to_json(kept)
    segment.story_ids = [card.story_id for section in kept for card in section.stories]
    segment.cluster_keys = [card.cluster_key for section in kept for card in section.stories]
    segment.subject = rendered.subject
    segment.preheader = rendered.preheader
    segment.html = rendered.html
    segment.text = rendered.text
    segment.dropped_stories = rendered.dropped_stories


def _added(session: Session, picks: list[EditionPick]) -> dict[int, StoryCard]:
    ids = [p.story_id for p in picks if p.kind is PickKind.ADD and p.story_id is not None]
    stories = list(session.scalars(select(Story).where(Story.id.in_(ids)))) if ids else []
    return {card.story_id: card for card in story_cards(session, stories, 0)}


# Guarding


def require_editable(session: Session, edition: Edition) -> None:
    """Raises DigestError unless no town of the edition has started sending."""
    started = session.scalar(select(exists().where(Delivery.edition_id == edition.id)))
    begun = any(segment.started_at is not None for segment in edition.segments)
    if edition.status not in EDITABLE or started or begun:
        raise DigestError(
            f"edition {edition.id} is {edition.status} and has begun sending: "
            "it can no longer be changed"
        )


def segment_for(session: Session, edition: Edition, town: Community) -> EditionSegment:
    segment = session.scalar(
        select(EditionSegment).where(
            EditionSegment.edition_id == edition.id,
            EditionSegment.community_id == town.id,
            EditionSegment.audience == "",  # the town's own; its readers' mixes follow it
        )
    )
    if segment is None:
        raise NotFoundError("segment", f"edition {edition.id} has no segment for {town.slug!r}")
    return segment


def _changed(
    session: Session, settings: Settings, edition: Edition, town: Community | None
) -> None:
    """Freeze again every segment the change touches; withdraw an approval; fix the status."""
    for segment in edition.segments:
        if town is None or segment.community_id == town.id:
            freeze(session, settings, edition, segment, segment.community, segment.skip_reason)
    if edition.approved_at is not None:
        edition.approved_at, edition.approved_by = None, None
    held = edition.newsletter.hold_for_approval
    if any(segment.skip_reason is None for segment in edition.segments):
        edition.status = EditionStatus.AWAITING if held else EditionStatus.READY
        edition.skip_reason = None
    else:
        edition.status = EditionStatus.SKIPPED
        edition.skip_reason = ALL_DROPPED
    session.flush()


def _record(
    session: Session,
    settings: Settings,
    edition: Edition,
    town: Community | None,
    pick: EditionPick,
) -> EditionPick:
    require_editable(session, edition)
    pick.edition_id = edition.id
    pick.community_id = town.id if town is not None else None
    session.add(pick)
    session.flush()
    _changed(session, settings, edition, town)
    return pick


# The editor's changes (town None: every town of the edition)


def write_note(
    session: Session,
    settings: Settings,
    edition: Edition,
    town: Community | None,
    text: str,
    by: str,
    now: datetime,
) -> EditionPick:
    """Set the note (an empty text clears it)."""
    pick = EditionPick(kind=PickKind.NOTE, note=clean_note(text), created_by=by, created_at=now)
    return _record(session, settings, edition, town, pick)


def _story_pick(
    kind: PickKind, story: Story, by: str, now: datetime, **fields: object
) -> EditionPick:
    return EditionPick(
        kind=kind,
        story_id=story.id,
        cluster_key=story.cluster_key,
        created_by=by,
        created_at=now,
        **fields,
    )


def drop(
    session: Session,
    settings: Settings,
    edition: Edition,
    town: Community | None,
    story: Story,
    by: str,
    now: datetime,
) -> EditionPick:
    return _record(session, settings, edition, town, _story_pick(PickKind.DROP, story, by, now))


def swap(
    session: Session,
    settings: Settings,
    edition: Edition,
    town: Community | None,
    story: Story,
    by: str,
    now: datetime,
) -> EditionPick:
    """The story leaves; its section's next candidate takes its place."""
    for segment in edition.segments:
        if town is None or segment.community_id == town.id:
            _with_spares(session, edition, segment)
    return _record(session, settings, edition, town, _story_pick(PickKind.SWAP, story, by, now))


def add(
    session: Session,
    settings: Settings,
    edition: Edition,
    town: Community | None,
    story: Story,
    section: str,
    by: str,
    now: datetime,
) -> EditionPick:
    if section not in SECTION_ORDER:
        raise DigestError(f"no section {section!r} (use {', '.join(SECTION_ORDER)})")
    pick = _story_pick(PickKind.ADD, story, by, now, section=section)
    return _record(session, settings, edition, town, pick)


def pin(
    session: Session,
    settings: Settings,
    edition: Edition,
    town: Community | None,
    story: Story,
    by: str,
    now: datetime,
    position: int | None = None,
) -> EditionPick:
    """Pin the story at the head of its section, after the pins already there."""
    place = position if position is not None else _next_position(session, edition, town)
    pick = _story_pick(PickKind.PIN, story, by, now, position=place)
    return _record(session, settings, edition, town, pick)


def move(
    session: Session,
    settings: Settings,
    edition: Edition,
    town: Community,
    story: Story,
    direction: Literal["up", "down"],
    by: str,
    now: datetime,
) -> None:
    """Move a story one place up or down its section in this town: the order becomes pins."""
    require_editable(session, edition)
    segment = segment_for(session, edition, town)
    for section in segment.sections:
        keys = [card["cluster_key"] for card in section["stories"]]
        if story.cluster_key not in keys:
            continue
        at = keys.index(story.cluster_key)
        other = at - 1 if direction == "up" else at + 1
        if not 0 <= other < len(keys):
            return  # already first (or last): nothing to move
        keys[at], keys[other] = keys[other], keys[at]
        session.execute(
            delete(EditionPick).where(
                EditionPick.edition_id == edition.id,
                EditionPick.community_id == town.id,
                EditionPick.kind == PickKind.PIN,
                EditionPick.cluster_key.in_(keys),
            )
        )
        for place, key in enumerate(keys[: max(at, other) + 1]):
            session.add(
                EditionPick(
                    edition_id=edition.id,
                    community_id=town.id,
                    kind=PickKind.PIN,
                    cluster_key=key,
                    position=place,
                    created_by=by,
                    created_at=now,
                )
            )
        session.flush()
        _changed(session, settings, edition, town)
        return
    raise DigestError(f"story {story.id} is not in the edition for {town.slug!r}")


def _next_position(session: Session, edition: Edition, town: Community | None) -> int:
    query = select(EditionPick.position).where(
        EditionPick.edition_id == edition.id, EditionPick.kind == PickKind.PIN
    )
    places = [p for p in session.scalars(query) if p is not None]
    return max(places, default=-1) + 1


def get_story(session: Session, story_id: int) -> Story:
    story = session.get(Story, story_id)
    if story is None:
        raise NotFoundError("story", f"no story {story_id}")
    return story
