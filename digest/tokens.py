"""Signed tokens for links and return paths, one salt per purpose.

Most tokens are itsdangerous'. The three minted in every digest message (the unsubscribe and
preferences links and the VERP return path) are compact instead: their numbers, the day they
were made and 80 bits of HMAC, in digits, "-" and lower-case hex (`5-0-20424-9c1f0e7a4b2d6c83
aa11`). Signing one costs a few microseconds against about 25 for itsdangerous (a serializer,
JSON and base64 per call), which a worker pays three times per message; and the return path
survives a mail server that changes the case of local parts. `read_token` takes both forms, so
links already in inboxes keep working.

Tokens signed with DIGEST_SECRET_KEY_PREVIOUS still verify, so rotating the key breaks no link
already in a reader's inbox.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
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
    if purpose in COMPACT_PAYLOADS and "." not in token:  # itsdangerous' tokens hold dots
        return COMPACT_PAYLOADS[purpose](read_compact(settings, purpose, token, age))
    try:
        return _serializer(settings, purpose).loads(token, max_age=age)
    except SignatureExpired:
        raise TokenError("this link has expired", expired=True) from None
    except BadSignature:
        raise TokenError("this link is not valid") from None


# Compact tokens


def make_compact(settings: Settings, purpose: str, numbers: tuple[int, ...]) -> str:
    """A compact token for `numbers` (see the module's docstring), dated today."""
    text = "-".join(str(number) for number in (*numbers, _today()))
    return f"{text}-{_compact_signature(settings.signing_key(), purpose, text)}"


def read_compact(
    settings: Settings, purpose: str, token: str, max_age: int | None
) -> tuple[int, ...]:
    """The numbers of a genuine compact token; raises TokenError like `read_token`."""
    *fields, signature = token.strip().lower().split("-")
    if len(fields) < 2 or not all(field.isdigit() and len(field) < 20 for field in fields):
        raise TokenError("this link is not valid")
    text = "-".join(fields)
    keys = [key for key in (settings.signing_key(), settings.secret_key_previous) if key]
    if not any(
        hmac.compare_digest(_compact_signature(key, purpose, text), signature) for key in keys
    ):
        raise TokenError("this link is not valid")
    *numbers, day = (int(field) for field in fields)
    if max_age is not None and (_today() - day) * DAY > max_age:
        raise TokenError("this link has expired", expired=True)
    return tuple(numbers)


def _compact_signature(key: str, purpose: str, text: str) -> str:
    mac = hmac.new(key.encode(), f"digest.{purpose}.compact:{text}".encode(), hashlib.sha256)
    return mac.hexdigest()[:20]


def _today() -> int:
    return int(time.time()) // DAY


def _unsubscribe_payload(numbers: tuple[int, ...]) -> dict[str, int]:
    subscriber_id, newsletter_id = numbers  # 0: every newsletter
    return {"s": subscriber_id, "n": newsletter_id} if newsletter_id else {"s": subscriber_id}


def _one_number(numbers: tuple[int, ...]) -> int:
    (number,) = numbers
    return number


# What read_token returns for a compact token: the payload its itsdangerous form carried.
COMPACT_PAYLOADS: dict[str, Callable[[tuple[int, ...]], Any]] = {
    UNSUBSCRIBE: _unsubscribe_payload,
    PREFERENCES: lambda numbers: {"s": _one_number(numbers)},
    BOUNCE: _one_number,
}


VERP_PREFIX = "bounces+"


def verp_address(settings: Settings, delivery_id: int) -> str:
    """The envelope sender that names one delivery: bounces+TOKEN@DIGEST_BOUNCE_DOMAIN."""
    return f"{VERP_PREFIX}{make_compact(settings, BOUNCE, (delivery_id,))}@{settings.bounce_domain}"


def delivery_id_from_verp(settings: Settings, address: str) -> int | None:
    """The delivery a VERP address names, or None when it is not one of ours or is forged."""
    local, _, _domain = address.strip().strip("<>").rpartition("@")
    if not local.lower().startswith(VERP_PREFIX):
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
    return _message_id_tag(settings.signing_key(), message_key, delivery_id)


def _message_id_tag(secret: str, message_key: str, delivery_id: int) -> str:
    subject = f"digest.message-id:{message_key}.{delivery_id}"
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()[:16]


OUR_MESSAGE_ID = re.compile(r"<?(e\d+\.s\d+)\.(\d+)\.([0-9a-f]{16})@[^>\s]+>?")


def delivery_id_from_message_id(settings: Settings, message_id: str) -> int | None:
    """The delivery one of our digests' Message-IDs names, or None when it is not genuine (its
    64-bit tag, `message_id_tag`, must verify under the current or the previous key)."""
    found = OUR_MESSAGE_ID.fullmatch(message_id.strip())
    if found is None:
        return None
    key, delivery, tag = found.group(1), int(found.group(2)), found.group(3)
    keys = [k for k in (settings.signing_key(), settings.secret_key_previous) if k]
    if any(hmac.compare_digest(_message_id_tag(k, key, delivery), tag) for k in keys):
        return delivery
    return None


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
