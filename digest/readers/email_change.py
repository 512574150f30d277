"""Changing a reader's address: asked from the preferences page, confirmed from the new one.

Nothing changes until the new address's owner follows the link mailed to it (a typo or
someone else's address never takes over the subscription). Both steps are consent events;
the old address keeps receiving until then. An address that is suppressed, or is another
reader's, cannot be taken: asking for one gets the same answer as any other address (the form
must not tell who subscribes) and nothing is mailed. One request per reader per resend window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.addresses import AddressError, normalize_email
from digest.i18n import translatable
from digest.models import ConsentAction, ConsentEvent, Subscriber
from digest.readers.consent import Origin, record_consent
from digest.readers.signup import SignupError
from digest.readers.subscribers import live_subscriber
from digest.readers.suppressions import is_suppressed

TAKEN = translatable("That address cannot be used for your subscription; please choose another.")


@dataclass(frozen=True)
class ChangeRequested:
    """A request recorded: the reader is told a link went to `address` whatever `mail` says."""

    address: str  # normalized
    mail: bool  # False when the address is another reader's or suppressed: nothing is sent


class ChangeTooSoonError(Exception):
    """The reader asked within the resend window; `retry_after` seconds are left."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"an address change was asked for {retry_after} s ago at most")
        self.retry_after = retry_after


def _well_formed(subscriber: Subscriber, new_email: str) -> str:
    try:
        normal = normalize_email(new_email)
    except AddressError as exc:
        raise SignupError({"new_email": exc.reader_message}) from None
    if normal == subscriber.email:
        raise SignupError({"new_email": translatable("That is already your address.")})
    return normal


def _taken(session: Session, normal: str) -> bool:
    other = session.scalar(select(Subscriber.id).where(Subscriber.email == normal))
    return other is not None or is_suppressed(session, normal)


def _usable(session: Session, subscriber: Subscriber, new_email: str) -> str:
    normal = _well_formed(subscriber, new_email)
    if _taken(session, normal):
        raise SignupError({"new_email": TAKEN})
    return normal


def _last_request(session: Session, subscriber_id: int, since: datetime) -> datetime | None:
    query = select(ConsentEvent.occurred_at, ConsentEvent.detail).where(
        ConsentEvent.subscriber_id == subscriber_id,
        ConsentEvent.action == ConsentAction.PREFERENCES,
        ConsentEvent.occurred_at > since,
    )
    asked = [
        at for at, detail in session.execute(query) if detail.get("email_change") == "requested"
    ]
    return max(asked, default=None)


def request_email_change(
    session: Session,
    subscriber_id: int,
    new_email: str,
    origin: Origin,
    now: datetime,
    resend_after: timedelta,
) -> ChangeRequested:
    """Record the request; says which address to tell the reader and whether to mail it.

    Raises SignupError (a malformed address, or the reader's own), ChangeTooSoonError (asked
    within `resend_after`, whatever the address was), SubscriberGoneError.
    """
    subscriber = live_subscriber(session, subscriber_id)
    # Locked: two requests at once must not both pass the window (SQLite writes one at a time).
    session.execute(select(Subscriber.id).where(Subscriber.id == subscriber.id).with_for_update())
    normal = _well_formed(subscriber, new_email)
    last = _last_request(session, subscriber.id, now - resend_after)
    if last is not None:
        raise ChangeTooSoonError(max(1, math.ceil((last + resend_after - now).total_seconds())))
    mail = not _taken(session, normal)
    detail: dict[str, object] = {"email_change": "requested", "to": normal, "mailed": mail}
    record_consent(session, subscriber.id, None, ConsentAction.PREFERENCES, origin, now, detail)
    session.flush()
    return ChangeRequested(normal, mail)


def confirm_email_change(
    session: Session, subscriber_id: int, new_email: str, origin: Origin, now: datetime
) -> str:
    """Make the confirmed new address the reader's; returns it. Raises SignupError when it
    was taken or suppressed in the meantime, SubscriberGoneError."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber.email == new_email:
        return new_email  # the link followed twice
    normal = _usable(session, subscriber, new_email)
    old = subscriber.email
    subscriber.email = normal  # the hash follows (digest.models._keep_email_hash)
    subscriber.updated_at = now
    detail: dict[str, object] = {"email_change": "confirmed", "from": old, "to": normal}
    record_consent(session, subscriber.id, None, ConsentAction.PREFERENCES, origin, now, detail)
    session.flush()
    return normal
