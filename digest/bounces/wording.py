"""What the major MTAs and mailbox providers write when they refuse mail, by reason.

The patterns are written from the wording each server documents or is known to send
(Postfix, Exim, Sendmail, qmail, Courier, OpenSMTPD, Exchange and Office 365, Domino,
GroupWise, Gmail, Outlook.com, Yahoo and AOL, iCloud, Yandex, Mail.ru, GMX, Zoho, mailing
list managers). Three tiers, because the same words mean different things in company:

- OVERRIDING wording beats every status code: a refusal of *our sender address* or of a post
  to a mailing list is never about the recipient, whatever code it carries.
- STRONG wording is explicit about the recipient or the cause ("no such user", "over quota",
  "blocked using zen.spamhaus.org"); it beats generic codes (5.0.0, 5.7.1, 550, 554).
- WEAK wording ("mailbox unavailable", "recipient rejected") is RFC 5321's stock text that
  servers also send for blocks; it counts only when nothing else speaks.
"""

from __future__ import annotations

import re
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


def _compile(rules: tuple[tuple[str, Reason], ...]) -> tuple[tuple[re.Pattern[str], Reason], ...]:
    return tuple((re.compile(pattern, re.I), reason) for pattern, reason in rules)


OVERRIDING = _compile(
    (
        # Our envelope sender or its domain refused (Postfix 4.1.8/5.1.8, Sendmail 553 5.1.8).
        (
            r"sender address rejected|domain of (the )?sender|sender domain|"
            r"sender (address )?(is )?(unknown|invalid|not (allowed|permitted|found)|"
            r"(does not|doesn'?t) exist)|"
            r"return[- ]path (address )?(is )?(rejected|invalid|refused)|sender verif|"
            r"verification failed for|callout verification|unverified sender|"
            r"but sender was rejected|"
            r"(your|the) from (address|header|domain)|from: header|header from|envelope from",
            Reason.POLICY,
        ),
        # Our sending host refused ("Helo command rejected: Host not found" is not about the
        # recipient's domain).
        (
            r"\b(helo|ehlo)( command| hostname| name)? (rejected|refused|denied|invalid)|"
            r"(invalid|bad|rejected|refused) (helo|ehlo)\b|after (helo|ehlo)\b|"
            r"(helo|ehlo) (domain|host ?name|name|argument)( \S+)? ((does not|doesn'?t) exist|"
            r"not found|invalid|rejected|refused)|"
            r"client host|your (ip|host ?name|server|mail server)\b|but my name was rejected|"
            r"but greeting failed|"
            r"reverse (dns|hostname|lookup)|\bptr\b|\brdns\b",
            Reason.BLOCKED,
        ),
        # Mailing list managers refusing a post (Mailman, Google Groups, Sympa, LISTSERV).
        (
            r"non-?member|members[- ]only|not a member|(permission|allowed|authori[sz]ed) to "
            r"post|post(ing)? (messages )?to (this|the) (mailing )?(list|group)|"
            r"moderat(or|ed|ion)|the group you tried to contact|list (is )?(closed|moderated)",
            Reason.POLICY,
        ),
        (r"auto[- ]?repl(y|ied)|out of (the )?office|automatic reply", Reason.AUTO_REPLY),
        # The recipient's own choice to refuse us, even under a 5.1.1 (Facebook's RCP-P2).
        (
            r"recipient preferences|refused by (the )?recipient'?s? (rules|preferences)",
            Reason.FILTERED,
        ),
    )
)

STRONG = _compile(
    (
        # Throttling names recipients and reputation in passing: it goes first.
        (
            r"too many (connections|messages|recipients|concurrent|simultaneous|errors|"
            r"invalid)|rate[- ]?limit|throttl|(sending|daily|hourly|send|message) (quota|limit)",
            Reason.RATE_LIMITED,
        ),
        (
            r"over ?quota|over (its|the|their|his|her|your) (storage |mailbox )?quota|"
            r"quota (exceeded|full)|exceed(s|ed)? (the |their |his |her )?"
            r"(storage |mailbox )?quota|mailbox (is )?full|mailbox size limit|mail ?box "
            r"(has )?exceeded|mailfolder is full|not enough (storage|space) in|"
            r"exceeded storage allocation|full mailbox|"
            r"mailbox (is )?over|account is full|inbox is full|storage (is )?full|"
            r"postfach voll|bo[iî]te (aux lettres )?pleine|\bquota\b|"
            # Japanese carriers and ISPs: "capacity exceeded", "mailbox is full"
            r"容量.{0,10}(超|オーバー|一杯|いっぱい)|メールボックス.{0,6}(一杯|いっぱい|満杯)",
            Reason.MAILBOX_FULL,
        ),
        (
            r"has moved|user has moved|new address|address (has )?changed|no longer at this|"
            r"user not local|no longer on (this )?server|has been replaced by",
            Reason.MOVED,
        ),
        (
            r"host (or domain name )?not found|host unknown|unknown host|no such domain|"
            r"domain (name )?(is )?(not found|not exist|does not exist|doesn'?t exist|"
            r"not valid|invalid|unknown)|unknown domain|invalid domain|unrout(e)?able|"
            r"name service error|nxdomain|no mx|mx (record|lookup)|null mx|"
            r"does not accept (e-?)?mail|domain .{0,60}(doesn'?t|does not) exist|"
            r"no (mail ?)?server for|unresolvable|dns (lookup )?fail|name or service not known",
            Reason.HOST_UNKNOWN,
        ),
        (
            r"(account|mailbox|user|address)( has been| is| was)?( temporarily| permanently)? "
            r"(disabled|suspended|deactivated|inactive|locked|frozen|blocked|expired|closed|"
            r"not active)|"
            r"(disabled|suspended|inactive|deactivated|frozen|locked|closed) "
            r"(account|mailbox|user)|no longer (active|in use)|account.{0,30}(closed|expired)",
            Reason.SUSPENDED,
        ),
        (
            r"user unknown|unknown user|no such (user|recipient|mailbox|address|account|"
            r"local user|person|login)|(user|recipient|mailbox|address|account|addressee|"
            r"e-?mail account|login)( name)? (is )?(unknown|not found|not exist|does not exist|"
            r"doesn'?t exist|not valid|invalid)|unknown (recipient|address|"
            r"mailbox|local[- ]?part|account|alias|or illegal alias)|invalid (recipient|"
            r"mailbox|user|account)|not a valid (user|mailbox|recipient|address|account)|"
            r"(does not|doesn'?t) exist|no mailbox (here|by that name)|"
            r"not listed in (the |public )?(domino|name|address|directory|names)|"
            r"mailbox (not found|unknown|does not exist|not exist)|recipient not found|"
            r"recip(ient)?notfound|user not found|addressee unknown|"
            r"(doesn'?t|does not) have an? [\w.-]+ account|no longer (valid|available|exists)|"
            r"bad destination mailbox|not our customer|invalid mailbox|"
            r"unknown or invalid|user does not exist|no account|not a known user|"
            r"nicht vorhanden|unbekannt|existiert nicht|n'existe pas|\bno existe|"
            r"n[aã]o existe|non esiste|"
            # Japanese: "does not exist", "unknown address", "no such user"
            r"存在しません|宛先不明|ユーザ.{0,6}(いません|不明)",
            Reason.USER_UNKNOWN,
        ),
        (
            r"\bspf\b|dkim|dmarc|authentication (fail|requir|check)|not authenticated|"
            r"unauthenticated|auth(entication)? failure|(sender|message) (is )?not "
            r"(verified|authenticated)|\bptr\b|cannot find your (reverse )?hostname|"
            r"reverse dns|rdns|hostname.{0,30}(lookup|resolve)|starttls|tls required|"
            r"encryption required|must issue a starttls",
            Reason.SECURITY,
        ),
        (
            r"virus|malware|infected|attachment.{0,30}(blocked|not allowed|prohibited)|受信拒否",
            Reason.FILTERED,
        ),
        (
            r"spam(?!haus|cop)|junk|unsolicited|\buce\b|bulk (e-?)?mail|"
            r"content (was )?(rejected|refused|not accepted)|scor(e|ed) (too )?high|"
            r"rejected (as|for) (spam|suspicious)|suspicious|phish",
            Reason.SPAM_DETECTED,
        ),
        (
            r"blacklist|blocklist|block ?list|denylist|\brbl\b|dnsbl|spamhaus|spamcop|barracuda|"
            r"sorbs|listed (in|at|on|by)|reputation|(ip|address|host|domain|network|"
            r"connection|sender|you)( has| have| is| are)?( been)? (blocked|banned|denied)|"
            r"blocked (using|by|because|due)|banned|poor reputation|\[bl\d+\]|"
            r"refused to talk|(?<!relay )access denied|client host rejected|"
            r"connection (was )?(refused|rejected|dropped)",
            Reason.BLOCKED,
        ),
        (
            r"too (big|large)|size (limit|exceeds|exceeded)|exceeds? (the )?(maximum |max )?"
            r"(message |allowed )?size|message (size|length) exceeds|message size|"
            r"exceeded.{0,20}size|file too large|larger than",
            Reason.MESSAGE_TOO_BIG,
        ),
        (
            r"too many (connections|messages|recipients|concurrent|simultaneous|errors|"
            r"invalid)|\brate\b.{0,20}(limit|exceeded)|rate ?limit|throttl|try (again )?later|"
            r"temporarily (deferred|rejected|refused|suspended|blocked|limited)|"
            r"sending limit|limit exceeded|exceeded.{0,30}limit|slow down|greylist|graylist|"
            r"too fast|too much mail|\[ts0\d\]|\[tss0\d\]",
            Reason.RATE_LIMITED,
        ),
        (
            r"relay(ing)? (access )?(denied|not permitted|prohibited)|unable to relay|"
            r"not permitted to relay|policy|not (allowed|authori[sz]ed|permitted)|"
            r"prohibited|refused|administrative|restricted|not accepted here|rcpthosts|"
            r"not in my list of allowed",
            Reason.POLICY,
        ),
        (
            r"retry time(out)? (was )?exceeded|queue too long|too long in (the )?queue|"
            r"time(d)? ?out|expired|delivery time|"
            r"(could not|couldn'?t) be delivered (with|in|for) .{0,30}(hours|days)|"
            r"undeliverable for|delivery (has )?(failed|been delayed) "
            r"(for|after) \d+|maximum time|lifetime|no answer|unreachable|"
            r"connection (timed out|lost|reset)|lost connection|network",
            Reason.EXPIRED,
        ),
        (
            r"filter(ed)?|refuses? (to accept|your|mail|messages)|does not wish|"
            r"not accept(ing)? (mail|messages|e-?mail) from|rejected your message|"
            r"recipient.{0,20}(reject|refus|block)",
            Reason.FILTERED,
        ),
        (
            r"system (error|failure|problem)|internal (server )?error|local error|"
            r"temporary (local )?(problem|failure|error)|server error|configuration error|"
            r"mail loop|too many hops|routing loop|loop(s)? (back|detected)|hop count|"
            r"insufficient (system )?storage|out of (disk|memory|space)|"
            r"service (not available|unavailable)|try again|resources|temporar",
            Reason.SYSTEM_ERROR,
        ),
    )
)

WEAK = _compile(
    (
        (
            r"(mailbox|account|address|user|recipient) (is )?(unavailable|not available|"
            r"not present)|recipient (address )?rejected|"
            r"rejected recipient|address rejected|invalid address|bad recipient|"
            r"undeliverable address|(recipient|user|mailbox|address).{0,30}(unknown|not found)",
            Reason.USER_UNKNOWN,
        ),
    )
)


# The recipient refused at RCPT TO, with no other explanation: a recipient the server does not
# have (the reading of the major bounce classifiers too).
AT_RCPT = re.compile(
    r"in reply to rcpt to|after rcpt to|rcpt to:? ?<[^>]*>? ?<<< ?5|does not like recipient", re.I
)


def first_match(rules: tuple[tuple[re.Pattern[str], Reason], ...], text: str) -> Reason | None:
    """The reason of the first rule whose pattern is in the text."""
    for pattern, reason in rules:
        if pattern.search(text):
            return reason
    return None
