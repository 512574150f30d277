"""Logging: plain lines for people, or one JSON object per line for log collectors.

Code logs with ids as `extra` (`log.info("sent", extra={"edition_id": 3, "batch": "1-500"})`);
the JSON format carries them as fields, the text format appends them as key=value.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Fields of a LogRecord that are not a caller's `extra`.
STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in STANDARD}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{key}={value}" for key, value in extras(record).items())
        return f"{line} {fields}" if fields else line


def configure_logging(level: str = "INFO", json_format: bool = False) -> None:
    """Send every log record to stderr in the chosen format (replaces earlier handlers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if json_format else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries whose INFO lines say nothing an operator acts on (Digest logs the outcome).
    for name in ("alembic", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
