"""Chaos on real services: a slow relay, a SIGKILLed worker, PostgreSQL and Redis restarts.

Every test counts readers missed and repeated from what the SMTP server accepted, never from
Digest's own records. Private servers are started by the test (tests/sending/chaos.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from digest.db import make_engine, make_session_factory
from digest.models import Base, EditionStatus
from digest.settings import get_settings
from tests.sending.chaos import Beat, PrivatePostgres, PrivateRedis, wait_for
from tests.sending.test_sending import build, edition_status, send
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerProcess


def expected(per_town: int, towns: int) -> set[str]:
    names = ("springfield", "riverton", "lakeside")[:towns]
    return {f"reader{i}@{town}.example" for town in names for i in range(per_town)}


@pytest.fixture
def beats() -> Iterator[Callable[[dict[str, str], Path], Beat]]:
    started: list[Beat] = []

    def start(env: dict[str, str], workdir: Path) -> Beat:
        beat = Beat(env, workdir).start()
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()


def worker_env(worker: WorkerProcess) -> dict[str, str]:
    return {k: v for k, v in worker.env.items() if k.startswith("DIGEST_")}


@pytest.mark.celery
def test_a_batch_slower_than_its_lease_mails_nobody_twice(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
    beats: Callable[[dict[str, str], Path], Beat],
    tmp_path: Path,
) -> None:
    edition_id = build(committed, per_town=20, towns=2)
    smtp_server.handler.delay = 0.1  # a slow relay ...
    slow = {
        "mail_url": smtp_server.url,
        "send_rate": "4",  # ... and a send rate: the one 40-reader batch takes 10 s
        "batch_size": "40",
        "delivery_lease_seconds": "1",  # five times shorter than a batch
        "delivery_sweep_seconds": "0.3",  # and the sweep looks three times a second
    }
    first = start_worker(**slow)
    start_worker(**slow, name="idle")  # free to take whatever the sweep hands out
    beats(worker_env(first), tmp_path / "beat")

    send(edition_id)
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the edition")

    received = Counter(smtp_server.recipients())
    assert set(received) == expected(20, 2)
    assert max(received.values()) == 1, received.most_common(3)


@pytest.mark.celery
def test_a_sigkilled_worker_is_recovered_within_a_minute_with_default_settings(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
    beats: Callable[[dict[str, str], Path], Beat],
    tmp_path: Path,
) -> None:
    edition_id = build(committed, per_town=200)
    defaults = {"mail_url": smtp_server.url, "send_rate": "100"}
    doomed = start_worker(**defaults)
    beats(worker_env(doomed), tmp_path / "beat")
    send(edition_id)
    wait_for(lambda: len(smtp_server.received) >= 150, "some messages to go out")

    doomed.kill()
    killed_at = time.monotonic()
    start_worker(**defaults, name="replacement")
    done_at = wait_for(
        lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the edition", 120
    )

    received = Counter(smtp_server.recipients())
    repeats = sum(n - 1 for n in received.values())
    print(f"SIGKILL: complete {done_at - killed_at:.1f} s after the kill, {repeats} repeated")
    assert set(received) == expected(200, 3)
    assert repeats <= get_settings().delivery_commit_every
    assert done_at - killed_at < 60


@pytest.mark.celery
def test_a_postgresql_restart_mid_edition_misses_and_repeats_nobody(
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
    beats: Callable[[dict[str, str], Path], Beat],
    tmp_path: Path,
) -> None:
    postgres = PrivatePostgres().start()
    try:
        engine = make_engine(postgres.url)
        Base.metadata.create_all(engine)
        factory = make_session_factory(engine)
        edition_id = build(factory, per_town=100)
        worker = start_worker(
            mail_url=smtp_server.url, send_rate="50", batch_size="50", database_url=postgres.url
        )
        beats(worker_env(worker), tmp_path / "beat")
        send(edition_id)
        wait_for(lambda: len(smtp_server.received) >= 60, "sending to start")

        postgres.stop()
        wait_for(lambda: "database not answering" in worker.log(), "the worker to notice")
        postgres.start()
        back_at = time.monotonic()
        count_at_return = len(smtp_server.received)
        resumed_at = wait_for(
            lambda: len(smtp_server.received) > count_at_return + 10, "sending to resume"
        )
        wait_for(lambda: edition_status(factory, edition_id) == EditionStatus.SENT, "the end")

        received = Counter(smtp_server.recipients())
        print(f"PostgreSQL restart: resumed {resumed_at - back_at:.1f} s after it came back")
        assert set(received) == expected(100, 3)
        assert max(received.values()) == 1, received.most_common(3)
        assert resumed_at - back_at < 30
        with factory() as session:
            states = session.execute(text("SELECT status, count(*) FROM deliveries GROUP BY 1"))
            assert dict(states.all()) == {"sent": 300}
        engine.dispose()
    finally:
        postgres.remove()


@pytest.mark.celery
def test_a_redis_restart_mid_edition_misses_and_repeats_nobody(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
    beats: Callable[[dict[str, str], Path], Beat],
    tmp_path: Path,
) -> None:
    redis = PrivateRedis().start()
    try:
        edition_id = build(committed, per_town=100)
        on_private = {"broker_url": redis.url, "redis_url": redis.url}
        worker = start_worker(
            mail_url=smtp_server.url, send_rate="50", batch_size="50", **on_private
        )
        beats(worker_env(worker), tmp_path / "beat")
        from digest.settings import load_settings
        from workers.celery_app import make_celery

        private = make_celery(load_settings(broker_url=redis.url))
        private.send_task("digest.send_edition", args=[edition_id])
        wait_for(lambda: len(smtp_server.received) >= 60, "sending to start")

        redis.stop()  # every queued batch message is lost with it
        wait_for(
            lambda: "Connection refused" in worker.log() or "Error 111" in worker.log(),
            "the worker to notice",
        )
        redis.start()
        back_at = time.monotonic()
        count_at_return = len(smtp_server.received)
        resumed_at = wait_for(
            lambda: len(smtp_server.received) > count_at_return + 10, "sending to resume"
        )
        wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the end")

        received = Counter(smtp_server.recipients())
        print(f"Redis restart: resumed {resumed_at - back_at:.1f} s after it came back")
        assert set(received) == expected(100, 3)
        assert max(received.values()) == 1, received.most_common(3)
        assert resumed_at - back_at < 30
    finally:
        redis.stop()
