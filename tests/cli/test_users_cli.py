"""`digest users`: add, list, disable, reset-password, each recorded in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from digest.accounts.sessions import find_session, start_session
from digest.accounts.users import authenticate, get_user
from digest.cli import app
from digest.errors import DigestError
from digest.models import AuditEntry, Community, Role

runner = CliRunner()
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PASSWORD = "a-long-enough-password"


def run(*args: str, typed: str = "") -> tuple[int, str]:
    """(exit status, output); a DigestError counts as `main` shows it: status 2, one line."""
    result = runner.invoke(app, list(args), input=typed)
    if isinstance(result.exception, DigestError):
        return 2, str(result.exception)
    return result.exit_code, result.output


def test_add_an_admin_and_an_editor_of_one_town(committed: sessionmaker[Session]) -> None:
    with committed() as session, session.begin():
        session.add(Community(slug="riverton", name="Riverton", timezone="America/Chicago"))
    code, out = run(
        "users", "add", "Boss@Example.org", "--role", "admin", typed=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, out
    assert "added admin boss@example.org" in out
    assert PASSWORD not in out  # the prompt hides it
    code, out = run(
        "users", "add", "rita@example.org", "--town", "riverton", "--password", PASSWORD
    )
    assert code == 0, out
    assert "for Riverton" in out
    code, out = run("users", "list")
    assert "boss@example.org" in out
    assert "rita@example.org" in out
    assert "riverton" in out
    with committed() as session:
        assert authenticate(session, "boss@example.org", PASSWORD, NOW) is not None
        rita = get_user(session, "rita@example.org")
        assert rita.role == Role.EDITOR
        assert [t.slug for t in rita.towns] == ["riverton"]
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["user.add", "user.add"]


def test_bad_input_is_one_line(committed: sessionmaker[Session]) -> None:
    code, out = run("users", "add", "not-an-address", "--password", PASSWORD)
    assert code == 2
    assert "is not an email address" in out
    code, out = run("users", "add", "a@example.org", "--password", "short")
    assert code == 2
    assert "at least 10 characters" in out
    code, out = run("users", "add", "a@example.org", "--town", "nowhere", "--password", PASSWORD)
    assert code == 2
    assert "no community 'nowhere'" in out
    code, out = run("users", "disable", "ghost@example.org")
    assert code == 2
    assert "no account 'ghost@example.org'" in out


def test_disable_ends_sessions_but_not_the_last_admin(committed: sessionmaker[Session]) -> None:
    run("users", "add", "boss@example.org", "--role", "admin", "--password", PASSWORD)
    run("users", "add", "eddie@example.org", "--password", PASSWORD)
    code, out = run("users", "disable", "boss@example.org")
    assert code == 2
    assert "last active admin" in out
    with committed() as session, session.begin():
        session_id, _ = start_session(session, get_user(session, "eddie@example.org"), NOW, None)
    code, out = run("users", "disable", "eddie@example.org")
    assert code == 0, out
    with committed() as session:
        assert find_session(session, session_id, NOW) is None
        assert authenticate(session, "eddie@example.org", PASSWORD, NOW) is None
    code, out = run("users", "reset-password", "eddie@example.org", "--password", PASSWORD + "2")
    assert code == 0, out
    with committed() as session:
        assert authenticate(session, "eddie@example.org", PASSWORD, NOW) is None
        assert authenticate(session, "eddie@example.org", PASSWORD + "2", NOW) is not None
