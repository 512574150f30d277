"""Reading bounce and complaint reports (DSN, ARF, relay JSON, MTA wording) into BounceReports.

One raw message in the bounce mailbox becomes one BounceReport per recipient it names. The
formats are tried from the most to the least structured: an ARF feedback report, RFC 3464
fields (read leniently, `digest.bounces.dsn`), a relay's JSON notification (SES mails them
when its feedback goes to an email subscription), an auto-reply (ignored), then the
plain-text bounces of the MTAs (`digest.bounces.plaintext`). Every failure is classified
by the one classifier (`digest.bounces.classify`). Who bounced: the VERP address the report
was sent to names the delivery; the report's recipient names the address.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, replace
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses

from flufl.bounce import all_failures

from digest.bounces.classify import Reason, Verdict, classify
from digest.bounces.dsn import (
    StatusBlock,
    feedback_fields,
    first_address,
    own_parts,
    status_blocks,
)
from digest.bounces.plaintext import (
    bounce_text,
    failed_recipients,
    looks_like_bounce,
    original_recipient,
)
from digest.bounces.relays import RelayEvent, ses_notification_events
from digest.models import BounceKind
from digest.readers.suppressions import normal_address
from digest.settings import Settings
from digest.tokens import (
    delivery_id_from_message_id,
    delivery_id_from_verp,
    read_unsubscribe_mail_address,
)

log = logging.getLogger(__name__)

# Where the address a report was sent to (our VERP address) may be found.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
OUR_HEADERS = ("From", "To", "Cc", "Reply-To", "Sender", "Return-Path", *ENVELOPE_HEADERS)
AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|"
    r"r[ée]ponse automatique|respuesta autom|away|vacation|ooo\b)",
    re.I,
)
AWAY = re.compile(
    r"out of (the )?office|on (vacation|holiday|annual leave|leave) (until|from|and)|"
    r"away from (the|my) (office|desk)|limited access to (e-?mail|my e-?mail)|"
    r"i am (currently )?away|i'?m (currently )?away|this is an automatic reply",
    re.I,
)
MAX_DIAGNOSTIC = 1000
MAX_FLUFL = 100_000


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
    reason: Reason | None = None  # the classifier's reason (`digest.bounces.classify`)


@dataclass(frozen=True)
class Finding:
    """One failure (or complaint, or non-failure) a report names."""

    kind: BounceKind
    recipient: str | None
    reason: Reason
    status: str | None = None
    diagnostic: str | None = None


def kind_of(verdict: Verdict, *, temporary: bool = False) -> BounceKind:
    """Hard only for a permanent failure whose reason says the address is dead."""
    if verdict.reason == Reason.AUTO_REPLY:
        return BounceKind.UNKNOWN
    if verdict.reason == Reason.COMPLAINT:
        return BounceKind.COMPLAINT
    return BounceKind.HARD if verdict.hard and not temporary else BounceKind.SOFT


def read_report(settings: Settings, raw: bytes, source: str) -> list[BounceReport]:
    """The bounces and complaints one raw report carries (at least one: `unknown` if unread)."""
    message = message_from_bytes(raw)
    ref = "sha256:" + hashlib.sha256(raw).hexdigest()
    delivery_id: int | None = None
    findings: list[Finding] = []
    try:
        fields = feedback_fields(message)
        delivery_id = _verp_delivery(settings, message, fields)
        findings = read_findings(settings, message, fields)
    except Exception:  # hostile input must not stop the mailbox; the report is kept
        log.exception("could not read all of bounce report %s; kept as unknown", source)
    if not findings:
        findings = [Finding(BounceKind.UNKNOWN, None, Reason.UNDETERMINED, None, _subject(message))]
    seen: set[str] = set()
    reports = []
    for found in findings:
        key = normal_address(found.recipient) if found.recipient else "-"
        if key in seen:
            continue
        seen.add(key)
        reports.append(
            BounceReport(
                found.kind,
                f"{ref}/{key}",
                source,
                found.recipient,
                delivery_id,
                found.status,
                found.diagnostic[:MAX_DIAGNOSTIC] if found.diagnostic else None,
                found.reason,
            )
        )
    return reports


def read_findings(
    settings: Settings, message: Message, fields: dict[str, str] | None
) -> list[Finding]:
    """Every failure the message names, by the most structured format it is written in;
    `fields` are its ARF fields (`feedback_fields`), None when it is no ARF report."""
    if fields is not None:
        return [_complaint(message, fields)]
    ours = _our_addresses(settings, message)
    text = bounce_text(message)
    blocks = status_blocks(message)
    if blocks is not None:
        found = _dsn_findings(blocks, text)
        if found:
            return _with_recipients(found, message, text, ours)
        if any(block.action in ("delivered", "relayed", "expanded") for block in blocks):
            return []  # a report of delivery: nothing failed
    relayed = _relay_json(text)
    if relayed is not None:
        return relayed
    if _auto_reply(message, text):
        sender = first_address(str(message.get("From", "")))
        detail = " ".join(str(message.get("Subject", "auto-reply")).split())
        return [Finding(BounceKind.UNKNOWN, sender, Reason.AUTO_REPLY, None, detail)]
    if not looks_like_bounce(message):
        return []
    return _plain(message, text, ours)


def _dsn_findings(blocks: list[StatusBlock], text: str) -> list[Finding]:
    failed = [block for block in blocks if block.action in ("failed", "delayed")]
    found = []
    for block in failed:  # delivered, relayed, expanded: not a failure
        diagnostic = block.diagnostic or ""
        verdict = classify(diagnostic, block.status)
        if verdict.reason == Reason.UNDETERMINED:
            # The DSN said little: the human-readable part usually quotes the server, in the
            # paragraph about the recipient (or anywhere, when only one recipient failed).
            extra = _paragraphs_about(text, block.recipient) if block.recipient else ""
            if not extra and len(failed) == 1:
                extra = " ".join(text.split())[:MAX_DIAGNOSTIC]
            if extra:
                diagnostic = f"{diagnostic} {extra}".strip()
                verdict = classify(diagnostic, block.status)
        found.append(
            Finding(
                kind_of(verdict, temporary=block.action == "delayed"),
                block.recipient,
                verdict.reason,
                verdict.status or block.status,
                diagnostic or None,
            )
        )
    return found


def _with_recipients(
    found: list[Finding], message: Message, text: str, ours: set[str]
) -> list[Finding]:
    """A DSN block without a readable recipient (`rfc822; undisclosed`) gets the one the
    bounce's text or the returned message names, when there is exactly one to give."""
    missing = [f for f in found if f.recipient is None]
    if len(missing) != 1:
        return found
    named = {f.recipient.lower() for f in found if f.recipient}
    candidates = [
        a for a, _about in failed_recipients(message, text, ours) if a.lower() not in named
    ]
    fallback = candidates[0] if len(candidates) == 1 else original_recipient(message, ours)
    if fallback is None or fallback.lower() in named:
        return found
    return [replace(f, recipient=fallback) if f.recipient is None else f for f in found]


def _plain(message: Message, text: str, ours: set[str]) -> list[Finding]:
    """Failures of a bounce written for people, by the MTAs' shapes (or flufl.bounce's)."""
    named = failed_recipients(message, text, ours)
    if not named:
        fallback = original_recipient(message, ours) or _flufl_recipient(message, ours)
        if fallback is None:
            verdict = classify(text)
            return [Finding(BounceKind.UNKNOWN, None, verdict.reason, verdict.status, text)]
        named = [(fallback, "")]
    found = []
    for recipient, about in named:
        verdict = classify(about)
        if verdict.reason == Reason.UNDETERMINED:
            about = f"{about} {' '.join(text.split())}".strip()
            verdict = classify(about)
        # A message that only looks like a bounce, with no code and no known words, acts on
        # nobody: a reader's reply that mentions a friend's address must not count.
        kind = kind_of(verdict)
        if verdict.reason == Reason.UNDETERMINED and verdict.status is None:
            kind = BounceKind.UNKNOWN
        found.append(Finding(kind, recipient, verdict.reason, verdict.status, about or None))
    return found


def _flufl_recipient(message: Message, ours: set[str]) -> str | None:
    """flufl.bounce's MTA detectors, the last resort (and only on bounces of a sane size:
    some detectors scan every line many times)."""
    try:
        if len(message.as_bytes()) > MAX_FLUFL:
            return None
        temporary, permanent = all_failures(message)
    except Exception:  # the detectors meet hostile input; a bounce never stops the run
        log.exception("flufl.bounce could not read a bounce")
        return None
    for address in sorted(permanent | temporary):
        text = address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)
        if text.lower() not in ours:
            return first_address(text)
    return None


def _paragraphs_about(text: str, recipient: str) -> str:
    paragraphs = re.split(r"\n[ \t]*\n", text)
    about = [" ".join(p.split()) for p in paragraphs if recipient.lower() in p.lower()]
    return " ".join(about)[:MAX_DIAGNOSTIC]


def _complaint(message: Message, fields: dict[str, str]) -> Finding:
    """An ARF report (RFC 5965): `abuse` is a reader's complaint; other types are recorded."""
    feedback_type = fields.get("feedback-type", "").split(";")[0].strip().lower()
    recipient = first_address(fields.get("original-rcpt-to")) or first_address(
        fields.get("removal-recipient")
    )
    if recipient is None:
        recipient = _original_to(message)
    detail = f"feedback-type {feedback_type or 'missing'}"
    if fields.get("user-agent"):
        detail += f" from {fields['user-agent']}"
    # A feedback loop's report without a type is still a reader's complaint.
    if feedback_type in ("abuse", ""):
        return Finding(BounceKind.COMPLAINT, recipient, Reason.COMPLAINT, None, detail)
    reason = Reason.SECURITY if feedback_type == "auth-failure" else Reason.UNDETERMINED
    return Finding(BounceKind.UNKNOWN, recipient, reason, None, detail)


def _original_to(message: Message) -> str | None:
    """The reported message's recipient: Microsoft's X-HmXmrOriginalRecipient, else its To."""
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            original: Message | None = None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original = payload[0]
            else:
                body = part.get_payload(decode=True)
                if isinstance(body, bytes):
                    original = message_from_bytes(body)
            if original is not None:
                return first_address(
                    str(original.get("X-HmXmrOriginalRecipient") or original.get("To") or "")
                )
    return None


def _relay_json(text: str) -> list[Finding] | None:
    """A relay's JSON notification mailed to the bounce mailbox (SES to an email topic)."""
    start = text.find("{")
    if start < 0 or ("notificationType" not in text and "eventType" not in text):
        return None
    try:
        payload = json.loads(text[start : text.rfind("}") + 1])
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("Message"), str):  # the SNS envelope around it
        try:
            payload = json.loads(payload["Message"])
        except ValueError:
            return None
    return [_from_relay(event) for event in ses_notification_events(payload)]


def _from_relay(event: RelayEvent) -> Finding:
    return Finding(event.kind, event.recipient, event.reason, event.status, event.diagnostic)


def _auto_reply(message: Message, text: str) -> bool:
    """An out-of-office or other automatic reply: RFC 3834 headers, the usual subjects, or,
    for a message that is no bounce, the usual first words."""
    submitted = str(message.get("Auto-Submitted", "")).lower()
    subject = str(message.get("Subject", ""))
    if looks_like_bounce(message):
        return bool(AUTO_SUBJECT.match(subject))
    return (
        submitted.startswith("auto-replied")
        or any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"))
        or str(message.get("Precedence", "")).lower() == "auto_reply"
        or bool(AUTO_SUBJECT.match(subject))
        or bool(AWAY.search(text[:2000]))
    )


def _our_addresses(settings: Settings, message: Message) -> set[str]:
    """Addresses and domains that are ours or the report's, never a failed recipient."""
    values = [str(v) for h in OUR_HEADERS for v in message.get_all(h, [])]
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                inner = payload[0]
                values += [
                    str(v)
                    for h in ("From", "Sender", "Return-Path", "Reply-To")
                    for v in inner.get_all(h, [])
                ]
    ours = {address.lower() for _n, address in getaddresses(values) if "@" in address}
    # Our sender address and the VERP domain; not the sender's whole domain, whose staff may
    # well read the newsletter too.
    ours.update(address.lower() for _n, address in getaddresses([settings.sender]))
    ours.add(settings.bounce_domain.lower())
    return ours - {""}


def _verp_delivery(
    settings: Settings, message: Message, fields: dict[str, str] | None
) -> int | None:
    """The delivery named by the VERP address this report was sent to, if any."""
    candidates = [str(value) for name in ENVELOPE_HEADERS for value in message.get_all(name, [])]
    fields = fields or {}
    if fields.get("original-mail-from"):
        candidates.append(fields["original-mail-from"])
    for part in own_parts(message):
        candidates += [str(v) for v in part.get_all("Return-Path", [])]
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                candidates += [str(v) for v in payload[0].get_all("Return-Path", [])]
    # The same address comes in several headers; each check verifies a signature, once is enough.
    for address in dict.fromkeys(a.strip() for _n, a in getaddresses(candidates)):
        delivery_id = delivery_id_from_verp(settings, address)
        if delivery_id is not None:
            return delivery_id
    # A relay that rewrote the return path still quotes the original's signed Message-ID.
    for message_id in _quoted_message_ids(message):
        delivery_id = delivery_id_from_message_id(settings, message_id)
        if delivery_id is not None:
            return delivery_id
    return None


def _quoted_message_ids(message: Message) -> list[str]:
    """The Message-IDs of the original message a report quotes (headers or whole message)."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found += [str(v) for v in payload[0].get_all("Message-ID", [])]
        elif kind == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            headers = message_from_bytes(body if isinstance(body, bytes) else b"")
            found += [str(v) for v in headers.get_all("Message-ID", [])]
    return found


def _subject(message: Message) -> str:
    subject = " ".join(str(message.get("Subject") or "(no subject)").split())
    return f"unreadable report: {subject}"[:MAX_DIAGNOSTIC]


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
