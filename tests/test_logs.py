"""Structured logs carry the ids a caller passes as `extra`."""

from __future__ import annotations

import json
import logging

import pytest

from digest.logs import configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_extra_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_format=True)
    logging.getLogger("digest.sending.delivery").info(
        "batch sent", extra={"edition_id": 7, "batch": "1-500"}
    )
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert entry["message"] == "batch sent"
    assert entry["edition_id"] == 7
    assert entry["batch"] == "1-500"
    assert entry["level"] == "info"
    assert entry["logger"] == "digest.sending.delivery"


def test_text_lines_append_the_extra_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("digest.ingest.feeds").warning("feed failed", extra={"feed_id": 12})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "feed failed" in line
    assert line.endswith("feed_id=12")


def test_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    logging.getLogger("digest").info("quiet")
    assert "quiet" not in capsys.readouterr().err
