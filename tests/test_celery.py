"""The Celery app is built from settings: embedded broker by default, Redis when configured."""

from __future__ import annotations

from pathlib import Path

from digest.settings import load_settings
from workers.celery_app import celery_config


def test_embedded_broker_needs_no_server(tmp_path: Path) -> None:
    config = celery_config(load_settings(broker_url=None, var_dir=tmp_path))
    assert config["broker_url"] == "filesystem://"
    queue = Path(config["broker_transport_options"]["data_folder_in"])
    assert queue.is_dir()
    assert queue.is_relative_to(tmp_path)


def test_redis_broker_when_configured() -> None:
    config = celery_config(load_settings(broker_url="redis://127.0.0.1:6379/0"))
    assert config["broker_url"] == "redis://127.0.0.1:6379/0"
    assert config["broker_transport_options"]["visibility_timeout"] >= 600


def test_production_defaults() -> None:
    config = celery_config(load_settings())
    assert config["task_serializer"] == "json"
    assert config["accept_content"] == ["json"]
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["timezone"] == "UTC"


def test_every_periodic_task_exists() -> None:
    import workers.tasks  # noqa: F401  registers the tasks
    from workers.celery_app import app

    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
