"""The accounts core: passwords, roles and towns, sessions, throttling and the audit log."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from digest.accounts import passwords, throttle
from digest.accounts.audit import recent, record
from digest.accounts.sessions import LIFETIME, end_session, find_session, start_session
from digest.accounts.users import (
    Actor,
    NotAllowedError,
    add_user,
    authenticate,
    ensure_first_admin,
    require_admin,
    require_town,
)
from digest.errors import AlreadyExistsError
from digest.models import Community, Role

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def town(session: Session, slug: str) -> Community:
    row = Community(slug=slug, name=slug.title(), timezone="UTC")
    session.add(row)
    session.flush()
    return row


def test_passwords_are_argon2_and_checked_exactly(session: Session) -> None:
    user = add_user(session, "Ed@Example.org", PASSWORD)
    assert user.email == "ed@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert authenticate(session, "ED@example.org ", PASSWORD, NOW) is user
    assert user.last_login_at == NOW
    for wrong in (PASSWORD + " ", PASSWORD.upper(), "", "x" * 500):
        assert authenticate(session, "ed@example.org", wrong, NOW) is None
    assert authenticate(session, "nobody@example.org", PASSWORD, NOW) is None
    with pytest.raises(AlreadyExistsError):
        add_user(session, "ed@example.org", PASSWORD)


def test_a_disabled_account_cannot_sign_in(session: Session) -> None:
    user = add_user(session, "ed@example.org", PASSWORD)
    user.active = False
    assert authenticate(session, "ed@example.org", PASSWORD, NOW) is None


def test_roles_and_towns(session: Session) -> None:
    riverton, springfield = town(session, "riverton"), town(session, "springfield")
    admin = Actor.of(add_user(session, "a@example.org", PASSWORD, Role.ADMIN))
    editor = Actor.of(add_user(session, "e@example.org", PASSWORD))
    local = Actor.of(add_user(session, "r@example.org", PASSWORD, towns=[riverton]))
    require_admin(admin)
    with pytest.raises(NotAllowedError, match="Only an admin"):
        require_admin(editor)
    for user in (admin, editor, local):
        require_town(user, riverton.id)
    require_town(editor, springfield.id)
    with pytest.raises(NotAllowedError, match="only on these towns: Riverton"):
        require_town(local, springfield.id)


def test_sessions_are_new_at_each_login_and_end(session: Session) -> None:
    user = add_user(session, "ed@example.org", PASSWORD)
    first, row = start_session(session, user, NOW, "10.0.0.1")
    second, _ = start_session(session, user, NOW, "10.0.0.1")
    assert first != second
    assert row.id != first
    assert find_session(session, first, NOW) is row
    assert find_session(session, first, NOW + LIFETIME) is None
    assert find_session(session, "planted-by-someone", NOW) is None
    end_session(session, first)
    assert find_session(session, first, NOW) is None
    assert find_session(session, second, NOW) is not None
    user.active = False
    assert find_session(session, second, NOW) is None


def fail(session: Session, attempt: throttle.Attempt, now: datetime) -> int:
    """One wrong password: the reserved count stays; the wait it earned, or -wait if refused."""
    try:
        with session.begin_nested():
            return throttle.reserve(session, attempt, now)
    except throttle.ThrottledError as exc:
        return -exc.wait


def test_five_failures_are_free_then_each_one_doubles_the_wait(session: Session) -> None:
    attempt = throttle.attempt_for("ed@example.org", "10.0.0.1")
    waits = [fail(session, attempt, NOW) for _ in range(6)]
    assert waits == [0, 0, 0, 0, 30, -30]  # the sixth is refused unchecked, and not counted
    assert fail(session, attempt, NOW + timedelta(seconds=31)) == 60
    assert fail(session, attempt, NOW + timedelta(seconds=90)) == -1
    assert fail(session, attempt, NOW + timedelta(seconds=92)) == 120
    # After a quiet hour the count starts again, and old counts are purged.
    assert fail(session, attempt, NOW + timedelta(hours=3)) == 0
    assert throttle.purge(session, NOW + timedelta(hours=5)) == 3
    throttle.release(session, attempt)


def test_an_ipv6_client_is_counted_by_its_64_block() -> None:
    one = throttle.attempt_for("Ed@Example.org ", "2001:db8:1:2:aaaa::1")
    other = throttle.attempt_for("ed@example.org", "2001:db8:1:2:ffff::9")
    assert one == other
    assert one.client == "client:2001:db8:1:2::/64"
    assert throttle.attempt_for("ed@example.org", "2001:db8:1:3::1").client != one.client
    assert throttle.attempt_for("x", "::ffff:192.0.2.7").client == "client:192.0.2.7"


def test_the_audit_log_keeps_who_did_what_newest_first(session: Session) -> None:
    user = add_user(session, "ed@example.org", PASSWORD)
    record(session, user, "edition.pause", "edition 3", None, NOW)
    record(session, "cli", "user.add", "x@example.org", {"role": "admin"}, NOW + timedelta(1))
    entries = recent(session)
    assert [(e.actor, e.action) for e in entries] == [
        ("cli", "user.add"),
        ("ed@example.org", "edition.pause"),
    ]
    assert recent(session, action="edition")[0].target == "edition 3"


def test_a_first_admin_only_when_there_is_no_account(session: Session) -> None:
    password = ensure_first_admin(session, "admin@example.org")
    assert password is not None
    assert len(password) >= 12
    assert authenticate(session, "admin@example.org", password, NOW) is not None
    assert ensure_first_admin(session, "admin@example.org") is None


class CountingHasher(PasswordHasher):
    """The real argon2id hasher, counting how many checks run at the same moment."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def test_a_burst_of_password_checks_runs_a_few_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hasher = CountingHasher()
    stored = hasher.hash(PASSWORD)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda _: passwords.verify(stored, PASSWORD), range(12)))
    assert results == [True] * 12
    assert 1 < hasher.most <= passwords.CONCURRENT_CHECKS
