"""schemathesis against the web app's OpenAPI spec: no input makes the server fail (no 5xx)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session, sessionmaker

from digest.settings import load_settings
from digest.web import create_app
from tests.support.web import RecordingNotifier, populate

# Built at import (the spec needs no database); the rows it serves are made per test below.
app = create_app(
    load_settings(
        database_url=os.environ["DIGEST_DATABASE_URL"],
        signup_limit_per_ip="1000000/hour",  # the fuzzer signs up hundreds of times
        signup_limit_per_address="1000000/hour",
        signup_min_fill_seconds=0,
    ),
    notifier=RecordingNotifier(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(autouse=True)
def towns_and_newsletters(committed: sessionmaker[Session]) -> None:
    populate(committed)


@schema.parametrize()
@hypothesis_settings(
    max_examples=40,
    database=None,  # no .hypothesis folder in the tree
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_makes_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])
