"""Helpers for the readers' web tests: a populated database, an app, and form posts."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Community, Newsletter

TOKEN_FIELD = re.compile(r'name="form_token" value="([^"]+)"')
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class RecordingNotifier:
    """Records the emails the app queues (the real Celery path is tested end to end)."""

    confirmations: list[int] = field(default_factory=list)
    welcomes: list[int] = field(default_factory=list)
    email_changes: list[tuple[int, str]] = field(default_factory=list)
    fail: bool = False

    def confirmation(self, subscriber_id: int) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.confirmations.append(subscriber_id)

    def welcome(self, subscriber_id: int) -> None:
        self.welcomes.append(subscriber_id)

    def email_change(self, subscriber_id: int, new_address: str) -> None:
        self.email_changes.append((subscriber_id, new_address))


def populate(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Two towns and three newsletters (one retired); returns ids by slug."""
    with sessions() as session, session.begin():
        rows: list[Any] = [
            Community(slug="springfield", name="Springfield", timezone="America/Los_Angeles"),
            Community(slug="shelbyville", name="Shelbyville", timezone="America/Los_Angeles"),
            Newsletter(slug="morning", name="Morning Digest", description="Every day at 6"),
            Newsletter(slug="weekend", name="Weekend Reads", description="Saturdays"),
            Newsletter(slug="retired", name="Old Letter", active=False),
        ]
        session.add_all(rows)
        session.flush()
        return {row.slug: row.id for row in rows}


def form_token(html: str) -> str:
    match = TOKEN_FIELD.search(html)
    assert match, "no form token in the page"
    return match.group(1)


def signup_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "email": "jane@example.org",
        "community": "springfield",
        "newsletters": ["morning"],
        "consent": "yes",
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def past_token(secret: str, purpose: str, payload: Any, age_seconds: int) -> str:
    """A token signed `age_seconds` ago, as the app would have signed it then."""

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_seconds

    serializer = URLSafeTimedSerializer(secret, salt=f"digest.{purpose}", signer=PastSigner)
    return str(serializer.dumps(payload))
