"""Signed tokens for links and return paths (itsdangerous), one salt per purpose.

Tokens signed with DIGEST_SECRET_KEY_PREVIOUS still verify, so rotating the key breaks no link
already in a reader's inbox.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from digest.errors import DigestError
from digest.settings import Settings

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
BOUNCE = "bounce"

DAY = 24 * 3600
# How long each kind of token is honoured (seconds); None means no expiry.
MAX_AGE: dict[str, int | None] = {
    CONFIRM: 7 * DAY,
    UNSUBSCRIBE: None,  # CASL asks for at least 60 days; an unsubscribe link never expires
    PREFERENCES: 365 * DAY,
    BOUNCE: 90 * DAY,
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
