"""Recording a batch's results: fenced on the run's token, in one statement per group.

A result is written only to a row the run still holds (`WHERE id = :id AND claim_token =
:mine`): a row another run took back keeps that run's result. A deferral is given its next
try (`DIGEST_RETRY_BASE_SECONDS`, doubling) or, past `DIGEST_RETRY_MAX_AGE_HOURS`, fails for
good. A hard bounce at send time is acted on exactly as a bounce report would be
(digest.bounces.actions): the address is suppressed and a BounceEvent is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, Table, bindparam, or_, update
from sqlalchemy.orm import Session

from digest.bounces.actions import apply_report
from digest.bounces.reports import BounceReport
from digest.models import BounceKind, Delivery, DeliveryStatus
from digest.sending.claims import Claimed
from digest.sending.delivery import Outcome
from digest.settings import Settings

MAX_BACKOFF = timedelta(hours=6)

DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_FIELDS = ("status", "last_reply", "message_id", "sent_at", "next_attempt_at")
_RECORD = (
    update(DELIVERIES)
    .where(
        DELIVERIES.c.id == bindparam("b_id"),
        DELIVERIES.c.claim_token == bindparam("b_token"),
        # A row cancelled while its message was out keeps `cancelled` unless the message did
        # go out (sent, or refused for good as a bounce): a deferral must not revive it.
        or_(
            DELIVERIES.c.status == DeliveryStatus.SENDING.value,
            bindparam("b_final", type_=Boolean),
        ),
    )
    .values(
        {name: bindparam(f"b_{name}", type_=DELIVERIES.c[name].type) for name in _FIELDS}
        | {
            "lease_until": None,
            "updated_at": bindparam("b_now", type_=DELIVERIES.c.updated_at.type),
        }
    )
)


def record(
    session: Session,
    settings: Settings,
    token: str,
    results: list[tuple[Claimed, Outcome]],
    now: datetime,
) -> None:
    """Write each outcome, fenced on the run's token, in one executemany; a deferral past the
    retry age becomes a failure; a hard bounce is acted on like a bounce report."""
    if not results:
        return
    rows = [_row(settings, token, item, outcome, now) for item, outcome in results]
    session.execute(_RECORD, rows)
    for item, outcome in results:
        if outcome.status == DeliveryStatus.BOUNCED:
            _bounced(session, settings, item, outcome, now)


def _row(
    settings: Settings, token: str, item: Claimed, outcome: Outcome, now: datetime
) -> dict[str, object]:
    row: dict[str, object] = {
        "b_id": item.delivery_id,
        "b_token": token,
        "b_status": outcome.status.value,
        "b_last_reply": outcome.reply,
        "b_message_id": outcome.message_id,
        "b_sent_at": now if outcome.status == DeliveryStatus.SENT else None,
        "b_next_attempt_at": None,
        "b_now": now,
        "b_final": outcome.status in (DeliveryStatus.SENT, DeliveryStatus.BOUNCED),
    }
    if outcome.status == DeliveryStatus.DEFERRED:
        if now - item.created_at >= timedelta(hours=settings.retry_max_age_hours):
            row["b_status"] = DeliveryStatus.FAILED.value
            row["b_last_reply"] = f"gave up after {item.attempts} attempts: {outcome.reply}"
        else:
            row["b_next_attempt_at"] = now + backoff(settings, item.attempts)
    return row


def _bounced(
    session: Session, settings: Settings, item: Claimed, outcome: Outcome, now: datetime
) -> None:
    """A refusal at send time that kills the address: the same action as a bounce report."""
    report = BounceReport(
        kind=BounceKind.HARD,
        message_ref=f"refusal:{item.delivery_id}:{item.attempts}",
        source="refusal at send time",
        recipient=item.email,
        delivery_id=item.delivery_id,
        status=outcome.bounce_status,
        diagnostic=outcome.reply,
    )
    apply_report(session, settings, report, now)


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Wait before the next try: retry_base_seconds doubled per attempt, at most six hours."""
    delay = timedelta(seconds=settings.retry_base_seconds * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)
