"""RFC 3464 delivery status notifications and RFC 5965 (ARF) feedback reports, read leniently.

Real reports bend the RFCs: recipient blocks not separated by a blank line (so a strict
parser sees one block with two Final-Recipient fields, and the second recipient's 5.1.1 is
lost), the fields pasted inline in a text/plain part of a multipart/mixed, a declared
report-type with no such part, a message/global-delivery-status part (RFC 6533) the email
package leaves as text. So the fields are read from text, line by line, and a new recipient
block starts wherever a recipient field appears again.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]{1,40})[ \t]*:[ \t]*(.*)$")
RECIPIENT_FIELDS = frozenset({"original-recipient", "final-recipient", "x-actual-recipient"})
PER_RECIPIENT = RECIPIENT_FIELDS | {
    "action",
    "status",
    "diagnostic-code",
    "remote-mta",
    "last-attempt-date",
    "will-retry-until",
    "final-log-id",
    "x-supplementary-info",
}
# Parts that hold another message (the returned original): never read as the report itself.
ENCLOSED = frozenset({"message/rfc822", "text/rfc822-headers", "message/global"})


@dataclass(frozen=True)
class StatusBlock:
    """One recipient's fields of a DSN."""

    recipient: str | None
    action: str
    status: str | None
    diagnostic: str | None


def own_parts(message: Message) -> Iterator[Message]:
    """Every part of the report itself, not descending into an enclosed original message."""
    yield message
    payload = message.get_payload()
    if message.get_content_type() in ENCLOSED or not isinstance(payload, list):
        return
    if message.get_content_type() in ("message/delivery-status", "message/feedback-report"):
        return
    for part in payload:
        if isinstance(part, Message):
            yield from own_parts(part)


def part_text(part: Message) -> str:
    """A part's content as text (LF line ends), whether the email package parsed it into
    blocks or not."""
    return _part_text(part).replace("\r\n", "\n")


def _part_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        chunks = []
        for block in payload:
            if isinstance(block, Message):
                chunks.append("\n".join(f"{name}: {value}" for name, value in block.items()))
                inner = block.get_payload()
                if isinstance(inner, str):
                    chunks.append(inner)
        text = "\n\n".join(chunks)
        encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        # The email package splits a message/delivery-status into blocks before decoding it;
        # an encoded one comes out as one block of base64 or quoted-printable text.
        return _decoded(text, encoding) if encoding in ("base64", "quoted-printable") else text
    body = part.get_payload(decode=True)
    if isinstance(body, bytes):
        try:
            return body.decode(part.get_content_charset() or "utf-8", "replace")
        except LookupError:  # "unknown-8bit", "x-user-defined"...: read it as UTF-8
            return body.decode("utf-8", "replace")
    return str(payload or "")


def _decoded(text: str, encoding: str) -> str:
    try:
        if encoding == "base64":
            raw = base64.b64decode("".join(text.split()))
        else:
            raw = quopri.decodestring(text.encode("ascii", "replace"))
    except (binascii.Error, ValueError):
        return text
    return raw.decode("utf-8", "replace")


def field_blocks(text: str) -> list[dict[str, str]]:
    """Per-recipient DSN fields in text, blank lines between blocks or not."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    last: str | None = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and current is not None and last is not None:
            current[last] = f"{current[last]} {line.strip()}"
            continue
        found = FIELD.match(line)
        last = None
        if found is None:
            continue
        name, value = found.group(1).lower(), found.group(2).strip()
        if name in RECIPIENT_FIELDS and (
            current is None or name in current or "action" in current or "status" in current
        ):
            current = {}
            blocks.append(current)
        if current is None or name not in PER_RECIPIENT or name in current:
            continue
        current[name] = value
        last = name
    return [block for block in blocks if RECIPIENT_FIELDS & block.keys()]


def status_blocks(message: Message) -> list[StatusBlock] | None:
    """The recipient blocks of a DSN; None when the message carries no DSN fields at all."""
    parts = list(own_parts(message))
    declared = [p for p in parts if "delivery-status" in p.get_content_type()]
    inline = [p for p in parts if p.get_content_type() == "text/plain"]
    for candidates in (declared, inline):
        blocks = [b for part in candidates for b in field_blocks(part_text(part))]
        if blocks:
            return [_status_block(block) for block in blocks]
    return None


def _status_block(fields: dict[str, str]) -> StatusBlock:
    status = fields.get("status")
    action = fields.get("action", "").split()[0].lower() if fields.get("action") else ""
    if action.startswith(("fail", "delay")):  # "failure", "delayed (will retry)"
        action = "failed" if action.startswith("fail") else "delayed"
    elif not action:  # some MTAs leave it out: the status class says what happened
        action = {"5": "failed", "4": "delayed", "2": "delivered"}.get((status or " ")[0], "failed")
    recipient = (
        typed_address(fields.get("original-recipient"))
        or typed_address(fields.get("final-recipient"))
        or typed_address(fields.get("x-actual-recipient"))
    )
    diagnostic = fields.get("diagnostic-code")
    return StatusBlock(recipient, action, status, diagnostic)


def feedback_fields(message: Message) -> dict[str, str] | None:
    """The fields of an ARF report (RFC 5965); None when the message is not one.

    Read from the message/feedback-report part, or, when the report-type is declared but the
    part is missing or mislabelled, from a text part that carries a Feedback-Type field.
    """
    parts = list(own_parts(message))
    for part in parts:
        if part.get_content_type().endswith("/feedback-report"):
            return _fields(part_text(part))
    declared = str(message.get_param("report-type", "")).lower() == "feedback-report"
    for part in parts:
        if part.get_content_maintype() == "text" and (declared or part is message):
            fields = _fields(part_text(part))
            if "feedback-type" in fields:
                return fields
    return {} if declared else None


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        found = FIELD.match(line)
        if found and found.group(1).lower() not in fields:
            fields[found.group(1).lower()] = found.group(2).strip()
    return fields


def typed_address(value: str | None) -> str | None:
    """The address of an RFC 3464 address field: `rfc822; jane@example.org`."""
    if not value:
        return None
    kind, separator, address = value.partition(";")
    return first_address(address if separator else kind)


def first_address(value: str | None) -> str | None:
    if not value:
        return None
    for _name, address in getaddresses([value.replace("\\", "")]):
        address = address.strip().strip("<>'\"")
        local, at, domain = address.rpartition("@")
        if at and local and "." in domain and " " not in address and "{" not in address:
            return address
    return None
