"""Is this webhook post really from the relay? Each relay's own proof, checked before reading.

- Amazon SNS signs each message (RSA, SHA1 for SignatureVersion 1, SHA256 for 2) with a key
  whose certificate it publishes at `SigningCertURL`; that URL must be https on an
  amazonaws.com host (`sns.<region>.amazonaws.com`), or anyone could sign with their own
  certificate. The certificate is fetched once per URL and kept.
- SendGrid signs the timestamp and the raw body with ECDSA (P-256, SHA256); the public
  verification key is shown in its Mail Settings.
- Mailgun signs timestamp + token with HMAC-SHA256 under the webhook signing key; the body is
  not signed, so the caller also refuses a token seen before (`verify_mailgun` returns it).
- Both signed timestamps must be within MAX_SKEW of now, either way: an old signature seen in a
  log or a proxy cannot be posted again later.
- Postmark sends HTTP basic auth credentials that the operator put in the webhook's URL.
Every check raises `SignatureError` (a one-line reason, for the log, never for the caller).
The fetcher is injectable: tests serve a locally made certificate, never the internet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from digest.errors import DigestError

Fetcher = Callable[[str], bytes]
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
MAX_CERTIFICATE = 64 * 1024
# How far a relay's signed timestamp may be from now, either way (clocks differ a little).
MAX_SKEW = timedelta(minutes=5)
# The fields SNS signs, in order, per message type (absent optional fields are left out).
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]


class SignatureError(DigestError):
    """A webhook post whose proof of origin is missing or wrong."""


def fetch_over_https(url: str) -> bytes:
    """GET a small document (an SNS certificate, a subscription URL): 10 s, no redirects."""
    response = httpx.get(url, timeout=10.0, follow_redirects=False)
    response.raise_for_status()
    if len(response.content) > MAX_CERTIFICATE:
        raise SignatureError(f"{url} answered with more than {MAX_CERTIFICATE} bytes")
    return response.content


def check_sns_url(url: object) -> str:
    """The URL, if it is https on an SNS host of amazonaws.com; else SignatureError."""
    if not isinstance(url, str):
        raise SignatureError("no SNS URL in the message")
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.match(parts.hostname or ""):
        raise SignatureError(f"{url!r} is not an https URL on an SNS amazonaws.com host")
    return url


class SnsVerifier:
    """Verifies SNS messages against their signing certificates, fetched once per URL."""

    def __init__(self, fetch: Fetcher = fetch_over_https) -> None:
        self.fetch = fetch
        self._keys: dict[str, rsa.RSAPublicKey] = {}

    def verify(self, message: dict[str, Any]) -> None:
        kind = message.get("Type")
        if kind not in SIGNED_FIELDS:
            raise SignatureError(f"unknown SNS message type {kind!r}")
        algorithm: hashes.HashAlgorithm
        version = str(message.get("SignatureVersion", ""))
        if version == "1":
            algorithm = hashes.SHA1()  # noqa: S303 - SNS's own version 1 scheme
        elif version == "2":
            algorithm = hashes.SHA256()
        else:
            raise SignatureError(f"unknown SNS SignatureVersion {version!r}")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError) as error:
            raise SignatureError("the SNS signature is not base64") from error
        key = self._key(check_sns_url(message.get("SigningCertURL")))
        try:
            key.verify(signature, sns_signed_text(message), padding.PKCS1v15(), algorithm)
        except InvalidSignature as error:
            raise SignatureError("the SNS signature does not match the message") from error

    def confirm(self, message: dict[str, Any]) -> None:
        """Confirm a verified SubscriptionConfirmation by visiting its SubscribeURL."""
        self.fetch(check_sns_url(message.get("SubscribeURL")))

    def _key(self, url: str) -> rsa.RSAPublicKey:
        if url not in self._keys:
            try:
                certificate = x509.load_pem_x509_certificate(self.fetch(url))
            except (ValueError, httpx.HTTPError) as error:
                raise SignatureError(f"no usable certificate at {url}: {error}") from error
            key = certificate.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise SignatureError(f"the certificate at {url} has no RSA key")
            self._keys[url] = key
        return self._keys[url]


def sns_signed_text(message: dict[str, Any]) -> bytes:
    """The string SNS signs: name, newline, value, newline, for each signed field present."""
    lines = []
    for name in SIGNED_FIELDS[str(message["Type"])]:
        if name in message and message[name] is not None:
            lines += [name, str(message[name])]
    return ("\n".join(lines) + "\n").encode()


def check_fresh(relay: str, timestamp: str, now: datetime) -> None:
    """SignatureError unless the Unix `timestamp` is within MAX_SKEW of `now`."""
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureError(f"the {relay} timestamp {timestamp[:20]!r} is not a time") from None
    if abs(now - signed_at) > MAX_SKEW:
        raise SignatureError(f"the {relay} timestamp {signed_at:%Y-%m-%d %H:%M:%S} is not recent")


def verify_sendgrid(
    public_key: str, signature: str | None, timestamp: str | None, body: bytes, now: datetime
) -> None:
    """SendGrid's signed event webhook: ECDSA over timestamp + raw body, signed recently."""
    if not signature or not timestamp:
        raise SignatureError("no SendGrid signature or timestamp header")
    try:
        key = load_der_public_key(base64.b64decode(public_key))
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError("the SendGrid key or signature is not base64 DER") from error
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError("the SendGrid verification key is not an ECDSA key")
    try:
        key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:
        raise SignatureError("the SendGrid signature does not match the body") from error
    check_fresh("SendGrid", timestamp, now)


def verify_mailgun(signing_key: str, signature: object, now: datetime) -> str:
    """Mailgun's `signature` object: HMAC-SHA256(key, timestamp + token) in hex, signed
    recently; returns the token, which the caller must refuse when seen before."""
    if not isinstance(signature, dict):
        raise SignatureError("no Mailgun signature object")
    timestamp, token = str(signature.get("timestamp", "")), str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256)
    if not timestamp or not token or not hmac.compare_digest(expected.hexdigest(), given):
        raise SignatureError("the Mailgun signature does not match")
    check_fresh("Mailgun", timestamp, now)
    return token


def verify_basic_auth(expected: str, authorization: str | None) -> None:
    """HTTP basic auth (Postmark): `user:password` as configured."""
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True) if scheme.lower() == "basic" else b""
    except (binascii.Error, ValueError):
        given = b""
    if not hmac.compare_digest(given, expected.encode()):
        raise SignatureError("missing or wrong basic auth credentials")
