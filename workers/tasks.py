"""Celery tasks: each takes ids, opens a session, calls one core function, owns its retries.

Every task is idempotent (the app acknowledges late), and enqueues follow-up work only after
its own transaction has committed.
"""

from __future__ import annotations

import logging
from typing import Any

from digest.bounces.mailbox import maildir_path, process_maildir
from digest.clock import SYSTEM_CLOCK
from digest.ingest.feeds import claim_due_feeds, poll
from digest.ingest.fetch import FetchOptions
from digest.sending import delivery
from digest.sending.alerts import dispatch_breaking
from digest.sending.editions import dispatch_due, get_edition
from digest.sending.notices import send_notice
from digest.sending.transport import open_transport
from digest.settings import get_settings
from workers.celery_app import app, session_factory

log = logging.getLogger(__name__)

# --- Editions and delivery ------------------------------------------------------------------


@app.task(name="digest.send_edition")
def send_edition(edition_id: int) -> int:
    """Create the edition's deliveries, then enqueue one send_batch per batch (after commit)."""
    settings = get_settings()
    with session_factory()() as session:
        with session.begin():
            edition = get_edition(session, edition_id)
            delivery.start_sending(session, edition, SYSTEM_CLOCK.now())
        with session.begin():
            batches = delivery.plan_batches(
                session, edition_id, settings.batch_size, SYSTEM_CLOCK.now()
            )
    for first, last in batches:
        send_batch.delay(edition_id, first, last)
    return len(batches)


@app.task(name="digest.send_batch")
def send_batch(edition_id: int, first: int, last: int) -> dict[str, int]:
    """Send the claimable deliveries of one id range; safe to run twice (rows are claimed)."""
    settings = get_settings()
    with delivery.open_sender(settings) as sender:
        counts = delivery.send_batch(
            session_factory(), settings, edition_id, first, last, sender, SYSTEM_CLOCK
        )
    return dict(counts)


@app.task(name="digest.sweep_deliveries")
def sweep_deliveries() -> int:
    """Enqueue again what a lost task or an expired lease left, and deferrals now due."""
    with session_factory()() as session, session.begin():
        batches = delivery.sweep(session, get_settings(), SYSTEM_CLOCK.now())
    for edition_id, first, last in batches:
        send_batch.delay(edition_id, first, last)
    return len(batches)


@app.task(name="digest.dispatch_editions")
def dispatch_editions() -> int:
    """The scheduler's pass (every minute): build what is due, then start sending it."""
    with session_factory()() as session, session.begin():
        dispatched = dispatch_due(session, get_settings(), SYSTEM_CLOCK.now())
    with session_factory()() as session, session.begin():
        alerts = dispatch_breaking(session, get_settings(), SYSTEM_CLOCK.now())
    for edition_id in [*dispatched.to_send, *alerts]:
        send_edition.delay(edition_id)
    for line in dispatched.missed:
        log.warning("slot skipped: %s", line)
    return len(dispatched.to_send)


# --- Bounces --------------------------------------------------------------------------------


@app.task(name="digest.process_bounces")
def process_bounces() -> dict[str, int]:
    """Read the unread reports in DIGEST_BOUNCE_MAILBOX_URL and act on them (safe to rerun)."""
    settings = get_settings()
    if settings.bounce_mailbox_url is None:
        return {}
    path = maildir_path(settings.bounce_mailbox_url)
    return dict(process_maildir(session_factory(), settings, path, SYSTEM_CLOCK))


# --- Readers' emails: confirmation and welcome ----------------------------------------------

# A confirmation the mail server defers is tried again after 1, 2, 4 ... minutes, 6 times.
NOTICE_RETRIES = 6


def _send_notice(task: Any, kind: str, subscriber_id: int, new_address: str | None = None) -> str:
    settings = get_settings()
    transport = open_transport(settings)  # connects only if there is something to send
    try:
        outcome = send_notice(
            session_factory(),
            settings,
            kind,
            subscriber_id,
            transport,
            SYSTEM_CLOCK.now(),
            new_address,
        )
    finally:
        transport.close()
    if outcome.retry:
        raise task.retry(countdown=60 * 2**task.request.retries, max_retries=NOTICE_RETRIES)
    return outcome.status


@app.task(name="digest.send_confirmation", bind=True)
def send_confirmation(self: Any, subscriber_id: int) -> str:
    """Email the reader the link that confirms their pending subscriptions (after signup)."""
    return _send_notice(self, "confirm", subscriber_id)


@app.task(name="digest.send_email_change", bind=True)
def send_email_change(self: Any, subscriber_id: int, new_address: str) -> str:
    """Email a reader's new address the link that confirms it."""
    return _send_notice(self, "email_change", subscriber_id, new_address)


@app.task(name="digest.send_welcome", bind=True)
def send_welcome(self: Any, subscriber_id: int) -> str:
    """Email the reader their welcome once they have confirmed."""
    return _send_notice(self, "welcome", subscriber_id)


# --- Feeds ----------------------------------------------------------------------------------


@app.task(name="digest.poll_feeds")
def poll_feeds() -> int:
    """The periodic pass: claim the due feeds, commit, then enqueue one poll_feed per feed."""
    with session_factory()() as session, session.begin():
        feed_ids = claim_due_feeds(session, SYSTEM_CLOCK.now())
    for feed_id in feed_ids:
        poll_feed.delay(feed_id)
    return len(feed_ids)


@app.task(name="digest.poll_feed")
def poll_feed(feed_id: int) -> dict[str, Any]:
    """Fetch one feed and ingest its stories; safe to run twice (ingest is idempotent)."""
    options = FetchOptions.from_settings(get_settings())
    results = poll(session_factory(), [feed_id], SYSTEM_CLOCK.now(), options)
    if not results:  # removed since it was enqueued
        return {"feed_id": feed_id, "status": "removed"}
    (result,) = results
    return {
        "feed_id": feed_id,
        "status": result.status,
        "new": result.new,
        "edited": result.edited,
        "error": result.error,
    }
