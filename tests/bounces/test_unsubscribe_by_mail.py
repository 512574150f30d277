"""The List-Unsubscribe mailto: mail to it lands in the bounce mailbox and unsubscribes at once."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.bounces.mailbox import process_maildir
from digest.clock import FixedClock
from digest.models import BounceEvent, ConsentAction, ConsentEvent, Subscription, SubscriptionStatus
from digest.render.links import unsubscribe_mailto
from digest.settings import load_settings
from tests import factories

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def request_to(box: mailbox.Maildir, address: str) -> None:
    """What a mail client sends for a mailto: List-Unsubscribe."""
    mail = EmailMessage()
    mail["From"] = "reader0@springfield.example"
    mail["To"] = address
    mail["Subject"] = "unsubscribe"
    mail.set_content("")
    box.add(mail)


def test_mail_to_the_mailto_address_unsubscribes_from_that_newsletter(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = load_settings(bounce_domain="bounces.news.example")
    with committed() as session, session.begin():
        (town,) = factories.towns(session, ("springfield",))
        letter = factories.newsletter(session)
        reader, other = factories.readers(session, letter, town, 2)
        ids = (reader.id, other.id, letter.id)
    address = unsubscribe_mailto(settings, ids[0], ids[2]).removeprefix("mailto:").partition("?")[0]
    assert len(address.partition("@")[0]) <= 64
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    request_to(box, address.upper())  # a server may change the case of the local part
    request_to(box, address.replace(address[-30:-25], "00000"))  # a forged signature

    counts = process_maildir(committed, settings, tmp_path / "bounces", FixedClock(NOW))

    assert counts["unsubscribes"] == 1
    assert counts["messages"] == 2
    with committed() as session:
        states = dict(
            session.execute(select(Subscription.subscriber_id, Subscription.status)).all()
        )
        assert states == {
            ids[0]: SubscriptionStatus.UNSUBSCRIBED,
            ids[1]: SubscriptionStatus.CONFIRMED,
        }
        (event,) = session.scalars(
            select(ConsentEvent).where(ConsentEvent.action == ConsentAction.UNSUBSCRIBE)
        ).all()
        assert event.subscriber_id == ids[0]
        assert event.source.startswith("email to the List-Unsubscribe address")
        forged = session.scalars(select(BounceEvent)).all()
        assert len(forged) == 1  # the forged one is kept as an unreadable report, nothing more
        assert forged[0].subscriber_id is None
