"""The Celery app, built from Digest's settings.

With no DIGEST_BROKER_URL the broker is kombu's filesystem transport under var/broker, so a
real worker runs on a bare machine; with redis:// it is Redis. Tasks live in workers.tasks.
"""

from __future__ import annotations

import logging
import random
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.signals import setup_logging, worker_process_init
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from digest.db import is_locked, make_engine, make_session_factory
from digest.logs import configure_logging
from digest.sending.send_rate import shared_storage
from digest.settings import Settings, get_settings

QUEUE = "digest"
log = logging.getLogger(__name__)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The periodic work. Every task here is idempotent, so two beats, or a restart, do no harm.

    The sweep runs often (DIGEST_DELIVERY_SWEEP_SECONDS): it is what brings a dead worker's
    rows back within a lease and a sweep of the crash.
    """
    return {
        "dispatch-editions": {"task": "digest.dispatch_editions", "schedule": 60.0},
        "sweep-deliveries": {
            "task": "digest.sweep_deliveries",
            "schedule": settings.delivery_sweep_seconds,
        },
        "poll-feeds": {"task": "digest.poll_feeds", "schedule": 60.0},
        "process-bounces": {"task": "digest.process_bounces", "schedule": 300.0},
        "purge-history": {"task": "digest.purge_history", "schedule": 3600.0},
        "flush-clicks": {"task": "digest.flush_clicks", "schedule": 10.0},
        "rank-clicks": {"task": "digest.rank_clicks", "schedule": 900.0},
        "hygiene-pass": {"task": "digest.hygiene_pass", "schedule": 86400.0},
    }


def embedded_broker_options(var_dir: Path) -> dict[str, Any]:
    queue = var_dir / "broker" / "queue"
    processed = var_dir / "broker" / "processed"
    control = var_dir / "broker" / "control"  # kombu's default is ./control, wherever we run
    for folder in (queue, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": False,
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings: JSON only, UTC, late acks for idempotent tasks, one message prefetched."""
    config: dict[str, Any] = {
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,  # results live in the database, not the broker
        "timezone": "UTC",
        "enable_utc": True,
        "task_default_queue": QUEUE,
        # Every task is idempotent, so a message is acknowledged only after its work is done
        # and goes back on the queue when the worker running it dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule(settings),
        "beat_schedule_filename": str(settings.var_dir / "celerybeat-schedule"),
    }
    if settings.broker_url is None:
        config["broker_url"] = "filesystem://"
        config["broker_transport_options"] = embedded_broker_options(settings.var_dir)
        config["worker_enable_remote_control"] = False  # the filesystem transport has no fanout
    else:
        config["broker_url"] = settings.broker_url
        if settings.broker_url.startswith(("redis", "rediss")):
            # A message not acknowledged within this time is delivered again (crash recovery).
            config["broker_transport_options"] = {"visibility_timeout": 3600}
    return config


# A task that found SQLite locked past its busy timeout tries again this many times, after a
# few seconds each (every task is idempotent, so running it again is safe).
LOCKED_RETRIES = 5


if TYPE_CHECKING:
    _Task = Task[Any, Any]  # generic in the type stubs only: Celery 5.5's Task is not
else:
    _Task = Task


class DigestTask(_Task):
    """Every Digest task: a locked embedded database is a reason to retry, not to fail."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except OperationalError as exc:
            if not is_locked(exc) or self.request.called_directly:
                raise
            log.warning("%s: the database is locked; trying again shortly", self.name)
            countdown = 1 + random.random() * 4  # noqa: S311  spreads the retries, no secret
            raise self.retry(exc=exc, countdown=countdown, max_retries=LOCKED_RETRIES) from None


def make_celery(settings: Settings) -> Celery[DigestTask]:
    # Tasks are imported when the app is finalized (a worker starting), never at import time.
    celery = Celery("digest", include=["workers.tasks"], task_cls=DigestTask)
    celery.conf.update(celery_config(settings))
    return celery


def broker_idle() -> bool:
    """True when no task message waits in the queue (or the broker cannot say): the sweep
    then looks for queued deliveries whose batch message was lost."""
    try:
        with app.connection_for_read() as connection:
            channel: Any = connection.default_channel
            declared = channel.queue_declare(queue=QUEUE, passive=True)
            return int(declared.message_count) == 0
    except Exception:
        return True


@lru_cache(maxsize=1)
def session_factory() -> sessionmaker[Session]:
    """The worker process's sessions; the engine is made after fork, once per process."""
    return make_session_factory(make_engine(get_settings().database_url))


@setup_logging.connect
def _use_digest_logging(**_kwargs: Any) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json_format=settings.log_format == "json")


@worker_process_init.connect
def _forget_parent_connections(**_kwargs: Any) -> None:
    session_factory.cache_clear()
    shared_storage.cache_clear()


app = make_celery(get_settings())
