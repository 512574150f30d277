"""Bounces and complaints: read them (DSN, ARF, or what an MTA wrote), match them, act on them.

Guarantees:
- Every report read is kept as `BounceEvent` rows, matched or not: a report that names nobody
  Digest knows, or nothing Digest can read, is logged and kept (kind `unknown`), never dropped.
- Reading the same report twice records and changes nothing the second time: each event has
  a `message_ref` (the sha256 of the raw report, or the relay's event id, plus the recipient)
  that the database keeps unique; two processes reading it at once record it once.
- Who bounced: the envelope recipient of the report is the VERP address that names the
  delivery (`digest.tokens`), signed, so forwarding cannot confuse it. Without one, the failed
  recipient named by the report (RFC 3464 fields, or flufl.bounce's MTA heuristics) is
  matched to a subscriber by address hash.
- What it does (`apply_report`): a hard bounce marks the subscriber bounced, suppresses the
  address and marks the delivery bounced; a soft bounce is recorded, and the address is
  suppressed once it has DIGEST_SOFT_BOUNCE_LIMIT soft bounces within DIGEST_SOFT_BOUNCE_DAYS;
  a complaint unsubscribes the reader from everything, records a consent event (complaint),
  marks them complained and suppresses the address.
- Which failures are hard: permanent ones (5.x.x), except a full mailbox (5.2.2) and a refusal
  by policy (5.7.x: a block of the sender, not a dead address), which count as soft.
- A Maildir's processed reports move to cur/ with the Seen flag, only after their events are
  committed; a crash in between reads them again, harmlessly (see above).
Core functions (`read_report`, `apply_report`, `process_report`) do not commit;
`process_maildir` is the loop that commits one report at a time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses
from pathlib import Path

from flufl.bounce import all_failures
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import Clock
from digest.errors import DigestError
from digest.models import (
    BounceEvent,
    BounceKind,
    ConsentAction,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Edition,
    Subscriber,
    SubscriberStatus,
    SubscriptionStatus,
    SuppressionReason,
)
from digest.settings import Settings
from digest.subscriptions import Origin, SubscriberGoneError, unsubscribe
from digest.suppressions import address_hash, normal_address, suppress
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


# Acting on reports


def apply_report(
    session: Session, settings: Settings, report: BounceReport, now: datetime
) -> BounceEvent | None:
    """Record one report and act on it; None when it was recorded before (nothing changes).

    Does not commit.
    """
    delivery = session.get(Delivery, report.delivery_id) if report.delivery_id else None
    subscriber = _subscriber_for(session, delivery, report.recipient)
    event = _record_event(session, report, delivery, subscriber, now)
    if event is None:
        return None
    if subscriber is None or report.kind == BounceKind.UNKNOWN:
        log.warning(
            "bounce report kept without action: kind %s, recipient %s, delivery %s, from %s",
            report.kind,
            report.recipient,
            report.delivery_id,
            report.source,
        )
        return event
    if report.kind == BounceKind.HARD:
        _hard_bounce(session, event, subscriber, delivery, now)
    elif report.kind == BounceKind.SOFT:
        _soft_bounce(session, settings, event, subscriber, now)
    else:
        _complaint(session, event, subscriber, delivery, now)
    return event


def process_report(
    session: Session, settings: Settings, raw: bytes, source: str, now: datetime
) -> list[BounceEvent]:
    """Read one raw report and apply each bounce in it; returns the events newly recorded."""
    events = [apply_report(session, settings, r, now) for r in read_report(settings, raw, source)]
    return [event for event in events if event is not None]


def webhook_report(
    settings: Settings,
    *,
    relay: str,
    event_id: str,
    kind: BounceKind,
    recipient: str | None,
    return_path: str | None = None,
    status: str | None = None,
    diagnostic: str | None = None,
) -> BounceReport:
    """A report from a relay's webhook event; `return_path` is the envelope sender if known.

    The relay's event id makes it idempotent: a relay that posts the same event again changes
    nothing. Pass the result to `apply_report`.
    """
    return BounceReport(
        kind,
        f"{relay}:{event_id}",
        f"webhook:{relay}",
        recipient,
        delivery_id_from_verp(settings, return_path) if return_path else None,
        status,
        diagnostic,
    )


def _subscriber_for(
    session: Session, delivery: Delivery | None, recipient: str | None
) -> Subscriber | None:
    if delivery is not None:
        return session.get(Subscriber, delivery.subscriber_id)
    if not recipient:
        return None
    query = select(Subscriber).where(Subscriber.email_hash == address_hash(recipient))
    return session.scalars(query).first()


def _record_event(
    session: Session,
    report: BounceReport,
    delivery: Delivery | None,
    subscriber: Subscriber | None,
    now: datetime,
) -> BounceEvent | None:
    values = {
        "received_at": now,
        "kind": report.kind,
        "delivery_id": delivery.id if delivery else None,
        "subscriber_id": subscriber.id if subscriber else None,
        "recipient": report.recipient[:320] if report.recipient else None,
        "status": report.status[:32] if report.status else None,
        "diagnostic": report.diagnostic,
        "source": report.source[:300],
        "message_ref": report.message_ref[:400],
    }
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    statement = insert(BounceEvent).values(**values).on_conflict_do_nothing()
    event_id = session.scalar(statement.returning(BounceEvent.id))
    return None if event_id is None else session.get(BounceEvent, event_id)


def _why(event: BounceEvent) -> str:
    return " ".join(part for part in (event.status, event.diagnostic) if part) or event.kind.value


def _hard_bounce(
    session: Session,
    event: BounceEvent,
    subscriber: Subscriber,
    delivery: Delivery | None,
    now: datetime,
) -> None:
    _mark(subscriber, SubscriberStatus.BOUNCED)
    if subscriber.email:
        suppress(session, subscriber.email, SuppressionReason.HARD_BOUNCE, _why(event), now)
    if delivery is not None:
        delivery.status = DeliveryStatus.BOUNCED
        delivery.last_reply = _why(event)
        delivery.updated_at = now


def _soft_bounce(
    session: Session, settings: Settings, event: BounceEvent, subscriber: Subscriber, now: datetime
) -> None:
    since = now - timedelta(days=settings.soft_bounce_days)
    count = session.scalar(
        select(func.count())
        .select_from(BounceEvent)
        .where(
            BounceEvent.subscriber_id == subscriber.id,
            BounceEvent.kind == BounceKind.SOFT,
            BounceEvent.received_at >= since,
        )
    )
    if (count or 0) < settings.soft_bounce_limit or not subscriber.email:
        return
    _mark(subscriber, SubscriberStatus.BOUNCED)
    detail = f"{count} soft bounces in {settings.soft_bounce_days} days; last: {_why(event)}"
    suppress(session, subscriber.email, SuppressionReason.SOFT_BOUNCE, detail, now)


def _complaint(
    session: Session,
    event: BounceEvent,
    subscriber: Subscriber,
    delivery: Delivery | None,
    now: datetime,
) -> None:
    for subscription in subscriber.subscriptions:
        if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
            subscription.status = SubscriptionStatus.UNSUBSCRIBED
            subscription.unsubscribed_at = now
    newsletter_id = None
    if delivery is not None:
        newsletter_id = session.scalar(
            select(Edition.newsletter_id).where(Edition.id == delivery.edition_id)
        )
    session.add(
        ConsentEvent(
            subscriber_id=subscriber.id,
            newsletter_id=newsletter_id,
            action=ConsentAction.COMPLAINT,
            occurred_at=now,
            source=f"complaint report ({event.source})"[:200],
            detail={"bounce_event_id": event.id, "delivery_id": event.delivery_id},
        )
    )
    _mark(subscriber, SubscriberStatus.COMPLAINED)
    if subscriber.email:
        suppress(session, subscriber.email, SuppressionReason.COMPLAINT, _why(event), now)


def _mark(subscriber: Subscriber, status: SubscriberStatus) -> None:
    # An erased reader stays erased; a complaint outranks a bounce.
    if subscriber.status == SubscriberStatus.ACTIVE or (
        status == SubscriberStatus.COMPLAINED and subscriber.status == SubscriberStatus.BOUNCED
    ):
        subscriber.status = status


# The Maildir of bounces


def maildir_path(url: str) -> Path:
    """The directory of a maildir:// URL (DIGEST_BOUNCE_MAILBOX_URL)."""
    return Path(url.removeprefix("maildir://"))


def process_maildir(
    factory: sessionmaker[Session], settings: Settings, path: Path, clock: Clock
) -> Counter[str]:
    """Process every unread report in a Maildir, one transaction each; returns counts.

    A report whose processing fails is logged and left unread for the next run; the others
    go on. Counts: messages, one per event kind, unmatched, duplicates, errors.
    """
    if not (path / "new").is_dir() or not (path / "cur").is_dir():
        raise DigestError(f"{path} is not a Maildir (it needs new/ and cur/ directories)")
    counts: Counter[str] = Counter()
    for file in _unread(path):
        counts["messages"] += 1
        raw, source = file.read_bytes(), f"maildir:{file.name}"
        try:
            with factory() as session, session.begin():
                request = unsubscribe_request(settings, raw)
                if request is not None:
                    apply_unsubscribe_request(session, request, source, clock.now())
                    counts["unsubscribes"] += 1
                    events = None
                else:
                    events = process_report(session, settings, raw, source, clock.now())
                    counts.update(_tally(events))
        except Exception:  # one bad report must not stop the rest; it stays for the next run
            log.exception("could not process bounce report %s; left unread", file)
            counts["errors"] += 1
            continue
        if events == []:
            counts["duplicates"] += 1
        _mark_read(path, file)
    return counts


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


def apply_unsubscribe_request(
    session: Session, request: tuple[int, int | None], source: str, now: datetime
) -> None:
    """Unsubscribe the reader the mail names, at once, with a consent record. Does not commit."""
    subscriber_id, newsletter_id = request
    origin = Origin(source=f"email to the List-Unsubscribe address ({source})"[:200])
    try:
        left = unsubscribe(session, subscriber_id, newsletter_id, origin, now)
    except SubscriberGoneError:
        log.info("unsubscribe by email for subscriber %s: already erased", subscriber_id)
        return
    log.info("unsubscribed by email: subscriber %s from %s", subscriber_id, left or "nothing new")


def _tally(events: list[BounceEvent]) -> Counter[str]:
    tally = Counter(event.kind.value for event in events)
    tally.update("unmatched" for event in events if event.subscriber_id is None)
    return tally


def _unread(path: Path) -> list[Path]:
    fresh = [f for f in (path / "new").iterdir() if f.is_file()]
    unseen = [f for f in (path / "cur").iterdir() if f.is_file() and "S" not in _flags(f.name)]
    return sorted(fresh + unseen, key=lambda f: f.name)


def _flags(name: str) -> str:
    _base, _, info = name.partition(":2,")
    return info


def _mark_read(path: Path, file: Path) -> None:
    base = file.name.partition(":")[0]
    flags = "".join(sorted(set(_flags(file.name)) | {"S"}))
    os.replace(file, path / "cur" / f"{base}:2,{flags}")
