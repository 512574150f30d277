"""No transaction waits on a remote server: a feed fetch and an SMTP conversation happen with
no database transaction open, and the result is recorded after.

The remote servers here (a feed over HTTP, an SMTP server) look at the database while they
answer: were a transaction open, PostgreSQL would show a session "idle in transaction" and
SQLite's write lock would be held (Digest's transactions take it at BEGIN).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from digest.ingest.feeds import add_feed, poll
from digest.ingest.fetch import FetchOptions
from digest.models import Story
from digest.readers.consent import Origin
from digest.readers.signup import signup
from digest.sending.mail_url import transport_for_url
from digest.sending.notices import send_notice
from digest.settings import load_settings
from tests.support.feeds import Item, rss
from tests.support.smtp import free_port
from tests.support.web import populate

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def transaction_open(database_url: str) -> bool:
    """True when some connection to the database holds a transaction open right now."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(url.database or "", timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        return bool(waiting)
    finally:
        engine.dispose()


class WatchingFeed(ThreadingHTTPServer):
    """Serves one RSS document; notes, as each request arrives, whether a transaction is open."""

    def __init__(self, database_url: str, body: bytes) -> None:
        self.database_url = database_url
        self.body = body
        self.seen: list[bool] = []
        watcher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                watcher.seen.append(transaction_open(watcher.database_url))
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(watcher.body)))
                self.end_headers()
                self.wfile.write(watcher.body)

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def watching_feed(database_url: str) -> Iterator[WatchingFeed]:
    items = [
        Item(f"Story {n} of the day", f"https://news.example/{n}", published=NOW) for n in range(3)
    ]
    server = WatchingFeed(database_url, rss(items).encode())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_feed_poll_fetches_with_no_transaction_open(
    committed: sessionmaker[Session], watching_feed: WatchingFeed, database_url: str
) -> None:
    with committed() as session, session.begin():
        url = f"http://127.0.0.1:{watching_feed.server_address[1]}/feed.xml"
        add_feed(session, url, None)
    results = poll(committed, None, NOW, FetchOptions(timeout=5.0))
    assert [r.status for r in results] == ["ok"]
    assert watching_feed.seen == [False]
    with committed() as session:
        assert session.scalar(select(func.count()).select_from(Story)) == 3


class WatchingSMTP:
    """Accepts every message; notes, as each arrives, whether a transaction is open."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.seen: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.seen.append(transaction_open(self.database_url))
        return "250 OK"


def test_a_confirmation_talks_smtp_with_no_transaction_open(
    committed: sessionmaker[Session], database_url: str
) -> None:
    populate(committed)
    with committed() as session, session.begin():
        outcome = signup(
            session,
            email="jane@example.org",
            community="springfield",
            newsletters=["morning"],
            consent=True,
            origin=Origin("form: /"),
            wording="I agree",
            now=NOW,
            resend_after=timedelta(minutes=15),
        )
    assert outcome.subscriber_id is not None
    handler = WatchingSMTP(database_url)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = load_settings(database_url=database_url)
        with transport_for_url(f"smtp://127.0.0.1:{port}") as transport:
            sent = send_notice(
                committed, settings, "confirm", outcome.subscriber_id, transport, NOW
            )
    finally:
        controller.stop()
    assert sent.status == "sent"
    assert handler.seen == [False]
