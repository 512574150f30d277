"""Failed recipients of bounces written for people: qmail, Exim, Sendmail, Exchange, Domino ...

Most MTAs that do not send RFC 3464 reports still follow one of a few shapes: the failed
address on a line of its own (bare, in angle brackets, or followed by a colon or "on DATE"),
then the server's reply on the next lines, then a blank line. So the text of the bounce
(never the returned original message, whose headers would name *us*, and whose X-Mailer
versions look like status codes) is cut into paragraphs, and each address that is not ours
gets the paragraphs that mention it as its diagnostic.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from email import message_from_string
from email.message import Message
from email.utils import getaddresses

from digest.bounces.dsn import first_address, own_parts, part_text

EMAIL = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
# Where the returned original message starts, in the words of each MTA.
ORIGINAL = re.compile(
    r"^[ \t>|*=_-]*(this is a copy of the message|below this line is a copy|"
    r"enclosed (is|are) a copy|below this line is the original|"
    r"below is a copy of the original|original message (headers|follows)|"
    r"-+ ?original message ?-+|unsent message follows|undelivered message (headers )?follows|"
    r"possibly truncated original message|the header of the original message|"
    r"message headers follow|headers of the original message|"
    r"your message (reads|was) (in part|as follows)|"
    r"original message header|return-path: ?<|received: from |message-id: ?<)",
    re.I | re.M,
)
HEADER_LINE = re.compile(
    r"^\s*(from|to|cc|bcc|reply-to|sender|return-path|message-id|in-reply-to|references|"
    r"subject|date|list-[\w-]+|x-[\w-]+|received|delivered-to|dkim-signature)\s*:",
    re.I,
)
# Addresses in a bounce that are never the failed recipient.
ROLES = re.compile(
    r"^(mailer-daemon|postmaster|hostmaster|abuse|noreply|no-reply|do-not-reply|donotreply|"
    r"mail-?daemon|mdaemon|root|bounces?|double-bounce|nobody|support|help|security)\b",
    re.I,
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status|failure|failed|notification|has failed|problem)|"
    r"returned (mail|to sender)|failure notice|non[- ]?deliver|could not be delivered|"
    r"(couldn|wasn|was not|hasn)'?t? (be(en)? )?delivered|"
    r"not (be )?delivered|delivery error|mail delivery|nicht zustellbar|unzustellbar|"
    r"bounce|rejected|message (blocked|refused|not sent)|failed|error|warning|non remis|"
    r"delivery report|delayed|message could not|"
    r"non recapitabile|onbestelbaar|no se puede entregar|olevererbar|imposs[ií]vel entregar",
    re.I,
)
BOUNCE_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail ?delivery|mdaemon|mailerdaemon|administrator|mail router",
    re.I,
)
EVIDENCE = re.compile(
    r"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?![\d.])|(?<![\d.])[45]\d\d(?![\d.])|unknown|"
    r"not (found|exist|listed|valid|available)|no such|does not|doesn'?t|invalid|unavailable|"
    r"full|quota|rejected|refused|denied|disabled|failed|error|undeliverable|expired",
    re.I,
)
# Words just before an address (25 characters) that make it ours or the original's...
OURS_BEFORE = ("mail from", "message-id", "sender", "from:<")
# ...and words a little further (60) that make it someone to write to, not a failure.
HELP_BEFORE = ("contact", "administrator", "helpdesk", "help desk", "questions", "write to")
MAX_DIAGNOSTIC = 1000
MAX_LINE = 2000
MAX_TEXT = 200_000  # a bounce's own words are short; anything longer is an attachment


def bounce_text(message: Message) -> str:
    """The report's own text (plain, or HTML made plain), up to the returned original."""
    parts = [p for p in own_parts(message) if p.get_content_maintype() == "text"]
    plain = [p for p in parts if p.get_content_type() == "text/plain"]
    chunks = []
    for part in plain or [p for p in parts if p.get_content_type() == "text/html"]:
        text = part_text(part)[:MAX_TEXT]
        if part.get_content_type() == "text/html":
            text = html.unescape(re.sub(r"<br\s*/?>|</(p|div|tr|li|h\d)>", "\n", text, flags=re.I))
            text = re.sub(r"<[^>]+>", " ", text)
        found = ORIGINAL.search(text)
        chunks.append(text[: found.start()] if found else text)
    return "\n\n".join(chunks)


def looks_like_bounce(message: Message) -> bool:
    """From a mailer daemon, a subject that says delivery failed, or a report's own markers."""
    if message.get("X-Failed-Recipients") or message.get_content_type() == "multipart/report":
        return True
    sender = str(message.get("From", "")) + " " + str(message.get("Return-Path", ""))
    return bool(BOUNCE_SENDER.search(sender) or BOUNCE_SUBJECT.search(str(message.get("Subject"))))


def failed_recipients(message: Message, text: str, ours: set[str]) -> list[tuple[str, str]]:
    """(address, the paragraphs about it) for each failed recipient the bounce names."""
    named = [a for _n, a in getaddresses(message.get_all("X-Failed-Recipients", [])) if "@" in a]
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    addresses = named or _addresses_in(paragraphs, ours)
    found = []
    for address in addresses:
        about = [p for p in paragraphs if address.lower() in p.lower()]
        diagnostic = " ".join(" ".join(p.split()) for p in about)
        found.append((address, diagnostic[:MAX_DIAGNOSTIC]))
    if named:
        return found
    # "Contact your administrator at help@example.com" names an address, not a failure: when
    # some addresses come with a code or a refusal's words, only those failed.
    with_evidence = [(address, about) for address, about in found if _evidence(about)]
    return with_evidence or found


def _evidence(text: str) -> bool:
    return bool(EVIDENCE.search(text))


def _addresses_in(paragraphs: list[str], ours: set[str]) -> list[str]:
    found: dict[str, str] = {}
    for paragraph in paragraphs:
        for line in paragraph.splitlines():
            if "@" not in line or HEADER_LINE.match(line):
                continue  # an echoed header names us or the original, not the failure
            line = line[:MAX_LINE]  # a hostile megabyte line must not make the scan quadratic
            for match in EMAIL.finditer(line):
                address = match.group(0).strip(".")
                if _not_a_recipient(address, line, match.start(), ours):
                    continue
                found.setdefault(address.lower(), address)
    return list(found.values())


def _not_a_recipient(address: str, line: str, at: int, ours: set[str]) -> bool:
    local, _, domain = address.rpartition("@")
    if address.lower() in ours or domain.lower() in ours or ROLES.match(local):
        return True
    near, further = line[max(0, at - 25) : at].lower(), line[max(0, at - 60) : at].lower()
    return any(w in near for w in OURS_BEFORE) or any(w in further for w in HELP_BEFORE)


def original_recipient(message: Message, ours: set[str]) -> str | None:
    """The To of the returned original message (attached, or pasted after the bounce's text),
    when it names exactly one address not ours."""
    for headers in _returned_headers(message):
        addresses = [a for _n, a in getaddresses(headers.get_all("To", [])) if "@" in a]
        addresses = [a for a in addresses if a.lower() not in ours]
        if len(addresses) == 1:
            return first_address(addresses[0])
    return None


def _returned_headers(message: Message) -> Iterator[Message]:
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                yield payload[0]
            else:
                yield message_from_string(part_text(part))
    for part in own_parts(message):
        if part.get_content_type() == "text/plain":
            text = part_text(part)[:MAX_TEXT]
            found = ORIGINAL.search(text)
            if found is not None:
                # A marker line (qmail, Exim, Exchange), then the pasted headers; or the
                # headers themselves (Return-Path:, Received:) where there is no marker.
                pasted = text[found.start() :]
                marker = found.group(0).strip().lower()
                if not marker.startswith(("return-path", "received", "message-id")):
                    pasted = pasted.partition("\n")[2]
                yield message_from_string(pasted.lstrip("\n"))
