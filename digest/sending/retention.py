"""Bounded history: deliveries of old editions become counts, then are deleted in small bites.

At a million readers a day the deliveries table grows by 365 million rows a year. An edition
that finished more than DIGEST_DELIVERY_RETENTION_DAYS ago (sent or cancelled) is first
folded: its deliveries counted per town and state into `EditionTownCount`, in the same
transaction that sets `Edition.folded_at`, so folding happens once. Its rows are then deleted
DIGEST_DELIVERY_PURGE_BATCH at a time, one short transaction each (no long lock, no long
WAL burst), so the purge runs beside sending. Every figure (CLI, /admin) adds the folded
counts to the rows still kept (digest.sending.progress), so an old edition keeps its numbers.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import Clock
from digest.models import Delivery, Edition, EditionSegment, EditionStatus, EditionTownCount
from digest.settings import Settings

log = logging.getLogger(__name__)

# Editions whose deliveries may be folded once old enough: nothing more is sent for them.
FOLDABLE = (EditionStatus.SENT, EditionStatus.CANCELLED)


def editions_to_fold(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Finished editions older than the retention period whose deliveries are not folded."""
    cutoff = now - timedelta(days=settings.delivery_retention_days)
    query = (
        select(Edition.id)
        .where(
            Edition.status.in_(FOLDABLE),
            Edition.folded_at.is_(None),
            func.coalesce(Edition.finished_at, Edition.created_at) < cutoff,
        )
        .order_by(Edition.id)
    )
    return list(session.scalars(query))


def fold(session: Session, edition_id: int, now: datetime) -> int:
    """Count the edition's deliveries per town and state into EditionTownCount and mark it
    folded; returns the number of deliveries counted. Does not commit."""
    counted = (
        select(
            literal(edition_id),
            EditionSegment.community_id,
            Delivery.status,
            func.count(),
        )
        .join(EditionSegment, EditionSegment.id == Delivery.segment_id)
        .where(Delivery.edition_id == edition_id)
        .group_by(EditionSegment.community_id, Delivery.status)
    )
    columns = ["edition_id", "community_id", "status", "count"]
    session.execute(insert(EditionTownCount).from_select(columns, counted))
    session.execute(
        update(Edition)
        .where(Edition.id == edition_id)
        .values(folded_at=now)
        .execution_options(synchronize_session=False)
    )
    total = select(func.sum(EditionTownCount.count)).where(
        EditionTownCount.edition_id == edition_id
    )
    return int(session.scalar(total) or 0)


def purge_some(session: Session, edition_id: int, size: int) -> int:
    """Delete at most `size` deliveries of a folded edition; returns how many. Does not commit."""
    some = select(Delivery.id).where(Delivery.edition_id == edition_id).limit(size)
    result = session.execute(
        delete(Delivery)
        .where(Delivery.id.in_(some.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def folded_with_rows(session: Session) -> list[int]:
    """Folded editions that still have delivery rows (a purge stopped half way)."""
    has_rows = select(Delivery.id).where(Delivery.edition_id == Edition.id).exists()
    query = select(Edition.id).where(Edition.folded_at.is_not(None), has_rows)
    return list(session.scalars(query.order_by(Edition.id)))


def purge_old_deliveries(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> dict[str, int]:
    """Fold every edition past retention, then delete its rows a batch per transaction.

    Safe to run again, and to stop at any point: folding is once per edition, and a purge
    that stopped half way carries on next time. Returns what it did.
    """
    done: Counter[str] = Counter()
    with factory() as session:
        with session.begin():
            to_fold = editions_to_fold(session, settings, clock.now())
        for edition_id in to_fold:
            with session.begin():
                done["deliveries folded"] += fold(session, edition_id, clock.now())
                done["editions folded"] += 1
        with session.begin():
            to_purge = folded_with_rows(session)
        for edition_id in to_purge:
            while True:
                with session.begin():
                    deleted = purge_some(session, edition_id, settings.delivery_purge_batch)
                done["deliveries deleted"] += deleted
                if deleted < settings.delivery_purge_batch:
                    break
    if done:
        log.info("delivery history purged", extra=dict(done))
    return dict(done)
