"""The list hygiene pass: re-engagement emails and removals (`digest.readers.hygiene` decides).

Run once a day by the `hygiene_pass` task (beat) and by `digest hygiene run`. For each
newsletter with hygiene on: a reader who engaged again has their lapse cleared; a reader whose
grace is over is unsubscribed (with a consent event); a lapsed reader gets the re-engagement
email, composed and sent like the other readers' emails (suppressions checked at send time,
List-Unsubscribe headers, the publisher's footer).

Each lapse's email is claimed in a transaction of its own, committed before the email leaves,
and marked mailed once the relay took it. A crash in between leaves the claim ("stuck", listed
by the dry run): that reader is never mailed twice for the lapse, and is never removed without
an email on record. A deferral or refusal releases the claim for the next pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from digest.models import Newsletter, Subscriber, SubscriberStatus, Subscription
from digest.readers import hygiene
from digest.readers.consent import Origin
from digest.readers.hygiene import Lapse, Step
from digest.readers.suppressions import is_suppressed
from digest.render import links
from digest.render.mime import Reader, build_template, compose
from digest.render.transactional import render_transactional
from digest.sending.notices import Notice
from digest.sending.transport import SendStatus, Transport
from digest.settings import Settings

log = logging.getLogger(__name__)

KIND = "reengage"
ORIGIN = Origin(source="list hygiene")


@dataclass
class PassReport:
    """What a pass did, or with `dry_run` would do: addresses per step."""

    dry_run: bool
    mailed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)  # deferred, refused or suppressed

    def counts(self) -> dict[str, int]:
        return {
            "mailed": len(self.mailed),
            "removed": len(self.removed),
            "reset": len(self.reset),
            "stuck": len(self.stuck),
            "not_sent": len(self.not_sent),
        }


def compose_reengagement(
    session: Session, settings: Settings, subscription_id: int, now: datetime
) -> Notice | None:
    """The re-engagement email of a claimed lapse, or None when the reader cannot be mailed
    (no longer confirmed, not active, or suppressed)."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.reengage_state != hygiene.MAILING:
        return None
    subscriber: Subscriber = subscription.subscriber
    email = subscriber.email
    if (
        email is None
        or subscriber.status != SubscriberStatus.ACTIVE
        or is_suppressed(session, email)
    ):
        return None
    newsletter: Newsletter = subscription.newsletter
    context: dict[str, object] = {
        "newsletters": [newsletter.name],
        "community_name": subscriber.community.name,
        "newsletter": newsletter,
        "keep_url": links.keep_url(settings, subscriber.id, newsletter.id, now),
        "grace": newsletter.hygiene_grace_editions,
    }
    rendered = render_transactional(settings, KIND, context)
    template = build_template(
        settings,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_key=f"{KIND}.{subscription.id}",
        date=now,
        newsletter=newsletter,
        list_unsubscribe=True,  # a message about the list: leaving it takes one click too
    )
    message = compose(template, Reader(None, subscriber.id, email, subscriber.name))
    return Notice(KIND, subscriber.id, email, message.mail_from, message.data, message.message_id)


def run_pass(
    sessions: sessionmaker[Session],
    settings: Settings,
    transport: Transport,
    now: datetime,
    *,
    dry_run: bool = False,
    newsletter_slug: str | None = None,
) -> PassReport:
    """One hygiene pass over every newsletter with hygiene on (or the one named).

    Owns its transactions: never holds one open while it talks to the mail server. With
    `dry_run` it only reports who would be mailed, removed or cleared.
    """
    report = PassReport(dry_run=dry_run)
    with sessions() as session, session.begin():
        letters = hygiene.hygiene_newsletters(session, settings)
        plans = [
            hygiene.review(session, settings, letter, now)
            for letter in letters
            if newsletter_slug in (None, letter.slug)
        ]
    for lapse in (lapse for plan in plans for lapse in plan):
        if dry_run:
            _listed(report, lapse).append(lapse.email)
        elif lapse.step == Step.MAIL:
            _mail(sessions, settings, transport, lapse, now, report)
        else:
            _settle(sessions, lapse, now, report)
    log.info("list hygiene%s: %s", " (dry run)" if dry_run else "", report.counts())
    return report


def _listed(report: PassReport, lapse: Lapse) -> list[str]:
    return {
        Step.MAIL: report.mailed,
        Step.REMOVE: report.removed,
        Step.RESET: report.reset,
        Step.STUCK: report.stuck,
    }[lapse.step]


def _settle(
    sessions: sessionmaker[Session], lapse: Lapse, now: datetime, report: PassReport
) -> None:
    """Removal, reset, or (stuck) nothing: one short transaction."""
    if lapse.step == Step.STUCK:
        report.stuck.append(lapse.email)
        return
    with sessions() as session, session.begin():
        if lapse.step == Step.RESET:
            hygiene.reset(session, lapse.subscription_id)
            report.reset.append(lapse.email)
        elif hygiene.remove(session, lapse, ORIGIN, now):
            report.removed.append(lapse.email)


def _mail(
    sessions: sessionmaker[Session],
    settings: Settings,
    transport: Transport,
    lapse: Lapse,
    now: datetime,
    report: PassReport,
) -> None:
    with sessions() as session, session.begin():
        if not hygiene.claim_mail(session, lapse.subscription_id, now):
            return  # another pass has it
        notice = compose_reengagement(session, settings, lapse.subscription_id, now)
    sent = False
    if notice is not None:
        result = transport.send(notice.mail_from, notice.recipient, notice.data)
        sent = result.status == SendStatus.SENT
        log.info("re-engagement email to subscriber %s: %s", lapse.subscriber_id, result.status)
    with sessions() as session, session.begin():
        hygiene.record_mail(session, lapse.subscription_id, sent)
    (report.mailed if sent else report.not_sent).append(lapse.email)
