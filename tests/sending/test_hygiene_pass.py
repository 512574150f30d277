"""List hygiene end to end: a real Celery worker mails lapsed readers through a real SMTP
server, readers click (the counted redirect) or keep (the email's link), and the grace ends
in an unsubscribe with its consent event. PostgreSQL and Redis under CI."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import (
    ClickEvent,
    Community,
    ConsentAction,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    EditionSegment,
    EditionStatus,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.readers import hygiene
from digest.render.links import CLICK_TAG, click_tag, tracked_url
from digest.sending.mail_url import open_transport
from digest.sending.reengagement import run_pass
from digest.settings import Settings, get_settings, load_settings
from digest.web.app import create_app
from tests import factories
from tests.sending.test_sending import wait_for
from tests.support.smtp import SMTPServer
from tests.support.web import RecordingNotifier
from tests.support.worker import WorkerProcess

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}
SCANNER = {"user-agent": "Mimecast Web Security"}
READERS = ("lapsed", "clicker", "keeper", "private", "newcomer")


def per_reader(**overrides: Any) -> Settings:
    return load_settings(**{**get_settings().model_dump(), "click_per_reader": True, **overrides})


def deliver(
    session: Session, letter: Newsletter, town: Community, to: list[int], at: datetime
) -> int:
    edition = factories.ready_edition(session, letter, [town], slot=at.replace(tzinfo=None))
    edition.status = EditionStatus.SENT
    segment = session.scalars(
        select(EditionSegment).where(EditionSegment.edition_id == edition.id)
    ).one()
    session.add_all(
        Delivery(
            edition_id=edition.id,
            segment_id=segment.id,
            subscriber_id=reader,
            status=DeliveryStatus.SENT,
            sent_at=at,
        )
        for reader in to
    )
    session.flush()
    return edition.id


def build(committed: sessionmaker[Session], start: datetime) -> tuple[dict[str, int], list[int]]:
    """Five readers; three editions (one a day) for all but the newcomer, who got the last."""
    with committed() as session, session.begin():
        (town,) = factories.towns(session, ("springfield",))
        letter = factories.newsletter(session)
        hygiene.configure(
            session, per_reader(), letter, on=True, after=3, grace=2, now=start - timedelta(hours=1)
        )
        made = factories.readers(session, letter, town, len(READERS))
        ids = {name: reader.id for name, reader in zip(READERS, made, strict=True)}
        for subscription in session.scalars(select(Subscription)):
            subscription.confirmed_at = start - timedelta(days=30)
        newcomer = session.scalars(
            select(Subscription).where(Subscription.subscriber_id == ids["newcomer"])
        ).one()
        newcomer.confirmed_at = start + timedelta(days=1, hours=12)
        session.get_one(Subscriber, ids["private"]).click_opt_out = True
        veterans = [ids[name] for name in READERS if name != "newcomer"]
        editions = [
            deliver(session, letter, town, veterans, start),
            deliver(session, letter, town, veterans, start + timedelta(days=1)),
            deliver(session, letter, town, [*veterans, ids["newcomer"]], start + timedelta(days=2)),
        ]
    return ids, editions


@pytest.fixture
def web(committed: sessionmaker[Session]) -> Iterator[tuple[TestClient, FixedClock]]:
    clock = FixedClock(datetime.now(UTC) + timedelta(hours=1))
    app = create_app(per_reader(), notifier=RecordingNotifier(), clock=clock)
    with TestClient(app) as client:
        yield client, clock


def story_path(
    committed: sessionmaker[Session], settings: Settings, edition_id: int, reader: int
) -> str:
    """The tracked story link of `reader`'s message of the edition, as they received it."""
    with committed() as session:
        delivery = session.scalars(
            select(Delivery).where(
                Delivery.edition_id == edition_id, Delivery.subscriber_id == reader
            )
        ).one()
        segment = session.get_one(EditionSegment, delivery.segment_id)
        url = tracked_url(
            settings, "https://news.example/story", edition_id, segment.community_id, "story"
        )
        sent = delivery.sent_at or datetime.now(UTC)
        tag = click_tag(settings, sent, reader, delivery.id)
    return url.replace(CLICK_TAG, tag).removeprefix(settings.base_url)


def keep_path(message_text: str, settings: Settings) -> str:
    found = re.search(rf"{re.escape(settings.base_url)}(/keep/[^\s\"<]+)", message_text)
    assert found, "no keep link in the email"
    return found.group(1)


def subscription_of(committed: sessionmaker[Session], reader: int) -> Subscription:
    with committed() as session:
        return session.scalars(
            select(Subscription).where(Subscription.subscriber_id == reader)
        ).one()


@pytest.mark.celery
def test_lapsed_readers_get_one_email_then_leave_and_clickers_and_keepers_stay(
    committed: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    smtp_server: SMTPServer,
    web: tuple[TestClient, FixedClock],
) -> None:
    client, clock = web
    settings = per_reader()
    ids, editions = build(committed, datetime.now(UTC) - timedelta(days=5))
    # The clicker reads a story of the second edition; a scanner opens the lapsed reader's.
    assert (
        client.get(
            story_path(committed, settings, editions[1], ids["clicker"]),
            headers=BROWSER,
            follow_redirects=False,
        ).status_code
        == 302
    )
    assert (
        client.head(
            story_path(committed, settings, editions[1], ids["lapsed"]),
            headers=BROWSER,
            follow_redirects=False,
        ).status_code
        == 302
    )
    assert client.app.state.click_flusher.flush()  # type: ignore[attr-defined]
    with committed() as session:
        assert session.scalars(select(ClickEvent.subscriber_id)).all() == [ids["clicker"]]

    # The daily pass, in a real worker: the lapsed reader and the keeper (who has not kept yet).
    start_worker(mail_url=smtp_server.url, click_per_reader="true")
    from workers.tasks import hygiene_pass

    hygiene_pass.delay()
    mailed = {ids["lapsed"], ids["keeper"]}
    wait_for(
        lambda: (
            {r for r in mailed if subscription_of(committed, r).reengage_state == hygiene.MAILED}
            == mailed
        ),
        "the re-engagement emails",
    )
    with committed() as session:
        emails = {r: str(session.get_one(Subscriber, r).email) for r in ids.values()}
    assert sorted(smtp_server.recipients()) == sorted(emails[r] for r in mailed)
    by_reader = {item.rcpt_tos[0]: item.message for item in smtp_server.received}
    message = by_reader[emails[ids["keeper"]]]
    assert message["Subject"] == "Do you still want Morning Digest?"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in message["List-Unsubscribe"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert settings.postal_address in text
    assert "Keep me subscribed" in text

    # A scanner opening the lapsed reader's keep link keeps nobody; the keeper's click does.
    lapsed_text = by_reader[emails[ids["lapsed"]]].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    scanned = client.get(keep_path(lapsed_text, settings), headers=SCANNER)
    assert scanned.status_code == 200
    assert "<form" in scanned.text
    kept = client.get(keep_path(text, settings), headers=BROWSER)
    assert "You stay subscribed" in kept.text
    forged = keep_path(text, settings)[:-3] + "abc"
    assert client.get(forged, headers=BROWSER).status_code == 400

    # Later passes: nobody is mailed twice for the same lapse.
    transport = open_transport(
        load_settings(**{**settings.model_dump(), "mail_url": smtp_server.url})
    )
    again = run_pass(committed, settings, transport, clock.now())
    assert again.mailed == []
    assert again.removed == []
    assert len(smtp_server.received) == 2

    # Two more editions reach everyone: the grace is over for the lapsed reader.
    with committed() as session, session.begin():
        letter = session.scalars(select(Newsletter)).one()
        town = session.scalars(select(Community)).one()
        for hours in (2, 3):
            deliver(session, letter, town, list(ids.values()), clock.now() + timedelta(hours=hours))
    clock.advance(hours=4)
    final = run_pass(committed, settings, transport, clock.now())
    transport.close()
    assert final.removed == [emails[ids["lapsed"]]]
    # The keeper's and the clicker's counts restarted at their click: two editions since. The
    # newcomer has now had three without a click: their turn for the email.
    assert final.mailed == [emails[ids["newcomer"]]]
    assert len(smtp_server.received) == 3
    statuses = {name: subscription_of(committed, ids[name]).status for name in READERS}
    assert statuses == {
        "lapsed": SubscriptionStatus.UNSUBSCRIBED,
        "clicker": SubscriptionStatus.CONFIRMED,
        "keeper": SubscriptionStatus.CONFIRMED,
        "private": SubscriptionStatus.CONFIRMED,
        "newcomer": SubscriptionStatus.CONFIRMED,
    }
    with committed() as session:
        events = session.scalars(
            select(ConsentEvent).where(
                ConsentEvent.action.in_((ConsentAction.UNSUBSCRIBE, ConsentAction.KEEP))
            )
        ).all()
    assert sorted((e.subscriber_id, e.action, e.source) for e in events) == sorted(
        [
            (ids["lapsed"], ConsentAction.UNSUBSCRIBE, "list hygiene"),
            (ids["keeper"], ConsentAction.KEEP, "keep link"),
        ]
    )
    assert "no click in 3 editions" in str(
        next(e for e in events if e.action == ConsentAction.UNSUBSCRIBE).detail["reason"]
    )


@pytest.mark.celery
def test_a_crash_between_the_claim_and_the_send_never_mails_twice(
    committed: sessionmaker[Session], smtp_server: SMTPServer
) -> None:
    settings = per_reader(mail_url=smtp_server.url)
    ids, _editions = build(committed, datetime.now(UTC) - timedelta(days=5))
    now = datetime.now(UTC)
    with committed() as session, session.begin():
        lapsed = subscription_of(committed, ids["lapsed"]).id
        assert hygiene.claim_mail(session, lapsed, now)  # the worker died right after this
    transport = open_transport(settings)
    dry = run_pass(committed, settings, transport, now, dry_run=True)
    assert dry.stuck == ["reader0@springfield.example"]
    lapsed_too = ["reader1@springfield.example", "reader2@springfield.example"]  # no clicks here
    assert dry.mailed == lapsed_too  # a dry run sends nothing

    assert smtp_server.received == []
    real = run_pass(committed, settings, transport, now)
    transport.close()
    assert real.stuck == ["reader0@springfield.example"]
    assert sorted(smtp_server.recipients()) == lapsed_too  # never the stuck one


def test_the_feature_off_does_nothing(
    committed: sessionmaker[Session], smtp_server: SMTPServer
) -> None:
    settings = per_reader(mail_url=smtp_server.url)
    build(committed, datetime.now(UTC) - timedelta(days=5))
    with committed() as session, session.begin():
        letter = session.scalars(select(Newsletter)).one()
        hygiene.configure(
            session, settings, letter, on=False, after=None, grace=None, now=datetime.now(UTC)
        )
    transport = open_transport(settings)
    report = run_pass(committed, settings, transport, datetime.now(UTC))
    aggregates_only = run_pass(
        committed,
        load_settings(**{**settings.model_dump(), "click_per_reader": False}),
        transport,
        datetime.now(UTC),
    )
    transport.close()
    assert (
        report.counts()
        == aggregates_only.counts()
        == {
            "mailed": 0,
            "removed": 0,
            "reset": 0,
            "stuck": 0,
            "not_sent": 0,
        }
    )
    assert smtp_server.received == []
