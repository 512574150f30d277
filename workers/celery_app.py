"""The Celery app, built from Digest's settings.

With no DIGEST_BROKER_URL the broker is kombu's filesystem transport under var/broker, so a
real worker runs on a bare machine; with redis:// it is Redis. Tasks live in workers.tasks.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_init
from sqlalchemy.orm import Session, sessionmaker

from digest.db import make_engine, make_session_factory
from digest.settings import Settings, get_settings

QUEUE = "digest"


def embedded_broker_options(var_dir: Path) -> dict[str, Any]:
    queue = var_dir / "broker" / "queue"
    processed = var_dir / "broker" / "processed"
    for folder in (queue, processed):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
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


def make_celery(settings: Settings) -> Celery:
    celery = Celery("digest")
    celery.conf.update(celery_config(settings))
    celery.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    return celery


@lru_cache(maxsize=1)
def session_factory() -> sessionmaker[Session]:
    """The worker process's sessions; the engine is made after fork, once per process."""
    return make_session_factory(make_engine(get_settings().database_url))


@worker_process_init.connect
def _forget_parent_engine(**_kwargs: Any) -> None:
    session_factory.cache_clear()


app = make_celery(get_settings())
