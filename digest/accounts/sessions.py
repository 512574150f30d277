"""Login sessions, kept server-side: the browser holds a random id, the database its sha256.

A new id at every login (no session fixation), and logout or disabling the account deletes
the row, so a stolen cookie stops working at once. Each session has its own form token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from digest.models import LoginSession, User

# A session lasts this long from login, however active: an editor signs in once a workday.
LIFETIME = timedelta(hours=12)
MAX_ID_LENGTH = 100


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(
    session: Session, user: User, now: datetime, ip: str | None
) -> tuple[str, LoginSession]:
    """A new session for the user: (the id for the cookie, the row). Drops expired rows."""
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    row = LoginSession(
        id=_key(session_id),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + LIFETIME,
        ip=(ip or "")[:64] or None,
    )
    session.add(row)
    session.flush()
    return session_id, row


def find_session(session: Session, session_id: str | None, now: datetime) -> LoginSession | None:
    """The live session of this id with an active user, else None."""
    if not session_id or len(session_id) > MAX_ID_LENGTH:
        return None
    row = session.scalar(
        select(LoginSession).where(
            LoginSession.id == _key(session_id), LoginSession.expires_at > now
        )
    )
    if row is None or not row.user.active:
        return None
    return row


def end_session(session: Session, session_id: str | None) -> None:
    """Forget the session (logout); no error when there is none."""
    if session_id and len(session_id) <= MAX_ID_LENGTH:
        session.execute(delete(LoginSession).where(LoginSession.id == _key(session_id)))


def end_sessions_of(session: Session, user: User) -> None:
    """Sign a user out everywhere (disabled account, new password)."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
