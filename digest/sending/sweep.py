"""The sweep (beat, every DIGEST_DELIVERY_SWEEP_SECONDS): hand out again what nobody works on.

For each sending edition it finishes the edition when nothing is pending, and otherwise
returns id ranges to enqueue again for
- rows whose lease really ran out (`sending`, `lease_until < now`: their run died, since a
  live run renews its lease) and deferrals now due;
- queued rows whose batch message was lost (a broker restarted without its data): judged
  only when the broker's queue is empty (`broker_idle`) and no run holds a live lease on the
  edition, so a long queue of waiting batches is never enqueued twice.
Enqueuing a range twice is harmless: claims are exclusive, so the second finds nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus
from digest.sending import states
from digest.sending.delivery import plan_batches
from digest.settings import Settings


def retakeable(now: datetime) -> object:
    """Rows whose run is gone (lease run out) or whose retry is due."""
    return or_(
        and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
        and_(Delivery.status == DeliveryStatus.DEFERRED, Delivery.next_attempt_at <= now),
    )


def sweep(
    session: Session, settings: Settings, now: datetime, broker_idle: bool
) -> list[tuple[int, int, int]]:
    """(edition_id, first, last) ranges to enqueue again; finishes editions with nothing
    pending. Does not commit."""
    batches: list[tuple[int, int, int]] = []
    editions = session.scalars(select(Edition.id).where(Edition.status == EditionStatus.SENDING))
    for edition_id in list(editions):
        if states.finish(session, edition_id, now):
            continue
        if broker_idle and _lost(session, edition_id, now):
            ranges = plan_batches(session, edition_id, settings.batch_size, now)
        else:
            rows = retakeable(now)
            ranges = plan_batches(session, edition_id, settings.batch_size, now, rows)
        batches += [(edition_id, first, last) for first, last in ranges]
    return batches


def _lost(session: Session, edition_id: int, now: datetime) -> bool:
    """Queued rows that no batch will come for: nothing waits in the broker (the caller
    knows) and no run holds a live lease on the edition."""
    queued = exists().where(
        Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED
    )
    working = exists().where(
        Delivery.edition_id == edition_id,
        Delivery.status == DeliveryStatus.SENDING,
        Delivery.lease_until >= now,
    )
    return bool(session.scalar(select(and_(queued, ~working))))
