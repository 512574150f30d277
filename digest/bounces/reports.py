"""Reading bounce and complaint reports (DSN, ARF, VERP, MTA wording) into BounceReports."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses

from flufl.bounce import all_failures

from digest.models import (
    BounceKind,
)
from digest.readers.suppressions import normal_address
from digest.settings import Settings
from digest.tokens import delivery_id_from_verp, read_unsubscribe_mail_address

log = logging.getLogger(__name__)

ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
BASIC_STATUS = re.compile(r"\b([45]\d\d)\b")
# Permanent failures that do not mean the address is dead: mailbox full, policy, temporary.
SOFT_STATUSES = ("4", "5.2.2", "552", "5.7.")
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})
# Where the address a report was sent to (our VERP address) may be found.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
MAX_DIAGNOSTIC = 1000


@dataclass(frozen=True)
class BounceReport:
    """One bounce or complaint about one recipient, as read from a report or a relay's event."""

    kind: BounceKind
    message_ref: str  # unique per report and recipient: what makes processing idempotent
    source: str  # where it came from, for people: a file name, a relay
    recipient: str | None = None
    delivery_id: int | None = None
    status: str | None = None  # enhanced status code (5.1.1) or SMTP code (550)
    diagnostic: str | None = None


@dataclass(frozen=True)
class _Failure:
    kind: BounceKind
    recipient: str | None
    status: str | None = None
    diagnostic: str | None = None


# Reading reports


def read_report(settings: Settings, raw: bytes, source: str) -> list[BounceReport]:
    """The bounces and complaints one raw report carries (at least one: `unknown` if unread)."""
    message = message_from_bytes(raw)
    ref = "sha256:" + hashlib.sha256(raw).hexdigest()
    delivery_id = _verp_delivery(settings, message)
    failures = _failures(message) or [_Failure(BounceKind.UNKNOWN, None, None, _subject(message))]
    seen: set[str] = set()
    reports = []
    for failure in failures:
        key = normal_address(failure.recipient) if failure.recipient else "-"
        if key in seen:
            continue
        seen.add(key)
        reports.append(
            BounceReport(
                failure.kind,
                f"{ref}/{key}",
                source,
                failure.recipient,
                delivery_id,
                failure.status,
                failure.diagnostic,
            )
        )
    return reports


def classify_status(status: str | None, permanent: bool) -> BounceKind:
    """Hard or soft, from whether the MTA gave up and the status code it gave.

    A permanent failure is hard unless its status says the address may still work: a full
    mailbox (5.2.2, 552), a refusal by policy (5.7.x), or a 4.x.x the MTA gave up on.
    """
    if not permanent:
        return BounceKind.SOFT
    if status and status.startswith(SOFT_STATUSES):
        return BounceKind.SOFT
    return BounceKind.HARD


def _failures(message: Message) -> list[_Failure]:
    if _is_report(message, "feedback-report"):
        return _complaints(message)
    if _is_report(message, "delivery-status"):
        return _dsn_failures(message)
    return _heuristic_failures(message)


def _is_report(message: Message, report_type: str) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == report_type
    )


def _dsn_failures(message: Message) -> list[_Failure]:
    """Per-recipient blocks of the message/delivery-status part (RFC 3464)."""
    failures = []
    for block in _status_blocks(message):
        action = str(block.get("Action", "")).strip().lower()
        if action not in ("failed", "delayed"):
            continue  # delivered, relayed, expanded: not a failure
        diagnostic = _unfold(block.get("Diagnostic-Code"))
        status = _status(block.get("Status")) or _status(diagnostic)
        kind = classify_status(status, permanent=action == "failed")
        recipient = _typed_address(block.get("Final-Recipient")) or _typed_address(
            block.get("Original-Recipient")
        )
        failures.append(_Failure(kind, recipient, status, diagnostic))
    return failures


def _status_blocks(message: Message) -> Iterator[Message]:
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                yield from (block for block in payload if isinstance(block, Message))


def _complaints(message: Message) -> list[_Failure]:
    """The complaint an ARF report (RFC 5965) carries: one, about one recipient."""
    fields = _feedback_fields(message)
    feedback_type = str(fields.get("Feedback-Type", "")).strip().lower()
    kind = BounceKind.COMPLAINT if feedback_type in COMPLAINT_TYPES else BounceKind.UNKNOWN
    recipient = _first_address(fields.get("Original-Rcpt-To"))
    original = _original_headers(message)
    if recipient is None and original is not None:
        recipient = _first_address(original.get("To"))
    detail = f"feedback-type {feedback_type or 'missing'}"
    if fields.get("User-Agent"):
        detail += f" from {fields['User-Agent']}"
    return [_Failure(kind, recipient, None, detail)]


def _feedback_fields(message: Message) -> Message:
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
    return Message()


def _original_headers(message: Message) -> Message | None:
    """The reported message's headers (message/rfc822 or text/rfc822-headers part)."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if content_type == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                return message_from_bytes(body)
    return None


def _heuristic_failures(message: Message) -> list[_Failure]:
    """Failed recipients of a non-standard bounce, by flufl.bounce's MTA detectors."""
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # the detectors meet hostile input; a bounce never stops the run
        log.exception("flufl.bounce could not read a bounce; it is kept as unknown")
        return []
    text = _text(message)
    failures = []
    for addresses, is_permanent in ((permanent, True), (temporary - permanent, False)):
        for address in sorted(addresses):
            recipient = (
                address.decode("utf-8", "replace") if isinstance(address, bytes) else address
            )
            diagnostic = _line_about(text, recipient)
            status = _status(diagnostic)
            failures.append(
                _Failure(classify_status(status, is_permanent), recipient, status, diagnostic)
            )
    return failures


def _text(message: Message) -> str:
    chunks = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                chunks.append(body.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)


def _line_about(text: str, recipient: str) -> str | None:
    """The server's reply about the recipient: the first line after it naming an SMTP code."""
    start = text.lower().find(recipient.lower())
    for line in text[max(start, 0) :].splitlines():
        if ENHANCED_STATUS.search(line) or BASIC_STATUS.search(line):
            return line.strip()[:MAX_DIAGNOSTIC]
    return None


def _status(text: object) -> str | None:
    if not text:
        return None
    value = str(text)
    found = ENHANCED_STATUS.search(value) or BASIC_STATUS.search(value)
    return found.group(1) if found else None


def _verp_delivery(settings: Settings, message: Message) -> int | None:
    """The delivery named by the VERP address this report was sent to, if any."""
    candidates = [str(value) for name in ENVELOPE_HEADERS for value in message.get_all(name, [])]
    fields = _feedback_fields(message)
    candidates += [str(v) for v in fields.get_all("Original-Mail-From", [])]
    original = _original_headers(message)
    if original is not None:
        candidates += [str(v) for v in original.get_all("Return-Path", [])]
    for _name, address in getaddresses(candidates):
        delivery_id = delivery_id_from_verp(settings, address)
        if delivery_id is not None:
            return delivery_id
    return None


def _typed_address(value: object) -> str | None:
    """The address of an RFC 3464 address field: `rfc822; jane@example.org`."""
    if not value:
        return None
    _kind, _, address = str(value).partition(";")
    return _first_address(address or str(value))


def _first_address(value: object) -> str | None:
    if not value:
        return None
    found = [address for _name, address in getaddresses([str(value)]) if "@" in address]
    return found[0] if found else None


def _unfold(value: object) -> str | None:
    return " ".join(str(value).split())[:MAX_DIAGNOSTIC] if value else None


def _subject(message: Message) -> str:
    return f"unreadable report: {_unfold(message.get('Subject')) or '(no subject)'}"


def unsubscribe_request(settings: Settings, raw: bytes) -> tuple[int, int | None] | None:
    """(reader, newsletter or None) when the mail was sent to a List-Unsubscribe mailto address.

    Such mail reaches the bounce mailbox too (same domain); only genuine, signed addresses count.
    """
    message = message_from_bytes(raw)
    candidates = [str(value) for name in ENVELOPE_HEADERS for value in message.get_all(name, [])]
    for _name, address in getaddresses(candidates):
        found = read_unsubscribe_mail_address(settings, address)
        if found is not None:
            return found
    return None
