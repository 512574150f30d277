"""Changing a reader's address: asked from the preferences page, confirmed from the new one.

Nothing changes until the new address's owner follows the link mailed to it (a typo or
someone else's address never takes over the subscription). Both steps are consent events;
the old address keeps receiving until then. An address that is suppressed, or is another
reader's, cannot be taken.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.addresses import AddressError, normalize_email
from digest.i18n import translatable
from digest.models import ConsentAction, Subscriber
from digest.readers.consent import Origin, record_consent
from digest.readers.signup import SignupError
from digest.readers.subscribers import live_subscriber
from digest.readers.suppressions import is_suppressed

TAKEN = translatable("That address cannot be used for your subscription; please choose another.")


def _usable(session: Session, subscriber: Subscriber, new_email: str) -> str:
    try:
        normal = normalize_email(new_email)
    except AddressError as exc:
        raise SignupError({"new_email": exc.reader_message}) from None
    if normal == subscriber.email:
        raise SignupError({"new_email": translatable("That is already your address.")})
    other = session.scalar(select(Subscriber.id).where(Subscriber.email == normal))
    if other is not None or is_suppressed(session, normal):
        raise SignupError({"new_email": TAKEN})
    return normal


def request_email_change(
    session: Session, subscriber_id: int, new_email: str, origin: Origin, now: datetime
) -> str:
    """Record the request; returns the new address (normalized) to mail the link to.

    Raises SignupError (a bad, suppressed or taken address), SubscriberGoneError.
    """
    subscriber = live_subscriber(session, subscriber_id)
    normal = _usable(session, subscriber, new_email)
    detail: dict[str, object] = {"email_change": "requested", "to": normal}
    record_consent(session, subscriber.id, None, ConsentAction.PREFERENCES, origin, now, detail)
    session.flush()
    return normal


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
