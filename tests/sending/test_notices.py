"""Confirmation and welcome emails, sent through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import Message

import pytest
from sqlalchemy.orm import Session, sessionmaker

from digest.models import SuppressionReason
from digest.readers.consent import Origin
from digest.readers.erase import erase_subscriber
from digest.readers.preferences import unsubscribe
from digest.readers.signup import confirm, signup
from digest.readers.suppressions import suppress
from digest.sending.mail_url import transport_for_url
from digest.sending.notices import compose_notice, send_notice
from digest.settings import Settings, load_settings
from digest.tokens import CONFIRM, read_token
from tests.support.smtp import SMTPServer
from tests.support.web import START, populate

LINK = re.compile(r"http://127\.0\.0\.1:8000/(confirm|u|preferences)/[A-Za-z0-9_.\-]+")


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def reader(committed: sessionmaker[Session]) -> int:
    populate(committed)
    with committed() as session, session.begin():
        outcome = signup(
            session,
            email="jane@example.org",
            community="springfield",
            newsletters=["morning", "weekend"],
            consent=True,
            origin=Origin("form: /"),
            wording="I agree",
            now=START,
            resend_after=timedelta(minutes=15),
        )
        assert outcome.subscriber_id is not None
        return outcome.subscriber_id


def text_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text part")


def send(
    sessions: sessionmaker[Session], settings: Settings, server: SMTPServer, kind: str, who: int
) -> str:
    with transport_for_url(server.url) as transport:
        return send_notice(sessions, settings, kind, who, transport, START).status


def test_the_confirmation_carries_a_working_confirm_link(
    committed: sessionmaker[Session], settings: Settings, smtp_server: SMTPServer, reader: int
) -> None:
    assert send(committed, settings, smtp_server, "confirm", reader) == "sent"
    [received] = smtp_server.received
    assert received.rcpt_tos == ["jane@example.org"]
    assert received.mail_from == "bounces@localhost"
    message = received.message
    assert message["Subject"] == "Please confirm your subscription to Morning Digest, Weekend Reads"
    assert message["List-Unsubscribe"] is None  # nobody is on a list yet
    text = text_part(message)
    [confirm_link] = [m.group(0) for m in LINK.finditer(text) if m.group(1) == "confirm"]
    assert read_token(settings, CONFIRM, confirm_link.rsplit("/", 1)[1]) == {"s": reader}


def test_the_welcome_lists_the_newsletters_and_how_to_leave(
    committed: sessionmaker[Session], settings: Settings, smtp_server: SMTPServer, reader: int
) -> None:
    assert send(committed, settings, smtp_server, "welcome", reader) == "skipped"  # not yet
    with committed() as session, session.begin():
        confirm(session, reader, Origin("confirm page"), START)
    assert send(committed, settings, smtp_server, "welcome", reader) == "sent"
    [received] = smtp_server.received
    assert received.message["Subject"] == "Welcome to Morning Digest, Weekend Reads"
    kinds = {m.group(1) for m in LINK.finditer(text_part(received.message))}
    assert kinds == {"u", "preferences"}
    # Each newsletter says when its first edition comes, from its own schedule.
    assert "Morning Digest: your first edition arrives" in text_part(received.message)
    assert "next morning" not in text_part(received.message)


def test_nothing_is_sent_to_a_suppressed_unsubscribed_or_erased_reader(
    committed: sessionmaker[Session], settings: Settings, smtp_server: SMTPServer, reader: int
) -> None:
    with committed() as session, session.begin():
        unsubscribe(session, reader, None, Origin("unsubscribe page"), START)
        assert compose_notice(session, settings, "confirm", reader, START) is None
    with committed() as session, session.begin():
        signup(
            session,
            email="jane@example.org",
            community="springfield",
            newsletters=["morning"],
            consent=True,
            origin=Origin("form: /"),
            wording="I agree",
            now=START,
            resend_after=timedelta(0),
        )
        assert compose_notice(session, settings, "confirm", reader, START) is not None
        suppress(session, "Jane@Example.org", SuppressionReason.COMPLAINT, None, START)
        assert compose_notice(session, settings, "confirm", reader, START) is None
        erase_subscriber(session, "jane@example.org", START)
        assert compose_notice(session, settings, "welcome", reader, START) is None
    assert smtp_server.received == []


def test_a_deferring_server_asks_for_a_retry(
    committed: sessionmaker[Session], settings: Settings, smtp_server: SMTPServer, reader: int
) -> None:
    smtp_server.defer("jane@example.org")
    assert send(committed, settings, smtp_server, "confirm", reader) == "deferred"


def test_a_change_of_address_is_confirmed_from_the_new_address(
    committed: sessionmaker[Session], settings: Settings, smtp_server: SMTPServer, reader: int
) -> None:
    from digest.sending.notices import EMAIL_CHANGE
    from digest.tokens import EMAIL_CHANGE as PURPOSE

    with committed() as session, session.begin():
        confirm(session, reader, Origin("confirm page"), START)
    transport = transport_for_url(smtp_server.url)
    try:
        outcome = send_notice(
            committed, settings, EMAIL_CHANGE, reader, transport, START, "jane.new@example.org"
        )
    finally:
        transport.close()
    assert outcome.status == "sent"
    [received] = smtp_server.received
    assert received.rcpt_tos == ["jane.new@example.org"]
    assert received.message["Subject"] == "Please confirm your new address"
    token = re.search(r"/email/(\S+)", text_part(received.message))
    assert token is not None
    assert read_token(settings, PURPOSE, token.group(1)) == {
        "s": reader,
        "e": "jane.new@example.org",
    }
