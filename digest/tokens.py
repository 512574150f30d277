"""Signed tokens for links and return paths (itsdangerous), one salt per purpose.

Tokens signed with DIGEST_SECRET_KEY_PREVIOUS still verify, so rotating the key breaks no link
already in a reader's inbox.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from digest.errors import DigestError
from digest.settings import Settings

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
EMAIL_CHANGE = "email_change"
BOUNCE = "bounce"
SPONSOR_REPORT = "sponsor-report"
KEEP = "keep"  # "keep me subscribed", from a re-engagement email

DAY = 24 * 3600
# How long each kind of token is honoured (seconds); None means no expiry.
MAX_AGE: dict[str, int | None] = {
    CONFIRM: 7 * DAY,
    UNSUBSCRIBE: None,  # CASL asks for at least 60 days; an unsubscribe link never expires
    PREFERENCES: 365 * DAY,
    EMAIL_CHANGE: 2 * DAY,  # a new address is confirmed soon, or asked for again
    BOUNCE: 90 * DAY,
    SPONSOR_REPORT: 365 * DAY,  # an advertiser's read-only report link, sent by the publisher
    KEEP: 365 * DAY,  # outlives the grace: a late click still says "keep me" (or how to rejoin)
}


class TokenError(DigestError):
    """A token that is tampered with, for another purpose, or expired."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    keys = [key for key in (settings.secret_key_previous, settings.signing_key()) if key]
    # itsdangerous signs with the last key and accepts any of them.
    return URLSafeTimedSerializer(keys, salt=f"digest.{purpose}")


def make_token(settings: Settings, purpose: str, payload: Any) -> str:
    return str(_serializer(settings, purpose).dumps(payload))


def read_token(settings: Settings, purpose: str, token: str, max_age: int | None = None) -> Any:
    """The payload of a valid token; raises TokenError when tampered with or expired."""
    age = max_age if max_age is not None else MAX_AGE[purpose]
    try:
        return _serializer(settings, purpose).loads(token, max_age=age)
    except SignatureExpired:
        raise TokenError("this link has expired", expired=True) from None
    except BadSignature:
        raise TokenError("this link is not valid") from None


VERP_PREFIX = "bounces+"


def verp_address(settings: Settings, delivery_id: int) -> str:
    """The envelope sender that names one delivery: bounces+TOKEN@DIGEST_BOUNCE_DOMAIN."""
    return f"{VERP_PREFIX}{make_token(settings, BOUNCE, delivery_id)}@{settings.bounce_domain}"


def delivery_id_from_verp(settings: Settings, address: str) -> int | None:
    """The delivery a VERP address names, or None when it is not one of ours or is forged."""
    local, _, _domain = address.strip().strip("<>").rpartition("@")
    if not local.startswith(VERP_PREFIX):
        return None
    try:
        payload = read_token(settings, BOUNCE, local[len(VERP_PREFIX) :])
    except TokenError:
        return None
    return payload if isinstance(payload, int) else None


UNSUBSCRIBE_MAIL_PREFIX = "unsubscribe+"


def message_id_tag(settings: Settings, message_key: str, delivery_id: int) -> str:
    """64 bits of HMAC naming one delivery of one segment in its Message-ID.

    Nobody without the key can guess another reader's Message-ID, and a retry of the same
    delivery (any process, any day) carries the same one, so a mailbox can drop the repeat.
    """
    subject = f"digest.message-id:{message_key}.{delivery_id}"
    return hmac.new(settings.signing_key().encode(), subject.encode(), hashlib.sha256).hexdigest()[
        :16
    ]


def _mail_signature(key: str, subject: str) -> str:
    # 80 bits of HMAC in lower-case hex: short enough for a 64-octet local part, and unharmed
    # by a mail server that changes the case of local parts.
    mac = hmac.new(key.encode(), f"digest.unsubscribe-mail:{subject}".encode(), hashlib.sha256)
    return mac.hexdigest()[:20]


def unsubscribe_mail_address(
    settings: Settings, subscriber_id: int, newsletter_id: int | None
) -> str:
    """The List-Unsubscribe mailto address: unsubscribe+READER-LIST-SIGNATURE@BOUNCE_DOMAIN.

    LIST is 0 for every newsletter. It never expires and survives a key rotation, like the
    unsubscribe link.
    """
    subject = f"{subscriber_id}-{newsletter_id or 0}"
    signature = _mail_signature(settings.signing_key(), subject)
    return f"{UNSUBSCRIBE_MAIL_PREFIX}{subject}-{signature}@{settings.bounce_domain}"


def read_unsubscribe_mail_address(
    settings: Settings, address: str
) -> tuple[int, int | None] | None:
    """(subscriber id, newsletter id or None) from a genuine unsubscribe address, else None."""
    local = address.strip().strip("<>").rpartition("@")[0].lower()
    if not local.startswith(UNSUBSCRIBE_MAIL_PREFIX):
        return None
    parts = local[len(UNSUBSCRIBE_MAIL_PREFIX) :].split("-")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    subject = f"{int(parts[0])}-{int(parts[1])}"
    keys = [key for key in (settings.signing_key(), settings.secret_key_previous) if key]
    if not any(hmac.compare_digest(_mail_signature(key, subject), parts[2]) for key in keys):
        return None
    return int(parts[0]), int(parts[1]) or None
