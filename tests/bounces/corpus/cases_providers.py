# ruff: noqa: E501  (the corpus quotes servers' replies whole)
"""Bounces of the mailbox providers and relays, each in the shape its DSNs take."""

from __future__ import annotations

from builders import E, H, S, dsn, plain, ses_json

GMAIL_FROM = "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"


def gmail(
    name: str,
    sender: str,
    r: str,
    status: str,
    diag: str,
    reason: str,
    kind: str,
    action: str = "failed",
) -> None:
    human = (
        f"** Address not found **\n\nYour message wasn't delivered to {r} because the address "
        "couldn't be found, or is unable to receive mail.\n\nThe response from the remote server was:\n"
        + diag.replace("smtp; ", "")
        if status == "5.1.1"
        else f"** Message not delivered **\n\nThere was a problem delivering your message to {r}. "
        "See the technical details below.\n\nThe response was:\n" + diag.replace("smtp; ", "")
    )
    subject = (
        "Delivery Status Notification (Delay)"
        if action == "delayed"
        else "Delivery Status Notification (Failure)"
    )
    dsn(
        name,
        sender,
        GMAIL_FROM,
        subject,
        human,
        "mail-sor-f41.google.com",
        [(r, action, status, diag)],
        E(r, reason, kind),
    )


def add_google() -> None:
    gmail(
        "gmail_does_not_exist",
        "Gmail",
        "ada.l@gmail.example",
        "5.1.1",
        "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "550-5.1.1 double-checking the recipient's email address for typos or 550 5.1.1 unnecessary spaces. "
        "https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp",
        "user-unknown",
        H,
    )
    gmail(
        "gmail_over_quota",
        "Gmail",
        "bo.k@gmail.example",
        "5.2.2",
        "smtp; 552-5.2.2 The recipient's inbox is out of storage space. Please direct the recipient to "
        "552 5.2.2 https://support.google.com/mail/?p=OverQuotaTemp b2si456 - gsmtp",
        "mailbox-full",
        S,
    )
    gmail(
        "gmail_disabled",
        "Gmail",
        "cy.w@gmail.example",
        "5.2.1",
        "smtp; 550-5.2.1 The email account that you tried to reach is inactive. "
        "550 5.2.1 https://support.google.com/mail/?p=DisabledUser c3si789 - gsmtp",
        "suspended",
        S,
    )
    gmail(
        "gmail_unsolicited",
        "Gmail",
        "di.m@gmail.example",
        "5.7.1",
        "smtp; 550-5.7.1 [203.0.113.5] Our system has detected that this message is likely "
        "550-5.7.1 unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. "
        "550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError d4si012 - gsmtp",
        "spam-detected",
        S,
    )
    gmail(
        "gmail_rate",
        "Gmail",
        "ed.n@gmail.example",
        "4.2.1",
        "smtp; 452-4.2.1 The recipient you are trying to contact is receiving mail at a rate that "
        "452 4.2.1 prevents additional messages from being delivered. e5si345 - gsmtp",
        "rate-limited",
        S,
        action="delayed",
    )
    gmail(
        "gmail_dmarc",
        "Gmail",
        "flo.p@gmail.example",
        "5.7.26",
        "smtp; 550-5.7.26 Unauthenticated email from springfield-times.example is not accepted due to "
        "550 5.7.26 domain's DMARC policy. f6si678 - gsmtp",
        "security",
        S,
    )
    gmail(
        "gmail_too_big",
        "Gmail",
        "gil.r@gmail.example",
        "5.3.4",
        "smtp; 552-5.3.4 Your message exceeded Google's message size limits. g7si901 - gsmtp",
        "message-too-big",
        S,
    )
    gmail(
        "workspace_no_such_user",
        "Google Workspace",
        "h.s@school.example",
        "5.1.1",
        "smtp; 550-5.1.1 The email account that you tried to reach does not exist. "
        "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser h8si234 - gsmtp",
        "user-unknown",
        H,
    )
    gmail(
        "workspace_admin_policy",
        "Google Workspace",
        "i.t@school.example",
        "5.7.1",
        "smtp; 550-5.7.1 This message was blocked because its content presents a potential security issue "
        "550 5.7.1 due to the recipient domain's administrator policy. i9si567 - gsmtp",
        "policy",
        S,
    )


O365_FROM = "Microsoft Outlook <MAILER-DAEMON@EUR01-VE1-obe.outbound.protection.outlook.com>"


def o365(name: str, sender: str, r: str, status: str, diag: str, reason: str, kind: str) -> None:
    human = (
        f"Your message to {r} couldn't be delivered.\n\n"
        "Delivery has failed to these recipients or groups:\n\n"
        f"{r}\n\nDiagnostic information for administrators:\n\nGenerating server: "
        f"AM0PR01MB1234.eurprd01.prod.exchangelabs.com\n\n{r}\nRemote server returned '{diag.replace('smtp;', '')}'\n"
    )
    dsn(
        name,
        sender,
        O365_FROM,
        "Undeliverable: Your Springfield digest for Monday, 24 November",
        human,
        "AM0PR01MB1234.eurprd01.prod.exchangelabs.com",
        [(r, "failed", status, diag)],
        E(r, reason, kind),
    )


def add_microsoft() -> None:
    o365(
        "o365_recipient_not_found",
        "Office 365",
        "jo.u@contoso.example",
        "5.1.10",
        "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient jo.u@contoso.example not found by SMTP address lookup",
        "user-unknown",
        H,
    )
    o365(
        "o365_restricted",
        "Office 365",
        "kay.v@contoso.example",
        "5.7.1",
        "smtp;550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized - Delivery to this address is restricted",
        "policy",
        S,
    )
    o365(
        "o365_ip_not_accepted",
        "Office 365",
        "lars.w@contoso.example",
        "5.7.708",
        "smtp;550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        "blocked",
        S,
    )
    o365(
        "o365_mailbox_full",
        "Office 365",
        "mo.x@contoso.example",
        "5.2.2",
        "smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
        "mailbox-full",
        S,
    )
    o365(
        "o365_dmarc",
        "Office 365",
        "ned.y@contoso.example",
        "5.7.509",
        "smtp;550 5.7.509 Access denied, sending domain springfield-times.example does not pass DMARC verification and has a DMARC policy of reject.",
        "security",
        S,
    )
    o365(
        "o365_group_restricted",
        "Office 365",
        "staff-news@contoso.example",
        "5.7.133",
        "smtp;550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; Delivery restriction check failed because the sender was not authenticated when sending to this group",
        "security",
        S,
    )
    dsn(
        "outlook_mailbox_unavailable",
        "Outlook.com",
        "postmaster@outlook.example",
        "Undeliverable: Your Springfield digest",
        "Delivery has failed to these recipients or groups:\n\noz.z@outlook.example\n",
        "BN8NAM11FT012.mail.protection.outlook.com",
        [
            (
                "oz.z@outlook.example",
                "failed",
                "5.5.0",
                "smtp;550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [BN8NAM11FT012.eop-nam11.prod.protection.outlook.com]",
            )
        ],
        E("oz.z@outlook.example", "user-unknown", H),
    )
    dsn(
        "outlook_block_list",
        "Outlook.com",
        "postmaster@outlook.example",
        "Undeliverable: Your Springfield digest",
        "Delivery has failed to these recipients or groups:\n\npia.a@hotmail.example\n",
        "DM6NAM12FT034.mail.protection.outlook.com",
        [
            (
                "pia.a@hotmail.example",
                "failed",
                "5.7.1",
                "smtp;550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
            )
        ],
        E("pia.a@hotmail.example", "blocked", S),
    )
    dsn(
        "outlook_rate_reputation",
        "Outlook.com",
        "postmaster@outlook.example",
        "Delivery delayed: Your Springfield digest",
        "Delivery to these recipients or groups is delayed:\n\nq.b@live.example\n",
        "DM6NAM12FT034.mail.protection.outlook.com",
        [
            (
                "q.b@live.example",
                "delayed",
                "4.7.650",
                "smtp;451 4.7.650 The mail server [203.0.113.5] has been temporarily rate limited due to IP reputation.",
            )
        ],
        E("q.b@live.example", "rate-limited", S),
    )


YAHOO_FROM = "MAILER-DAEMON@yahoo.example"
YAHOO = (
    "Sorry, we were unable to deliver your message to the following address.\n\n<{r}>:\n{diag}\n\n"
    "--- Below this line is a copy of the message.\n\n"
)


def yahoo(name: str, sender: str, r: str, diag: str, reason: str, kind: str) -> None:
    plain(
        name,
        sender,
        YAHOO_FROM.replace("yahoo", sender.lower()),
        "Failure Notice",
        YAHOO.format(r=r, diag=diag),
        E(r, reason, kind),
    )


def add_yahoo_aol_icloud() -> None:
    yahoo(
        "yahoo_no_account",
        "Yahoo",
        "rex.c@yahoo.example",
        "Remote host said: 554 delivery error: dd This user doesn't have a yahoo.com account (rex.c@yahoo.example) [0] - mta1234.mail.ne1.yahoo.com [RCPT_TO]",
        "user-unknown",
        H,
    )
    yahoo(
        "yahoo_552_not_found",
        "Yahoo",
        "sue.d@yahoo.example",
        "Remote host said: 552 1 Requested mail action aborted, mailbox not found [RCPT_TO]",
        "user-unknown",
        H,
    )
    yahoo(
        "yahoo_disabled",
        "Yahoo",
        "ty.e@yahoo.example",
        "Remote host said: 554 delivery error: dd Sorry your message to ty.e@yahoo.example cannot be delivered. This mailbox is disabled (554.30). - mta1012.mail.gq1.yahoo.com",
        "suspended",
        S,
    )
    yahoo(
        "yahoo_blocklist",
        "Yahoo",
        "uli.f@yahoo.example",
        "Remote host said: 553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.5, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        "blocked",
        S,
    )
    dsn(
        "yahoo_deferred_complaints",
        "Yahoo",
        YAHOO_FROM,
        "Delivery Status Notification (Delay)",
        "Your message to val.g@yahoo.example is delayed.",
        "mta7.am0.yahoodns.example",
        [
            (
                "val.g@yahoo.example",
                "delayed",
                "4.7.0",
                "smtp; 421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
            )
        ],
        E("val.g@yahoo.example", "rate-limited", S),
    )
    yahoo(
        "aol_no_account",
        "AOL",
        "wes.h@aol.example",
        "Remote host said: 554 delivery error: dd This user doesn't have a aol.com account (wes.h@aol.example) [0] - mta6031.aol.mail.bf1.yahoo.com",
        "user-unknown",
        H,
    )
    yahoo(
        "aol_mailbox_not_found",
        "AOL",
        "xi.i@aol.example",
        "Remote host said: 552 1 Requested mail action aborted, mailbox not found",
        "user-unknown",
        H,
    )
    icloud = "Apple Mail Delivery <MAILER-DAEMON@icloud.example>"
    for name, r, status, diag, reason, kind in (
        (
            "icloud_user_not_exist",
            "yo.j@icloud.example",
            "5.1.1",
            "smtp; 550 5.1.1 <yo.j@icloud.example>: user does not exist",
            "user-unknown",
            H,
        ),
        (
            "icloud_over_quota",
            "zed.k@icloud.example",
            "5.2.2",
            "smtp; 552 5.2.2 <zed.k@icloud.example>: user is over quota",
            "mailbox-full",
            S,
        ),
        (
            "icloud_cs01",
            "al.l@me.example",
            "5.7.1",
            "smtp; 554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137",
            "policy",
            S,
        ),
    ):
        dsn(
            name,
            "iCloud",
            icloud,
            "Undelivered Mail Returned to Sender",
            f"<{r}>: {diag}",
            "mx01.mail.icloud.example",
            [(r, "failed", status, diag)],
            E(r, reason, kind),
        )


def add_relays() -> None:
    mail = {
        "timestamp": "2025-11-24T06:00:00.000Z",
        "source": "bounces+x7Qk2mZpA9@news.example",
        "messageId": "0102018b-aaaa",
        "destination": ["bea.m@example.com"],
    }
    ses_json(
        "ses_json_complaint",
        {
            "notificationType": "Complaint",
            "mail": mail,
            "complaint": {
                "userAgent": "ExampleCorp Feedback Loop (V0.01)",
                "complainedRecipients": [{"emailAddress": "bea.m@example.com"}],
                "complaintFeedbackType": "abuse",
                "arrivalDate": "2025-11-24T06:10:00.000Z",
                "timestamp": "2025-11-24T06:10:05.000Z",
                "feedbackId": "0102018b-cmpl-1",
            },
        },
        E("bea.m@example.com", "complaint", "complaint"),
        sns=True,
    )
    ses_json(
        "ses_json_permanent",
        {
            "notificationType": "Bounce",
            "mail": mail,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "feedbackId": "0102018b-bnc-2",
                "bouncedRecipients": [
                    {
                        "emailAddress": "cid.n@example.com",
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": "2025-11-24T06:00:04.000Z",
                "reportingMTA": "dsn; a8-1.smtp-out.amazonses.com",
            },
        },
        E("cid.n@example.com", "user-unknown", H),
        sns=False,
    )
    ses_json(
        "ses_json_transient_full",
        {
            "eventType": "Bounce",
            "mail": mail,
            "bounce": {
                "bounceType": "Transient",
                "bounceSubType": "MailboxFull",
                "feedbackId": "0102018b-bnc-3",
                "bouncedRecipients": [
                    {
                        "emailAddress": "dot.o@example.com",
                        "action": "failed",
                        "status": "5.2.2",
                        "diagnosticCode": "smtp; 552 5.2.2 Mailbox full",
                    }
                ],
                "timestamp": "2025-11-24T06:00:04.000Z",
            },
        },
        E("dot.o@example.com", "mailbox-full", S),
        sns=True,
    )
    dsn(
        "ses_dsn",
        "Amazon SES",
        "MAILER-DAEMON@amazonses.example",
        "Delivery Status Notification (Failure)",
        "An error occurred while trying to deliver the mail to the following recipients:\nelf.p@example.com",
        "a8-1.smtp-out.amazonses.com",
        [("elf.p@example.com", "failed", "5.1.1", "smtp; 550 5.1.1 Mailbox does not exist")],
        E("elf.p@example.com", "user-unknown", H),
    )
    for name, sender, host, r, status, diag, reason, kind, action in (
        (
            "sendgrid_user_unknown",
            "SendGrid",
            "o1.ptr1234.sendgrid.example",
            "fay.q@example.com",
            "5.1.1",
            "smtp; 550 5.1.1 The email account that you tried to reach does not exist",
            "user-unknown",
            H,
            "failed",
        ),
        (
            "sendgrid_blocked_spam",
            "SendGrid",
            "o1.ptr1234.sendgrid.example",
            "guy.r@example.com",
            "5.7.1",
            "smtp; 550 5.7.1 Message rejected due to spam content",
            "spam-detected",
            S,
            "failed",
        ),
        (
            "sendgrid_deferred",
            "SendGrid",
            "o1.ptr1234.sendgrid.example",
            "hal.s@example.com",
            "4.0.0",
            "smtp; 421 Too many concurrent SMTP connections from this IP address; please try again later",
            "rate-limited",
            S,
            "delayed",
        ),
        (
            "mailgun_no_mailbox",
            "Mailgun",
            "mxa.mailgun.example",
            "ida.t@example.org",
            "5.1.1",
            "smtp; 550 5.1.1 No mailbox by that name is currently available",
            "user-unknown",
            H,
            "failed",
        ),
        (
            "mailgun_invalid_too_many",
            "Mailgun",
            "mxa.mailgun.example",
            "jay.u@example.org",
            "4.7.1",
            "smtp; 421 4.7.1 Too many invalid recipients",
            "rate-limited",
            S,
            "delayed",
        ),
        (
            "mailgun_quota",
            "Mailgun",
            "mxa.mailgun.example",
            "kai.v@example.org",
            "5.2.2",
            "smtp; 552 5.2.2 Quota exceeded (mailbox for user is full)",
            "mailbox-full",
            S,
            "failed",
        ),
        (
            "postmark_hard",
            "Postmark",
            "pm-mta.postmark.example",
            "lea.w@example.net",
            "5.1.1",
            "smtp;550 5.1.1 <lea.w@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
            "user-unknown",
            H,
            "failed",
        ),
        (
            "postmark_spam_notification",
            "Postmark",
            "pm-mta.postmark.example",
            "mo.x@example.net",
            "5.7.1",
            "smtp;550 5.7.1 Message rejected as spam by Content Filtering.",
            "spam-detected",
            S,
            "failed",
        ),
        (
            "postmark_dns",
            "Postmark",
            "pm-mta.postmark.example",
            "nia.y@typo-domain.example",
            "5.1.2",
            "smtp; 550 5.1.2 Bad destination system address: domain typo-domain.example not found",
            "host-unknown",
            H,
            "failed",
        ),
    ):
        dsn(
            name,
            sender,
            f"MAILER-DAEMON@{host}",
            "Delivery Status Notification (Failure)",
            f"The message to {r} could not be delivered.",
            host,
            [(r, action, status, diag)],
            E(r, reason, kind),
        )


def add_gateways_and_regional() -> None:
    rows = (
        (
            "mimecast_invalid_recipient",
            "Mimecast",
            "us-smtp-1.mimecast.example",
            "oli.z@firm.example",
            "5.0.0",
            "smtp; 550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [Xyz.us12]",
            "user-unknown",
            H,
        ),
        (
            "mimecast_antispoofing",
            "Mimecast",
            "eu-smtp-1.mimecast.example",
            "pat.a@firm.example",
            "5.0.0",
            "smtp; 550 Rejected by header based Anti-Spoofing policy: news@springfield-times.example - https://community.mimecast.com/docs/DOC-1369#550",
            "policy",
            S,
        ),
        (
            "mimecast_greylist",
            "Mimecast",
            "eu-smtp-1.mimecast.example",
            "rae.b@firm.example",
            "4.0.0",
            "smtp; 451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451",
            "system-error",
            S,
        ),
        (
            "proofpoint_user_unknown",
            "Proofpoint",
            "mx0a-001.pphosted.example",
            "sal.c@bank.example",
            "5.1.1",
            "smtp; 550 5.1.1 User Unknown",
            "user-unknown",
            H,
        ),
        (
            "proofpoint_spam",
            "Proofpoint",
            "mx0a-001.pphosted.example",
            "tom.d@bank.example",
            "5.7.1",
            "smtp; 554 5.7.1 Message blocked due to spam content in the message.",
            "spam-detected",
            S,
        ),
        (
            "proofpoint_reputation",
            "Proofpoint",
            "mx0b-001.pphosted.example",
            "uma.e@bank.example",
            "5.7.1",
            "smtp; 550 5.7.1 Service unavailable; client [203.0.113.5] blocked using Proofpoint Dynamic Reputation",
            "blocked",
            S,
        ),
        (
            "zoho_not_exist",
            "Zoho",
            "mx.zoho.example",
            "val.f@zoho.example",
            "5.1.1",
            "smtp; 550 5.1.1 User does not exist - <val.f@zoho.example>",
            "user-unknown",
            H,
        ),
        (
            "zoho_size_limit",
            "Zoho",
            "mx.zoho.example",
            "wim.g@zoho.example",
            "5.2.2",
            "smtp; 552 5.2.2 Mailbox size limit exceeded",
            "mailbox-full",
            S,
        ),
        (
            "zoho_policy",
            "Zoho",
            "mx.zoho.example",
            "xia.h@zoho.example",
            "5.7.7",
            "smtp; 554 5.7.7 Email policy violation detected",
            "policy",
            S,
        ),
        (
            "yandex_no_such_user",
            "Yandex",
            "mx.yandex.example",
            "yan.i@yandex.example",
            "5.7.1",
            "smtp; 550 5.7.1 No such user!",
            "user-unknown",
            H,
        ),
        (
            "yandex_mailbox_full",
            "Yandex",
            "mx.yandex.example",
            "zoya.j@yandex.example",
            "5.2.2",
            "smtp; 552 5.2.2 Mailbox size limit exceeded",
            "mailbox-full",
            S,
        ),
        (
            "yandex_spam",
            "Yandex",
            "mx.yandex.example",
            "ada.k@yandex.example",
            "5.7.1",
            "smtp; 554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1700000000-abc",
            "spam-detected",
            S,
        ),
        (
            "gmx_unavailable",
            "GMX",
            "mx-ha.gmx.example",
            "bea.l@gmx.example",
            "5.1.1",
            "smtp; 550 Requested action not taken: mailbox unavailable",
            "user-unknown",
            H,
        ),
        (
            "gmx_block_listed",
            "GMX",
            "mx-ha.gmx.example",
            "cai.m@gmx.example",
            "5.0.0",
            "smtp; 554-gmx.net (mxgmx116) Nemesis ESMTP Service not available 554-No SMTP service 554-IP address is block listed.",
            "blocked",
            S,
        ),
        (
            "webde_quota",
            "GMX",
            "mx-ha.web.example",
            "dag.n@web.example",
            "5.2.2",
            "smtp; 552 5.2.2 Mailbox quota exceeded",
            "mailbox-full",
            S,
        ),
    )
    for name, sender, host, r, status, diag, reason, kind in rows:
        dsn(
            name,
            sender,
            f"Mail Delivery System <MAILER-DAEMON@{host}>",
            "Undelivered Mail Returned to Sender",
            f"<{r}>: host {host}[192.0.2.200] said: {diag.replace('smtp; ', '')}",
            host,
            [(r, "delayed" if status.startswith("4") else "failed", status, diag)],
            E(r, reason, kind),
        )
    mailru = (
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\nrecipients. This is a "
        "permanent error. The following address(es) failed:\n\n  {r}\n    SMTP error from remote mail server "
        "after RCPT TO:<{r}>:\n    host mxs.mail.ru.example [192.0.2.210]: {diag}\n"
    )
    for name, r, diag, reason, kind in (
        (
            "mailru_user_not_found",
            "eli.o@mail.example.ru",
            "550 Message was not accepted -- invalid mailbox.  Local mailbox eli.o@mail.example.ru is unavailable: user not found",
            "user-unknown",
            H,
        ),
        (
            "mailru_spam",
            "fil.p@mail.example.ru",
            "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=abc or report details to abuse@corp.mail.ru. Error code: 1A2B.",
            "spam-detected",
            S,
        ),
        (
            "mailru_disabled",
            "gleb.q@mail.example.ru",
            "550 Message was not accepted -- invalid mailbox.  Local mailbox gleb.q@mail.example.ru is unavailable: account is disabled",
            "suspended",
            S,
        ),
    ):
        plain(
            name,
            "Mail.ru",
            "Mail Delivery System <MAILER-DAEMON@smtp.mail.example.ru>",
            "Mail delivery failed: returning message to sender",
            mailru.format(r=r, diag=diag),
            E(r, reason, kind),
            f"X-Failed-Recipients: {r}\n",
        )


def add_provider_cases() -> None:
    add_google()
    add_microsoft()
    add_yahoo_aol_icloud()
    add_relays()
    add_gateways_and_regional()
