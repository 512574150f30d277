"""The native event payloads of the relays (Amazon SES, SendGrid, Mailgun, Postmark), mapped.

Each relay says in its own words what happened; each event becomes a `RelayEvent` with the
same taxonomy as a DSN, classified by the one classifier from the server's reply the relay
passes on. The relay's own verdict counts where it is all there is: a relay that says
"permanent" with no reply Digest can read (SES `Permanent/General`, Postmark `HardBounce`)
asks its sender to remove the address, so it is a dead address; a relay that says
"transient" is never hard. Events that are not failures (delivered, opened, clicked) are
skipped. Authentication is not here: see `digest.bounces.signatures`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from digest.bounces.classify import Reason, Verdict, classify
from digest.models import BounceKind


@dataclass(frozen=True)
class RelayEvent:
    event_id: str  # the relay's id for the event, and the recipient: replays change nothing
    kind: BounceKind
    recipient: str | None
    reason: Reason
    status: str | None = None
    diagnostic: str | None = None
    return_path: str | None = None  # the envelope sender, when the relay keeps ours (VERP)


def _event(
    event_id: str,
    recipient: str | None,
    verdict: Verdict,
    *,
    permanent: bool,
    diagnostic: str | None,
    return_path: str | None = None,
) -> RelayEvent:
    if verdict.reason == Reason.COMPLAINT:
        kind = BounceKind.COMPLAINT
    elif verdict.reason == Reason.AUTO_REPLY:
        kind = BounceKind.UNKNOWN
    else:
        kind = BounceKind.HARD if permanent and verdict.hard else BounceKind.SOFT
    return RelayEvent(
        f"{event_id}/{recipient or '-'}"[:300],
        kind,
        recipient,
        verdict.reason,
        verdict.status,
        (diagnostic or "")[:1000] or None,
        return_path,
    )


def _relay_says(text: str | None, status: str | None, permanent: bool, fallback: Reason) -> Verdict:
    """The classifier's verdict, or the relay's own when the server's reply says nothing."""
    verdict = classify(text, status)
    if verdict.reason == Reason.UNDETERMINED and permanent:
        return Verdict(fallback, verdict.status)
    return verdict


def _id(given: Any, event: dict[str, Any]) -> str:
    """The relay's event id; for an event without one, a digest of the event itself, so that
    posting it again still changes nothing."""
    if given:
        return str(given)
    canonical = json.dumps(event, sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()[:32]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# Amazon SES (notifications through SNS, or mailed to an email subscription)

SES_SUBTYPES: dict[str, Reason] = {
    "noemail": Reason.USER_UNKNOWN,
    "suppressed": Reason.USER_UNKNOWN,  # SES's own list: the address hard-bounced before
    "onaccountsuppressionlist": Reason.USER_UNKNOWN,
    "mailboxfull": Reason.MAILBOX_FULL,
    "messagetoolarge": Reason.MESSAGE_TOO_BIG,
    "contentrejected": Reason.SPAM_DETECTED,
    "attachmentrejected": Reason.FILTERED,
}


def ses_notification_events(notification: dict[str, Any]) -> list[RelayEvent]:
    """The events of one SES notification (`notificationType` or `eventType` Bounce/Complaint)."""
    kind = str(notification.get("notificationType") or notification.get("eventType") or "")
    return_path = _text(_dict(notification.get("mail")).get("source"))
    if kind == "Bounce" and isinstance(notification.get("bounce"), dict):
        return _ses_bounce(notification["bounce"], return_path)
    if kind == "Complaint" and isinstance(notification.get("complaint"), dict):
        return _ses_complaint(notification["complaint"], return_path)
    return []


def _ses_bounce(bounce: dict[str, Any], return_path: str | None) -> list[RelayEvent]:
    bounce_type = str(bounce.get("bounceType", "")).lower()
    subtype = str(bounce.get("bounceSubType", "")).lower()
    permanent = bounce_type == "permanent"
    event_id = _id(bounce.get("feedbackId"), bounce)
    events = []
    for recipient in _list(bounce.get("bouncedRecipients")):
        if not isinstance(recipient, dict):
            continue
        diagnostic = _text(recipient.get("diagnosticCode"))
        status = _text(recipient.get("status"))
        if subtype in SES_SUBTYPES and not diagnostic:
            verdict = Verdict(SES_SUBTYPES[subtype], status)
        else:
            fallback = SES_SUBTYPES.get(subtype, Reason.USER_UNKNOWN)
            if bounce_type == "undetermined":
                fallback = Reason.UNDETERMINED
            verdict = _relay_says(diagnostic, status, permanent, fallback)
        address = _text(recipient.get("emailAddress"))
        detail = diagnostic or f"SES {bounce_type or 'bounce'}/{subtype or '-'}"
        events.append(
            _event(
                event_id,
                address,
                verdict,
                permanent=permanent,
                diagnostic=detail,
                return_path=return_path,
            )
        )
    return events


def _ses_complaint(complaint: dict[str, Any], return_path: str | None) -> list[RelayEvent]:
    # An ISP's complaint with no type is a reader's "this is spam" (SES: most are untyped).
    feedback_type = str(complaint.get("complaintFeedbackType") or "abuse").lower()
    event_id = _id(complaint.get("feedbackId"), complaint)
    verdict = (
        Verdict(Reason.COMPLAINT)
        if feedback_type == "abuse"
        else Verdict(Reason.SECURITY if feedback_type == "auth-failure" else Reason.UNDETERMINED)
    )
    detail = f"feedback-type {feedback_type}"
    if _text(complaint.get("userAgent")):
        detail += f" from {complaint['userAgent']}"
    events = []
    for recipient in _list(complaint.get("complainedRecipients")):
        if isinstance(recipient, dict):
            address = _text(recipient.get("emailAddress"))
            event = _event(
                event_id,
                address,
                verdict,
                permanent=False,
                diagnostic=detail,
                return_path=return_path,
            )
            if verdict.reason != Reason.COMPLAINT:
                event = RelayEvent(
                    event.event_id,
                    BounceKind.UNKNOWN,
                    address,
                    verdict.reason,
                    None,
                    detail,
                    return_path,
                )
            events.append(event)
    return events


# SendGrid Event Webhook (a JSON array of events)


SENDGRID_DROPPED: dict[str, Reason] = {
    "Bounced Address": Reason.USER_UNKNOWN,
    "Invalid": Reason.USER_UNKNOWN,
    "Spam Reporting Address": Reason.COMPLAINT,
}


def sendgrid_events(payload: list[Any]) -> list[RelayEvent]:
    events = []
    for item in payload:
        if not isinstance(item, dict):
            continue
        name = str(item.get("event", ""))
        event_id = _id(item.get("sg_event_id") or item.get("sg_message_id"), item)
        address = _text(item.get("email"))
        if name == "spamreport":
            events.append(
                _event(
                    event_id,
                    address,
                    Verdict(Reason.COMPLAINT),
                    permanent=False,
                    diagnostic="spam report",
                )
            )
        elif name in ("bounce", "deferred"):
            # "blocked" bounces are the receiver refusing our mail for now: never hard
            permanent = name == "bounce" and str(item.get("type", "bounce")) == "bounce"
            reply = _text(item.get("reason")) or _text(item.get("response"))
            verdict = _relay_says(reply, _text(item.get("status")), permanent, Reason.USER_UNKNOWN)
            if not permanent and verdict.reason == Reason.UNDETERMINED:
                verdict = Verdict(
                    Reason.BLOCKED if name == "bounce" else Reason.EXPIRED, verdict.status
                )
            events.append(_event(event_id, address, verdict, permanent=permanent, diagnostic=reply))
        elif name == "dropped" and str(item.get("reason", "")) in SENDGRID_DROPPED:
            # SendGrid would not even try: its own list says the address bounced or
            # complained before (or cannot be an address at all).
            verdict = Verdict(SENDGRID_DROPPED[str(item["reason"])])
            detail = f"dropped by SendGrid: {item['reason']}"
            events.append(_event(event_id, address, verdict, permanent=True, diagnostic=detail))
    return events


# Mailgun webhooks (one event per post: {"signature": ..., "event-data": ...})


MAILGUN_SUPPRESSED: dict[str, Reason | None] = {
    "suppress-bounce": Reason.USER_UNKNOWN,
    "suppress-complaint": Reason.COMPLAINT,
    "suppress-unsubscribe": None,
}


def mailgun_events(payload: dict[str, Any]) -> list[RelayEvent]:
    data = payload.get("event-data")
    if not isinstance(data, dict):
        return []
    name = str(data.get("event", ""))
    event_id = _id(data.get("id"), data)
    address = _text(data.get("recipient"))
    envelope = _dict(data.get("envelope"))
    return_path = _text(envelope.get("sender"))
    if name == "complained":
        return [
            _event(
                event_id,
                address,
                Verdict(Reason.COMPLAINT),
                permanent=False,
                diagnostic="complaint",
                return_path=return_path,
            )
        ]
    if name != "failed":
        return []
    permanent = str(data.get("severity", "")) == "permanent"
    status = _dict(data.get("delivery-status"))
    reply = " ".join(
        str(status.get(key) or "") for key in ("code", "enhanced-code", "message", "description")
    ).strip()
    why = str(data.get("reason", ""))
    if why in MAILGUN_SUPPRESSED:  # Mailgun did not try: its own list says why
        reason = MAILGUN_SUPPRESSED[why]
        if reason is None:
            return []  # an address unsubscribed at Mailgun: nothing to act on here
        verdict = Verdict(reason)
        reply = reply or f"suppressed by Mailgun: {why}"
    else:
        verdict = _relay_says(
            reply, _text(status.get("enhanced-code")), permanent, Reason.USER_UNKNOWN
        )
    return [
        _event(
            event_id,
            address,
            verdict,
            permanent=permanent,
            diagnostic=reply,
            return_path=return_path,
        )
    ]


# Postmark webhooks (one record per post: Bounce or SpamComplaint)

POSTMARK_TYPES: dict[str, tuple[bool, Reason]] = {
    "HardBounce": (True, Reason.USER_UNKNOWN),
    "BadEmailAddress": (True, Reason.USER_UNKNOWN),
    "SoftBounce": (False, Reason.UNDETERMINED),
    "Transient": (False, Reason.EXPIRED),
    "DnsError": (False, Reason.SYSTEM_ERROR),
    "Blocked": (False, Reason.BLOCKED),
    "SpamNotification": (False, Reason.SPAM_DETECTED),
    "VirusNotification": (False, Reason.FILTERED),
    "DMARCPolicy": (False, Reason.SECURITY),
    "AutoResponder": (False, Reason.AUTO_REPLY),
    "AddressChange": (False, Reason.MOVED),
    "ChallengeVerification": (False, Reason.FILTERED),
}


def postmark_events(payload: dict[str, Any]) -> list[RelayEvent]:
    record = str(payload.get("RecordType", ""))
    event_id = _id(payload.get("ID"), payload)
    address = _text(payload.get("Email"))
    kind = str(payload.get("Type", ""))
    if record == "SpamComplaint" or kind == "SpamComplaint":
        return [
            _event(
                event_id,
                address,
                Verdict(Reason.COMPLAINT),
                permanent=False,
                diagnostic="spam complaint",
            )
        ]
    if record != "Bounce":
        return []
    permanent, fallback = POSTMARK_TYPES.get(kind, (False, Reason.UNDETERMINED))
    details = " ".join(
        part for part in (_text(payload.get("Details")), _text(payload.get("Description"))) if part
    )
    if kind in POSTMARK_TYPES and not permanent:
        verdict = classify(details)
        if verdict.reason == Reason.UNDETERMINED or fallback == Reason.AUTO_REPLY:
            verdict = Verdict(fallback, verdict.status)
    else:
        verdict = _relay_says(details, None, permanent, fallback)
    return [_event(event_id, address, verdict, permanent=permanent, diagnostic=details or kind)]
