"""The embedded default under load: feed polls, signups and a send at once on one SQLite file.

Each runs on its own engine, as the web app, the worker and the scheduler of `digest serve` do.
Transactions take SQLite's write lock at BEGIN (BEGIN IMMEDIATE), so a writer waits its turn
within the busy timeout instead of failing with "database is locked" when its snapshot went
stale between its first read and its first write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from digest.clock import FixedClock
from digest.db import is_locked, make_engine, make_session_factory, upgrade_database
from digest.demo.seed import NEWSLETTER, seed_demo
from digest.ingest.feeds import poll
from digest.ingest.fetch import FetchOptions
from digest.models import Delivery, DeliveryStatus, Newsletter, Subscriber
from digest.readers.imports import import_subscribers
from digest.sending import batches, delivery
from digest.sending.editions import build_edition
from digest.settings import Settings, load_settings
from digest.web import create_app
from tests.support.web import RecordingNotifier, form_token

NOW = datetime.now(UTC).replace(microsecond=0)
READERS = 300
SIGNUPS = 40
POLLS = 6


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'digest.db'}",
        var_dir=tmp_path / "var",
        mail_url=f"maildir://{tmp_path / 'outbox'}",
        batch_size=25,
        delivery_commit_every=2,
        signup_limit_per_ip="1000/hour",
        signup_limit_per_address="1000/hour",
        signup_min_fill_seconds=0,
    )


def _prepare(settings: Settings) -> int:
    """The demo's towns, feeds and newsletter, many readers, and an edition ready to send."""
    engine = make_engine(settings.database_url)
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        seed_demo(session, settings, NOW)
        import_subscribers(
            session,
            [{"email": f"reader{n}@example.org"} for n in range(READERS)],
            source="load test",
            community="riverton",
            newsletters=[NEWSLETTER],
            now=NOW,
        )
    poll(sessions, None, NOW, FetchOptions.from_settings(settings))
    with sessions() as session, session.begin():
        letter = session.scalars(select(Newsletter).where(Newsletter.slug == NEWSLETTER)).one()
        slot = NOW.replace(tzinfo=None, hour=6, minute=0, second=0)
        edition = build_edition(session, settings, letter, slot, NOW)
        delivery.start_sending(session, edition, NOW)
        edition_id = edition.id
    engine.dispose()
    return edition_id


def _polls(settings: Settings, errors: list[str]) -> None:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    options = FetchOptions.from_settings(settings)
    for round_ in range(POLLS):
        results = poll(sessions, None, NOW + timedelta(minutes=15 * round_), options)
        errors.extend(f"poll: {r.url}: {r.error}" for r in results if r.error)
    engine.dispose()


def _signups(settings: Settings, errors: list[str]) -> None:
    app = create_app(settings, notifier=RecordingNotifier(), clock=FixedClock(NOW))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        for n in range(SIGNUPS):
            fields = {
                "form_token": form_token(client.get("/").text),
                "email": f"new{n}@example.org",
                "community": "riverton",
                "newsletters": [NEWSLETTER],
                "consent": "yes",
            }
            answer = client.post("/signup", data=fields, follow_redirects=False)
            if answer.status_code != 303:
                errors.append(f"signup {n}: {answer.status_code}")


def _send(settings: Settings, edition_id: int, errors: list[str]) -> None:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        planned = delivery.plan_batches(session, edition_id, settings.batch_size, NOW)
    with delivery.open_sender(settings) as sender:
        for first, last in planned:
            batches.send_batch(sessions, settings, edition_id, first, last, sender, FixedClock(NOW))
    engine.dispose()


def _run_together(*work: Callable[[], None]) -> list[str]:
    crashes: list[str] = []
    start = threading.Barrier(len(work))

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        except Exception as exc:
            crashes.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return crashes


def test_polls_signups_and_a_send_at_once_never_meet_a_locked_database(
    settings: Settings, caplog: Any
) -> None:
    edition_id = _prepare(settings)
    errors: list[str] = []
    with caplog.at_level(logging.WARNING):
        crashes = _run_together(
            lambda: _polls(settings, errors),
            lambda: _signups(settings, errors),
            lambda: _send(settings, edition_id, errors),
        )
    assert crashes == []
    assert errors == []
    assert "database is locked" not in caplog.text
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        states = session.scalars(
            select(Delivery.status).where(Delivery.edition_id == edition_id)
        ).all()
        assert len(states) >= READERS
        assert set(states) == {DeliveryStatus.SENT}
        signed_up = select(func.count()).where(Subscriber.email.like("new%@example.org"))
        assert session.scalar(signed_up) == SIGNUPS
    engine.dispose()


def test_a_locked_database_is_recognised_for_a_retry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder, waiter = make_engine(url), make_engine(url)
    with holder.begin() as held:
        held.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with holder.begin() as held:
        held.exec_driver_sql("INSERT INTO t VALUES (1)")
        with waiter.connect() as connection:
            # Give up at once rather than after the busy timeout: the lock is held until below.
            connection.connection.driver_connection.execute("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError) as raised:
                connection.exec_driver_sql("INSERT INTO t VALUES (2)")
    assert is_locked(raised.value)
    holder.dispose()
    waiter.dispose()


def test_a_task_that_finds_the_database_locked_runs_again(tmp_path: Path) -> None:
    from celery import Celery

    from workers.celery_app import DigestTask

    app = Celery("locked-test", task_cls=DigestTask, set_as_current=False)
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder = make_engine(url)
    with holder.begin() as held:
        held.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    attempts: list[bool] = []

    @app.task(name="test.write")
    def write() -> int:
        locked = len(attempts) < 2  # the first two runs find another writer holding the lock
        attempts.append(locked)
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                if locked:
                    connection.connection.driver_connection.execute("PRAGMA busy_timeout=0")
                    with holder.begin() as other:
                        other.exec_driver_sql("INSERT INTO t VALUES (0)")
                        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                else:
                    connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                    connection.commit()
        finally:
            engine.dispose()
        return len(attempts)

    assert write.apply().get() == 3
    assert attempts == [True, True, False]
    holder.dispose()
