"""Subscriptions core: addresses, double opt-in, consent records, erasure, import and export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.addresses import AddressError, email_hash, normalize_email
from digest.errors import DigestError
from digest.models import (
    ConsentAction,
    ConsentEvent,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from digest.readers.consent import Origin, consent_proof
from digest.readers.erase import erase_subscriber, export_subscriber
from digest.readers.imports import import_subscribers
from digest.readers.list_export import export_list
from digest.readers.preferences import change_preferences, unsubscribe
from digest.readers.signup import SignupError, confirm, signup
from digest.readers.suppressions import suppress
from tests.support.web import START, populate

FORM = Origin("form: /", ip="203.0.113.7", user_agent="Firefox", wording_version="v1")


@pytest.fixture
def sessions(committed: sessionmaker[Session]) -> sessionmaker[Session]:
    populate(committed)
    return committed


def join(session: Session, email: str = "jane@example.org", **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "email": email,
        "community": "springfield",
        "newsletters": ["morning"],
        "consent": True,
        "origin": FORM,
        "wording": "I agree",
        "now": START,
        "resend_after": timedelta(minutes=15),
    }
    values.update(overrides)
    return signup(session, **values)


# Addresses


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Jane.Doe@Example.ORG", "jane.doe@example.org"),
        ("  jane@example.org\n", "jane@example.org"),
        ("jane@bücher.example", "jane@xn--bcher-kva.example"),
        ("jane+news@example.org", "jane+news@example.org"),
    ],
)
def test_addresses_have_one_normal_form(raw: str, normal: str) -> None:
    assert normalize_email(raw) == normal


def test_non_ascii_before_the_at_is_refused_by_policy() -> None:
    with pytest.raises(AddressError, match="cannot be accepted"):
        normalize_email("jäne@example.org")


def test_a_known_provider_typo_suggests_the_fix() -> None:
    with pytest.raises(AddressError, match=r"did you mean jane@gmail\.com\?"):
        normalize_email("Jane@gmial.com")


# Signup and confirm


def test_signup_then_confirm(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        outcome = join(session, newsletters=["morning", "weekend"])
        assert outcome.send_confirmation
        done = confirm(session, outcome.subscriber_id, Origin("confirm page"), START)
        assert done.confirmed == ["Morning Digest", "Weekend Reads"]
        assert done.send_welcome
        again = confirm(session, outcome.subscriber_id, Origin("confirm page"), START)
        assert again.confirmed == []
        assert not again.send_welcome


def test_signup_errors_name_every_field(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(SignupError) as raised:
        join(session, email="x", community="nowhere", newsletters=[], consent=False)
    assert set(raised.value.errors) == {"email", "community", "newsletters", "consent"}


def test_a_suppressed_address_records_nothing_and_gets_no_email(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        suppress(session, "jane@example.org", SuppressionReason.COMPLAINT, None, START)
        outcome = join(session, email="JANE@example.org")
        assert outcome.subscriber_id is None
        assert not outcome.send_confirmation
        assert session.scalars(select(Subscriber)).first() is None


def test_a_bounced_reader_gets_no_confirmation(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        first = join(session)
        session.get(Subscriber, first.subscriber_id).status = SubscriberStatus.BOUNCED  # type: ignore[union-attr]
        assert not join(session, now=START + timedelta(hours=1)).send_confirmation


def test_signup_leaves_the_town_of_an_existing_reader_alone(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        first = join(session)
        join(session, community="shelbyville", now=START + timedelta(hours=1))
        reader = session.get(Subscriber, first.subscriber_id)
        assert reader is not None
        assert reader.community.slug == "springfield"


# Records


def test_consent_events_are_append_only(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        join(session)
    with sessions() as session, session.begin():
        event = session.scalars(select(ConsentEvent)).one()
        event.ip = "198.51.100.1"
        with pytest.raises(ValueError, match="append-only"):
            session.flush()
        session.rollback()


def test_consent_proof_lists_each_event_with_its_context(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        outcome = join(session)
        confirm(session, outcome.subscriber_id, Origin("confirm page", ip="203.0.113.8"), START)
        unsubscribe(session, outcome.subscriber_id, None, Origin("one-click (RFC 8058)"), START)
    with sessions() as session:
        proof = consent_proof(session, "Jane@Example.org")
    events = proof["events"]
    assert isinstance(events, list)
    assert [e["action"] for e in events] == ["signup", "confirm", "unsubscribe"]
    assert events[0] | {"occurred_at": None} == {
        "occurred_at": None,
        "action": "signup",
        "newsletter": "morning",
        "source": "form: /",
        "ip": "203.0.113.7",
        "user_agent": "Firefox",
        "wording_version": "v1",
        "detail": {"wording": "I agree"},
    }
    with sessions() as session, pytest.raises(DigestError, match="no subscriber"):
        consent_proof(session, "nobody@example.org")


def test_export_holds_everything_about_the_reader(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        join(session, newsletters=["morning", "weekend"])
    with sessions() as session:
        data = export_subscriber(session, "jane@example.org")
    assert data["email"] == "jane@example.org"
    assert data["town"] == "Springfield"
    subscriptions = data["subscriptions"]
    assert isinstance(subscriptions, list)
    assert [(s["newsletter"], s["status"]) for s in subscriptions] == [
        ("morning", "pending"),
        ("weekend", "pending"),
    ]
    assert len(data["consent_events"]) == 2  # type: ignore[arg-type]


def test_erasure_removes_personal_data_and_keeps_a_hashed_suppression(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        outcome = join(session)
        confirm(session, outcome.subscriber_id, Origin("confirm page"), START)
        suppress(session, "jane@example.org", SuppressionReason.SOFT_BOUNCE, "full", START)
    with sessions() as session, session.begin():
        erasure = erase_subscriber(session, "Jane@Example.org", START)
    assert erasure.found
    assert erasure.events_removed == 2
    with sessions() as session, session.begin():
        reader = session.get(Subscriber, outcome.subscriber_id)
        assert reader is not None
        assert (reader.email, reader.email_hash, reader.name) == (None, None, None)
        assert reader.status == SubscriberStatus.ERASED
        assert {s.status for s in reader.subscriptions} == {SubscriptionStatus.UNSUBSCRIBED}
        events = session.scalars(select(ConsentEvent)).all()
        assert [(e.action, e.ip, e.user_agent) for e in events] == [
            (ConsentAction.ERASE, None, None)
        ]
        suppression = session.scalars(select(Suppression)).one()
        assert suppression.email_hash == email_hash("jane@example.org")
        assert suppression.email is None  # the earlier bounce kept the address: gone now
        # Signing up again (or being imported again) mails nothing.
        assert not join(session, now=START + timedelta(days=1)).send_confirmation
        report = import_subscribers(
            session,
            [{"email": "jane@example.org"}],
            source="fair",
            community="springfield",
            newsletters=["morning"],
            now=START,
        )
        assert report.added == 0
        assert report.skipped[0][2].startswith("suppressed")


def test_erasing_an_unknown_address_still_suppresses_it(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        erasure = erase_subscriber(session, "ghost@example.org", START)
        assert not erasure.found
        assert session.scalars(select(Suppression.email_hash)).one() == email_hash(
            "ghost@example.org"
        )


# Import and export


def test_import_needs_a_consent_source(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(DigestError, match="consent source is required"):
        import_subscribers(
            session, [], source="  ", community="springfield", newsletters=["morning"], now=START
        )


def test_import_confirms_with_the_source_and_respects_withdrawals(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        left = join(session, email="left@example.org")
        confirm(session, left.subscriber_id, Origin("confirm page"), START)
        unsubscribe(session, left.subscriber_id, None, Origin("unsubscribe page"), START)
        rows = [
            {"email": "New@Example.org", "name": "New Reader"},
            {"email": "left@example.org"},
            {"email": "not-an-address"},
            {"email": "town@example.org", "community": "atlantis"},
            {"email": "shelby@example.org", "community": "shelbyville"},
        ]
        report = import_subscribers(
            session,
            rows,
            source="paper form, county fair 2026",
            community="springfield",
            newsletters=["morning"],
            now=START,
        )
    assert (report.added, report.confirmed) == (2, 2)
    assert [(line, reason.split(":")[0]) for line, _, reason in report.skipped] == [
        (3, "unsubscribed from morning"),
        (4, "Please check your email address"),
        (5, "unknown town 'atlantis'"),
    ]
    with sessions() as session:
        _, rows_out = export_list(session, "morning")
        event = session.scalars(
            select(ConsentEvent).where(ConsentEvent.action == ConsentAction.IMPORT)
        ).first()
    assert [(r["email"], r["name"], r["community"]) for r in rows_out] == [
        ("new@example.org", "New Reader", "springfield"),
        ("shelby@example.org", "", "shelbyville"),
    ]
    assert event is not None
    assert event.source == "import: paper form, county fair 2026"


def test_export_list_of_an_unknown_newsletter_is_an_error(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(DigestError, match="no newsletter 'nope'"):
        export_list(session, "nope")


# Leaving


def test_leaving_one_newsletter_keeps_the_others_and_records_each_withdrawal(
    sessions: sessionmaker[Session],
) -> None:
    later = START + timedelta(days=3)
    with sessions() as session, session.begin():
        outcome = join(session, newsletters=["morning", "weekend"])
        reader = outcome.subscriber_id
        confirm(session, reader, Origin("confirm page"), START)
    with sessions() as session, session.begin():
        morning = session.scalars(select(Newsletter.id).where(Newsletter.slug == "morning")).one()
        assert unsubscribe(session, reader, morning, Origin("link"), later) == ["Morning Digest"]
        assert unsubscribe(session, reader, morning, Origin("link"), later) == []
    with sessions() as session, session.begin():
        assert unsubscribe(session, reader, None, Origin("link"), later) == ["Weekend Reads"]
        events = session.scalars(
            select(ConsentEvent).where(ConsentEvent.action == ConsentAction.UNSUBSCRIBE)
        ).all()
        assert [(e.detail["scope"], e.occurred_at) for e in events] == [
            ("one", later),
            ("all", later),
        ]
        left = session.scalars(select(Subscription).where(Subscription.subscriber_id == reader))
        assert {(s.status, s.unsubscribed_at) for s in left} == {
            (SubscriptionStatus.UNSUBSCRIBED, later)
        }


def test_changed_readers_carry_the_clock_s_time_not_the_system_s(
    sessions: sessionmaker[Session],
) -> None:
    # updated_at has no onupdate: the time comes from the `now` the caller passes.
    moved = START + timedelta(days=400)
    with sessions() as session, session.begin():
        reader = join(session).subscriber_id
    with sessions() as session, session.begin():
        change_preferences(
            session,
            reader,
            community="shelbyville",
            newsletters=["morning"],
            origin=Origin("preferences page"),
            wording="I agree",
            now=moved,
        )
    with sessions() as session:
        assert session.get_one(Subscriber, reader).updated_at == moved
    erased = moved + timedelta(days=1)
    with sessions() as session, session.begin():
        erase_subscriber(session, "jane@example.org", erased)
    with sessions() as session:
        assert session.get_one(Subscriber, reader).updated_at == erased
