"""Fenced claims: a batch run owns its deliveries by a token, renews its lease, and writes
nothing it no longer owns.

Guarantees:
- `claim` marks the claimable rows of a range `sending` with this run's token and a lease
  (FOR UPDATE SKIP LOCKED on PostgreSQL: two runs never take the same row).
- Every later write of the run names its token: `renew` (the heartbeat) and `release` touch
  only rows `WHERE claim_token = :mine`, and so does recording results (delivery.record). A
  row another run took back is never overwritten.
- A row is taken back only when its lease really ran out (`lease_until < now`). A live run
  renews its lease every fifth of it from a thread of its own, so a run slowed by the relay or
  by the send-rate limiter keeps its rows; and it sends a message only while the lease it last
  confirmed has at least half its length left (`Heartbeat.holds`), so a run whose heartbeat
  cannot reach the database stops sending well before anyone else may start.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, bindparam, exists, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import Clock
from digest.db import is_sqlite
from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus, Subscriber
from digest.readers.suppressions import reader_suppressed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A delivery a batch has claimed, with what it needs to send it."""

    delivery_id: int
    segment_id: int
    subscriber_id: int
    email: str
    email_hash: str | None
    name: str | None
    attempts: int
    created_at: datetime
    click_opt_out: bool = False  # the reader's "do not count my clicks" (docs/analytics.md)


def new_token() -> str:
    """A claim token: unique per batch run (128 random bits)."""
    return secrets.token_hex(16)


def claimable(now: datetime) -> object:
    """Rows a batch may take: queued, deferred and due, or `sending` with a lease run out."""
    return or_(
        Delivery.status == DeliveryStatus.QUEUED,
        and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
        and_(Delivery.status == DeliveryStatus.DEFERRED, Delivery.next_attempt_at <= now),
    )


def claim(
    session: Session,
    edition_id: int,
    first: int,
    last: int,
    token: str,
    now: datetime,
    lease: timedelta,
) -> list[Claimed]:
    """Take the claimable deliveries in [first, last] for the run `token` until now + lease."""
    candidates = (
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.id.between(first, last), claimable(now))  # type: ignore[arg-type]
        .order_by(Delivery.id)
    )
    if not is_sqlite(session):
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=DeliveryStatus.SENDING,
            claim_token=token,
            lease_until=now + lease,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.segment_id,
            Delivery.subscriber_id,
            Subscriber.email,
            Subscriber.email_hash,
            Subscriber.name,
            Delivery.attempts,
            Delivery.created_at,
            Subscriber.click_opt_out,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    ).all()
    return [Claimed(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6], r[7], r[8]) for r in rows]


DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
EDITIONS: Table = Edition.__table__  # type: ignore[assignment]

# Built once, not per call: a checkpoint runs one every few messages, and building an UPDATE
# with an IN list and an EXISTS costs more CPU than the database spends running it.
_HELD = and_(
    DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)),
    DELIVERIES.c.claim_token == bindparam("b_token"),
    DELIVERIES.c.status == DeliveryStatus.SENDING.value,
)
_LEASE = {"lease_until": bindparam("b_until", type_=DELIVERIES.c.lease_until.type)}
_RENEW = update(DELIVERIES).where(_HELD).values(_LEASE).returning(DELIVERIES.c.id)
_RENEW_GROUP = (
    update(DELIVERIES)
    .where(
        _HELD,
        exists().where(
            EDITIONS.c.id == bindparam("b_edition"),
            EDITIONS.c.status == EditionStatus.SENDING.value,
        ),
    )
    .values(_LEASE)
    .returning(DELIVERIES.c.id, reader_suppressed(DELIVERIES.c.subscriber_id))
)


def renew(session: Session, token: str, delivery_ids: Iterable[int], until: datetime) -> set[int]:
    """Extend the lease of the rows this run still holds; returns their ids (the others are
    gone: taken back, cancelled or recorded)."""
    ids = list(delivery_ids)
    if not ids:
        return set()
    values = {"b_ids": ids, "b_token": token, "b_until": until}
    return set(session.execute(_RENEW, values).scalars())


def renew_group(
    session: Session, token: str, delivery_ids: list[int], until: datetime, edition_id: int
) -> dict[int, bool]:
    """Before a group is sent, in one round trip: extend the lease of its rows this run still
    holds, if the edition still sends; returns each such row's id and whether its reader's
    address is now suppressed (a bounce or complaint may have come in since the claim)."""
    if not delivery_ids:
        return {}
    values = {"b_ids": delivery_ids, "b_token": token, "b_until": until, "b_edition": edition_id}
    return {row[0]: bool(row[1]) for row in session.execute(_RENEW_GROUP, values)}


def release(session: Session, token: str, delivery_ids: list[int], now: datetime) -> None:
    """Give this run's claimed, unsent rows back to the queue (pause), undoing their attempt."""
    if not delivery_ids:
        return
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(delivery_ids),
            Delivery.claim_token == token,
            Delivery.status == DeliveryStatus.SENDING,
        )
        .values(
            status=DeliveryStatus.QUEUED,
            claim_token=None,
            lease_until=None,
            attempts=Delivery.attempts - 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


class Heartbeat:
    """Renews a run's lease from a thread of its own while the run sends.

    `holds()` says whether the lease last confirmed by the database still has at least half
    its length to run: the sender checks it before each message, so a run cut off from the
    database (a restart, a network split) stops sending long before its rows can be taken.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        token: str,
        delivery_ids: Iterable[int],
        lease: timedelta,
        clock: Clock,
    ) -> None:
        self.factory = factory
        self.token = token
        self.lease = lease
        self.clock = clock
        self.interval = max(lease.total_seconds() / 5, 0.05)
        self._held = set(delivery_ids)
        self._lock = threading.Lock()
        self._until = clock.now() + lease  # as claimed, in the claim's own transaction
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{token[:8]}", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def holds(self) -> bool:
        """True while the confirmed lease has at least half its length left."""
        with self._lock:
            until = self._until
        return until - self.clock.now() >= self.lease / 2

    def confirmed(self, asked: set[int], owned: set[int], asked_at: datetime) -> None:
        """Record a committed renewal of the rows `asked`: `owned` are still this run's, until
        asked_at + lease; the others are gone and no longer renewed."""
        with self._lock:
            self._held -= asked - owned
            self._until = max(self._until, asked_at + self.lease)

    def forget(self, delivery_ids: Iterable[int]) -> None:
        """Stop renewing rows that are recorded or released."""
        with self._lock:
            self._held.difference_update(delivery_ids)

    def renew_in(self, session: Session) -> tuple[set[int], set[int], datetime]:
        """Renew every row held, in the caller's transaction; returns the rows asked, those
        still held, and when it asked. Call `confirmed` with the three once that transaction
        has committed."""
        with self._lock:
            asked = set(self._held)
        when = self.clock.now()
        return asked, renew(session, self.token, asked, when + self.lease), when

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.factory() as session:
                    with session.begin():
                        renewal = self.renew_in(session)
                    self.confirmed(*renewal)
            except SQLAlchemyError as exc:  # the database is away: try again next beat
                log.warning("lease renewal failed, retrying: %s", str(exc).splitlines()[0])
