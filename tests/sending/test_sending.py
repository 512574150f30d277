"""Sending through real Celery workers on Redis, into a real SMTP server, on the test database.

Each test commits its data (the workers are other processes) and waits on the database.
"""

from __future__ import annotations

import bisect
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import BounceEvent, Delivery, DeliveryStatus, Edition, EditionStatus
from digest.readers.suppressions import is_suppressed
from digest.settings import get_settings
from digest.tokens import UNSUBSCRIBE, read_token
from tests import factories
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerProcess

WAIT = 90.0


def build(factory: sessionmaker[Session], per_town: int, towns: int = 3) -> int:
    with factory() as session, session.begin():
        places = factories.towns(session, tuple(factories.TOWNS)[:towns])
        letter = factories.newsletter(session)
        for town in places:
            factories.readers(session, letter, town, per_town)
        return factories.ready_edition(session, letter, places).id


def counts(factory: sessionmaker[Session], edition_id: int) -> Counter[str]:
    with factory() as session:
        rows = session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.edition_id == edition_id)
            .group_by(Delivery.status)
        ).all()
        return Counter({str(status): n for status, n in rows})


def edition_status(factory: sessionmaker[Session], edition_id: int) -> EditionStatus:
    with factory() as session:
        return session.get_one(Edition, edition_id).status


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def send(edition_id: int) -> None:
    from workers.tasks import send_edition

    send_edition.delay(edition_id)


def sweep() -> None:
    from workers.tasks import sweep_deliveries

    sweep_deliveries.delay()


@pytest.mark.celery
def test_every_reader_gets_the_edition_exactly_once_with_their_town_and_link(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    edition_id = build(committed, per_town=667)
    start_worker(concurrency=2, mail_url=smtp_server.url)

    send(edition_id)
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the edition")

    received = smtp_server.recipients()
    assert len(received) == 3 * 667
    assert len(set(received)) == len(received)
    settings = get_settings()
    with committed() as session:
        emails = dict(
            session.execute(
                select(Delivery.subscriber_id, factories.Subscriber.email).join(
                    factories.Subscriber
                )
            ).all()
        )
    by_address = {email: sid for sid, email in emails.items()}
    for item in smtp_server.received:
        message = item.message
        address = item.rcpt_tos[0]
        town = address.split("@")[1].split(".")[0]
        body = message.get_body(("plain",)).get_content()
        assert town.title() in body
        link = message["List-Unsubscribe"].split("<")[1].split(">")[0]
        payload = read_token(settings, UNSUBSCRIBE, link.rsplit("/", 1)[1])
        assert payload["s"] == by_address[address]


@pytest.mark.celery
def test_a_flaky_server_loses_nothing_and_doubles_nothing(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    edition_id = build(committed, per_town=10, towns=1)
    smtp_server.defer("reader1@springfield.example", "reader2@springfield.example")
    smtp_server.refuse("reader3@springfield.example")
    smtp_server.drop("reader4@springfield.example", once=True)
    start_worker(mail_url=smtp_server.url, retry_base_seconds="1")

    send(edition_id)
    wait_for(lambda: counts(committed, edition_id)["sent"] == 6, "the first pass")  # 1, 2, 3, 4 not
    smtp_server.accept("reader1@springfield.example", "reader2@springfield.example")
    time.sleep(1.5)  # let the one-second backoff of the deferred deliveries run out
    sweep()
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the retries")

    final = counts(committed, edition_id)
    assert final == Counter({"sent": 9, "bounced": 1})  # 550 5.1.1: a dead address
    assert sorted(smtp_server.recipients()) == sorted(
        f"reader{i}@springfield.example" for i in range(10) if i != 3
    )
    with committed() as session:
        failed = session.scalars(
            select(Delivery).where(
                Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.BOUNCED
            )
        ).one()
        assert failed.last_reply is not None
        assert "550 5.1.1 No such user" in failed.last_reply
        # A refusal at send time is a bounce like any other: suppressed, with its record.
        event = session.scalars(select(BounceEvent)).one()
        assert (event.kind, event.delivery_id, event.status) == ("hard", failed.id, "5.1.1")
        assert is_suppressed(session, "reader3@springfield.example")


@pytest.mark.celery
def test_a_killed_worker_skips_nobody_and_repeats_within_the_bound(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    edition_id = build(committed, per_town=200)
    slow = {"mail_url": smtp_server.url, "send_rate": "100", "delivery_lease_seconds": "2"}
    first = start_worker(**slow)
    send(edition_id)
    wait_for(lambda: len(smtp_server.received) >= 150, "some messages to go out")
    first.kill()
    start_worker(**slow, name="replacement")
    time.sleep(2.5)  # the dead worker's lease runs out
    sweep()
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the edition")

    received = Counter(smtp_server.recipients())
    assert len(received) == 600
    repeats = sum(n - 1 for n in received.values())
    print(f"killed worker: {len(received)} readers, {repeats} repeated")
    assert repeats <= get_settings().delivery_commit_every


@pytest.mark.celery
def test_pause_resume_cancel_and_retry_failed(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    from digest.sending import delivery, editions

    edition_id = build(committed, per_town=100)
    # A refusal by policy (not a dead address): failed, so retry-failed may send it again.
    smtp_server.refuse("reader5@riverton.example", reply="550 5.7.1 Message rejected by policy")
    start_worker(mail_url=smtp_server.url, send_rate="50")
    send(edition_id)
    wait_for(lambda: len(smtp_server.received) >= 20, "sending to start")
    with committed() as session, session.begin():
        editions.pause(session, session.get_one(Edition, edition_id))
    time.sleep(1.0)  # the group in hand finishes
    paused_at = len(smtp_server.received)
    time.sleep(1.5)
    assert len(smtp_server.received) == paused_at < 300
    assert counts(committed, edition_id)["queued"] > 0

    with committed() as session, session.begin():
        delivery.resume(session, session.get_one(Edition, edition_id))
    send(edition_id)
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the rest")
    assert Counter(smtp_server.recipients()).most_common(1)[0][1] == 1
    assert counts(committed, edition_id) == Counter({"sent": 299, "failed": 1})

    smtp_server.accept("reader5@riverton.example")
    with committed() as session, session.begin():
        now = datetime.now(UTC)
        assert delivery.retry_failed(session, session.get_one(Edition, edition_id), now) == 1
    send(edition_id)
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the retry")
    assert len(smtp_server.received) == 300
    assert smtp_server.recipients().count("reader5@riverton.example") == 1

    cancelled = build_second(committed)
    with committed() as session, session.begin():
        edition = session.get_one(Edition, cancelled)
        editions.cancel(session, edition, datetime.now(UTC))
    assert edition_status(committed, cancelled) == EditionStatus.CANCELLED


def build_second(factory: sessionmaker[Session]) -> int:
    with factory() as session, session.begin():
        letter = session.scalars(select(factories.Newsletter)).first()
        assert letter is not None
        places = list(session.scalars(select(factories.Community)))
        return factories.ready_edition(session, letter, places, datetime(2026, 11, 25, 6, 0)).id


def test_a_reader_suppressed_after_the_start_is_not_mailed(
    committed: sessionmaker[Session], smtp_server: SMTPServer
) -> None:
    from digest.clock import SYSTEM_CLOCK
    from digest.models import SuppressionReason
    from digest.readers.suppressions import suppress
    from digest.sending import delivery
    from digest.sending.batches import send_batch
    from digest.settings import load_settings

    settings = load_settings(mail_url=smtp_server.url)
    edition_id = build(committed, per_town=5, towns=1)
    with committed() as session, session.begin():
        delivery.start_sending(session, session.get_one(Edition, edition_id), datetime.now(UTC))
        batches = delivery.plan_batches(session, edition_id, 100, datetime.now(UTC))
        # The reader complains while the edition is going out.
        suppress(
            session,
            "reader2@springfield.example",
            SuppressionReason.COMPLAINT,
            None,
            datetime.now(UTC),
        )

    with delivery.open_sender(settings) as sender:
        for first, last in batches:
            send_batch(committed, settings, edition_id, first, last, sender, SYSTEM_CLOCK)

    assert sorted(smtp_server.recipients()) == [
        f"reader{i}@springfield.example" for i in (0, 1, 3, 4)
    ]
    assert counts(committed, edition_id) == Counter({"sent": 4, "suppressed": 1})
    assert edition_status(committed, edition_id) == EditionStatus.SENT


@pytest.mark.celery
def test_two_workers_share_the_send_rate_through_redis(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    edition_id = build(committed, per_town=100)  # 300 readers
    limited = {
        "mail_url": smtp_server.url,
        "send_rate": "50",
        "redis_url": os.environ["DIGEST_TEST_REDIS_URL"],
        "batch_size": "50",  # six batches, so both workers send at once
    }
    workers = [start_worker(**limited), start_worker(**limited, name="second")]

    send(edition_id)
    wait_for(lambda: edition_status(committed, edition_id) == EditionStatus.SENT, "the edition")

    times = sorted(item.at for item in smtp_server.received)
    assert len(times) == 300
    busiest = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    # At most 50 grants in any second; a message reaches the server a moment after its grant,
    # so allow 10% for that delay: two workers each limited alone would reach 100.
    assert busiest <= 55, busiest
    assert times[-1] - times[0] >= (300 - 50) / 50 * 0.95
    assert counts(committed, edition_id) == Counter({"sent": 300})
    assert all("batch done" in worker.log() for worker in workers)  # both were sending


@pytest.mark.celery
def test_send_follow_shows_progress_until_the_edition_is_sent(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    from typer.testing import CliRunner

    from digest.cli import app

    edition_id = build(committed, per_town=20)
    start_worker(mail_url=smtp_server.url)

    result = CliRunner().invoke(app, ["edition", "send", str(edition_id), "--follow"])

    assert result.exit_code == 0, result.output
    assert f"Edition {edition_id} queued for sending." in result.output
    assert "60/60" in result.output  # the progress bar reached the end
    assert re.search(r"sent\s+│\s+60", result.output)  # the status table that follows
    assert edition_status(committed, edition_id) == EditionStatus.SENT
    assert len(smtp_server.received) == 60
