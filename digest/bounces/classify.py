"""Why a message was refused, and whether that means the address is dead: one classifier.

Every source of a failure (a DSN in the bounce mailbox, a relay's webhook, a refusal at send
time) asks `classify` for a `Verdict`: a reason from a fixed taxonomy, and whether the
reason is hard (the address itself is dead: suppress it) or soft (the address may work
tomorrow, or the fault is ours: never suppress on one).

The most specific evidence wins, in this order:
1. wording that is never about the recipient (a refusal of our sender address, a mailing
   list refusing a post, an auto-reply), whatever code comes with it;
2. an enhanced status code with one clear meaning (5.1.1, 5.2.2, 5.3.4 ...), taken from the
   diagnostic text before the DSN's `Status:` field, because reporting MTAs fill that field
   with a generic 5.0.0 or a guess derived from the reply code;
3. the wording of the major MTAs and providers ("no such user", "over quota", "blocked
   using ..."), which beats generic codes (5.0.0, 5.7.1, 550, 554);
4. the class of the code (5.1.x address, 5.7.x policy ...), then RFC 5321's stock text.
A temporary failure (4.x.x, 4xx) is never hard, whatever its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.bounces.wording import AT_RCPT, OVERRIDING, STRONG, WEAK, Reason, first_match

__all__ = ["HARD_REASONS", "Reason", "Verdict", "classify", "classify_reply"]

# Only these say the address itself cannot receive mail; everything else is soft.
HARD_REASONS = frozenset({Reason.USER_UNKNOWN, Reason.HOST_UNKNOWN, Reason.MOVED})
# Reasons that come from the recipient's side and may last: a reader whose mail keeps failing
# for one of these is suppressed after the soft-bounce limit. Blocks, policy, spam, size and
# rate limits are about our mail, and never count against the reader.
RECIPIENT_SIDE = frozenset(
    {Reason.MAILBOX_FULL, Reason.SUSPENDED, Reason.EXPIRED, Reason.UNDETERMINED}
)

ENHANCED = re.compile(r"(?<![\d.#])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
REPLY = re.compile(r"(?<![\d.\w-])([245][0-5]\d)(?![\d.\w-])")

# Enhanced codes (RFC 3463 and the IANA registry) whose meaning is precise enough to trust
# over the server's wording.
DECISIVE: dict[str, Reason] = {
    "5.1.1": Reason.USER_UNKNOWN,
    "5.1.2": Reason.HOST_UNKNOWN,
    "5.1.3": Reason.USER_UNKNOWN,
    "5.1.6": Reason.MOVED,
    "5.1.7": Reason.POLICY,  # our sender address
    "5.1.8": Reason.POLICY,
    "4.1.7": Reason.POLICY,
    "4.1.8": Reason.POLICY,
    "5.2.2": Reason.MAILBOX_FULL,
    "4.2.2": Reason.MAILBOX_FULL,
    "5.2.3": Reason.MESSAGE_TOO_BIG,
    "5.3.4": Reason.MESSAGE_TOO_BIG,
    "5.7.13": Reason.SUSPENDED,
    "5.7.23": Reason.SECURITY,
    "5.7.25": Reason.SECURITY,
    "5.7.26": Reason.SECURITY,
    "5.7.27": Reason.SECURITY,
}
# Codes with a likely meaning that the wording may refine.
LIKELY: dict[str, Reason] = {
    "5.1.0": Reason.USER_UNKNOWN,
    "5.1.4": Reason.USER_UNKNOWN,
    "5.1.10": Reason.HOST_UNKNOWN,
    "5.2.1": Reason.SUSPENDED,
    "5.4.4": Reason.HOST_UNKNOWN,
    "5.4.7": Reason.EXPIRED,
    "4.4.7": Reason.EXPIRED,
    "5.4.6": Reason.SYSTEM_ERROR,
    "5.7.28": Reason.RATE_LIMITED,
    "4.7.28": Reason.RATE_LIMITED,
    "4.7.0": Reason.RATE_LIMITED,
    "4.2.1": Reason.RATE_LIMITED,
    "5.7.0": Reason.POLICY,
    "5.7.1": Reason.POLICY,
}
BY_CLASS: dict[str, Reason] = {
    "1": Reason.USER_UNKNOWN,
    "2": Reason.MAILBOX_FULL,
    "3": Reason.SYSTEM_ERROR,
    "4": Reason.EXPIRED,
    "5": Reason.SYSTEM_ERROR,
    "6": Reason.SYSTEM_ERROR,
    "7": Reason.POLICY,
}
BY_REPLY: dict[int, Reason] = {
    421: Reason.RATE_LIMITED,
    450: Reason.SYSTEM_ERROR,
    451: Reason.SYSTEM_ERROR,
    452: Reason.SYSTEM_ERROR,
    552: Reason.MAILBOX_FULL,
    521: Reason.HOST_UNKNOWN,  # RFC 7504: this host does not accept mail
    556: Reason.HOST_UNKNOWN,  # RFC 7504: the domain does not accept mail (null MX)
}
# Wording that says the fault is ours, or that the address lives on (full, disabled): it
# outranks a hard code that the reporting MTA derived on its own, in its `Status:` field.
SENDER_SIDE = frozenset(
    {
        Reason.SUSPENDED,
        Reason.BLOCKED,
        Reason.SPAM_DETECTED,
        Reason.SECURITY,
        Reason.POLICY,
        Reason.RATE_LIMITED,
        Reason.FILTERED,
        Reason.MESSAGE_TOO_BIG,
        Reason.MAILBOX_FULL,
    }
)


@dataclass(frozen=True)
class Verdict:
    """What a failure means: its reason, the status code it rests on, and hard or soft."""

    reason: Reason
    status: str | None = None

    @property
    def hard(self) -> bool:
        """True when the address itself is dead, so it is suppressed at once.

        A temporary failure (4.x.x or 4xx) is never hard: the server may accept tomorrow.
        """
        return self.reason in HARD_REASONS and not (self.status or "").startswith("4")


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
    text = " ".join((diagnostic or "").split())
    in_text = _enhanced(text)
    in_field = _enhanced(status or "")
    code = in_text
    if code is None or (_generic(code) and in_field is not None and not _generic(in_field)):
        code = in_field or code
    reply = reply_code or _reply(text) or _reply_of_field(status)
    evidence = code or (str(reply) if reply else None)

    overriding = first_match(OVERRIDING, text)
    if overriding is not None:
        return Verdict(overriding, evidence)
    strong = first_match(STRONG, text)
    if code is not None and code in DECISIVE:
        field_only = in_text is None or code != in_text
        if not (field_only and strong in SENDER_SIDE):
            return Verdict(DECISIVE[code], code)
    if strong is not None:
        return Verdict(strong, evidence)
    if code is not None and code in LIKELY:
        return Verdict(LIKELY[code], code)
    weak = first_match(WEAK, text)
    if weak is not None:
        return Verdict(weak, evidence)
    if code is not None and not _generic(code):
        return Verdict(BY_CLASS.get(code.split(".")[1], Reason.UNDETERMINED), code)
    permanent = (evidence or "").startswith("5")
    if permanent and AT_RCPT.search(text):
        return Verdict(Reason.USER_UNKNOWN, evidence)
    if reply is not None and reply in BY_REPLY:
        return Verdict(BY_REPLY[reply], evidence)
    return Verdict(Reason.UNDETERMINED, evidence)


def classify_reply(code: int, text: str) -> Verdict:
    """The verdict on an SMTP server's refusal at send time (RCPT TO or DATA)."""
    return classify(text, reply_code=code)


def _enhanced(text: str) -> str | None:
    """The first specific enhanced code in the text, else its first generic one (x.0.0).

    Exchange writes "#5.1.0 smtp;550 5.1.1 ...": the 5.1.1 is the server's own.
    """
    codes = [".".join(found.groups()) for found in ENHANCED.finditer(text[:4000])]
    return next((code for code in codes if not _generic(code)), codes[0] if codes else None)


def _generic(code: str) -> bool:
    """x.0.0 and x.y.0 say only "failed" or its class: the wording knows more."""
    return code.endswith(".0")


def _reply(text: str) -> int | None:
    found = REPLY.search(text)
    return int(found.group(1)) if found else None


def _reply_of_field(status: str | None) -> int | None:
    value = (status or "").strip()
    return int(value) if len(value) == 3 and value.isdigit() else None
