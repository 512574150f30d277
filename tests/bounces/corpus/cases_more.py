# ruff: noqa: E501  (the corpus quotes servers' replies whole)
"""More shapes: gateways and appliances (InterScan, McAfee, MailMarshal, Sun Messaging Server),
Google's older plain bounces, sender verification, relaying refusals, and traps for the reader
(an administrator's address in the text, a DSN without a readable recipient)."""

from __future__ import annotations

import base64

from builders import CASES, VERP, Case, E, Expect, H, S, dsn, headers, original, plain


def add_more_cases() -> None:
    r = "hugo.r@example.com"
    plain(
        "google_plain_permanent",
        "Gmail",
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Failure)",
        f"Delivery to the following recipient failed permanently:\n\n     {r}\n\n"
        "Technical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the "
        "server for the recipient domain example.com by mx.example.com. [192.0.2.11].\n\n"
        f"The error that the other server returned was:\n550 5.1.1 <{r}>... User Unknown\n\n"
        "----- Original message -----\n\n" + original(r, inline=True),
        E(r, "user-unknown", H),
    )
    r = "iris.s@example.com"
    plain(
        "google_plain_blocked",
        "Gmail",
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Failure)",
        f"Delivery to the following recipient failed permanently:\n\n     {r}\n\n"
        "Technical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the "
        "server for the recipient domain example.com by mx.example.com. [192.0.2.12].\n\n"
        "The error that the other server returned was:\n554 5.7.1 Service unavailable; Client host [209.85.0.1] "
        "blocked using bl.spamcop.net\n",
        E(r, "blocked", S),
    )
    r = "jon.t@corp.example.net"
    plain(
        "interscan_user_unknown",
        "InterScan",
        "postmaster@imss.corp.example.net",
        "Mail could not be delivered",
        "******     Message from InterScan Messaging Security Suite    ******\n\n"
        f"Sent <<< RCPT TO:<{r}>\nReceived >>> 550 5.1.1 <{r}>... User unknown\n\n"
        f"Unable to deliver message to <{r}>.\n\n"
        "*************************     End of message     **********************\n",
        E(r, "user-unknown", H),
    )
    r = "kim.u@corp.example.net"
    plain(
        "mcafee_user_unknown",
        "McAfee",
        "postmaster@mwg.corp.example.net",
        "Delivery Status Notification",
        "--- The following addresses had delivery problems ---\n\n"
        f"<{r}>   (User unknown {r})\n\n--- Transcript of session follows ---\n"
        f"RCPT TO:<{r}>\n550 <{r}>... User unknown\n",
        E(r, "user-unknown", H),
    )
    r = "lee.v@corp.example.net"
    plain(
        "mailmarshal_quota",
        "MailMarshal",
        "MailMarshal@corp.example.net",
        "Undeliverable Mail",
        "Your message:\n   From:    news@springfield-times.example\n   Subject: Your Springfield digest\n\n"
        "Could not be delivered because of\n\n552 5.2.2 Mailbox quota usage exceeded\n\n"
        f"The following recipients were affected: \n    {r}\n\n"
        "Please contact your system administrator at helpdesk@corp.example.net if you need help.\n",
        E(r, "mailbox-full", S),
    )
    r = "mae.w@example.jp"
    dsn(
        "sun_messaging_server",
        "Sun Messaging Server",
        "Internet Mail Delivery <postmaster@mail.example.jp>",
        "Delivery Notification: Delivery has failed",
        "This report relates to a message you sent with the following header fields:\n\n"
        "  Message-id: <edition-412.reader-9@springfield-times.example>\n\n"
        f"Your message cannot be delivered to the following recipients:\n\n  Recipient address: {r}\n"
        "  Reason: Remote SMTP server has rejected address\n"
        f"  Diagnostic code: smtp;550 5.1.1 <{r}>... User Unknown\n  Remote system: dns;mx.example.jp\n",
        "mail.example.jp",
        [(r, "failed", "5.1.1", f"smtp;550 5.1.1 <{r}>... User Unknown")],
        E(r, "user-unknown", H),
    )
    r = "ned.x@example.org"
    plain(
        "exim_sender_verify",
        "Exim",
        "Mail Delivery System <Mailer-Daemon@mx.springfield-times.example>",
        "Mail delivery failed: returning message to sender",
        "This message was created automatically by mail delivery software.\n\nA message that you sent could not "
        "be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n"
        f"  {r}\n    host mx.example.org [192.0.2.13]\n    SMTP error from remote mail server after RCPT TO:<{r}>:\n"
        f"    550-Verification failed for <{VERP}>\n    550-Unrouteable address\n    550 Sender verify failed\n",
        E(r, "policy", S),
        f"X-Failed-Recipients: {r}\n",
    )
    r = "olive.y@other.example"
    plain(
        "qmail_rcpthosts",
        "qmail",
        "MAILER-DAEMON@mail.example.com",
        "failure notice",
        "Hi. This is the qmail-send program at mail.example.com.\nI'm afraid I wasn't able to deliver your message "
        f"to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<{r}>:\n"
        "192.0.2.14 does not like recipient.\nRemote host said: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\n"
        "Giving up on 192.0.2.14.\n",
        E(r, "policy", S),
    )
    r = "paul.z@example.net"
    dsn(
        "postfix_greylisted",
        "Postfix",
        "MAILER-DAEMON@out1.springfield-times.example",
        "Delayed Mail (still being retried)",
        f"<{r}>: host mx.example.net[192.0.2.15] said: 450 4.2.0 <{r}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html (in reply to RCPT TO command)",
        "out1.springfield-times.example",
        [
            (
                r,
                "delayed",
                "4.2.0",
                f"smtp; 450 4.2.0 <{r}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html",
            )
        ],
        E(r, "rate-limited", S),
    )
    r = "quin.a@example.net"
    dsn(
        "postfix_relay_denied",
        "Postfix",
        "MAILER-DAEMON@out1.springfield-times.example",
        "Undelivered Mail Returned to Sender",
        f"<{r}>: host mx.example.net[192.0.2.16] said: 554 5.7.1 <{r}>: Relay access denied (in reply to RCPT TO command)",
        "out1.springfield-times.example",
        [(r, "failed", "5.7.1", f"smtp; 554 5.7.1 <{r}>: Relay access denied")],
        E(r, "policy", S),
    )
    r = "rui.b@example.net"
    dsn(
        "dsn_undisclosed_recipient",
        "Exchange",
        "postmaster@example.net",
        "Undeliverable: Your Springfield digest",
        f"Delivery has failed to these recipients or groups:\n\n{r}\nThe email address you entered couldn't be found.",
        "mail.example.net",
        [
            (
                "undisclosed",
                "failed",
                "5.1.1",
                "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            )
        ],
        E(r, "user-unknown", H),
    )
    r = "sol.c@ezweb.example.jp"
    plain(
        "japanese_carrier_unknown",
        "KDDI",
        "Mail Administrator <Postmaster@ezweb.example.jp>",
        "Mail System Error - Returned Mail",
        f"This is a MIME-encapsulated message.\n\nThe original message was received at Mon, 24 Nov 2025 15:00:02 +0900\n"
        f"from out1.springfield-times.example [203.0.113.5]\n\n   ----- The following addresses had permanent fatal errors -----\n"
        f"<{r}>\n\n   ----- Transcript of session follows -----\n550 Unknown user {r}\n",
        E(r, "user-unknown", H),
    )
    r = "tess.d@example.com"
    dsn(
        "o365_starttls",
        "Office 365",
        "postmaster@outlook.example",
        "Undeliverable: Your Springfield digest",
        f"Delivery has failed to these recipients or groups:\n\n{r}\n",
        "BN8NAM11FT012.mail.protection.outlook.com",
        [(r, "failed", "5.7.3", "smtp;530 5.7.3 STARTTLS is required to send mail")],
        E(r, "security", S),
    )
    r = "uri.e@example.com"
    dsn(
        "exchange_embedded_codes",
        "Exchange",
        "postmaster@example.com",
        "Undeliverable: Your Springfield digest",
        f"Delivery has failed to these recipients or groups:\n\n{r}\n",
        "mail.example.com",
        [(r, "failed", "5.1.0", f"smtp;550 #5.1.0 Address rejected {r}")],
        E(r, "user-unknown", H),
    )
    a, b = "vera.f@example.org", "walt.g@example.org"
    dsn(
        "dsn_two_recipients_mixed_outcome",
        "Sendmail",
        "Mail Delivery Subsystem <MAILER-DAEMON@mail.example.org>",
        "Returned mail: see transcript for details",
        "The original message was received at Mon, 24 Nov 2025 06:00:02 GMT",
        "mail.example.org",
        [
            (a, "failed", "5.2.2", f"SMTP; 552 5.2.2 <{a}>... Mailbox full"),
            (b, "delivered", "2.0.0", "SMTP; 250 2.0.0 OK"),
        ],
        [Expect(a, "mailbox-full", S)],
    )
    r = "xena.h@example.com"
    plain(
        "verizon_plain",
        "Verizon",
        "MAILER-DAEMON@vzwpix.example",
        "Mail delivery failed",
        "Message could not be delivered to some recipients.\n\n"
        f"Recipient: {r}\nReason: 5.1.1 (user unknown)\n\nPlease reply to postmaster@vzwpix.example if you feel this message to be in error.\n",
        E(r, "user-unknown", H),
    )

    for name, sender, frm, subject, body, rcpt, reason, kind in (
        (
            "activehunter_chkuser",
            "Activehunter",
            "MAILER-DAEMON@mx.example.jp",
            "FAILURE NOTICE :",
            "  ----- The following addresses had permanent fatal errors -----\n\n<ame.k@example.jp>\n\n"
            " ----- Transcript of session follows -----\n550 sorry, no mailbox here by that name (#5.1.1 - chkuser)\n",
            "ame.k@example.jp",
            "user-unknown",
            H,
        ),
        (
            "james_no_such_user",
            "Apache James",
            "MAILER-DAEMON@james.example.jp",
            "Error message",
            "Hi. This is the James mail server at james.example.jp.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\nFailed recipient(s):\nbin.l@example.jp\n\n"
            "Error message:\n550 - Requested action not taken: no such user here\n\nMessage details:\n  Subject: Your Springfield digest\n"
            f"  MAIL FROM: {VERP}\n  RCPT TO: bin.l@example.jp\n  From: news@springfield-times.example\n  To: bin.l@example.jp\n",
            "bin.l@example.jp",
            "user-unknown",
            H,
        ),
        (
            "einsundeins_user_unknown",
            "1&1",
            "Mail Delivery System <mailer-daemon@einsundeins.example>",
            "Mail delivery failed: returning message to sender",
            "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of\n"
            'its recipients. This is a permanent error. The following address\nfailed:\n\n"cem.m@example.de":\n\n'
            "SMTP error from remote server after RCPT command:\nhost: mx.example.de\n"
            "5.1.1 <cem.m@example.de>: Recipient address rejected: User unknown in virtual mailbox table\n",
            "cem.m@example.de",
            "user-unknown",
            H,
        ),
        (
            "au_mailbox_full",
            "KDDI",
            "Mail Administrator <Postmaster@au.example.jp>",
            "Mail System Error - Returned Mail",
            "Your mail sent on: Mon, 24 Nov 2025 15:00:00 +0900\n\nCould not be delivered to:\n<dai.n@au.example.jp>\nAs their mailbox is full.\n",
            "dai.n@au.example.jp",
            "mailbox-full",
            S,
        ),
        (
            "surfcontrol_no_such_user",
            "SurfControl",
            "postmaster@filter.example.com",
            "Undeliverable mail",
            "Your message could not be sent.\nA transcript of the attempts to send the message follows.\nThe number of attempts made: 1\n"
            "Addressed To: eiji.o@example.com\n\nMon, 24 Nov 2025 06:00:45 +0000\nFailed to send to identified host,\n"
            "eiji.o@example.com: [192.0.2.5], 550 eiji.o@example.com... No such user\n",
            "eiji.o@example.com",
            "user-unknown",
            H,
        ),
        (
            "qmail_sender_rejected",
            "qmail",
            "MAILER-DAEMON@mail.example.com",
            "failure notice",
            "Hi. This is the qmail-send program at mail.example.com.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n<fumi.p@example.org>:\n"
            f"Connected to 192.0.2.3 but sender was rejected.\nRemote host said: 553 5.1.8 <{VERP}>... Domain of sender address does not exist\n",
            "fumi.p@example.org",
            "policy",
            S,
        ),
        (
            "messagelabs_spf",
            "MessageLabs",
            "MAILER-DAEMON@messagelabs.example",
            "Delivery Status Notification (Failure)",
            "This is an automatically generated Delivery Status Notification.\n\nDelivery to the following recipients failed.\n\n"
            "       goro.q@example.co.uk\n\nReason: 553-SPF (Sender Policy Framework) domain authentication fail. "
            "Refer to the Troubleshooting page for more details.\n",
            "goro.q@example.co.uk",
            "security",
            S,
        ),
        (
            "exchange2003_refused",
            "Exchange",
            "System Administrator <postmaster@corp.example.com>",
            "Undeliverable: Your Springfield digest",
            "Your message did not reach some or all of the intended recipients.\n\n      Subject:\tYour Springfield digest\n"
            "      Sent:\t11/24/2025 6:00 AM\n\nThe following recipient(s) could not be reached:\n\n"
            "      hana.r@corp.example.com on 11/24/2025 6:00 AM\n            You do not have permission to send to this recipient.  "
            "For assistance, contact your system administrator.\n            <mx.corp.example.com #5.7.1 smtp;550 5.7.1 Requested action not taken: message refused>\n",
            "hana.r@corp.example.com",
            "policy",
            S,
        ),
    ):
        plain(name, sender, frm, subject, body, E(rcpt, reason, kind))
    r = "yves.i@hotmail.example"
    raw = headers(
        "staff@hotmail.example", "complaint about message from 203.0.113.5", len(CASES)
    ) + (
        'Content-Type: multipart/report; report-type=feedback-report; boundary="J1"\n\n'
        "--J1\nContent-Type: text/plain\n\nThis is an email abuse report for an email message "
        "received from IP 203.0.113.5 on Mon, 24 Nov 2025 06:00:05 +0000.\n\n"
        "--J1\nContent-Type: text/plain\n\nFeedback-Type: abuse\nUser-Agent: JMRPFeedback/1.0\n"
        "Version: 1\n\n--J1\nContent-Type: message/rfc822\n\n"
        + original("undisclosed-recipients:;", inline=True).replace(
            "X-Mailer:", f"X-HmXmrOriginalRecipient: <{r}>\nX-Mailer:"
        )
        + "\nHello\n--J1--\n"
    )
    CASES.append(
        Case("arf_fields_in_text_part", "Outlook.com", raw, E(r, "complaint", "complaint"))
    )
    r = "ana.s@example.net"
    status = (
        "Reporting-MTA: dns; gw.example.net\n\nFinal-Recipient: rfc822; ana.s@example.net\n"
        "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 Mailbox does not exist\n"
    )
    encoded = base64.encodebytes(status.encode()).decode()
    raw = headers(
        "Mail Delivery System <MAILER-DAEMON@gw.example.net>", "Undelivered Mail", len(CASES)
    ) + (
        'Content-Type: multipart/report; report-type=delivery-status; boundary="G1"\n\n'
        "--G1\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        f"--G1\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n{encoded}\n"
        f"--G1\nContent-Type: text/rfc822-headers\n\n{original(r)}\n--G1--\n"
    )
    CASES.append(Case("dsn_base64_status_part", "Gateway", raw, E(r, "user-unknown", H)))
    r = "zara.j@example.com"
    raw = headers("fbl@isp.example", "Email Feedback Report for IP 203.0.113.5", len(CASES)) + (
        'Content-Type: multipart/report; report-type=feedback-report; boundary="K1"\n\n'
        "--K1\nContent-Type: text/plain\n\nA subscriber of ours marked the attached message as spam.\n\n"
        "--K1\nContent-Type: message/rfc822\n\n" + original(r) + "\n--K1--\n"
    )
    CASES.append(
        Case("arf_without_feedback_part", "Feedback loop", raw, E(r, "complaint", "complaint"))
    )


__all__ = ["add_more_cases"]
