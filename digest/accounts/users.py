"""Users: admins (everything) and editors (editorial work, optionally limited to towns)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.accounts.passwords import hash_password, needs_rehash, verify
from digest.errors import AlreadyExistsError, DigestError, NotFoundError
from digest.models import Community, Role, User


class NotAllowedError(DigestError):
    """The signed-in user may not do this (an editor at an admin's task, or another town)."""


@dataclass(frozen=True)
class Actor:
    """A signed-in user as the shells pass it around, detached from any database session."""

    id: int
    email: str
    name: str
    role: Role
    # Empty: every town.
    town_ids: frozenset[int]
    town_names: tuple[str, ...]

    @classmethod
    def of(cls, user: User) -> Actor:
        towns = sorted(user.towns, key=lambda town: town.name)
        return cls(
            user.id,
            user.email,
            user.name,
            Role(user.role),
            frozenset(town.id for town in towns),
            tuple(town.name for town in towns),
        )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def label(self) -> str:
        return self.name or self.email


def login_name(raw: str) -> str:
    """An account's address in its one stored form (trimmed, lower-case)."""
    return raw.strip().lower()


def _checked_address(raw: str) -> str:
    try:
        validate_email(raw.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise DigestError(f"{raw.strip()!r} is not an email address ({exc})") from None
    return login_name(raw)


def add_user(
    session: Session,
    email: str,
    password: str,
    role: Role = Role.EDITOR,
    name: str = "",
    towns: Sequence[Community] = (),
) -> User:
    """Add an account; raises DigestError for a bad address or password, or one taken."""
    address = _checked_address(email)
    if find_user(session, address) is not None:
        raise AlreadyExistsError("user", f"there is already an account for {address}")
    user = User(
        email=address,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    user.towns = list(towns) if role == Role.EDITOR else []
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == login_name(email)))


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFoundError("user", f"no account {login_name(email)!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def count_admins(session: Session) -> int:
    query = select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    return int(session.scalar(query) or 0)


def disable_user(session: Session, user: User) -> None:
    """Disable an account: it can no longer sign in and its sessions end (caller's job)."""
    user.active = False
    session.flush()


def set_password(user: User, password: str) -> None:
    """Replace the password (raises DigestError when too short)."""
    user.password_hash = hash_password(password)


def authenticate(session: Session, email: str, password: str, now: datetime) -> User | None:
    """The active account with this address and password, else None (same time either way).

    Upgrades an old hash in place on success; does not commit.
    """
    user = find_user(session, email) if len(email) <= 320 else None
    if not verify(user.password_hash if user else None, password) or user is None:
        return None
    if not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def require_admin(user: Actor) -> None:
    """Raises NotAllowedError unless the user is an admin."""
    if not user.is_admin:
        raise NotAllowedError("Only an admin may do this: ask an admin of this Digest.")


def may_act_on_town(user: Actor, community_id: int) -> bool:
    """True for an admin, an editor of every town, or an editor of this town."""
    return user.is_admin or not user.town_ids or community_id in user.town_ids


def require_town(user: Actor, community_id: int) -> None:
    """Raises NotAllowedError when the user may not act on this town."""
    if not may_act_on_town(user, community_id):
        names = ", ".join(user.town_names)
        raise NotAllowedError(f"Your account may act only on these towns: {names}.")


def ensure_first_admin(session: Session, email: str) -> str | None:
    """With no account at all, add an admin with a new random password and return it.

    For dev (`digest serve`, `digest demo`): the password is shown once; None when any
    account exists already.
    """
    if session.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(12)
    add_user(session, email, password, Role.ADMIN, "First admin")
    return password
