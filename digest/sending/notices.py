"""Transactional emails to one reader: the confirmation after a signup, the welcome after it.

Each is composed from the database at send time (so a reader who confirmed, unsubscribed,
was erased or suppressed in the meantime gets nothing stale), rendered with
`digest.render.render.render_transactional`, encoded by `digest.render.mime` and handed to a
transport.
`compose_notice` takes a Session and never commits; `send_notice` takes a session factory,
because it must close its transaction before it talks SMTP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from digest.errors import DigestError
from digest.i18n import language_of, supported
from digest.models import Newsletter, Subscriber, SubscriberStatus
from digest.readers.signup import confirmed_newsletters, pending_newsletters
from digest.readers.suppressions import is_suppressed
from digest.readers.welcome import first_edition
from digest.render import links
from digest.render.mime import Reader, compose, transactional_template
from digest.render.transactional import render_transactional
from digest.sending.transport import SendResult, SendStatus, Transport
from digest.settings import Settings

log = logging.getLogger(__name__)

CONFIRMATION = "confirm"
WELCOME = "welcome"
EMAIL_CHANGE = "email_change"  # to a reader's new address, which they must confirm
KINDS = (CONFIRMATION, WELCOME, EMAIL_CHANGE)


@dataclass(frozen=True)
class Notice:
    """One transactional email, encoded and addressed."""

    kind: str
    subscriber_id: int
    recipient: str
    mail_from: str
    data: bytes
    message_id: str


@dataclass(frozen=True)
class NoticeOutcome:
    """What became of a notice: sent, deferred (retry later), failed, or skipped (and why)."""

    status: str
    detail: str

    @property
    def retry(self) -> bool:
        return self.status == SendStatus.DEFERRED


def _reachable(session: Session, subscriber_id: int) -> Subscriber | None:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.email is None:
        return None
    if subscriber.status != SubscriberStatus.ACTIVE or is_suppressed(session, subscriber.email):
        return None
    return subscriber


def compose_notice(
    session: Session,
    settings: Settings,
    kind: str,
    subscriber_id: int,
    now: datetime,
    new_address: str | None = None,
) -> Notice | None:
    """The confirmation or welcome for a reader, or None when there is nothing to send.

    Nothing is sent to a reader who is gone, not active, or suppressed; a confirmation
    needs a pending subscription, a welcome a confirmed one. Raises DigestError for an
    unknown kind (and the renderer's errors for a broken template).
    """
    if kind not in KINDS:
        raise DigestError(f"unknown notice {kind!r} (use {', '.join(KINDS)})")
    subscriber = _reachable(session, subscriber_id)
    if subscriber is None or subscriber.email is None:
        return None
    address = subscriber.email
    if kind == EMAIL_CHANGE:
        if new_address is None or is_suppressed(session, new_address):
            return None
        address = new_address
    if kind == CONFIRMATION:
        newsletters = pending_newsletters(session, subscriber_id)
    else:
        newsletters = confirmed_newsletters(session, subscriber_id)
    if not newsletters:
        return None
    # One newsletter signs (and is left by the unsubscribe link of) its own welcome;
    # with several, DIGEST_SENDER signs and the link leaves them all.
    only: Newsletter | None = newsletters[0] if len(newsletters) == 1 else None
    # The newsletters' language; when they differ, the first one's (by name).
    language = language_of(n.language for n in newsletters) or supported(newsletters[0].language)
    context: dict[str, object] = {
        "newsletters": [n.name for n in newsletters],
        "community_name": subscriber.community.name,
        "newsletter": only,
        "language": language,
    }
    if kind == CONFIRMATION:
        context["confirm_url"] = links.confirm_url(settings, subscriber_id)
    elif kind == EMAIL_CHANGE:
        context["confirm_url"] = links.email_change_url(settings, subscriber_id, address)
    else:
        context["arrivals"] = _arrivals(settings, subscriber, newsletters, now, language)
    rendered = render_transactional(settings, kind, context)
    template = transactional_template(settings, rendered, date=now, newsletter=only)
    message = compose(template, Reader(None, subscriber_id, address, subscriber.name))
    return Notice(kind, subscriber_id, address, message.mail_from, message.data, message.message_id)


def _arrivals(
    settings: Settings,
    subscriber: Subscriber,
    newsletters: list[Newsletter],
    now: datetime,
    language: str,
) -> list[str]:
    """When each newsletter's first edition comes, in the reader's town and frequency."""
    frequency = {s.newsletter_id: s.frequency for s in subscriber.subscriptions}
    town = subscriber.community
    return [
        first_edition(
            letter,
            frequency.get(letter.id, "daily"),
            town.timezone,
            town.name,
            now,
            settings.weekly_day,
            language,
        )
        for letter in newsletters
    ]


def send_notice(
    sessions: sessionmaker[Session],
    settings: Settings,
    kind: str,
    subscriber_id: int,
    transport: Transport,
    now: datetime,
    new_address: str | None = None,
) -> NoticeOutcome:
    """Compose the reader's confirmation or welcome, then hand it to the transport.

    Composing reads in a short transaction of its own, which ends before the transport is
    used: an SMTP conversation (up to DIGEST_SMTP_TIMEOUT) never holds the database. The
    transport connects when it sends; the caller closes it. A deferred outcome means the mail
    server asked to try again later (the caller retries).
    """
    with sessions() as session, session.begin():
        notice = compose_notice(session, settings, kind, subscriber_id, now, new_address)
    if notice is None:
        log.info("%s for subscriber %s: nothing to send", kind, subscriber_id)
        return NoticeOutcome("skipped", "nothing to send to this reader now")
    result: SendResult = transport.send(notice.mail_from, notice.recipient, notice.data)
    log.info("%s for subscriber %s: %s (%s)", kind, subscriber_id, result.status, result.reply)
    return NoticeOutcome(str(result.status), result.reply)
