# ruff: noqa: E501  (the corpus quotes servers' replies whole)
"""Bounces of the MTAs (Postfix, Exim, Sendmail, qmail, Courier, OpenSMTPD, Exchange, Domino,
GroupWise), mailing list managers, auto-replies, ARF reports and DSN oddities."""

from __future__ import annotations

from builders import US, VERP, E, Expect, H, S, arf, auto, dsn, original, plain

POSTFIX_INTRO = (
    "This is the mail system at host {host}.\n\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients. It's attached below.\n\n"
    "For further assistance, please send mail to postmaster.\n\n"
    "If you do so, please include this problem report. You can\n"
    "delete your own text from the attached returned message.\n\n"
    "                   The mail system\n\n"
)
PF = "MAILER-DAEMON@{host} (Mail Delivery System)"


def postfix(
    name: str,
    host: str,
    rows: list[tuple[str, str, str, str, str]],
    expect: list[Expect],
    **kw: object,
) -> None:
    """rows: (recipient, action, status, diagnostic-code, the human line)."""
    human = POSTFIX_INTRO.format(host=host) + "\n\n".join(r[4] for r in rows)
    delayed = all(r[1] == "delayed" for r in rows)
    subject = (
        "Delayed Mail (still being retried)" if delayed else "Undelivered Mail Returned to Sender"
    )
    dsn(
        name,
        "Postfix",
        PF.format(host=host),
        subject,
        human,
        host,
        [(r[0], r[1], r[2], r[3]) for r in rows],
        expect,
        **kw,
    )  # type: ignore[arg-type]


def add_postfix() -> None:
    r = "alice@example.net"
    postfix(
        "postfix_user_unknown",
        "mail.springfield-times.example",
        [
            (
                r,
                "failed",
                "5.1.1",
                "smtp; 550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in local recipient table",
                "<alice@example.net>: host mx1.example.net[192.0.2.25] said: 550 5.1.1\n    <alice@example.net>: Recipient address rejected: User unknown in local\n    recipient table (in reply to RCPT TO command)",
            )
        ],
        E(r, "user-unknown", H),
    )
    r = "b.jones@lists.example.org"
    postfix(
        "postfix_virtual_alias",
        "out2.springfield-times.example",
        [
            (
                r,
                "failed",
                "5.1.1",
                "smtp; 550 5.1.1 <b.jones@lists.example.org>: Recipient address rejected: User unknown in virtual alias table",
                "<b.jones@lists.example.org>: host mail.example.org[198.51.100.9] said: 550\n    5.1.1 <b.jones@lists.example.org>: Recipient address rejected: User unknown\n    in virtual alias table (in reply to RCPT TO command)",
            )
        ],
        E(r, "user-unknown", H),
    )
    r = "carla@example.com"
    postfix(
        "postfix_quota",
        "out1.springfield-times.example",
        [
            (
                r,
                "failed",
                "5.2.2",
                "smtp; 552 5.2.2 <carla@example.com>: Recipient address rejected: Mailbox full",
                "<carla@example.com>: host mx.example.com[192.0.2.40] said: 552 5.2.2\n    <carla@example.com>: Recipient address rejected: Mailbox full (in reply to\n    RCPT TO command)",
            )
        ],
        E(r, "mailbox-full", S),
    )
    r = "dan@no-such-town.example"
    postfix(
        "postfix_host_not_found",
        "out1.springfield-times.example",
        [
            (
                r,
                "failed",
                "5.4.4",
                "",
                "<dan@no-such-town.example>: Host or domain name not found. Name service error\n    for name=no-such-town.example type=A: Host not found",
            )
        ],
        E(r, "host-unknown", H),
    )
    r = "ellen@slowhost.example"
    postfix(
        "postfix_delayed",
        "out1.springfield-times.example",
        [
            (
                r,
                "delayed",
                "4.4.1",
                "X-Postfix; connect to mx.slowhost.example[198.51.100.20]:25: Connection timed out",
                "<ellen@slowhost.example>: connect to mx.slowhost.example[198.51.100.20]:25:\n    Connection timed out",
            )
        ],
        E(r, "expired", S),
    )
    r = "fred@example.org"
    postfix(
        "postfix_rbl",
        "out2.springfield-times.example",
        [
            (
                r,
                "failed",
                "5.7.1",
                "smtp; 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.5",
                "<fred@example.org>: host mx.example.org[192.0.2.50] said: 554 5.7.1 Service\n    unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org (in\n    reply to RCPT TO command)",
            )
        ],
        E(r, "blocked", S),
    )
    r = "gina@example.net"
    postfix(
        "postfix_too_big",
        "out1.springfield-times.example",
        [
            (
                r,
                "failed",
                "5.3.4",
                "smtp; 552 5.3.4 Message size exceeds fixed limit",
                "<gina@example.net>: host mx.example.net[192.0.2.60] said: 552 5.3.4 Message\n    size exceeds fixed limit (in reply to end of DATA command)",
            )
        ],
        E(r, "message-too-big", S),
    )
    r = "hank@example.com"
    postfix(
        "postfix_sender_rejected",
        "out1.springfield-times.example",
        [
            (
                r,
                "failed",
                "5.1.8",
                "smtp; 553 5.1.8 <bounces+x7Qk2mZpA9@news.example>: Sender address rejected: Domain not found",
                "<hank@example.com>: host mx.example.com[192.0.2.70] said: 553 5.1.8\n    <bounces+x7Qk2mZpA9@news.example>: Sender address rejected: Domain not found\n    (in reply to RCPT TO command)",
            )
        ],
        E(r, "policy", S),
    )
    a, b = "ivy@example.org", "jack@example.org"
    postfix(
        "postfix_two_blocks_unseparated",
        "out2.springfield-times.example",
        [
            (
                a,
                "failed",
                "5.2.2",
                "smtp; 552 5.2.2 Over quota",
                "<ivy@example.org>: host mx.example.org[192.0.2.80] said: 552 5.2.2 Over quota\n    (in reply to RCPT TO command)",
            ),
            (
                b,
                "failed",
                "5.1.1",
                "smtp; 550 5.1.1 <jack@example.org>: No such user",
                "<jack@example.org>: host mx.example.org[192.0.2.80] said: 550 5.1.1\n    <jack@example.org>: No such user (in reply to RCPT TO command)",
            ),
        ],
        [Expect(a, "mailbox-full", S), Expect(b, "user-unknown", H)],
        separated=False,
    )


EXIM_INTRO = (
    "This message was created automatically by mail delivery software.\n\n"
    "A message that you sent could not be delivered to one or more of its\n"
    "recipients. This is a permanent error. The following address(es) failed:\n\n"
)
EXIM_COPY = "\n------ This is a copy of the message, including all the headers. ------\n\n"


def exim(
    name: str,
    host: str,
    failed: str,
    detail: str,
    expect: list[Expect],
    xfailed: str | None = None,
    intro: str = EXIM_INTRO,
) -> None:
    body = intro + detail + EXIM_COPY + original(expect[0].recipient, inline=True) + "\nHello\n"
    extra = f"X-Failed-Recipients: {xfailed or failed}\nAuto-Submitted: auto-replied\n"
    plain(
        name,
        "Exim",
        f"Mail Delivery System <Mailer-Daemon@{host}>",
        "Mail delivery failed: returning message to sender",
        body,
        expect,
        extra,
    )


def add_exim() -> None:
    r = "kate@example.com"
    exim(
        "exim_unknown_user",
        "mx.springfield-times.example",
        r,
        f"  {r}\n    host mx.example.com [198.51.100.7]\n    SMTP error from remote mail server "
        f"after RCPT TO:<{r}>:\n    550 Unknown user\n",
        E(r, "user-unknown", H),
    )
    r = "leo@faraway.example"
    exim(
        "exim_retry_timeout",
        "mx.springfield-times.example",
        r,
        f"  {r}\n    retry timeout exceeded\n",
        E(r, "expired", S),
        intro=EXIM_INTRO.replace("This is a permanent error. ", ""),
    )
    r = "mia@example.net"
    exim(
        "exim_quota",
        "mx.springfield-times.example",
        r,
        f"  {r}\n    host mx.example.net [192.0.2.90]\n    SMTP error from remote mail server after "
        f"end of data:\n    552 5.2.2 The email account that you tried to reach is over quota\n",
        E(r, "mailbox-full", S),
    )
    r = "ned@gone.example"
    exim(
        "exim_unrouteable",
        "mx.springfield-times.example",
        r,
        f"  {r}\n    Unrouteable address\n",
        E(r, "host-unknown", H),
    )
    a, b = "olga@example.org", "pete@example.org"
    exim(
        "exim_two_recipients",
        "mx2.springfield-times.example",
        a,
        f"  {a}\n    host mx.example.org [192.0.2.91]\n    SMTP error from remote mail server after "
        f"RCPT TO:<{a}>:\n    550 5.1.1 <{a}>: Recipient address rejected: User unknown\n\n"
        f"  {b}\n    host mx.example.org [192.0.2.91]\n    SMTP error from remote mail server after "
        f"RCPT TO:<{b}>:\n    550 5.1.1 <{b}>: Recipient address rejected: User unknown\n",
        [Expect(a, "user-unknown", H), Expect(b, "user-unknown", H)],
        xfailed=f"{a}, {b}",
    )
    r = "quinn@example.com"
    exim(
        "exim_spam_content",
        "mx.springfield-times.example",
        r,
        f"  {r}\n    host mx.example.com [192.0.2.92]\n    SMTP error from remote mail server after "
        "end of data:\n    550 Message rejected: this message scored 12.3 spam points.\n",
        E(r, "spam-detected", S),
    )
    r = "rosa@example.net"
    exim(
        "exim_local_delivery_quota",
        "mail.example.net",
        r,
        f"  {r}\n    mailbox is full: retry timeout exceeded\n",
        E(r, "mailbox-full", S),
    )


def add_sendmail() -> None:
    host = "mail.example.edu"
    frm = f"Mail Delivery Subsystem <MAILER-DAEMON@{host}>"
    intro = (
        "The original message was received at Mon, 24 Nov 2025 06:00:02 GMT\n"
        "from out1.springfield-times.example [203.0.113.5]\n\n"
        "   ----- The following addresses had permanent fatal errors -----\n<{r}>\n"
        "    (reason: {reason})\n\n   ----- Transcript of session follows -----\n"
        "... while talking to {mx}.:\n>>> DATA\n<<< {reason}\n"
    )
    r = "sam@example.edu"
    dsn(
        "sendmail_user_unknown",
        "Sendmail",
        frm,
        "Returned mail: see transcript for details",
        intro.format(
            r=r, reason="550 5.1.1 <sam@example.edu>... User unknown", mx="mx.example.edu"
        ),
        host,
        [(r, "failed", "5.1.1", "SMTP; 550 5.1.1 <sam@example.edu>... User unknown")],
        E(r, "user-unknown", H),
    )
    r = "tina@example.edu"
    dsn(
        "sendmail_generic_status_policy",
        "Sendmail",
        frm,
        "Returned mail: see transcript for details",
        intro.format(r=r, reason="550 5.7.1 Rejected for policy reasons", mx="mx.example.edu"),
        host,
        [(r, "failed", "5.0.0", "SMTP; 550 5.7.1 Rejected for policy reasons")],
        E(r, "policy", S),
    )
    r = "uma@nowhere.example"
    dsn(
        "sendmail_host_unknown",
        "Sendmail",
        frm,
        "Returned mail: see transcript for details",
        "The original message was received at Mon, 24 Nov 2025 06:00:02 GMT\n\n"
        "   ----- The following addresses had permanent fatal errors -----\n<uma@nowhere.example>\n"
        "    (reason: 550 Host unknown)\n\n   ----- Transcript of session follows -----\n"
        "550 5.1.2 <uma@nowhere.example>... Host unknown (Name server: nowhere.example: host not found)\n",
        host,
        [(r, "failed", "5.1.2", "")],
        E(r, "host-unknown", H),
    )
    r = "vic@example.edu"
    dsn(
        "sendmail_warning_deferred",
        "Sendmail",
        frm,
        "Warning: could not send message for past 4 hours",
        "    **********************************************\n    **      THIS IS A WARNING MESSAGE ONLY      **\n"
        "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n    **********************************************\n\n"
        "The original message was received at Mon, 24 Nov 2025 02:00:02 GMT\n\n"
        "   ----- Transcript of session follows -----\n<vic@example.edu>... Deferred: Connection refused by mx.example.edu.\n"
        "Warning: message still undelivered after 4 hours\nWill keep trying until message is 5 days old\n",
        host,
        [(r, "delayed", "4.4.1", "")],
        E(r, "expired", S),
    )
    r = "walt@example.edu"
    plain(
        "sendmail_plain_mailbox_full",
        "Sendmail",
        frm,
        "Returned mail: Mailbox full",
        "The original message was received at Mon, 24 Nov 2025 06:00:02 GMT\n\n"
        "   ----- The following addresses had permanent fatal errors -----\n<walt@example.edu>\n"
        "    (reason: 552 5.2.2 Mailbox full)\n\n   ----- Transcript of session follows -----\n"
        "... while talking to mx.example.edu.:\n>>> DATA\n<<< 552 5.2.2 <walt@example.edu>... Mailbox full\n\n"
        "   ----- Original message follows -----\n\n" + original(r, inline=True),
        E(r, "mailbox-full", S),
    )


QMAIL = (
    "Hi. This is the qmail-send program at {host}.\nI'm afraid I wasn't able to deliver your "
    "message to the following addresses.\nThis is a permanent error; I've given up. Sorry it "
    "didn't work out.\n\n{detail}\n--- Below this line is a copy of the message.\n\n"
)


def qmail(name: str, host: str, detail: str, expect: list[Expect]) -> None:
    body = QMAIL.format(host=host, detail=detail) + original(expect[0].recipient, inline=True)
    plain(name, "qmail", f"MAILER-DAEMON@{host}", "failure notice", body, expect)


def add_qmail() -> None:
    qmail(
        "qmail_no_mailbox",
        "mail.example.com",
        "<xena@example.com>:\nSorry, no mailbox here by that name. (#5.1.1)\n",
        E("xena@example.com", "user-unknown", H),
    )
    qmail(
        "qmail_no_host",
        "out.example.com",
        "<yuri@doesnotexist.example>:\nSorry, I couldn't find any host named doesnotexist.example. (#5.1.2)\n",
        E("yuri@doesnotexist.example", "host-unknown", H),
    )
    qmail(
        "qmail_remote_quota",
        "mail.example.com",
        "<zoe@example.org>:\n192.0.2.100 does not like recipient.\nRemote host said: 552 5.2.2 "
        "<zoe@example.org>: user is over quota\nGiving up on 192.0.2.100.\n",
        E("zoe@example.org", "mailbox-full", S),
    )
    qmail(
        "qmail_local_quota",
        "mail.example.com",
        "<abe@example.com>:\nThe users mailfolder is over the allowed quota (size). (#5.2.2)\n",
        E("abe@example.com", "mailbox-full", S),
    )
    qmail(
        "qmail_queue_too_long",
        "mail.example.com",
        "<bea@example.net>:\nI'm not going to try again; this message has been in the queue too long.\n",
        E("bea@example.net", "expired", S),
    )


def add_courier_opensmtpd() -> None:
    frm = "Courier mail server at mx.example.org <@>"
    human = (
        "This is a delivery status notification from mx.example.org,\nrunning the Courier mail "
        "server, version 1.1.\n\nThe original message was received on Mon, 24 Nov 2025 06:00:02 "
        "+0000\nfrom out1.springfield-times.example [203.0.113.5]\n\n"
        "---------------------------------------------------------------------------\n\n"
        "                           UNDELIVERABLE MAIL\n\n{detail}\n"
    )
    dsn(
        "courier_user_unknown",
        "Courier",
        frm.replace("<@>", "<MAILER-DAEMON@mx.example.org>"),
        "NOTICE: mail delivery status.",
        human.format(
            detail="<cal@example.org>:\n    <<< 550 5.1.1 <cal@example.org>... User unknown"
        ),
        "mx.example.org",
        [
            (
                "cal@example.org",
                "failed",
                "5.0.0",
                "smtp; 550 5.1.1 <cal@example.org>... User unknown",
            )
        ],
        E("cal@example.org", "user-unknown", H),
    )
    dsn(
        "courier_spam",
        "Courier",
        "MAILER-DAEMON@mx.example.org",
        "NOTICE: mail delivery status.",
        human.format(detail="<dee@example.org>:\n    <<< 550 5.7.1 Message rejected as spam"),
        "mx.example.org",
        [("dee@example.org", "failed", "5.0.0", "smtp; 550 5.7.1 Message rejected as spam")],
        E("dee@example.org", "spam-detected", S),
    )
    dsn(
        "courier_delayed_full",
        "Courier",
        "MAILER-DAEMON@mx.example.org",
        "WARNING: delayed mail.",
        human.format(detail="<eve@example.org>:\n    <<< 452 4.2.2 Mailbox full, try again later"),
        "mx.example.org",
        [("eve@example.org", "delayed", "4.2.2", "smtp; 452 4.2.2 Mailbox full, try again later")],
        E("eve@example.org", "mailbox-full", S),
    )
    smtpd = (
        "Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n"
        "An error has occurred while attempting to deliver a message for\nthe following list of "
        "recipients:\n\n{detail}\n\nBelow is a copy of the original message:\n\n"
    )
    for name, detail, rcpt, reason, kind in (
        (
            "opensmtpd_user_unknown",
            "fay@example.net: 550 5.1.1 <fay@example.net>: Recipient address rejected: User unknown in local recipient table",
            "fay@example.net",
            "user-unknown",
            H,
        ),
        (
            "opensmtpd_network",
            "gus@example.net: Network error on destination MXs",
            "gus@example.net",
            "expired",
            S,
        ),
        (
            "opensmtpd_domain",
            "hal@nonexistent.example: Domain does not exist",
            "hal@nonexistent.example",
            "host-unknown",
            H,
        ),
    ):
        plain(
            name,
            "OpenSMTPD",
            "Mailer Daemon <MAILER-DAEMON@relay.example.net>",
            "Delivery status notification: error",
            smtpd.format(detail=detail) + original(rcpt, inline=True),
            E(rcpt, reason, kind),
        )


def add_exchange_domino_groupwise() -> None:
    exch = (
        "Your message did not reach some or all of the intended recipients.\n\n"
        "      Subject:\tYour Springfield digest for Monday, 24 November\n      Sent:\t11/24/2025 6:00 AM\n\n"
        "The following recipient(s) cannot be reached:\n\n      {r} on 11/24/2025 6:00 AM\n"
        "            {text}\n            <{mx} #{code}>\n"
    )
    frm = "System Administrator <postmaster@corp.example.com>"
    for name, r, text, code, reason, kind in (
        (
            "exchange_recip_not_found",
            "ian@corp.example.com",
            "The e-mail address you entered couldn't be found. Please check the recipient's e-mail address and try to resend the message.",
            "5.1.1 smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            "user-unknown",
            H,
        ),
        (
            "exchange_too_large",
            "jen@corp.example.com",
            "This message is larger than the current system limit or the recipient's mailbox is full. Create a shorter message body or remove attachments and try sending it again.",
            "5.2.3 smtp;550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient",
            "message-too-big",
            S,
        ),
        (
            "exchange_loop",
            "ken@corp.example.com",
            "A configuration error in the e-mail system caused the message to bounce between two servers or to be forwarded between two recipients.",
            "5.4.6 smtp;554 5.4.6 Hop count exceeded - possible mail loop",
            "system-error",
            S,
        ),
    ):
        plain(
            name,
            "Exchange",
            frm,
            "Undeliverable: Your Springfield digest for Monday, 24 November",
            exch.format(r=r, text=text, mx="EXCH01.corp.example.com", code=code),
            E(r, reason, kind),
        )
    r = "lou@corp.example.com"
    dsn(
        "exchange_auth_required",
        "Exchange",
        frm,
        "Undeliverable: Your Springfield digest",
        "Delivery has failed to these recipients or groups:\n\nlou@corp.example.com\nYour message wasn't delivered because the recipient's e-mail provider rejected it.",
        "EXCH02.corp.example.com",
        [
            (
                r,
                "failed",
                "5.7.1",
                "smtp;550 5.7.1 RESOLVER.RST.AuthRequired; authentication required",
            )
        ],
        E(r, "security", S),
    )
    r = "max@corp.example.com"
    dsn(
        "exchange_mailbox_unavailable",
        "Exchange",
        frm,
        "Undeliverable: Your Springfield digest",
        "Delivery has failed to these recipients or groups:\n\nmax@corp.example.com\n",
        "EXCH02.corp.example.com",
        [(r, "failed", "5.0.0", "smtp;550 Requested action not taken: mailbox unavailable")],
        E(r, "user-unknown", H),
    )
    domino = (
        "Your message\n\n  Subject: Your Springfield digest for Monday, 24 November\n\n"
        "was not delivered to:\n\n  {r}\n\nbecause:\n\n  {why}\n"
    )
    for name, r, why, reason, kind in (
        (
            "domino_not_listed",
            "nia@lotus.example.com",
            "User nia@lotus.example.com (nia@lotus.example.com) not listed in Domino Directory",
            "user-unknown",
            H,
        ),
        (
            "domino_hops",
            "otto@lotus.example.com",
            "Maximum hop count exceeded.  Message probably in a routing loop.",
            "system-error",
            S,
        ),
        (
            "domino_quota",
            "pam@lotus.example.com",
            "Unable to deliver message to pam@lotus.example.com: the recipient's mail file is over its quota",
            "mailbox-full",
            S,
        ),
    ):
        plain(
            name,
            "Domino",
            "Mail Router <postmaster@lotus.example.com>",
            "DELIVERY FAILURE: " + why[:40],
            domino.format(r=r, why=why),
            E(r, reason, kind),
            "X-Mailer: Lotus Domino Release 9.0.1FP10\n",
        )
    gw = (
        "The message that you sent was undeliverable to the following:\n\t{r} ({why})\n\n"
        "Possibly truncated original message follows:\n\n"
    )
    for name, r, why, reason, kind in (
        ("groupwise_user_not_found", "quentin@gw.example.org", "user not found", "user-unknown", H),
        ("groupwise_mailbox_full", "rita@gw.example.org", "mailbox full", "mailbox-full", S),
        ("groupwise_disabled", "stan@gw.example.org", "account disabled", "suspended", S),
    ):
        plain(
            name,
            "GroupWise",
            "Mail Delivery System <postmaster@gw.example.org>",
            "Message status - undeliverable",
            gw.format(r=r, why=why) + original(r, inline=True),
            E(r, reason, kind),
            "X-Mailer: GroupWise Internet Agent 18.2.1\n",
        )


def add_lists_auto_arf() -> None:
    plain(
        "mailman_non_member",
        "Mailman",
        "town-talk-owner@lists.example.org",
        "Your message to Town-talk was rejected",
        "Your message to the Town-talk mailing-list (town-talk@lists.example.org)\nwas rejected for the following reasons:\n\n"
        "Post by non-member to a members-only list\n\nThe original message as received by Mailman is attached.\n",
        E("town-talk@lists.example.org", "policy", S),
        "X-Mailman-Version: 3.3.9\n",
    )
    plain(
        "listserv_not_authorized",
        "LISTSERV",
        "LISTSERV@listserv.example.edu",
        "Rejected posting to HISTORY-L@LISTSERV.EXAMPLE.EDU",
        "You are not authorized to send mail to the HISTORY-L list from your\nnews@springfield-times.example account. "
        "You might be authorized to send to the list from another of your\naccounts, or perhaps when using another mail "
        "program which generates slightly different addresses.\n\nThe list address is history-l@listserv.example.edu.\n",
        E("history-l@listserv.example.edu", "policy", S),
    )
    dsn(
        "google_groups_refusal",
        "Mailing list",
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Failure)",
        "** Message not delivered **\n\nWe're writing to let you know that the group you tried to contact (readers-club) "
        "may not exist, or you may not have permission to post messages to the group.",
        "mail-sor-f41.google.com",
        [
            (
                "readers-club@googlegroups.com",
                "failed",
                "5.0.0",
                "smtp; 550 5.1.1 The group you tried to contact (readers-club) may not exist, or you may not have permission to post messages to the group.",
            )
        ],
        E("readers-club@googlegroups.com", "policy", S),
    )
    plain(
        "sympa_rejected",
        "Mailing list",
        "sympa@lists.example.fr",
        "Message rejected",
        "Your message for list council@lists.example.fr has been rejected: you are not allowed to post to this list.\n"
        "Votre message pour la liste council@lists.example.fr a été rejeté.\n",
        E("council@lists.example.fr", "policy", S),
    )
    auto(
        "autoreply_outlook",
        "Outlook.com",
        "Ruth Mbeki <ruth@example.com>",
        "Automatic reply: Your Springfield digest for Monday, 24 November",
        "I am out of the office until 1 December with limited access to email.\n",
        "Auto-Submitted: auto-replied\nX-MS-Exchange-Inbox-Rules-Loop: ruth@example.com\n",
    )
    auto(
        "autoreply_german",
        "GMX",
        "Klaus Weber <k.weber@gmx.example>",
        "Abwesenheitsnotiz: Your Springfield digest",
        "Vielen Dank für Ihre Nachricht. Ich bin bis zum 5. Dezember nicht im Büro.\n",
        "Auto-Submitted: auto-replied\n",
    )
    auto(
        "autoreply_vacation",
        "Postfix",
        "Tom <tom@example.org>",
        "Re: Your Springfield digest for Monday, 24 November",
        "I'm on vacation this week and will read your mail when I'm back.\n--\nTom\n",
        "X-Autoreply: yes\nPrecedence: bulk\n",
    )
    auto(
        "autoreply_body_only",
        "Zoho",
        "Pat Lee <pat.lee@zoho.example>",
        "Re: Your Springfield digest for Monday, 24 November",
        "Thank you for your email. I am currently away until 8 December with limited access to email.\n",
        "",
    )
    arf(
        "arf_yahoo_abuse",
        "Yahoo",
        "feedbackloop@yahoo.example",
        "abuse",
        "Yahoo!-Mail-Feedback/2.0",
        "una@yahoo.example",
        E("una@yahoo.example", "complaint", "complaint"),
    )
    arf(
        "arf_jmrp_abuse",
        "Outlook.com",
        "staff@hotmail.example",
        "abuse",
        "Microsoft Junk Mail Reporting Program",
        "vera@hotmail.example",
        E("vera@hotmail.example", "complaint", "complaint"),
        with_rcpt_field=False,
    )
    arf(
        "arf_aol_abuse",
        "AOL",
        "scomp@aol.example",
        "abuse",
        "AOL SComp",
        "wade@aol.example",
        E("wade@aol.example", "complaint", "complaint"),
    )
    arf(
        "arf_dmarc_auth_failure",
        "DMARC",
        "dmarc-noreply@receiver.example",
        "auth-failure",
        "DMARC-Failure-Reporter/1.0",
        "yann@receiver.example",
        E("yann@receiver.example", "security", "unknown"),
    )


def add_dsn_oddities() -> None:
    r = "zach@example.com"
    dsn(
        "dsn_inline_fields_mixed",
        "Postfix",
        "MAILER-DAEMON@relay.example.com",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host relay.example.com.\n\nYour message could not be delivered.",
        "relay.example.com",
        [
            (
                r,
                "failed",
                "5.1.1",
                "smtp; 550 5.1.1 <zach@example.com>: Recipient address rejected: User unknown",
            )
        ],
        E(r, "user-unknown", H),
        inline=True,
    )
    r = "amy@example.net"
    dsn(
        "dsn_declared_without_part",
        "Exchange",
        "postmaster@example.net",
        "Undeliverable: Your Springfield digest",
        "Delivery has failed to these recipients or groups:\n\namy@example.net\nThe e-mail address you entered couldn't be found.\n\n"
        "Diagnostic information for administrators:\n\nGenerating server: mail.example.net\n\namy@example.net\n"
        "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n",
        "mail.example.net",
        [],
        E(r, "user-unknown", H),
        declared_only=True,
    )
    alias, final = "ben.ross@oldcorp.example", "bross@newcorp.example"
    dsn(
        "dsn_original_recipient",
        "Postfix",
        "MAILER-DAEMON@newcorp.example",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host newcorp.example.\n\n<bross@newcorp.example> (expanded from <ben.ross@oldcorp.example>): user unknown",
        "newcorp.example",
        [(final, "failed", "5.1.1", "x-unix; user unknown")],
        E(alias, "user-unknown", H),
        originals={final: alias},
    )
    r = "cleo@example.jp"
    dsn(
        "dsn_global",
        "Postfix",
        "MAILER-DAEMON@mx.example.jp",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host mx.example.jp.",
        "mx.example.jp",
        [
            (
                r,
                "failed",
                "5.1.1",
                "smtp; 550 5.1.1 <cleo@example.jp>: Recipient address rejected: User unknown",
            )
        ],
        E(r, "user-unknown", H),
        part_type="message/global-delivery-status",
    )
    r = "dora@example.org"
    plain(
        "plain_xmailer_trap",
        "Exchange",
        "postmaster@example.org",
        "Undeliverable: Your Springfield digest",
        "Your message to dora@example.org couldn't be delivered.\nThe message is too large for the recipient's mailbox.\n\n"
        "Original message headers:\n\n" + original(r, inline=True),
        E(r, "message-too-big", S),
        "X-Mailer: Microsoft Exchange Server 5.5.2653.13\n",
    )
    plain(
        "not_a_bounce_human_reply",
        "People",
        "Ed Reader <ed@example.com>",
        "Re: Your Springfield digest",
        "Thanks for the story about the library! My neighbour frank@example.com would like it too.\n",
        E("", "undetermined", "unknown"),
    )


def add_mta_cases() -> None:
    add_postfix()
    add_exim()
    add_sendmail()
    add_qmail()
    add_courier_opensmtpd()
    add_exchange_domino_groupwise()
    add_lists_auto_arf()
    add_dsn_oddities()


__all__ = ["US", "VERP", "add_mta_cases"]
