"""Why a message was refused, and whether that means the address is dead: one classifier.

Every source of a failure (a DSN in the bounce mailbox, a relay's webhook, a refusal at send
time) asks `classify` for a `Verdict`: a reason from a fixed taxonomy, and whether the
reason is hard (the address itself is dead: suppress it) or soft (the address may work
tomorrow, or the fault is ours: never suppress on one). The most specific evidence wins:
an enhanced status code in the diagnostic text over a generic `Status:` field, that over the
reply code, then the wording of the major MTAs and providers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    USER_UNKNOWN = "user-unknown"
    HOST_UNKNOWN = "host-unknown"
    MAILBOX_FULL = "mailbox-full"
    MESSAGE_TOO_BIG = "message-too-big"
    RATE_LIMITED = "rate-limited"
    BLOCKED = "blocked"
    POLICY = "policy"
    SPAM_DETECTED = "spam-detected"
    SECURITY = "security"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    FILTERED = "filtered"
    MOVED = "moved"
    SYSTEM_ERROR = "system-error"
    AUTO_REPLY = "auto-reply"
    COMPLAINT = "complaint"
    UNDETERMINED = "undetermined"


# Only these say the address itself cannot receive mail; everything else is soft.
HARD_REASONS = frozenset({Reason.USER_UNKNOWN, Reason.HOST_UNKNOWN})

ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
REPLY = re.compile(r"(?<![\d.])([245]\d\d)(?![\d.])")

# Enhanced status codes (RFC 3463 and the IANA registry) with one clear meaning.
BY_STATUS: dict[str, Reason] = {
    "5.1.1": Reason.USER_UNKNOWN,
    "5.1.0": Reason.USER_UNKNOWN,
    "5.1.3": Reason.USER_UNKNOWN,
    "5.1.6": Reason.MOVED,
    "5.1.2": Reason.HOST_UNKNOWN,
    "5.1.10": Reason.HOST_UNKNOWN,
    "5.2.1": Reason.SUSPENDED,
    "5.2.2": Reason.MAILBOX_FULL,
    "5.2.3": Reason.MESSAGE_TOO_BIG,
    "5.3.4": Reason.MESSAGE_TOO_BIG,
    "5.4.7": Reason.EXPIRED,
    "4.4.7": Reason.EXPIRED,
    "5.7.1": Reason.POLICY,
    "5.7.26": Reason.SECURITY,
    "5.7.25": Reason.SECURITY,
    "5.7.27": Reason.SECURITY,
    "4.7.0": Reason.RATE_LIMITED,
    "4.2.2": Reason.MAILBOX_FULL,
}
BY_CLASS: dict[str, Reason] = {
    "5.1": Reason.USER_UNKNOWN,
    "5.2": Reason.SUSPENDED,
    "5.3": Reason.SYSTEM_ERROR,
    "5.4": Reason.SYSTEM_ERROR,
    "5.5": Reason.SYSTEM_ERROR,
    "5.6": Reason.SYSTEM_ERROR,
    "5.7": Reason.POLICY,
}
# Wording, checked in order: the first match decides.
BY_WORDING: tuple[tuple[re.Pattern[str], Reason], ...] = tuple(
    (re.compile(pattern, re.I), reason)
    for pattern, reason in (
        (r"auto.?reply|out of (the )?office|vacation", Reason.AUTO_REPLY),
        (r"spam|junk|bulk mail|content.*reject|blocked for abuse", Reason.SPAM_DETECTED),
        (
            r"quota|mailbox (is )?full|over ?quota|insufficient (system )?storage",
            Reason.MAILBOX_FULL,
        ),
        (r"too (big|large)|size (limit|exceeds)|exceeds.*size", Reason.MESSAGE_TOO_BIG),
        (
            r"too many (connections|messages|recipients)|rate limit|try again later|throttl",
            Reason.RATE_LIMITED,
        ),
        (r"dmarc|dkim|spf|authentication", Reason.SECURITY),
        (r"blacklist|blocklist|block list|listed|blocked|reputation", Reason.BLOCKED),
        (r"policy|not (allowed|authori[sz]ed|permitted)|relay(ing)? denied", Reason.POLICY),
        (r"disabled|suspended|inactive|deactivated|account.*(closed|expired)", Reason.SUSPENDED),
        (r"retry time(out)? (was )?exceeded|expired|delivery time", Reason.EXPIRED),
        (
            r"host (or domain name )?not found|no such domain|domain (not found|does not exist)|"
            r"no mx|unrouteable|unroutable",
            Reason.HOST_UNKNOWN,
        ),
        (
            r"(user|recipient|mailbox|address)( name)? (is )?(unknown|not found|does not exist|"
            r"unavailable|invalid)|no such (user|recipient|mailbox)|unknown (user|recipient)|"
            r"invalid recipient|not a valid (mailbox|recipient)",
            Reason.USER_UNKNOWN,
        ),
        (r"filter", Reason.FILTERED),
    )
)


@dataclass(frozen=True)
class Verdict:
    """What a failure means: its reason, the status code it rests on, and hard or soft."""

    reason: Reason
    status: str | None = None

    @property
    def hard(self) -> bool:
        """True when the address itself is dead, so it is suppressed at once."""
        return self.reason in HARD_REASONS


def classify(
    diagnostic: str | None,
    status: str | None = None,
    *,
    reply_code: int | None = None,
) -> Verdict:
    """The verdict on one failed recipient, from the most specific evidence there is.

    `diagnostic` is the server's words (a DSN's Diagnostic-Code, an SMTP reply's text, a
    relay's message); `status` a DSN's Status field; `reply_code` the basic SMTP code.
    """
    text = diagnostic or ""
    enhanced = _enhanced(text) or _enhanced(status or "")
    by_wording = _by_wording(text)
    if enhanced is not None:
        reason = _by_status(enhanced)
        if reason is None or (enhanced.startswith("5.0") or enhanced.startswith("4.0")):
            reason = by_wording or reason
        if reason is None:
            reason = Reason.SYSTEM_ERROR if enhanced.startswith("4") else Reason.UNDETERMINED
        if enhanced.startswith("4") and reason in HARD_REASONS:
            reason = Reason.SYSTEM_ERROR  # a temporary failure never kills an address
        return Verdict(reason, enhanced)
    code = reply_code or _reply(text)
    if by_wording is not None:
        if code is not None and code < 500 and by_wording in HARD_REASONS:
            return Verdict(Reason.SYSTEM_ERROR, str(code))
        return Verdict(by_wording, str(code) if code else None)
    if code is not None and code in (550, 551, 553) and not text.strip():
        return Verdict(Reason.USER_UNKNOWN, str(code))
    if code is not None and code == 552:
        return Verdict(Reason.MAILBOX_FULL, str(code))
    return Verdict(Reason.UNDETERMINED, str(code) if code else None)


def classify_reply(code: int, text: str) -> Verdict:
    """The verdict on an SMTP server's refusal at send time (RCPT TO or DATA)."""
    return classify(text, reply_code=code)


def _enhanced(text: str) -> str | None:
    found = ENHANCED.search(text)
    return ".".join(found.groups()) if found else None


def _reply(text: str) -> int | None:
    found = REPLY.search(text)
    return int(found.group(1)) if found else None


def _by_status(status: str) -> Reason | None:
    if status in BY_STATUS:
        return BY_STATUS[status]
    return BY_CLASS.get(status.rsplit(".", 1)[0]) if status.startswith("5") else None


def _by_wording(text: str) -> Reason | None:
    for pattern, reason in BY_WORDING:
        if pattern.search(text):
            return reason
    return None
