"""Blips: a database that is away is waited for; a statement that is wrong is not."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from digest.db import make_engine, make_session_factory
from digest.sending.blips import until_answered


@pytest.fixture
def sqlite_session(tmp_path: Path) -> Session:
    return make_session_factory(make_engine(f"sqlite:///{tmp_path / 'blips.db'}"))()


def test_a_wrong_statement_on_sqlite_fails_at_once_instead_of_waiting(
    sqlite_session: Session,
) -> None:
    pauses: list[float] = []
    with pytest.raises(OperationalError, match="no such table"):
        until_answered(
            sqlite_session,
            lambda s: s.execute(text("SELECT * FROM no_such_table")).all(),
            "record",
            sleep=pauses.append,
        )
    assert pauses == []


def test_a_locked_sqlite_database_is_waited_for(sqlite_session: Session) -> None:
    pauses: list[float] = []
    tries: list[int] = []

    def work(session: Session) -> int:
        tries.append(1)
        if len(tries) < 3:
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("UPDATE deliveries ...", {}, locked)
        return int(session.execute(text("SELECT 1")).scalar_one())

    assert until_answered(sqlite_session, work, "record", sleep=pauses.append) == 1
    assert len(pauses) == 2
    assert pauses[1] > pauses[0]
