"""The one classifier: hard only for dead addresses, from the most specific evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.bounces.classify import Reason, Verdict, classify, classify_reply
from digest.bounces.reports import read_report
from digest.cli import app
from digest.errors import DigestError
from digest.models import BounceKind
from digest.settings import load_settings

CORPUS = Path(__file__).parent / "corpus" / "messages"


@pytest.mark.parametrize(
    ("diagnostic", "status", "reason", "hard"),
    [
        # the specific code in the server's words beats the reporting MTA's generic Status
        ("smtp; 550 5.7.1 Rejected for policy reasons", "5.0.0", Reason.POLICY, False),
        ("smtp; 550 5.1.1 <a@example.org>... User unknown", "5.0.0", Reason.USER_UNKNOWN, True),
        # a hard Status the MTA guessed gives way to words that say the fault is ours
        ("smtp; 554 Client host blocked using zen.spamhaus.org", "5.1.1", Reason.BLOCKED, False),
        # wording beats generic codes: Yandex's 5.7.1, Yahoo's 552
        ("smtp; 550 5.7.1 No such user!", "5.7.1", Reason.USER_UNKNOWN, True),
        ("552 1 Requested mail action aborted, mailbox not found", None, Reason.USER_UNKNOWN, True),
        # the reason, not the class, decides: a full mailbox or a big message is never hard
        ("552 5.2.2 Over quota", "5.2.2", Reason.MAILBOX_FULL, False),
        (
            "550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large",
            None,
            Reason.MESSAGE_TOO_BIG,
            False,
        ),
        ("retry timeout exceeded", None, Reason.EXPIRED, False),
        ("421 Too many concurrent SMTP connections", None, Reason.RATE_LIMITED, False),
        # never about the recipient, whatever the code
        (
            "553 5.1.1 <bounces@news.example>: Sender address rejected: Domain not found",
            "5.1.1",
            Reason.POLICY,
            False,
        ),
        ("550 5.1.1 Post by non-member to a members-only list", None, Reason.POLICY, False),
        # a temporary failure is never hard, even about an unknown user
        (
            "450 4.1.1 <a@example.org>: Recipient address rejected: User unknown",
            "4.1.1",
            Reason.USER_UNKNOWN,
            False,
        ),
        # a bare permanent refusal of RCPT TO is a recipient the server does not have...
        (
            "<a@b.example>: host mx said: 550 Rejected (in reply to RCPT TO command)",
            None,
            Reason.USER_UNKNOWN,
            True,
        ),
        # ...but not of our HELO, nor at the end of DATA
        (
            "Connected to 192.0.2.9 but my name was rejected. Remote host said: 501 5.0.0 Invalid "
            "domain name",
            None,
            Reason.BLOCKED,
            False,
        ),
        (
            "<a@b.example>: host mx said: 554 Rejected (in reply to end of DATA command)",
            None,
            Reason.UNDETERMINED,
            False,
        ),
        # nothing readable is not "hard by default"
        ("smtp; 550 Sorry", "5.0.0", Reason.UNDETERMINED, False),
        (None, None, Reason.UNDETERMINED, False),
        ("smtp; 550 5.1.2 Host unknown", None, Reason.HOST_UNKNOWN, True),
        # our sending host or our From refused: "not found" there is not the reader's domain
        (
            "550 5.7.1 <out1.example>: Helo command rejected: Host not found",
            None,
            Reason.BLOCKED,
            False,
        ),
        ("550 5.7.1 The domain of your From address does not exist", None, Reason.POLICY, False),
        ("550 HELO domain out1.example does not exist", None, Reason.BLOCKED, False),
        ("553 5.1.8 Sender address does not exist", None, Reason.POLICY, False),
        ("550 5.7.1 Client address not listed in our allowed list", None, Reason.BLOCKED, False),
        # ...but an EHLO line in a transcript is only a transcript
        (
            ">>> EHLO out1.example <<< 250 ok >>> RCPT To:<a@b.example> <<< 550 5.1.1 User unknown",
            None,
            Reason.USER_UNKNOWN,
            True,
        ),
        ("smtp; 551 5.1.6 User has moved; please try <b@example.org>", None, Reason.MOVED, True),
    ],
)
def test_classify(diagnostic: str | None, status: str | None, reason: Reason, hard: bool) -> None:
    verdict = classify(diagnostic, status)
    assert (verdict.reason, verdict.hard) == (reason, hard)


def test_classify_reply_reads_the_refusal_at_send_time() -> None:
    assert classify_reply(550, "5.1.1 <a@example.org>: Recipient address rejected") == Verdict(
        Reason.USER_UNKNOWN, "5.1.1"
    )
    assert not classify_reply(451, "4.7.1 Greylisted, try again later").hard
    assert classify_reply(552, "Message size exceeds fixed limit").reason == Reason.MESSAGE_TOO_BIG
    assert classify_reply(550, "").reason == Reason.UNDETERMINED


def read(name: str) -> list[tuple[BounceKind, str | None, str | None]]:
    settings = load_settings(bounce_domain="news.example")
    [path] = CORPUS.glob(f"*_{name}.eml")
    return [
        (r.kind, r.recipient, r.reason.value if r.reason else None)
        for r in read_report(settings, path.read_bytes(), path.name)
    ]


def test_codes_in_unrelated_headers_are_never_read() -> None:
    # X-Mailer: Microsoft Exchange Server 5.5.2653.13, X-Mailman-Version: 2.1.39 in the report
    assert read("plain_xmailer_trap") == [(BounceKind.SOFT, "dora@example.org", "message-too-big")]


def test_recipient_blocks_without_a_blank_line_between_are_two_recipients() -> None:
    assert read("postfix_two_blocks_unseparated") == [
        (BounceKind.SOFT, "ivy@example.org", "mailbox-full"),
        (BounceKind.HARD, "jack@example.org", "user-unknown"),
    ]


def test_original_recipient_is_preferred_over_final_recipient() -> None:
    assert read("dsn_original_recipient") == [
        (BounceKind.HARD, "ben.ross@oldcorp.example", "user-unknown")
    ]


def test_ses_json_complaint_in_the_mailbox_is_a_complaint() -> None:
    assert read("ses_json_complaint") == [(BounceKind.COMPLAINT, "bea.m@example.com", "complaint")]


def test_dmarc_failure_report_is_not_a_complaint() -> None:
    assert read("arf_dmarc_auth_failure") == [
        (BounceKind.UNKNOWN, "yann@receiver.example", "security")
    ]


def test_an_administrators_address_in_the_text_is_not_a_failure() -> None:
    assert read("mailmarshal_quota") == [
        (BounceKind.SOFT, "lee.v@corp.example.net", "mailbox-full")
    ]


def test_a_readers_reply_acts_on_nobody() -> None:
    assert [kind for kind, _r, _why in read("not_a_bounce_human_reply")] == [BounceKind.UNKNOWN]


def test_digest_bounces_read_shows_without_acting(tmp_path: Path) -> None:
    [path] = CORPUS.glob("*_postfix_two_blocks_unseparated.eml")
    result = CliRunner().invoke(app, ["bounces", "read", str(path), str(tmp_path / "none.eml")])
    lines = result.output.splitlines()
    assert "soft      mailbox-full    5.2.2   ivy@example.org" in lines[0]
    assert "hard      user-unknown    5.1.1   jack@example.org" in lines[1]
    assert isinstance(result.exception, DigestError)  # the missing file: a one-line error
