"""The relays' bounce webhook: authenticated, idempotent, and acting like a DSN would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import (
    BounceEvent,
    Delivery,
    DeliveryStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.suppressions import is_suppressed
from digest.sending import delivery
from digest.settings import Settings, load_settings
from digest.tokens import verp_address
from digest.web.app import create_app
from tests import factories

TOKEN = "relay-webhook-token-123"


@pytest.fixture
def settings() -> Settings:
    return load_settings(bounce_webhook_token=TOKEN)


@pytest.fixture
def sent(committed: sessionmaker[Session]) -> dict[str, int]:
    """Two readers and a delivery each, as if the edition had gone out."""
    with committed() as session, session.begin():
        (town,) = factories.towns(session, ("springfield",))
        letter = factories.newsletter(session)
        readers = factories.readers(session, letter, town, 2)
        edition = factories.ready_edition(session, letter, [town])
        delivery.start_sending(session, edition, datetime.now(UTC))
        session.flush()
        rows = session.scalars(select(Delivery).order_by(Delivery.subscriber_id)).all()
        return {"reader0": readers[0].id, "reader1": readers[1].id, "delivery0": rows[0].id}


def post(client: TestClient, events: list[dict[str, Any]], token: str | None = TOKEN) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/bounces/postmark", json={"events": events}, headers=headers)


def test_a_hard_bounce_named_by_verp_suppresses_the_reader(
    committed: sessionmaker[Session], settings: Settings, sent: dict[str, int]
) -> None:
    client = TestClient(create_app(settings))
    event = {
        "event_id": "pm-1",
        "type": "hard",
        "recipient": "reader0@springfield.example",
        "return_path": verp_address(settings, sent["delivery0"]),
        "status": "5.1.1",
        "diagnostic": "550 5.1.1 No such user",
    }

    first = post(client, [event])
    again = post(client, [event])

    assert first.status_code == 200
    assert first.json() == {"recorded": 1, "duplicates": 0}
    assert again.json() == {"recorded": 0, "duplicates": 1}
    with committed() as session:
        reader = session.get_one(Subscriber, sent["reader0"])
        assert reader.status == SubscriberStatus.BOUNCED
        assert is_suppressed(session, "reader0@springfield.example")
        assert session.get_one(Delivery, sent["delivery0"]).status == DeliveryStatus.BOUNCED
        (kept,) = session.scalars(select(BounceEvent)).all()
        assert kept.delivery_id == sent["delivery0"]
        assert kept.source == "webhook:postmark"
        assert session.get_one(Subscriber, sent["reader1"]).status == SubscriberStatus.ACTIVE


def test_a_complaint_unsubscribes_the_reader(
    committed: sessionmaker[Session], settings: Settings, sent: dict[str, int]
) -> None:
    client = TestClient(create_app(settings))
    response = post(
        client,
        [{"event_id": "pm-2", "type": "complaint", "recipient": "reader1@springfield.example"}],
    )
    assert response.json() == {"recorded": 1, "duplicates": 0}
    with committed() as session:
        assert session.get_one(Subscriber, sent["reader1"]).status == SubscriberStatus.COMPLAINED
        states = session.scalars(
            select(Subscription.status).where(Subscription.subscriber_id == sent["reader1"])
        ).all()
        assert states == [SubscriptionStatus.UNSUBSCRIBED]
        assert is_suppressed(session, "reader1@springfield.example")


def test_a_bounce_for_nobody_is_kept(committed: sessionmaker[Session], settings: Settings) -> None:
    client = TestClient(create_app(settings))
    response = post(
        client, [{"event_id": "pm-3", "type": "hard", "recipient": "who@nowhere.example"}]
    )
    assert response.json() == {"recorded": 1, "duplicates": 0}
    with committed() as session:
        (kept,) = session.scalars(select(BounceEvent)).all()
        assert kept.subscriber_id is None
        assert kept.recipient == "who@nowhere.example"


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_the_token_is_required(settings: Settings, token: str | None) -> None:
    client = TestClient(create_app(settings))
    response = post(client, [{"event_id": "x", "type": "hard"}], token=token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_the_webhook_is_off_without_a_token() -> None:
    client = TestClient(create_app(load_settings(bounce_webhook_token=None)))
    response = post(client, [{"event_id": "x", "type": "hard"}])
    assert response.status_code == 404
    assert "DIGEST_BOUNCE_WEBHOOK_TOKEN" in response.json()["error"]["message"]


def test_a_malformed_event_is_a_clear_422(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    response = post(client, [{"event_id": "x", "type": "bounced-ish"}])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
