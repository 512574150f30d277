"""The shapes of the lists publishers bring: which column means what, per exporter.

Written from each exporter's documented columns (Mailchimp's audience exports, Substack's
subscriber export, listmonk's subscriber export, Campaign Monitor's list export) and plain CSV.
Headers are matched case-insensitively, ignoring spaces, dashes and underscores, so
"Email Address", "EMAIL_ADDRESS" and "email-address" are one column.

One row of any shape becomes a `SourceRow`: the address, name, town, interests, the status it
had at the source (subscribed, unsubscribed, cleaned, bounced, complained, pending) and the
date the reader consented there.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

FORMATS = ("mailchimp", "substack", "listmonk", "campaign-monitor", "csv")

# Statuses a source row can have; only "subscribed" rows are imported as readers.
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
CLEANED = "cleaned"  # Mailchimp's word for an address that hard-bounced
BOUNCED = "bounced"
COMPLAINED = "complained"
BLOCKED = "blocked"  # listmonk's "blocklisted"
PENDING = "pending"  # never confirmed at the source: no consent to carry over

# Each field and the headers that carry it, by exporter (normalized: see header_key).
_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "e-mail", "mail", "subscriberemail"),
    "name": ("name", "fullname", "subscribername", "displayname"),
    "first_name": ("firstname", "fname", "givenname"),
    "last_name": ("lastname", "lname", "surname", "familyname"),
    "town": ("community", "town", "city", "locality"),
    "interests": ("interests", "interest", "sections", "topics"),
    "tags": ("tags", "tag", "groups", "group", "lists"),
    "status": ("status", "memberstatus", "state", "subscriberstatus", "subscriptionstatus"),
    "consent_at": (
        "confirmtime",  # Mailchimp: when the reader confirmed (double opt-in)
        "optintime",  # Mailchimp: when they signed up
        "datesubscribed",  # Campaign Monitor
        "subscriptioncreatedat",  # Substack
        "createdat",  # Substack, listmonk
        "subscribedat",
        "confirmedat",
        "consentat",
        "date",
    ),
    "unsubscribed_at": ("unsubtime", "dateunsubscribed", "unsubscribedat"),
    "cleaned_at": ("cleantime", "datebounced", "bouncedat"),
    "email_disabled": ("emaildisabled",),  # Substack: the reader's emails are turned off
    "attributes": ("attributes",),  # listmonk: a JSON object of custom fields
}
_BY_HEADER = {alias: name for name, aliases in _FIELDS.items() for alias in aliases}

# Headers that tell which exporter wrote the file (the first match wins).
_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("mailchimp", frozenset({"leid", "euid", "memberrating", "optintime", "confirmtime"})),
    ("listmonk", frozenset({"uuid", "attributes"})),
    ("substack", frozenset({"activesubscription", "emaildisabled", "expiry"})),
    ("campaign-monitor", frozenset({"datesubscribed", "dateunsubscribed"})),
)

_STATUS_WORDS = {
    "subscribed": SUBSCRIBED,
    "active": SUBSCRIBED,
    "enabled": SUBSCRIBED,
    "confirmed": SUBSCRIBED,
    "true": SUBSCRIBED,
    "unsubscribed": UNSUBSCRIBED,
    "unsubscribe": UNSUBSCRIBED,
    "disabled": UNSUBSCRIBED,
    "inactive": UNSUBSCRIBED,
    "deleted": UNSUBSCRIBED,
    "false": UNSUBSCRIBED,
    "cleaned": CLEANED,
    "bounced": BOUNCED,
    "bounce": BOUNCED,
    "complained": COMPLAINED,
    "spam": COMPLAINED,
    "blocklisted": BLOCKED,
    "blacklisted": BLOCKED,
    "pending": PENDING,
    "unconfirmed": PENDING,
}


class FormatError(ValueError):
    """A file Digest cannot read as a list (no header, no email column)."""


@lru_cache(maxsize=1024)
def header_key(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header.strip().lower().lstrip("\ufeff"))


def detect_format(headers: Sequence[str]) -> str:
    """Which exporter wrote a file with these headers ("csv" when none is recognised)."""
    keys = {header_key(h) for h in headers}
    for name, signature in _SIGNATURES:
        if keys & signature:
            return name
    return "csv"


def decode(data: bytes) -> tuple[str, str]:
    """The text of a list file and the encoding read: UTF-8 (BOM or not), else cp1252/Latin-1.

    Windows spreadsheets save Windows-1252; a file that is not valid cp1252 either (five bytes
    are undefined there) is Latin-1, where every byte is a character.
    """
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def read_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a list file; the delimiter (comma, semicolon, tab) is sniffed."""
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    headers = list(reader.fieldnames or [])
    if not any(_BY_HEADER.get(header_key(h)) == "email" for h in headers):
        raise FormatError("the first line must be a header with an email column")
    return headers, [{k: v for k, v in row.items() if k is not None} for row in reader]


@dataclass
class SourceRow:
    """One reader as the source knew them."""

    email: str
    name: str | None = None
    town: str | None = None
    interests: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    status: str = SUBSCRIBED
    consent_at: datetime | None = None


def source_row(row: Mapping[str, str | None]) -> SourceRow:
    """Read one row by its headers; raises ValueError naming what is wrong (a bad date)."""
    values: dict[str, str] = {}
    consent: list[tuple[int, str]] = []  # (rank of the alias, value): confirmation beats signup
    for header, value in row.items():
        key = header_key(header)
        name = _BY_HEADER.get(key)
        if name is None or value is None or not value.strip():
            continue
        if name == "consent_at":
            consent.append((_FIELDS["consent_at"].index(key), value.strip()))
        elif name not in values:
            values[name] = value.strip()
    if consent:
        values["consent_at"] = min(consent)[1]
    attributes = _attributes(values.get("attributes"))
    name = values.get("name") or " ".join(
        part for part in (values.get("first_name"), values.get("last_name")) if part
    )
    return SourceRow(
        email=values.get("email", ""),
        name=name or None,
        town=values.get("town") or _text(attributes.get("town") or attributes.get("city")),
        interests=split_list(values.get("interests", "")) or _list(attributes.get("interests")),
        tags=split_list(values.get("tags", "")),
        status=_status(values),
        consent_at=parse_date(values["consent_at"]) if "consent_at" in values else None,
    )


def _status(values: Mapping[str, str]) -> str:
    if values.get("cleaned_at"):
        return CLEANED
    if values.get("unsubscribed_at"):
        return UNSUBSCRIBED
    if values.get("email_disabled", "").lower() in ("true", "yes", "1"):
        return UNSUBSCRIBED
    word = values.get("status", "subscribed").lower()
    if word not in _STATUS_WORDS:
        raise ValueError(f"unknown status {word!r}")
    return _STATUS_WORDS[word]


def split_list(text: str) -> list[str]:
    """Mailchimp writes tags as `"a","b"`, groups as `a, b`; others use ; or |."""
    parts = re.split(r"[,;|]", text)
    return [p.strip().strip('"').strip() for p in parts if p.strip().strip('"').strip()]


def parse_date(text: str) -> datetime:
    """An exporter's timestamp as aware UTC: ISO 8601, or "YYYY-MM-DD HH:MM:SS" taken as UTC."""
    cleaned = text.strip().replace("Z", "+00:00")
    for candidate in (cleaned, cleaned.split(".")[0]):
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    for pattern in ("%m/%d/%Y %H:%M", "%m/%d/%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(cleaned, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text!r}")


def _attributes(text: str | None) -> dict[str, object]:
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("attributes is not a JSON object") from None
    return loaded if isinstance(loaded, dict) else {}


def _text(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


def _list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return split_list(value) if isinstance(value, str) else []
