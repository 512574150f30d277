"""Builders of the corpus messages, one per format (see make_corpus.py).

Every message is written here from the documented or commonly seen format of its MTA or
provider (RFC 3464 DSNs, RFC 5965 ARF, the plain-text bounces of qmail, Exim, Sendmail,
Exchange, Domino, GroupWise, OpenSMTPD, the JSON of Amazon SES); the wording is written for
this corpus and varied on purpose. No message comes from another project's corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

US = "Springfield Times <news@springfield-times.example>"
VERP = "bounces+x7Qk2mZpA9@news.example"
DATE = "Mon, 24 Nov 2025 06:0{n} +0000"


@dataclass
class Expect:
    recipient: str
    reason: str
    kind: str


@dataclass
class Case:
    name: str
    sender: str
    raw: str
    expect: list[Expect] = field(default_factory=list)


CASES: list[Case] = []


def original(rcpt: str, inline: bool = False) -> str:
    """The headers of the digest that bounced (with an X-Mailer that looks like a code)."""
    return (
        f"Return-Path: <{VERP}>\n"
        "Received: from out1.springfield-times.example (out1.springfield-times.example "
        "[203.0.113.5])\n\tby mx.example.net with ESMTPS id 4Xy; Mon, 24 Nov 2025 06:00:01 +0000\n"
        f"From: {US}\nTo: {rcpt}\n"
        "Subject: Your Springfield digest for Monday, 24 November\n"
        "Date: Mon, 24 Nov 2025 06:00:00 +0000\n"
        "Message-ID: <edition-412.reader-9@springfield-times.example>\n"
        "X-Mailer: Digest 5.0.1\nX-Mailman-Version: 2.1.39\n"
        "List-Id: Springfield Morning <morning.springfield-times.example>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        + ("\nGood morning, Springfield. Here are today's stories.\n" if not inline else "")
    )


def headers(frm: str, subject: str, n: int, extra: str = "") -> str:
    return (
        f"Return-Path: <>\nDelivered-To: {VERP}\nFrom: {frm}\nTo: {VERP}\n"
        f"Subject: {subject}\nDate: {DATE.format(n=n % 10)}\n"
        f"Message-ID: <bounce-{n}@corpus.example>\nMIME-Version: 1.0\n{extra}"
    )


def dsn(
    name: str,
    sender: str,
    frm: str,
    subject: str,
    human: str,
    reporting: str,
    blocks: list[tuple[str, str, str, str]],
    expect: list[Expect],
    *,
    separated: bool = True,
    originals: dict[str, str] | None = None,
    part_type: str = "message/delivery-status",
    inline: bool = False,
    declared_only: bool = False,
) -> None:
    """A multipart/report DSN; blocks are (recipient, action, status, diagnostic-code)."""
    n = len(CASES)
    fields = [f"Reporting-MTA: dns; {reporting}", "Arrival-Date: Mon, 24 Nov 2025 06:00:03 +0000"]
    per = []
    for rcpt, action, status, diag in blocks:
        lines = []
        if originals and rcpt in originals:
            lines.append(f"Original-Recipient: rfc822;{originals[rcpt]}")
        lines += [f"Final-Recipient: rfc822; {rcpt}", f"Action: {action}", f"Status: {status}"]
        if diag:
            lines.append(f"Diagnostic-Code: {diag}")
        per.append("\n".join(lines))
    status_text = "\n\n".join(fields) if False else "\n".join(fields) + "\n\n"
    status_text += ("\n\n" if separated else "\n").join(per) + "\n"
    first = blocks[0][0] if blocks else "reader@example.net"
    if declared_only:
        body = (
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\n\n'
            f"--B1\nContent-Type: text/plain; charset=us-ascii\n\n{human}\n\n"
            f"--B1\nContent-Type: message/rfc822\n\n{original(first)}\n--B1--\n"
        )
    elif inline:
        body = (
            'Content-Type: multipart/mixed; boundary="B1"\n\n'
            f"--B1\nContent-Type: text/plain; charset=us-ascii\n\n{human}\n\n{status_text}\n"
            f"--B1\nContent-Type: message/rfc822\n\n{original(first)}\n--B1--\n"
        )
    else:
        body = (
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\n\n'
            f"--B1\nContent-Type: text/plain; charset=us-ascii\n\n{human}\n\n"
            f"--B1\nContent-Type: {part_type}\n\n{status_text}\n"
            f"--B1\nContent-Type: text/rfc822-headers\n\n{original(first)}\n--B1--\n"
        )
    raw = headers(frm, subject, n, "Auto-Submitted: auto-replied\n") + body
    CASES.append(Case(name, sender, raw, expect))


def plain(
    name: str, sender: str, frm: str, subject: str, body: str, expect: list[Expect], extra: str = ""
) -> None:
    n = len(CASES)
    raw = (
        headers(frm, subject, n, extra + "Content-Type: text/plain; charset=utf-8\n") + "\n" + body
    )
    CASES.append(Case(name, sender, raw, expect))


def arf(
    name: str,
    sender: str,
    frm: str,
    feedback_type: str,
    agent: str,
    rcpt: str,
    expect: list[Expect],
    *,
    with_rcpt_field: bool = True,
) -> None:
    n = len(CASES)
    fields = f"Feedback-Type: {feedback_type}\nUser-Agent: {agent}\nVersion: 1\n"
    fields += f"Original-Mail-From: <{VERP}>\n"
    if with_rcpt_field:
        fields += f"Original-Rcpt-To: <{rcpt}>\n"
    fields += "Arrival-Date: Mon, 24 Nov 2025 06:00:05 +0000\n"
    fields += "Reported-Domain: springfield-times.example\n"
    if feedback_type == "auth-failure":
        fields += "Auth-Failure: dmarc\nSource-IP: 198.51.100.77\n"
    body = (
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F1"\n\n'
        "--F1\nContent-Type: text/plain\n\nThis is an email abuse report for an email message "
        "received from IP 203.0.113.5.\n\n"
        f"--F1\nContent-Type: message/feedback-report\n\n{fields}\n"
        f"--F1\nContent-Type: message/rfc822\n\n{original(rcpt)}\n--F1--\n"
    )
    raw = (
        headers(
            frm,
            "Abuse report"
            if feedback_type != "auth-failure"
            else "DMARC failure report for springfield-times.example",
            n,
        )
        + body
    )
    CASES.append(Case(name, sender, raw, expect))


def ses_json(name: str, payload: dict[str, object], expect: list[Expect], sns: bool) -> None:
    n = len(CASES)
    text = json.dumps(payload, indent=1)
    if sns:
        text = json.dumps(
            {
                "Type": "Notification",
                "MessageId": f"9a1b-{n}",
                "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-feedback",
                "Message": text,
                "Timestamp": "2025-11-24T06:00:09.000Z",
            },
            indent=1,
        )
    raw = (
        headers(
            "AWS Notifications <no-reply@sns.amazonaws.com>",
            "AWS Notification Message",
            n,
            "Content-Type: text/plain; charset=UTF-8\n",
        )
        + "\n"
        + text
        + "\n"
    )
    CASES.append(Case(name, "Amazon SES", raw, expect))


def auto(name: str, sender: str, frm: str, subject: str, body: str, extra: str) -> None:
    n = len(CASES)
    raw = (
        f"Return-Path: <>\nDelivered-To: {VERP}\nFrom: {frm}\nTo: {VERP}\nSubject: {subject}\n"
        f"Date: {DATE.format(n=n % 10)}\nMessage-ID: <auto-{n}@corpus.example>\n{extra}"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body
    )
    address = frm.split("<")[-1].strip(">")
    CASES.append(Case(name, sender, raw, [Expect(address, "auto-reply", "unknown")]))


H, S = "hard", "soft"


def E(rcpt: str, reason: str, kind: str) -> list[Expect]:
    return [Expect(rcpt, reason, kind)]
