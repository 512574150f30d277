"""Tracked links: the signed token of `/r/<token>` and the per-message tag spliced after it.

A token is `PAYLOAD.SIGNATURE`: PAYLOAD is base64url JSON `[edition, town, kind, item, url]`,
SIGNATURE 96 bits of HMAC-SHA256 under DIGEST_SECRET_KEY (or the previous key, so a rotation
breaks no link in an inbox). The token is made once per edition segment; the redirect needs
no database to read it, and a token that does not verify names no target at all, so the
route can never be an open redirect.

The tag after `~` is written per message by `digest.render.mime`: `tSENT` (when the message
was sent, base 36 seconds, to recognise scanners that click on arrival); for a delivered digest,
`.uCLICKER.SIG`, a keyed pseudonym of the delivery (one edition to one reader) that lets the
counts tell unique clickers apart without naming anyone (`digest.ingest.click_uniques`); and,
only with per-reader engagement on and the reader not opted out, `.rREADER.SIG` (signed reader
id).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from digest.settings import Settings

# What a tracked link points at; `item` is a story id for story links, a creative for sponsors.
STORY, SPONSOR, WEB_VERSION = "story", "sponsor", "web"
LINK_KINDS = (STORY, SPONSOR, WEB_VERSION)
TAG_SEPARATOR = "~"
SIGNATURE_BYTES = 12
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class TrackedLink:
    """What a verified token says: where to go, and which edition, town and link it counts for."""

    edition_id: int
    community_id: int
    kind: str
    item_id: int | None
    url: str

    @property
    def key(self) -> str:
        """The link's identity within a segment (sha256 of kind and target), 64 hex chars."""
        return hashlib.sha256(f"{self.kind}\n{self.url}".encode()).hexdigest()


@dataclass(frozen=True)
class MessageTag:
    """The per-message part of a link: when it was sent, its delivery's pseudonym (`clicker`),
    and whose it is (per-reader only)."""

    sent_at: datetime | None = None
    subscriber_id: int | None = None
    clicker: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, purpose: str, data: str) -> bytes:
    mac = _keyed(key).copy()  # the key's pads are hashed once, not per message
    mac.update(f"digest.{purpose}:{data}".encode())
    return mac.digest()[:SIGNATURE_BYTES]


@functools.lru_cache(maxsize=4)
def _keyed(key: str) -> hmac.HMAC:
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def _keys(settings: Settings) -> list[str]:
    return [key for key in (settings.signing_key(), settings.secret_key_previous) if key]


def _verified(settings: Settings, purpose: str, data: str, signature: str) -> bool:
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        return False
    return any(hmac.compare_digest(_mac(key, purpose, data), given) for key in _keys(settings))


def make_link_token(settings: Settings, link: TrackedLink) -> str:
    """The signed token of a tracked link (no tag); raises ValueError for an unknown kind."""
    if link.kind not in LINK_KINDS:
        raise ValueError(f"unknown link kind {link.kind!r} (use {', '.join(LINK_KINDS)})")
    body = [link.edition_id, link.community_id, link.kind, link.item_id, link.url]
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(settings.signing_key(), 'click', payload))}"


def read_link_token(settings: Settings, token: str) -> TrackedLink | None:
    """The link a token names, or None when it is tampered with, unknown or malformed."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    payload, _, signature = token.partition(".")
    if not payload or not signature or not _verified(settings, "click", payload, signature):
        return None
    try:
        edition, community, kind, item, url = json.loads(_unb64(payload))
    except (ValueError, TypeError, binascii.Error):
        return None
    if not (isinstance(edition, int) and isinstance(community, int) and kind in LINK_KINDS):
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    return TrackedLink(edition, community, kind, item if isinstance(item, int) else None, url)


def make_tag(
    settings: Settings,
    sent_at: datetime,
    subscriber_id: int | None = None,
    delivery_id: int | None = None,
) -> str:
    """`~tSENT[.uCLICKER.SIG][.rID.SIG]`: the suffix `digest.render.mime` splices per message.

    The clicker part needs the delivery (a digest message); the reader part, per-reader mode.
    """
    tag = f"t{_base36(int(sent_at.timestamp()))}"
    if delivery_id is not None:
        clicker = clicker_of(settings, delivery_id)
        tag += f".u{clicker}.{_b64(_mac(settings.signing_key(), 'click-clicker', clicker))}"
    if subscriber_id is not None:
        reader = f"r{subscriber_id}"
        tag += f".{reader}.{_b64(_mac(settings.signing_key(), 'click-reader', reader))}"
    return TAG_SEPARATOR + tag


def clicker_of(settings: Settings, delivery_id: int) -> str:
    """The delivery's pseudonym: 64 bits of HMAC of its id, so one per edition and reader.

    It names no reader: linking it back needs DIGEST_SECRET_KEY and the delivery rows, which
    are purged after DIGEST_DELIVERY_RETENTION_DAYS; and it differs in every edition.
    """
    return _b64(_mac(settings.signing_key(), "click-unique", f"d{delivery_id}")[:8])


def read_tag(settings: Settings, tag: str) -> MessageTag:
    """The tag's send time, clicker and reader; a malformed or forged part is ignored, never an
    error."""
    parts = tag.split(".")
    sent_at = None
    if parts[0].startswith("t"):
        try:
            sent_at = datetime.fromtimestamp(int(parts[0][1:], 36), UTC)
        except (ValueError, OverflowError, OSError):
            sent_at = None
    reader = clicker = None
    for name, signature in zip(parts[1::2], parts[2::2], strict=False):
        is_reader = name[:1] == "r" and name[1:].isdigit()
        if is_reader and _verified(settings, "click-reader", name, signature):
            reader = int(name[1:])
        is_clicker = name[:1] == "u" and len(name) == 12
        if is_clicker and _verified(settings, "click-clicker", name[1:], signature):
            clicker = name[1:]
    return MessageTag(sent_at, reader, clicker)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
