"""Who an email is from: the newsletter's own sender, else DIGEST_SENDER, parsed strictly."""

from __future__ import annotations

import re

from digest.errors import DigestError
from digest.ingest.story_text import one_line
from digest.models import Newsletter
from digest.settings import Settings

# `Name <address>` or a bare address, on one line.
MAILBOX = re.compile(r"(?:(?P<name>[^<>]*?)\s*<(?P<angle>[^<>\s]+)>|(?P<bare>[^<>\s]+))")
ADDRESS = re.compile(r"[!-~]+@[A-Za-z0-9.\-\[\]:]+")


def sender_of(settings: Settings, newsletter: Newsletter | None = None) -> tuple[str, str]:
    """(display name, address) of the From: the newsletter's own sender, else DIGEST_SENDER.

    A sender that is not a usable `Name <address>` or bare address falls back to
    DIGEST_SENDER, so a bad newsletter setting can never choose another address.
    """
    own = newsletter.sender if newsletter is not None else None
    if own:
        parsed = parse_mailbox(own)
        if parsed is not None:
            return parsed
    parsed = parse_mailbox(settings.sender)
    if parsed is None:
        raise DigestError(
            f"DIGEST_SENDER: {settings.sender!r} is not an address "
            "(write it like: Springfield Times <news@springfield-times.example>)"
        )
    return parsed


def parse_mailbox(raw: str) -> tuple[str, str] | None:
    """(name, address) of `Name <address>` or a bare address on one line, else None."""
    match = MAILBOX.fullmatch(one_line(raw))
    if match is None:
        return None
    address = match["angle"] or match["bare"]
    if not ADDRESS.fullmatch(address) or address.count("@") != 1:
        return None
    name = (match["name"] or "").strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return name, address
