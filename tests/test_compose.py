"""docker-compose.yml runs the production shape with the code's own commands and settings.

No Docker engine runs here, so the file is checked against the code instead of being run.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from digest.cli import app
from digest.settings import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {"postgres", "redis", "mailpit", "migrate", "web", "worker", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def digest_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "digest:latest"
    }


def test_every_service_of_the_production_shape_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= REQUIRED


def test_backing_services_have_health_checks(compose: dict[str, Any]) -> None:
    for name in ("postgres", "redis", "mailpit"):
        assert "healthcheck" in compose["services"][name], name


def test_digest_commands_exist_in_the_cli(compose: dict[str, Any]) -> None:
    runner = CliRunner()
    for name, service in digest_services(compose).items():
        command = service["command"]
        if command[0] != "digest":
            continue
        words = [word for word in command[1:] if not word.startswith("-")][:2]
        result = runner.invoke(app, [*words, "--help"])
        assert result.exit_code == 0, f"{name}: `digest {' '.join(words)}` does not exist"


def test_celery_commands_name_the_real_app(compose: dict[str, Any]) -> None:
    celery_services = [s for s in digest_services(compose).values() if s["command"][0] == "celery"]
    assert celery_services
    for service in celery_services:
        command = service["command"]
        module = command[command.index("-A") + 1]
        assert hasattr(importlib.import_module(module), "app")


def test_environment_uses_only_real_settings(compose: dict[str, Any]) -> None:
    known = {env_name(field) for field in Settings.model_fields}
    for name, service in digest_services(compose).items():
        names = set(service["environment"])
        assert names <= known, f"{name}: unknown settings {names - known}"
        assert "DIGEST_SECRET_KEY" in names
        assert "DIGEST_DATABASE_URL" in names
        assert service["environment"]["DIGEST_ENV"] == "prod"
