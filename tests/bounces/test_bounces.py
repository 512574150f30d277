"""Bounces and complaints: real report formats update the right reader, and nothing is lost.

The reports in tests/data/bounces/ are written in the formats of Postfix, Exim, Microsoft
(Outlook.com / Exchange Online), Gmail and ARF feedback loops (Yahoo, Microsoft JMRP). Where
the original was sent with a VERP return path, the file has @@VERP@@, replaced here by a
real signed address for a delivery of the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.bounces.actions import apply_report, process_report, webhook_report
from digest.bounces.classify import Reason
from digest.bounces.mailbox import process_maildir
from digest.bounces.reports import read_report
from digest.clock import FixedClock
from digest.errors import DigestError
from digest.models import (
    BounceEvent,
    BounceKind,
    Community,
    ConsentAction,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionSegment,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from digest.readers.erase import erase_subscriber, export_subscriber
from digest.readers.suppressions import is_suppressed
from digest.settings import Settings, load_settings
from digest.tokens import message_id_tag, verp_address
from tests.support.worker import WorkerProcess

DATA = Path(__file__).parent / "data" / "bounces"
NOW = datetime(2025, 11, 24, 7, 0, tzinfo=UTC)


@pytest.fixture
def settings() -> Settings:
    return load_settings(bounce_domain="news.example")


@dataclass
class Town:
    community: Community
    daily: Newsletter
    weekly: Newsletter
    editions: int = 0

    def edition(self, session: Session, newsletter: Newsletter | None = None) -> EditionSegment:
        self.editions += 1
        edition = Edition(
            newsletter_id=(newsletter or self.daily).id,
            slot=datetime(2025, 11, self.editions, 6, 0),
            status="sending",
        )
        session.add(edition)
        session.flush()
        segment = EditionSegment(edition_id=edition.id, community_id=self.community.id, send_at=NOW)
        session.add(segment)
        session.flush()
        return segment


@pytest.fixture
def town(session: Session) -> Town:
    community = Community(slug="springfield", name="Springfield", timezone="America/Chicago")
    daily = Newsletter(slug="daily", name="Springfield Daily")
    weekly = Newsletter(slug="weekly", name="Springfield Weekly")
    session.add_all([community, daily, weekly])
    session.flush()
    return Town(community, daily, weekly)


def reader(session: Session, town: Town, email: str) -> Subscriber:
    subscriber = Subscriber(email=email, community_id=town.community.id)
    session.add(subscriber)
    session.flush()
    for newsletter in (town.daily, town.weekly):
        session.add(
            Subscription(
                subscriber_id=subscriber.id,
                newsletter_id=newsletter.id,
                status=SubscriptionStatus.CONFIRMED,
                source="test",
            )
        )
    session.flush()
    return subscriber


def sent(session: Session, segment: EditionSegment, subscriber: Subscriber) -> Delivery:
    delivery = Delivery(
        edition_id=segment.edition_id,
        segment_id=segment.id,
        subscriber_id=subscriber.id,
        status=DeliveryStatus.SENT,
        attempts=1,
        sent_at=NOW,
    )
    session.add(delivery)
    session.flush()
    return delivery


def report(name: str, settings: Settings, delivery: Delivery | None = None) -> bytes:
    raw = (DATA / name).read_bytes()
    if delivery is not None:
        raw = raw.replace(b"@@VERP@@", verp_address(settings, delivery.id).encode())
    return raw


def events(session: Session) -> list[BounceEvent]:
    return list(session.scalars(select(BounceEvent).order_by(BounceEvent.id)))


def suppression(session: Session, email: str) -> Suppression | None:
    return session.scalars(select(Suppression).where(Suppression.email == email)).one_or_none()


# Hard bounces


@pytest.mark.parametrize(
    ("name", "email", "status"),
    [
        ("postfix_hard.eml", "alice@example.net", "5.1.1"),
        ("outlook_hard.eml", "dave@outlook.com", "5.1.10"),
        ("gmail_hard.eml", "erin@gmail.com", "5.1.1"),
    ],
)
def test_hard_bounce_by_verp_suppresses_the_reader_and_marks_the_delivery(
    session: Session, town: Town, settings: Settings, name: str, email: str, status: str
) -> None:
    segment = town.edition(session)
    bystander = reader(session, town, "bystander@example.org")
    sent(session, segment, bystander)
    subscriber = reader(session, town, email)
    delivery = sent(session, segment, subscriber)

    [event] = process_report(session, settings, report(name, settings, delivery), name, NOW)

    assert (event.kind, event.delivery_id, event.subscriber_id) == (
        BounceKind.HARD,
        delivery.id,
        subscriber.id,
    )
    assert (event.recipient, event.status) == (email, status)
    assert subscriber.status == SubscriberStatus.BOUNCED
    row = suppression(session, email)
    assert row is not None
    assert row.reason == SuppressionReason.HARD_BOUNCE
    assert delivery.status == DeliveryStatus.BOUNCED
    assert delivery.last_reply is not None
    assert status in delivery.last_reply
    assert bystander.status == SubscriberStatus.ACTIVE
    assert not is_suppressed(session, "bystander@example.org")


def test_verp_wins_over_the_address_a_forwarder_reports(
    session: Session, town: Town, settings: Settings
) -> None:
    # The reader's mail is forwarded; the DSN names the forwarding target, which we never knew.
    segment = town.edition(session)
    subscriber = reader(session, town, "alice.forwarder@example.org")
    delivery = sent(session, segment, subscriber)
    process_report(session, settings, report("postfix_hard.eml", settings, delivery), "fwd", NOW)
    assert subscriber.status == SubscriberStatus.BOUNCED
    assert is_suppressed(session, "alice.forwarder@example.org")


def test_exim_bounce_without_verp_is_matched_by_address(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "carol@example.com")
    [event] = process_report(session, settings, report("exim_plain.eml", settings), "exim", NOW)
    assert (event.kind, event.delivery_id, event.subscriber_id) == (
        BounceKind.HARD,
        None,
        subscriber.id,
    )
    assert event.status == "5.1.1"
    assert event.diagnostic is not None
    assert "User unknown" in event.diagnostic
    assert subscriber.status == SubscriberStatus.BOUNCED
    assert is_suppressed(session, "carol@example.com")


# Soft bounces


def test_one_soft_bounce_is_recorded_and_suppresses_nothing(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "frank@gmail.com")
    delivery = sent(session, town.edition(session), subscriber)
    raw = report("gmail_over_quota.eml", settings, delivery)
    [event] = process_report(session, settings, raw, "gmail", NOW)
    assert (event.kind, event.status, event.subscriber_id) == (
        BounceKind.SOFT,
        "5.2.2",
        subscriber.id,
    )
    assert subscriber.status == SubscriberStatus.ACTIVE
    assert delivery.status == DeliveryStatus.SENT
    assert not is_suppressed(session, "frank@gmail.com")


def test_third_soft_bounce_in_distinct_editions_over_a_week_suppresses(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "bob@example.org")
    for day in (0, 10, 20):
        delivery = sent(session, town.edition(session), subscriber)
        raw = report("postfix_delayed.eml", settings, delivery)
        assert not is_suppressed(session, "bob@example.org")
        process_report(session, settings, raw, "postfix", NOW + timedelta(days=day))
    row = suppression(session, "bob@example.org")
    assert row is not None
    assert row.reason == SuppressionReason.SOFT_BOUNCE
    assert row.detail is not None
    assert row.detail.startswith("soft-bounce limit: 3 editions bounced over 20 days")
    assert subscriber.status == SubscriberStatus.BOUNCED
    assert [event.reason for event in events(session)] == ["expired"] * 3


def test_three_soft_bounces_within_a_few_days_do_not_suppress(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "bob@example.org")
    for day in (0, 2, 4, 6):
        delivery = sent(session, town.edition(session), subscriber)
        raw = report("postfix_delayed.eml", settings, delivery)
        process_report(session, settings, raw, "postfix", NOW + timedelta(days=day))
    assert not is_suppressed(session, "bob@example.org")
    delivery = sent(session, town.edition(session), subscriber)
    raw = report("postfix_delayed.eml", settings, delivery)
    process_report(session, settings, raw, "postfix", NOW + timedelta(days=7))
    assert is_suppressed(session, "bob@example.org")


def test_soft_bounces_of_one_edition_count_once(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "bob@example.org")
    delivery = sent(session, town.edition(session), subscriber)
    for day in (0, 10, 20):
        raw = report("postfix_delayed.eml", settings, delivery).replace(
            b"Arrival-Date", f"X-Day: {day}\nArrival-Date".encode()
        )
        process_report(session, settings, raw, "postfix", NOW + timedelta(days=day))
    assert len(events(session)) == 3
    assert not is_suppressed(session, "bob@example.org")


def test_sender_side_soft_bounces_never_count_against_the_reader(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "bob@example.org")
    for day in (0, 10, 20, 29):
        delivery = sent(session, town.edition(session), subscriber)
        report_ = webhook_report(
            settings,
            relay="test",
            event_id=f"blocked-{day}",
            kind=BounceKind.SOFT,
            recipient="bob@example.org",
            status="5.7.1",
            diagnostic="554 5.7.1 Client host blocked using zen.spamhaus.org",
            reason=Reason.BLOCKED,
        )
        apply_report(session, settings, report_, NOW + timedelta(days=day))
        assert delivery.status == DeliveryStatus.SENT
    assert len(events(session)) == 4
    assert not is_suppressed(session, "bob@example.org")


def test_soft_bounces_further_apart_than_30_days_do_not_add_up(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "bob@example.org")
    for day in (0, 20, 40, 60):
        delivery = sent(session, town.edition(session), subscriber)
        raw = report("postfix_delayed.eml", settings, delivery)
        process_report(session, settings, raw, "postfix", NOW + timedelta(days=day))
    assert len(events(session)) == 4
    assert not is_suppressed(session, "bob@example.org")
    assert subscriber.status == SubscriberStatus.ACTIVE


# Complaints


@pytest.mark.parametrize(
    ("name", "email"),
    [("arf_complaint.eml", "grace@yahoo.com"), ("arf_redacted.eml", "heidi@hotmail.com")],
)
def test_complaint_unsubscribes_records_consent_and_suppresses(
    session: Session, town: Town, settings: Settings, name: str, email: str
) -> None:
    subscriber = reader(session, town, email)
    delivery = sent(session, town.edition(session, town.weekly), subscriber)
    [event] = process_report(session, settings, report(name, settings, delivery), name, NOW)

    assert (event.kind, event.delivery_id, event.subscriber_id) == (
        BounceKind.COMPLAINT,
        delivery.id,
        subscriber.id,
    )
    assert {s.status for s in subscriber.subscriptions} == {SubscriptionStatus.UNSUBSCRIBED}
    assert {s.unsubscribed_at for s in subscriber.subscriptions} == {NOW}
    [consent] = session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber.id)
    ).all()
    assert consent.action == ConsentAction.COMPLAINT
    assert consent.newsletter_id == town.weekly.id
    assert consent.detail["delivery_id"] == delivery.id
    assert subscriber.status == SubscriberStatus.COMPLAINED
    row = suppression(session, email)
    assert row is not None
    assert row.reason == SuppressionReason.COMPLAINT


# What matches nobody, or is not a bounce at all


def test_bounce_for_nobody_is_kept_and_changes_nothing(
    session: Session, town: Town, settings: Settings
) -> None:
    someone = reader(session, town, "someone@example.org")
    [event] = process_report(session, settings, report("unmatched.eml", settings), "unmatched", NOW)
    assert (event.kind, event.recipient, event.subscriber_id, event.delivery_id) == (
        BounceKind.HARD,
        "nobody-we-know@example.net",
        None,
        None,
    )
    assert session.scalar(select(func.count()).select_from(Suppression)) == 0
    assert someone.status == SubscriberStatus.ACTIVE


def test_out_of_office_reply_is_kept_as_unknown_and_acts_on_nobody(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "ivan@example.org")
    delivery = sent(session, town.edition(session), subscriber)
    [event] = process_report(
        session, settings, report("autoreply.eml", settings, delivery), "ooo", NOW
    )
    assert (event.kind, event.delivery_id) == (BounceKind.UNKNOWN, delivery.id)
    assert event.diagnostic is not None
    assert "Automatic reply" in event.diagnostic
    assert subscriber.status == SubscriberStatus.ACTIVE
    assert delivery.status == DeliveryStatus.SENT
    assert not is_suppressed(session, "ivan@example.org")


def test_forged_verp_address_names_no_delivery(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "alice@example.net")
    delivery = sent(session, town.edition(session), subscriber)
    forged = verp_address(settings, delivery.id).replace("bounces+", "bounces+x")
    raw = (DATA / "postfix_hard.eml").read_bytes().replace(b"@@VERP@@", forged.encode())
    [parsed] = read_report(settings, raw, "forged")
    assert parsed.delivery_id is None
    # Still matched by the address the DSN names, but no delivery is marked.
    process_report(session, settings, raw, "forged", NOW)
    assert delivery.status == DeliveryStatus.SENT
    assert subscriber.status == SubscriberStatus.BOUNCED


# Idempotency


def test_the_same_report_twice_changes_nothing_the_second_time(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "grace@yahoo.com")
    delivery = sent(session, town.edition(session), subscriber)
    raw = report("arf_complaint.eml", settings, delivery)
    assert len(process_report(session, settings, raw, "first", NOW)) == 1
    assert process_report(session, settings, raw, "again", NOW + timedelta(hours=1)) == []
    assert len(events(session)) == 1
    consent = select(func.count()).select_from(ConsentEvent)
    assert session.scalar(consent) == 1


def test_webhook_event_by_relay_id_is_idempotent(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "erin@gmail.com")
    delivery = sent(session, town.edition(session), subscriber)
    event = webhook_report(
        settings,
        relay="postmark",
        event_id="b7c2-11",
        kind=BounceKind.HARD,
        recipient="erin@gmail.com",
        return_path=verp_address(settings, delivery.id),
        status="5.1.1",
        diagnostic="smtp; 550 5.1.1 no such user",
    )
    recorded = apply_report(session, settings, event, NOW)
    assert recorded is not None
    assert recorded.source == "webhook:postmark"
    assert apply_report(session, settings, event, NOW) is None
    assert delivery.status == DeliveryStatus.BOUNCED
    assert is_suppressed(session, "erin@gmail.com")


# The Maildir, the CLI and the task (real commits)


def fill_maildir(folder: Path, raws: dict[str, bytes]) -> None:
    for sub in ("new", "cur", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for name, raw in raws.items():
        (folder / "new" / name).write_bytes(raw)


def seed(factory: sessionmaker[Session], settings: Settings) -> dict[str, bytes]:
    """Two readers with a delivery each, and the reports about them (plus one for nobody)."""
    with factory() as session, session.begin():
        community = Community(slug="shelbyville", name="Shelbyville", timezone="UTC")
        daily = Newsletter(slug="daily", name="Daily")
        session.add_all([community, daily])
        session.flush()
        town = Town(community, daily, daily)
        segment = town.edition(session)
        alice = sent(session, segment, reader_one(session, community, daily, "alice@example.net"))
        grace = sent(session, segment, reader_one(session, community, daily, "grace@yahoo.com"))
    return {
        "1764000001.M1P1.mx": report("postfix_hard.eml", settings, alice),
        "1764000002.M2P1.mx": report("arf_complaint.eml", settings, grace),
        "1764000003.M3P1.mx": report("unmatched.eml", settings),
    }


def reader_one(
    session: Session, community: Community, newsletter: Newsletter, email: str
) -> Subscriber:
    subscriber = Subscriber(email=email, community_id=community.id)
    session.add(subscriber)
    session.flush()
    session.add(
        Subscription(
            subscriber_id=subscriber.id,
            newsletter_id=newsletter.id,
            status=SubscriptionStatus.CONFIRMED,
            source="test",
        )
    )
    session.flush()
    return subscriber


def statuses(factory: sessionmaker[Session]) -> dict[str | None, SubscriberStatus]:
    with factory() as session:
        return dict(session.execute(select(Subscriber.email, Subscriber.status)).all())  # type: ignore[arg-type]


def test_maildir_reports_are_processed_once_and_kept_in_cur(
    committed: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "bounces"
    fill_maildir(folder, seed(committed, settings))
    # A report a mail client already moved to cur/, unread, is still processed.
    first = folder / "new" / "1764000001.M1P1.mx"
    first.rename(folder / "cur" / "1764000001.M1P1.mx:2,F")

    counts = process_maildir(committed, settings, folder, FixedClock(NOW))

    assert counts == {
        "messages": 3,
        "hard": 2,
        "complaint": 1,
        "unmatched": 1,
    }
    assert list((folder / "new").iterdir()) == []
    assert sorted(p.name for p in (folder / "cur").iterdir()) == [
        "1764000001.M1P1.mx:2,FS",
        "1764000002.M2P1.mx:2,S",
        "1764000003.M3P1.mx:2,S",
    ]
    assert statuses(committed) == {
        "alice@example.net": SubscriberStatus.BOUNCED,
        "grace@yahoo.com": SubscriberStatus.COMPLAINED,
    }
    again = process_maildir(committed, settings, folder, FixedClock(NOW))
    assert again == {}


def test_reprocessing_a_report_after_a_crash_changes_nothing(
    committed: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "bounces"
    raws = seed(committed, settings)
    fill_maildir(folder, raws)
    process_maildir(committed, settings, folder, FixedClock(NOW))
    # As if the process died after committing but before marking the file read.
    fill_maildir(folder, raws)
    counts = process_maildir(committed, settings, folder, FixedClock(NOW))
    assert counts == {"messages": 3, "duplicates": 3}
    with committed() as session:
        assert session.scalar(select(func.count()).select_from(BounceEvent)) == 3


def test_not_a_maildir(
    committed: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(DigestError, match="is not a Maildir"):
        process_maildir(committed, settings, tmp_path, FixedClock(NOW))


def test_cli_processes_a_maildir(
    committed: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "bounces"
    fill_maildir(folder, seed(committed, settings))
    result = subprocess.run(
        [sys.executable, "-m", "digest", "bounces", "process", "--maildir", str(folder)],
        env={**os.environ, "DIGEST_BOUNCE_DOMAIN": "news.example"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "3 reports read" in result.stdout
    assert "2 hard, 0 soft, 1 complaint, 0 unknown; 1 matched nobody (kept)" in result.stdout
    assert statuses(committed)["alice@example.net"] == SubscriberStatus.BOUNCED


def test_cli_without_a_mailbox_says_how_to_give_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "digest", "bounces", "process"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "pass --maildir PATH or set DIGEST_BOUNCE_MAILBOX_URL" in result.stderr


@pytest.mark.celery
def test_process_bounces_task_on_a_real_worker(
    start_worker: Callable[..., WorkerProcess],
    committed: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
) -> None:
    from workers.celery_app import app

    folder = tmp_path / "bounces"
    fill_maildir(folder, seed(committed, settings))
    start_worker(bounce_mailbox_url=f"maildir://{folder}", bounce_domain="news.example")
    app.send_task("digest.process_bounces")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((folder / "cur").iterdir())) < 3:
        time.sleep(0.2)
    assert sorted(p.name.partition(":")[2] for p in (folder / "cur").iterdir()) == ["2,S"] * 3
    assert statuses(committed) == {
        "alice@example.net": SubscriberStatus.BOUNCED,
        "grace@yahoo.com": SubscriberStatus.COMPLAINED,
    }


# The reader's own data


def test_gdpr_export_lists_deliveries_and_bounces_and_erasure_forgets_the_address(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "alice@example.net")
    delivery = sent(session, town.edition(session), subscriber)
    process_report(session, settings, report("postfix_hard.eml", settings, delivery), "pf", NOW)
    data = export_subscriber(session, "alice@example.net")
    [sent_row] = data["deliveries"]  # type: ignore[misc]
    [bounce_row] = data["bounces"]  # type: ignore[misc]
    assert (sent_row["newsletter"], sent_row["status"]) == ("daily", "bounced")
    assert (bounce_row["kind"], bounce_row["reason"], bounce_row["status"]) == (
        "hard",
        "user-unknown",
        "5.1.1",
    )
    assert "alice@example.net" in bounce_row["diagnostic"]
    erase_subscriber(session, "alice@example.net", NOW)
    [event] = events(session)
    assert (event.recipient, event.diagnostic, event.reason) == (None, None, "user-unknown")


def test_an_ses_complaint_mailed_to_the_bounce_mailbox_unsubscribes(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "bea.m@example.com")
    [path] = (Path(__file__).parent / "corpus" / "messages").glob("*_ses_json_complaint.eml")
    [event] = process_report(session, settings, path.read_bytes(), path.name, NOW)
    assert (event.kind, event.reason, event.recipient) == (
        BounceKind.COMPLAINT,
        "complaint",
        "bea.m@example.com",
    )
    assert subscriber.status == SubscriberStatus.COMPLAINED
    assert is_suppressed(session, "bea.m@example.com")


def dsn_quoting(message_id: str, final_recipient: str) -> bytes:
    """A DSN to the plain bounce address (the relay rewrote our return path) that quotes the
    original's headers, as RFC 3464 reports do."""
    return (
        "From: MAILER-DAEMON@mx.example.net\r\n"
        "To: bounces@bounces.news.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {final_recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nSubject: Morning digest\r\n\r\n"
        "--b--\r\n"
    ).encode()


def test_a_bounce_that_quotes_our_signed_message_id_names_its_delivery(
    session: Session, town: Town, settings: Settings
) -> None:
    subscriber = reader(session, town, "grace@example.org")
    segment = town.edition(session)
    delivery = sent(session, segment, subscriber)
    key = f"e{segment.edition_id}.s{segment.id}"
    genuine = f"<{key}.{delivery.id}.{message_id_tag(settings, key, delivery.id)}@news.example>"
    # The DSN names the forwarding address the mail ended up at, not the reader's own.
    raw = dsn_quoting(genuine, "grace.old@forwarded.example")
    [event] = process_report(session, settings, raw, "rewritten", NOW)
    assert (event.kind, event.delivery_id, event.subscriber_id) == (
        BounceKind.HARD,
        delivery.id,
        subscriber.id,
    )
    forged = f"<{key}.{delivery.id}.{'0' * 16}@news.example>"
    [other] = process_report(session, settings, dsn_quoting(forged, "x@y.example"), "f", NOW)
    assert other.delivery_id is None
