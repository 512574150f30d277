"""Fixtures: an isolated database session, real Redis, a real Celery worker, SMTP and HTTP servers.

Service-backed fixtures read DIGEST_TEST_DATABASE_URL and DIGEST_TEST_REDIS_URL; without them
those tests skip with the reason, and under CI=true they fail instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.support.http import FeedServer
from tests.support.services import require
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerProcess

RUN_DIR = Path(tempfile.mkdtemp(prefix="digest-tests-"))
TEST_SECRET = "test-secret-key-not-for-production"


def pytest_configure(config: pytest.Config) -> None:
    # Before any Digest module is imported: the settings every process of the run will read.
    for name in [
        n for n in os.environ if n.startswith("DIGEST_") and not n.startswith("DIGEST_TEST_")
    ]:
        del os.environ[name]
    os.environ.update(
        DIGEST_ENV="test",
        DIGEST_VAR_DIR=str(RUN_DIR / "var"),
        DIGEST_SECRET_KEY=TEST_SECRET,
        DIGEST_MAIL_URL=f"maildir://{RUN_DIR / 'outbox'}",
        DIGEST_DATABASE_URL=os.environ.get("DIGEST_TEST_DATABASE_URL")
        or f"sqlite:///{RUN_DIR / 'digest.db'}",
    )
    if os.environ.get("DIGEST_TEST_REDIS_URL"):
        os.environ["DIGEST_BROKER_URL"] = os.environ["DIGEST_TEST_REDIS_URL"]


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ["DIGEST_DATABASE_URL"]


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The test database, emptied and built from the models once per run.

    Built with create_all for speed; tests/test_migrations.py proves the migrations build the
    same schema.
    """
    from digest.db import make_engine
    from digest.models import Base

    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose every change is rolled back after the test (SAVEPOINT per commit)."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def committed(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions that really commit, for tests where another process must see the data.

    Every table is emptied afterwards.
    """
    from digest.db import make_session_factory
    from digest.models import Base

    yield make_session_factory(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def postgres_url() -> str:
    return require("DIGEST_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture
def redis_url() -> str:
    return require("DIGEST_TEST_REDIS_URL", "Redis")


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def start_worker(
    redis_client: object, committed: sessionmaker[Session], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real Celery workers on Redis against the test database: start_worker(**env)."""
    workers: list[WorkerProcess] = []

    def start(concurrency: int = 1, name: str = "worker", **env: str) -> WorkerProcess:
        environment = {
            "DIGEST_DATABASE_URL": os.environ["DIGEST_DATABASE_URL"],
            "DIGEST_BROKER_URL": os.environ["DIGEST_TEST_REDIS_URL"],
            "DIGEST_VAR_DIR": str(tmp_path / "var"),
            **{f"DIGEST_{key.upper()}": value for key, value in env.items()},
        }
        worker = WorkerProcess(
            environment, tmp_path / f"{name}-{len(workers)}.log", concurrency=concurrency, name=name
        )
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[FeedServer]:
    server = FeedServer(tmp_path / "www").start()
    yield server
    server.stop()
