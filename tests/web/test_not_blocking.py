"""A slow call in one request never holds up another: a real uvicorn server, two requests at once.

Routes that touch the database or the broker are plain `def` routes, which FastAPI runs in its
thread pool. Were one of them `async def`, its blocking call would stop the event loop and the
second request here would wait for the first (and time out).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import Subscriber, SubscriptionStatus
from digest.render.links import confirm_url, unsubscribe_url
from digest.settings import load_settings
from digest.web import create_app
from tests.support.web import START, form_token, populate, signup_fields

# Long enough for any healthy machine, short enough that a blocked loop fails the test quickly.
ANSWER_WITHIN = 10.0
PORTS = range(16400, 16500)


@dataclass
class GatedNotifier:
    """Queues emails like the real one, but each call waits at a gate the test opens.

    It stands in for a broker that has become slow: the call blocks the thread it runs on.
    """

    entered: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[str, int]] = field(default_factory=list)

    def _wait(self, kind: str, subscriber_id: int) -> None:
        self.entered.set()
        assert self.gate.wait(ANSWER_WITHIN * 3), "the test never opened the gate"
        self.calls.append((kind, subscriber_id))

    def confirmation(self, subscriber_id: int) -> None:
        self._wait("confirmation", subscriber_id)

    def welcome(self, subscriber_id: int) -> None:
        self._wait("welcome", subscriber_id)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


@dataclass
class Served:
    url: str
    notifier: GatedNotifier


@pytest.fixture
def served(committed: sessionmaker[Session]) -> Iterator[Served]:
    populate(committed)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        database_url=os.environ["DIGEST_DATABASE_URL"],
        base_url=url,
        signup_min_fill_seconds=0,
    )
    notifier = GatedNotifier()
    app = create_app(settings, notifier=notifier, clock=FixedClock(START))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + ANSWER_WITHIN
    while not server.started:  # uvicorn offers a flag, not an event, for "listening"
        assert thread.is_alive(), "uvicorn stopped before it listened"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield Served(url, notifier)
    notifier.gate.set()
    server.should_exit = True
    thread.join(ANSWER_WITHIN)


def _in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # handed to the test, which fails on it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _unrelated_pages_answer(client: httpx.Client) -> None:
    """While the slow request is stuck, other readers' pages still answer at once."""
    assert client.get("/check-your-inbox", timeout=ANSWER_WITHIN).status_code == 200
    assert client.get("/healthz", timeout=ANSWER_WITHIN).status_code in (200, 503)


def test_a_slow_broker_in_a_signup_does_not_delay_other_pages(served: Served) -> None:
    slow = httpx.Client(base_url=served.url)
    page = slow.get("/")
    fields = {"form_token": form_token(page.text), **signup_fields()}
    thread, outcome = _in_background(
        lambda: slow.post("/signup", data=fields, timeout=ANSWER_WITHIN * 3)
    )
    assert served.notifier.entered.wait(ANSWER_WITHIN), "the signup never reached the broker"

    with httpx.Client(base_url=served.url) as other:
        _unrelated_pages_answer(other)
        assert thread.is_alive(), "the signup should still be waiting on its broker"

    served.notifier.gate.set()
    thread.join(ANSWER_WITHIN)
    [response] = outcome
    assert response.status_code == 303
    assert [kind for kind, _ in served.notifier.calls] == ["confirmation"]
    slow.close()


def test_a_slow_broker_in_a_confirmation_does_not_delay_other_pages(
    served: Served, committed: sessionmaker[Session]
) -> None:
    reader = httpx.Client(base_url=served.url)
    fields = {"form_token": form_token(reader.get("/").text), **signup_fields()}
    signing_up, _ = _in_background(lambda: reader.post("/signup", data=fields))
    assert served.notifier.entered.wait(ANSWER_WITHIN)
    served.notifier.gate.set()
    signing_up.join(ANSWER_WITHIN)
    served.notifier.entered.clear()
    served.notifier.gate.clear()
    with committed() as session:
        subscriber_id = session.scalars(select(Subscriber.id)).one()
    settings = load_settings(base_url=served.url)
    link = confirm_url(settings, subscriber_id).removeprefix(served.url)
    token = form_token(reader.get(link).text)
    thread, outcome = _in_background(
        lambda: reader.post(link, data={"form_token": token}, timeout=ANSWER_WITHIN * 3)
    )
    assert served.notifier.entered.wait(ANSWER_WITHIN), "the confirmation never queued a welcome"

    with httpx.Client(base_url=served.url) as other:
        _unrelated_pages_answer(other)
        assert thread.is_alive()

    served.notifier.gate.set()
    thread.join(ANSWER_WITHIN)
    [response] = outcome
    assert response.status_code == 200
    assert "is confirmed" in response.text
    reader.close()


def test_a_one_click_unsubscribe_waiting_on_a_lock_does_not_delay_other_pages(
    served: Served, committed: sessionmaker[Session], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL's row locks to make the database slow on purpose")
    reader = httpx.Client(base_url=served.url)
    fields = {"form_token": form_token(reader.get("/").text), **signup_fields()}
    served.notifier.gate.set()
    assert reader.post("/signup", data=fields).status_code == 303
    with committed() as session:
        subscriber_id = session.scalars(select(Subscriber.id)).one()
    link = unsubscribe_url(load_settings(base_url=served.url), subscriber_id)

    locker = create_engine(database_url)
    with locker.connect() as held:
        held.execute(text("SELECT * FROM subscriptions FOR UPDATE"))  # until the rollback
        thread, outcome = _in_background(
            lambda: httpx.post(
                link, data={"List-Unsubscribe": "One-Click"}, timeout=ANSWER_WITHIN * 3
            )
        )
        _wait_for_a_lock_wait(held)
        with httpx.Client(base_url=served.url) as other:
            _unrelated_pages_answer(other)
            assert other.get("/", timeout=ANSWER_WITHIN).status_code == 200
        assert thread.is_alive(), "the unsubscribe should still be waiting for the lock"
        held.rollback()
    locker.dispose()

    thread.join(ANSWER_WITHIN)
    [response] = outcome
    assert response.status_code == 200
    with committed() as session:
        reader_row = session.get_one(Subscriber, subscriber_id)
        assert {s.status for s in reader_row.subscriptions} == {SubscriptionStatus.UNSUBSCRIBED}
    reader.close()


def _wait_for_a_lock_wait(connection: Any) -> None:
    # PostgreSQL has no notification for "a session started waiting": ask it, briefly.
    deadline = time.monotonic() + ANSWER_WITHIN
    query = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    while connection.execute(query).scalar_one() == 0:
        assert time.monotonic() < deadline, "the unsubscribe never waited for the lock"
        time.sleep(0.02)
