"""An edition's progress, read once from the database: what the CLI and /admin both show.

Status, pause reason, recipients, counts by delivery state and the editor's possible moves
come from one read, so a page never shows "ready, 0 recipients" beside "1,070 of 3,009
sent". Counts include the history folded by retention (digest.sending.retention), so an old
edition keeps its figures after its delivery rows are gone.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.models import Delivery, Edition, EditionTownCount
from digest.sending import states
from digest.sending.stats import EditionProgress


def delivery_counts(session: Session, edition_id: int) -> Counter[str]:
    """How many deliveries of the edition are in each state (kept rows and folded counts)."""
    live = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    ).all()
    folded = session.execute(
        select(EditionTownCount.status, func.sum(EditionTownCount.count))
        .where(EditionTownCount.edition_id == edition_id)
        .group_by(EditionTownCount.status)
    ).all()
    counts: Counter[str] = Counter()
    for status, count in [*live, *folded]:
        counts[str(status)] += int(count or 0)
    return counts


def edition_progress(session: Session, edition: Edition) -> EditionProgress:
    """One edition's progress and controls, as of now."""
    session.refresh(edition)
    counts = delivery_counts(session, edition.id)
    return EditionProgress(
        edition.id,
        edition.newsletter.slug,
        edition.slot,
        str(edition.status),
        edition.recipient_count,
        dict(counts),
        edition.pause_reason,
    )


def controls(progress: EditionProgress) -> list[str]:
    """The moves an editor can make now (pause, resume, cancel)."""
    return states.controls_for(progress.status)
