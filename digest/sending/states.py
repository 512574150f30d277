"""The states of an edition and of a delivery, and the edition's moves between them.

Every move of an edition is a compare-and-set in the database (`UPDATE ... WHERE status IN
(...)`): it happens only from the states it names, so two actors racing (a batch finishing,
an editor cancelling, the circuit breaker pausing) can never undo each other. In particular
nothing but `finish` leads to `sent`, and only from `sending`: a cancelled or paused edition
never becomes sent.

    ready ---start---> sending ---finish---> sent
      |                 |   ^                  |
      |              pause  resume             | reopen (retry-failed)
      |                 v   |                  v
      +---cancel---> paused / sending  ---cancel---> cancelled (final)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, update
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus

# A delivery in one of these states is finished with: it counts as done in every progress
# figure (the CLI, /admin, the stats) and keeps an edition from being finished until it is.
DONE_DELIVERY_STATES = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.FAILED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.SUPPRESSED,
        DeliveryStatus.CANCELLED,
    }
)
PENDING_DELIVERY_STATES = frozenset(set(DeliveryStatus) - DONE_DELIVERY_STATES)
# The order in which delivery states are listed to people.
DELIVERY_STATE_ORDER = (
    "queued",
    "sending",
    "deferred",
    "sent",
    "failed",
    "bounced",
    "suppressed",
    "cancelled",
)
# An edition in one of these states will send nothing more by itself.
FINAL_EDITION_STATES = frozenset(
    {EditionStatus.SENT, EditionStatus.CANCELLED, EditionStatus.SKIPPED}
)


@dataclass(frozen=True)
class Move:
    """One allowed move: from which states, to which one."""

    sources: frozenset[EditionStatus]
    target: EditionStatus


MOVES: Mapping[str, Move] = {
    "start": Move(frozenset({EditionStatus.READY, EditionStatus.SENDING}), EditionStatus.SENDING),
    "pause": Move(frozenset({EditionStatus.SENDING}), EditionStatus.PAUSED),
    "resume": Move(frozenset({EditionStatus.PAUSED}), EditionStatus.SENDING),
    "cancel": Move(
        frozenset({EditionStatus.READY, EditionStatus.SENDING, EditionStatus.PAUSED}),
        EditionStatus.CANCELLED,
    ),
    "finish": Move(frozenset({EditionStatus.SENDING}), EditionStatus.SENT),
    "reopen": Move(
        frozenset({EditionStatus.SENT, EditionStatus.SENDING, EditionStatus.PAUSED}),
        EditionStatus.SENDING,
    ),
}


def move(session: Session, edition_id: int, name: str, **values: object) -> bool:
    """Make move `name` if the edition is in one of its source states; True if it moved.

    `values` are other columns set in the same statement. The session's copy of the edition,
    if loaded, is refreshed. Does not commit.
    """
    allowed = MOVES[name]
    statement = (
        update(Edition)
        .where(Edition.id == edition_id, Edition.status.in_(allowed.sources))
        .values(status=allowed.target, **values)
        .execution_options(synchronize_session=False)
    )
    if name == "finish":  # only once nothing is pending, judged in the same statement
        statement = statement.where(
            ~exists().where(
                Delivery.edition_id == edition_id,
                Delivery.status.in_(PENDING_DELIVERY_STATES),
            )
        )
    moved: bool = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
    loaded = session.identity_map.get(session.identity_key(Edition, edition_id))
    if loaded is not None:
        session.refresh(loaded)
    return moved


def require_move(session: Session, edition: Edition, name: str, **values: object) -> None:
    """Make the move or raise a DigestError that says why not (for editors' controls)."""
    if not move(session, edition.id, name, **values):
        states = ", ".join(sorted(MOVES[name].sources))
        raise DigestError(
            f"cannot {name} edition {edition.id}: it is {edition.status} (only when {states})"
        )


def finish(session: Session, edition_id: int, now: datetime) -> bool:
    """Mark a sending edition sent once none of its deliveries is pending; True if it was."""
    return move(session, edition_id, "finish", finished_at=now)


# The moves an editor makes by hand (CLI and /admin), in the order they are offered.
CONTROLS = ("pause", "resume", "cancel")


def controls_for(status: EditionStatus | str) -> list[str]:
    """The editor's moves possible from `status`."""
    return [name for name in CONTROLS if status in MOVES[name].sources]


def done_count(counts: Mapping[str, int]) -> int:
    """How many deliveries of `counts` (by state name) are finished with."""
    return sum(counts.get(state.value, 0) for state in DONE_DELIVERY_STATES)
