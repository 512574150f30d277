"""Celery tasks: each takes ids, opens a session, calls one core function, owns its retries.

Every task is idempotent (the app acknowledges late), and enqueues follow-up work only after
its own transaction has committed.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import OperationalError as KombuOperationalError

from digest.bounces.mailbox import maildir_path, process_maildir
from digest.clock import SYSTEM_CLOCK
from digest.ingest import clicks
from digest.ingest.feeds import claim_due_feeds, poll
from digest.ingest.fetch import FetchOptions
from digest.sending import batches, delivery
from digest.sending.alerts import dispatch_breaking
from digest.sending.approval import dispatch_held
from digest.sending.blips import TRANSIENT
from digest.sending.editions import dispatch_due
from digest.sending.mail_url import open_transport
from digest.sending.notices import send_notice
from digest.sending.reengagement import run_pass
from digest.sending.retention import purge_old_deliveries
from digest.sending.sweep import sweep
from digest.settings import get_settings
from workers.celery_app import app, broker_idle, session_factory

log = logging.getLogger(__name__)

# --- Editions and delivery ------------------------------------------------------------------

# A database or broker that does not answer (a restart, a failover) is a blip, not a failure:
# the task runs again after 1, 2, 4 ... (at most 10) seconds, with jitter. Every task here is
# idempotent, so running one again is always safe.
BLIPS = (*TRANSIENT, KombuOperationalError)
ON_BLIPS: dict[str, Any] = {
    "autoretry_for": BLIPS,
    "retry_backoff": 1,
    "retry_backoff_max": 10,
    "retry_jitter": True,
    "max_retries": 60,
}


@app.task(name="digest.send_edition", **ON_BLIPS)
def send_edition(edition_id: int, due_only: bool = False) -> int:
    """Create the edition's deliveries, then enqueue one send_batch per batch (after commit).

    The scheduler passes `due_only`: only towns whose send time has come (see start_sending).
    """
    settings = get_settings()
    batches = delivery.start_and_plan(
        session_factory(), settings, edition_id, SYSTEM_CLOCK, due_only=due_only
    )
    for first, last in batches:
        send_batch.delay(edition_id, first, last)
    return len(batches)


@app.task(name="digest.send_batch", **ON_BLIPS)
def send_batch(edition_id: int, first: int, last: int) -> dict[str, int]:
    """Send the claimable deliveries of one id range; safe to run twice (rows are claimed)."""
    settings = get_settings()
    with delivery.open_sender(settings) as sender:
        counts = batches.send_batch(
            session_factory(), settings, edition_id, first, last, sender, SYSTEM_CLOCK
        )
    return dict(counts)


@app.task(name="digest.sweep_deliveries", **ON_BLIPS)
def sweep_deliveries() -> int:
    """Enqueue again what a dead run or a lost message left, and deferrals now due."""
    idle = broker_idle()
    with session_factory()() as session, session.begin():
        ranges = sweep(session, get_settings(), SYSTEM_CLOCK.now(), broker_idle=idle)
    for edition_id, first, last in ranges:
        send_batch.delay(edition_id, first, last)
    return len(ranges)


@app.task(name="digest.purge_history", **ON_BLIPS)
def purge_history() -> dict[str, int]:
    """Fold the deliveries of editions past DIGEST_DELIVERY_RETENTION_DAYS into counts and
    delete them, a small batch per transaction."""
    return purge_old_deliveries(session_factory(), get_settings(), SYSTEM_CLOCK)


@app.task(name="digest.dispatch_editions", **ON_BLIPS)
def dispatch_editions() -> int:
    """The scheduler's pass (every minute): build what is due, then start sending it."""
    with session_factory()() as session, session.begin():
        dispatched = dispatch_due(session, get_settings(), SYSTEM_CLOCK.now())
        held = dispatch_held(session, get_settings(), SYSTEM_CLOCK.now())
    to_send = sorted({*dispatched.to_send, *held.to_send})
    for edition_id in to_send:
        send_edition.delay(edition_id, True)
    # Feed items tagged "breaking": alerted within the minute (digest.sending.alerts).
    with session_factory()() as session, session.begin():
        alerts = dispatch_breaking(session, get_settings(), SYSTEM_CLOCK.now())
    for edition_id in alerts:
        send_edition.delay(edition_id)
    for line in [*dispatched.missed, *held.missed]:
        log.warning("slot skipped: %s", line)
    return len(to_send)


# --- Clicks ---------------------------------------------------------------------------------


@app.task(name="digest.flush_clicks")
def flush_clicks() -> int:
    """Add the click batches the web processes left in Redis to the counts (safe to rerun)."""
    settings = get_settings()
    if settings.redis_url is None:
        return 0  # without Redis the web processes write their batches themselves
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    try:
        return clicks.drain_redis(session_factory(), client, SYSTEM_CLOCK.now)
    finally:
        client.close()


@app.task(name="digest.rank_clicks")
def rank_clicks() -> dict[str, int]:
    """Blend newsletter clicks into popularity ("Most read") and prune old click events."""
    settings = get_settings()
    with session_factory()() as session, session.begin():
        scored = clicks.record_click_popularity(session, settings, SYSTEM_CLOCK.now())
        pruned = clicks.prune(session, settings, SYSTEM_CLOCK.now())
    return {"scored": scored, **pruned}


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


@app.task(name="digest.hygiene_pass", **ON_BLIPS)
def hygiene_pass() -> dict[str, int]:
    """List hygiene (once a day): re-engagement emails to lapsed readers, removals after the
    grace. Safe to rerun: each lapse is claimed before its email, so none is mailed twice."""
    settings = get_settings()
    transport = open_transport(settings)  # connects only if there is something to send
    try:
        report = run_pass(session_factory(), settings, transport, SYSTEM_CLOCK.now())
    finally:
        transport.close()
    return report.counts()


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
