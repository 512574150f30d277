"""The audit log: who did what to what, and when. Append-only; shown in the admin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.accounts.users import Actor
from digest.models import AuditEntry, User


def record(
    session: Session,
    actor: Actor | User | str,
    action: str,
    target: str,
    detail: dict[str, Any] | None,
    now: datetime,
) -> AuditEntry:
    """Add one entry; `actor` is the signed-in user or a name ("cli", "system").

    `action` is a short verb phrase ("edition.pause", "suppression.add"), `target` what it
    acted on ("edition 12", an address). `now` comes from the caller's clock. Does not commit.
    """
    name = actor if isinstance(actor, str) else actor.email
    entry = AuditEntry(
        occurred_at=now,
        actor=name[:320],
        action=action[:64],
        target=target[:400],
        detail=dict(detail or {}),
    )
    session.add(entry)
    session.flush()
    return entry


def recent(
    session: Session, limit: int = 200, action: str = "", actor: str = ""
) -> list[AuditEntry]:
    """The newest entries first, optionally only of one action prefix or one actor."""
    query = select(AuditEntry).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return list(session.scalars(query.limit(limit)))
