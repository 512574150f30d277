"""Edition moves as compare-and-set, cancel mid-send, the circuit breaker, Message-IDs."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import SYSTEM_CLOCK
from digest.errors import DigestError
from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus
from digest.render.mime import Reader, compose
from digest.sending import delivery, editions, states
from digest.sending.batches import send_batch
from digest.sending.messages import template_of
from digest.settings import get_settings, load_settings
from tests import factories
from tests.factories import NOW
from tests.sending.chaos import wait_for
from tests.sending.test_sending import build, counts, edition_status, send
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerProcess


def sending_edition(session: Session, readers: int = 3) -> Edition:
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, readers)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    return edition


def test_a_finishing_batch_never_turns_cancelled_or_paused_into_sent(session: Session) -> None:
    edition = sending_edition(session)
    session.execute(
        Delivery.__table__.update()
        .where(Delivery.edition_id == edition.id)
        .values(status=DeliveryStatus.SENT)
    )
    editions.pause(session, edition)
    assert states.finish(session, edition.id, NOW) is False
    assert edition.status == EditionStatus.PAUSED

    editions.cancel(session, edition, NOW)
    assert states.finish(session, edition.id, NOW) is False
    assert edition.status == EditionStatus.CANCELLED
    with pytest.raises(DigestError, match=r"cannot resume edition .* it is cancelled"):
        delivery.resume(session, edition)


def test_an_edition_is_finished_only_once_nothing_is_pending(session: Session) -> None:
    edition = sending_edition(session)
    assert states.finish(session, edition.id, NOW) is False  # three still queued
    session.execute(
        Delivery.__table__.update()
        .where(Delivery.edition_id == edition.id)
        .values(status=DeliveryStatus.FAILED)
    )
    assert states.finish(session, edition.id, NOW) is True
    assert (edition.status, edition.finished_at) == (EditionStatus.SENT, NOW)


def test_retry_failed_refuses_a_cancelled_edition(session: Session) -> None:
    edition = sending_edition(session)
    editions.cancel(session, edition, NOW)
    with pytest.raises(DigestError, match=r"cannot retry edition .* it is cancelled"):
        delivery.retry_failed(session, edition, NOW)


def test_retry_failed_never_requeues_a_bounce(session: Session) -> None:
    edition = sending_edition(session)
    rows = session.scalars(select(Delivery).where(Delivery.edition_id == edition.id)).all()
    rows[0].status, rows[1].status, rows[2].status = (
        DeliveryStatus.FAILED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.SENT,
    )
    session.flush()
    assert delivery.retry_failed(session, edition, NOW) == 1
    session.refresh(rows[1])
    assert rows[1].status == DeliveryStatus.BOUNCED


def test_message_ids_carry_a_random_part(session: Session) -> None:
    edition = sending_edition(session, readers=1)
    (segment,) = edition.segments
    settings = get_settings()
    reader = Reader(7, 1, "reader0@springfield.example", None)
    first = compose(template_of(settings, segment, NOW), reader).message_id
    retry = compose(template_of(settings, segment, NOW), reader).message_id
    neighbour = compose(template_of(settings, segment, NOW), Reader(8, 2, "r@x.example", None))
    pattern = rf"<e{edition.id}\.s{segment.id}\.7\.[0-9a-f]{{16}}@localhost>"
    assert re.fullmatch(pattern, first), first
    assert retry == first  # a retry (even in another process) keeps its Message-ID
    tag = first.split(".")[3].split("@")[0]
    assert tag not in neighbour.message_id  # the next delivery's cannot be guessed from it


def test_the_breaker_pauses_an_edition_the_relay_keeps_refusing(
    committed: sessionmaker[Session], smtp_server: SMTPServer
) -> None:
    from typer.testing import CliRunner

    from digest.cli import app

    edition_id = build(committed, per_town=30, towns=1)
    smtp_server.defer(*(f"reader{i}@springfield.example" for i in range(30)))
    settings = load_settings(mail_url=smtp_server.url, delivery_breaker_threshold=5)
    with committed() as session, session.begin():
        delivery.start_sending(session, session.get_one(Edition, edition_id), datetime.now(UTC))
        ranges = delivery.plan_batches(session, edition_id, 100, datetime.now(UTC))

    with delivery.open_sender(settings) as sender:
        for first, last in ranges:
            send_batch(committed, settings, edition_id, first, last, sender, SYSTEM_CLOCK)

    assert edition_status(committed, edition_id) == EditionStatus.PAUSED
    assert counts(committed, edition_id) == Counter({"deferred": 5, "queued": 25})
    with committed() as session:
        reason = session.get_one(Edition, edition_id).pause_reason or ""
    assert "5 messages in a row refused or dropped" in reason
    assert "451 4.3.0" in reason
    shown = CliRunner().invoke(app, ["edition", "status", str(edition_id)])
    assert "paused because: paused by the circuit breaker" in shown.output
    assert "you can: resume, cancel" in shown.output


@pytest.mark.celery
def test_cancel_mid_send_stops_within_the_group_in_hand_and_stays_cancelled(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
) -> None:
    edition_id = build(committed, per_town=100)
    busy = {"mail_url": smtp_server.url, "send_rate": "40", "batch_size": "50"}
    workers = [start_worker(**busy), start_worker(**busy, name="second")]
    send(edition_id)
    wait_for(lambda: len(smtp_server.received) >= 40, "sending to start")

    with committed() as session, session.begin():
        editions.cancel(session, session.get_one(Edition, edition_id), datetime.now(UTC))
    at_cancel = len(smtp_server.received)

    def all_batches_ended() -> bool:  # the six batches of 50, each logged by Celery at its end
        logs = "".join(worker.log() for worker in workers)
        return len(re.findall(r"send_batch\[[^\]]+\] succeeded", logs)) >= 6

    wait_for(lambda: not counts(committed, edition_id)["sending"], "no row left in a run's hands")
    wait_for(all_batches_ended, "every batch to end")
    after = len(smtp_server.received) - at_cancel
    final = counts(committed, edition_id)
    assert after <= len(workers) * get_settings().delivery_commit_every, (after, final)
    assert edition_status(committed, edition_id) == EditionStatus.CANCELLED
    received = len(set(smtp_server.recipients()))
    assert final["sent"] == received, (final, received)  # the records tell the truth
    assert final["sent"] + final["cancelled"] == 300, final
    with committed() as session, session.begin():
        edition = session.get_one(Edition, edition_id)
        with pytest.raises(DigestError):
            delivery.retry_failed(session, edition, datetime.now(UTC))


def test_the_breaker_counts_relay_refusals_in_a_row_only() -> None:
    from digest.sending.breaker import Breaker

    breaker = Breaker(threshold=3)
    for status in (DeliveryStatus.DEFERRED, DeliveryStatus.FAILED):
        breaker.observe(status, "421 4.7.0 try later", from_relay=True)
    breaker.observe(DeliveryStatus.BOUNCED, "550 5.1.1 unknown", from_relay=True)  # neutral
    breaker.observe(DeliveryStatus.FAILED, "bad address", from_relay=False)  # ours, neutral
    assert not breaker.tripped
    breaker.observe(DeliveryStatus.SENT, "250 ok", from_relay=True)  # one accepted: start again
    for _ in range(2):
        breaker.observe(DeliveryStatus.DEFERRED, "421 4.7.0 try later", from_relay=True)
    assert not breaker.tripped
    breaker.observe(DeliveryStatus.DEFERRED, "421 4.7.0 try later", from_relay=True)
    assert breaker.reason is not None
    assert "3 messages in a row" in breaker.reason
    assert "421 4.7.0 try later" in breaker.reason
    never = Breaker(threshold=0)
    for _ in range(100):
        never.observe(DeliveryStatus.DEFERRED, "421", from_relay=True)
    assert not never.tripped


def test_a_relay_that_is_down_pauses_the_edition_instead_of_failing_every_task(
    committed: sessionmaker[Session],
) -> None:
    from tests.support.smtp import free_port

    edition_id = build(committed, per_town=8, towns=1)
    down = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    settings = load_settings(mail_url=down, delivery_breaker_threshold=3)
    with committed() as session, session.begin():
        delivery.start_sending(session, session.get_one(Edition, edition_id), datetime.now(UTC))
        ranges = delivery.plan_batches(session, edition_id, 100, datetime.now(UTC))

    with delivery.open_sender(settings) as sender:
        for first, last in ranges:
            send_batch(committed, settings, edition_id, first, last, sender, SYSTEM_CLOCK)

    assert edition_status(committed, edition_id) == EditionStatus.PAUSED
    assert counts(committed, edition_id) == Counter({"deferred": 3, "queued": 5})
    with committed() as session:
        reason = session.get_one(Edition, edition_id).pause_reason or ""
    assert "cannot connect" in reason
