"""Native relay webhooks: SES through SNS, SendGrid, Mailgun, Postmark, each with its own proof.

The payloads are written from each relay's documented format. The SNS signing certificate
is made here and served to the verifier by an injected fetcher: no test reaches the internet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.bounces.signatures import SnsVerifier, sns_signed_text
from digest.models import BounceEvent, BounceKind, Subscriber, SubscriberStatus
from digest.readers.suppressions import is_suppressed
from digest.settings import Settings, load_settings
from digest.web.app import create_app
from digest.web.bounces import sns_verifier
from tests import factories

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-local.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"
MAILGUN_KEY = "key-mailgun-signing-0123"
POSTMARK_AUTH = "digest:pm-secret-9"


class LocalSns:
    """A signing key and its certificate, served by URL like SNS serves its own."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        self.pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        message = {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(sns_signed_text(message), padding.PKCS1v15(), algorithm)
        return {**message, "Signature": base64.b64encode(signature).decode()}


@pytest.fixture
def sns() -> LocalSns:
    return LocalSns()


@pytest.fixture
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def settings(sendgrid_key: ec.EllipticCurvePrivateKey) -> Settings:
    public = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return load_settings(
        ses_topic_arns=TOPIC,
        sendgrid_webhook_public_key=base64.b64encode(public).decode(),
        mailgun_signing_key=MAILGUN_KEY,
        postmark_webhook_auth=POSTMARK_AUTH,
        bounce_webhook_token="generic-token",
    )


@pytest.fixture
def client(settings: Settings, sns: LocalSns) -> TestClient:
    app = create_app(settings)
    verifier = SnsVerifier(sns.fetch)
    app.dependency_overrides[sns_verifier] = lambda: verifier
    return TestClient(app)


@pytest.fixture
def readers(committed: sessionmaker[Session]) -> list[int]:
    with committed() as session, session.begin():
        (town,) = factories.towns(session, ("springfield",))
        letter = factories.newsletter(session)
        return [reader.id for reader in factories.readers(session, letter, town, 4)]


def reader(committed: sessionmaker[Session], n: int) -> tuple[SubscriberStatus, bool]:
    address = f"reader{n}@springfield.example"
    with committed() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == address)).one()
        return found.status, is_suppressed(session, address)


def kinds(committed: sessionmaker[Session]) -> list[tuple[str, str | None, str | None]]:
    with committed() as session:
        rows = session.scalars(select(BounceEvent).order_by(BounceEvent.id))
        return [(row.kind.value, row.recipient, row.reason) for row in rows]


def ses_notification(sns: LocalSns, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
    return sns.sign(
        {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": TOPIC,
            "Message": json.dumps(payload),
            "Timestamp": "2025-11-24T06:00:09.000Z",
        }
    )


SES_BOUNCE = {
    "notificationType": "Bounce",
    "mail": {"source": "bounces+abc@news.example", "messageId": "0102-1"},
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "feedbackId": "0102-fb-1",
        "bouncedRecipients": [
            {
                "emailAddress": "reader0@springfield.example",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            },
            {
                "emailAddress": "reader1@springfield.example",
                "status": "5.0.0",
                "diagnosticCode": "smtp; 554 5.7.1 Message rejected as spam",
            },
        ],
    },
}


def test_ses_bounce_through_sns_is_verified_classified_and_idempotent(
    client: TestClient, committed: sessionmaker[Session], readers: list[int], sns: LocalSns
) -> None:
    message = ses_notification(sns, SES_BOUNCE, "m-1")
    first = client.post("/api/webhooks/ses", content=json.dumps(message))
    again = client.post("/api/webhooks/ses", content=json.dumps(message))
    assert first.json() == {"recorded": 2, "duplicates": 0}
    assert again.json() == {"recorded": 0, "duplicates": 2}
    assert reader(committed, 0) == (SubscriberStatus.BOUNCED, True)
    assert reader(committed, 1) == (SubscriberStatus.ACTIVE, False)  # a block of our mail
    assert kinds(committed) == [
        ("hard", "reader0@springfield.example", "user-unknown"),
        ("soft", "reader1@springfield.example", "spam-detected"),
    ]
    assert sns.fetched == [CERT_URL]  # the certificate is fetched once and kept


def test_ses_complaint_with_signature_version_2_unsubscribes(
    client: TestClient, committed: sessionmaker[Session], readers: list[int], sns: LocalSns
) -> None:
    payload = {
        "notificationType": "Complaint",
        "mail": {"source": "news@springfield-times.example"},
        "complaint": {
            "feedbackId": "0102-c-1",
            "complaintFeedbackType": "abuse",
            "complainedRecipients": [{"emailAddress": "reader2@springfield.example"}],
        },
    }
    message = sns.sign({**ses_notification(sns, payload, "m-2")}, version="2")
    response = client.post("/api/webhooks/ses", content=json.dumps(message))
    assert response.json() == {"recorded": 1, "duplicates": 0}
    assert reader(committed, 2) == (SubscriberStatus.COMPLAINED, True)


def test_ses_subscription_confirmation_visits_the_subscribe_url(
    client: TestClient, sns: LocalSns
) -> None:
    url = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t0k"
    message = sns.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "s-1",
            "Token": "t0k",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": url,
            "Timestamp": "2025-11-24T06:00:00.000Z",
        }
    )
    response = client.post("/api/webhooks/ses", content=json.dumps(message))
    assert response.status_code == 200
    assert sns.fetched == [CERT_URL, url]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: {**m, "Message": m["Message"].replace("reader0", "reader3")},
        lambda m: {**m, "SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.example/c.pem"},
        lambda m: {**m, "SigningCertURL": "http://sns.eu-west-1.amazonaws.com/c.pem"},
        lambda m: {**m, "TopicArn": "arn:aws:sns:eu-west-1:999999999999:other"},
        lambda m: {k: v for k, v in m.items() if k != "Signature"},
        lambda m: "not json at all",
    ],
    ids=["body", "cert-host", "cert-http", "topic", "unsigned", "not-json"],
)
def test_ses_refuses_what_sns_did_not_sign_and_records_nothing(
    client: TestClient,
    committed: sessionmaker[Session],
    readers: list[int],
    sns: LocalSns,
    tamper: Any,
) -> None:
    message = tamper(ses_notification(sns, SES_BOUNCE, "m-3"))
    response = client.post("/api/webhooks/ses", content=json.dumps(message))
    assert response.status_code == 401
    assert "reader" not in response.text
    assert kinds(committed) == []
    assert all(url == CERT_URL for url in sns.fetched)


def unix_now(seconds: int = 0) -> str:
    """Now (the app's clock is the system's here), moved by `seconds`, as a Unix timestamp."""
    return str(int(time.time()) + seconds)


def sendgrid_post(
    client: TestClient,
    key: ec.EllipticCurvePrivateKey,
    events: list[dict[str, Any]],
    timestamp: str | None = None,
) -> Any:
    body = json.dumps(events).encode()
    timestamp = timestamp or unix_now()
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    return client.post("/api/webhooks/sendgrid", content=body, headers=headers)


def test_sendgrid_signed_events_map_to_the_taxonomy(
    client: TestClient,
    committed: sessionmaker[Session],
    readers: list[int],
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    events = [
        {
            "email": "reader0@springfield.example",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account does not exist",
            "sg_event_id": "sg-1",
        },
        {
            "email": "reader1@springfield.example",
            "event": "bounce",
            "type": "blocked",
            "status": "5.7.1",
            "reason": "550 5.7.1 blocked using Spamhaus",
            "sg_event_id": "sg-2",
        },
        {"email": "reader2@springfield.example", "event": "spamreport", "sg_event_id": "sg-3"},
        {"email": "reader3@springfield.example", "event": "delivered", "sg_event_id": "sg-4"},
        {
            "email": "reader3@springfield.example",
            "event": "dropped",
            "sg_event_id": "sg-5",
            "reason": "Unsubscribed Address",
        },
    ]
    assert sendgrid_post(client, sendgrid_key, events).json() == {"recorded": 3, "duplicates": 0}
    assert sendgrid_post(client, sendgrid_key, events).json() == {"recorded": 0, "duplicates": 3}
    assert kinds(committed) == [
        ("hard", "reader0@springfield.example", "user-unknown"),
        ("soft", "reader1@springfield.example", "blocked"),
        ("complaint", "reader2@springfield.example", "complaint"),
    ]
    assert reader(committed, 1) == (SubscriberStatus.ACTIVE, False)


def test_sendgrid_refuses_a_signature_of_another_key(
    client: TestClient, committed: sessionmaker[Session], readers: list[int]
) -> None:
    intruder = ec.generate_private_key(ec.SECP256R1())
    events = [{"email": "reader0@springfield.example", "event": "spamreport", "sg_event_id": "x"}]
    assert sendgrid_post(client, intruder, events).status_code == 401
    assert client.post("/api/webhooks/sendgrid", json=events).status_code == 401
    assert kinds(committed) == []


def mailgun_body(
    key: str, event: dict[str, Any], token: str | None = None, timestamp: str | None = None
) -> dict[str, Any]:
    token = token or uuid.uuid4().hex  # Mailgun's token is new for every post
    timestamp = timestamp or unix_now()
    digest = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": digest},
        "event-data": event,
    }


def test_mailgun_permanent_and_temporary_failures_and_complaints(
    client: TestClient, committed: sessionmaker[Session], readers: list[int]
) -> None:
    failed = {
        "event": "failed",
        "severity": "permanent",
        "id": "mg-1",
        "recipient": "reader0@springfield.example",
        "delivery-status": {"code": 550, "message": "5.1.1 No such user here"},
    }
    temporary = {
        "event": "failed",
        "severity": "temporary",
        "id": "mg-2",
        "recipient": "reader1@springfield.example",
        "delivery-status": {"code": 452, "message": "4.2.2 Mailbox full"},
    }
    complained = {"event": "complained", "id": "mg-3", "recipient": "reader2@springfield.example"}
    for event in (failed, temporary, complained, failed):
        response = client.post("/api/webhooks/mailgun", json=mailgun_body(MAILGUN_KEY, event))
        assert response.status_code == 200
    assert kinds(committed) == [
        ("hard", "reader0@springfield.example", "user-unknown"),
        ("soft", "reader1@springfield.example", "mailbox-full"),
        ("complaint", "reader2@springfield.example", "complaint"),
    ]
    forged = mailgun_body("wrong-key", complained | {"id": "mg-4"})
    assert client.post("/api/webhooks/mailgun", json=forged).status_code == 401
    assert client.post("/api/webhooks/mailgun", content=b"[1, 2").status_code == 401


def test_a_mailgun_signature_cannot_be_replayed_with_other_events(
    client: TestClient, committed: sessionmaker[Session], readers: list[int]
) -> None:
    seen = {"event": "complained", "id": "mg-10", "recipient": "reader0@springfield.example"}
    first = mailgun_body(MAILGUN_KEY, seen)
    assert client.post("/api/webhooks/mailgun", json=first).status_code == 200
    victim = {"event": "complained", "id": "mg-11", "recipient": "reader1@springfield.example"}
    replayed = {"signature": first["signature"], "event-data": victim}
    assert client.post("/api/webhooks/mailgun", json=replayed).status_code == 401
    for moved in (-6 * 60, 6 * 60):  # an old signature, or one from the far future
        stale = mailgun_body(MAILGUN_KEY, victim, timestamp=unix_now(moved))
        assert client.post("/api/webhooks/mailgun", json=stale).status_code == 401
    assert reader(committed, 1) == (SubscriberStatus.ACTIVE, False)
    assert [recipient for _, recipient, _ in kinds(committed)] == ["reader0@springfield.example"]
    fresh = mailgun_body(MAILGUN_KEY, victim, timestamp=unix_now(-4 * 60))  # within the skew
    assert client.post("/api/webhooks/mailgun", json=fresh).status_code == 200


@pytest.mark.redis
def test_with_redis_every_web_process_knows_the_mailgun_tokens_seen(
    settings: Settings, committed: sessionmaker[Session], readers: list[int], redis_client: object
) -> None:
    shared = settings.model_copy(update={"redis_url": os.environ["DIGEST_TEST_REDIS_URL"]})
    one, other = TestClient(create_app(shared)), TestClient(create_app(shared))
    seen = {"event": "complained", "id": "mg-20", "recipient": "reader0@springfield.example"}
    first = mailgun_body(MAILGUN_KEY, seen)
    assert one.post("/api/webhooks/mailgun", json=first).status_code == 200
    victim = {"event": "complained", "id": "mg-21", "recipient": "reader1@springfield.example"}
    replayed = {"signature": first["signature"], "event-data": victim}
    assert other.post("/api/webhooks/mailgun", json=replayed).status_code == 401
    assert reader(committed, 1) == (SubscriberStatus.ACTIVE, False)


def test_sendgrid_refuses_an_old_signed_timestamp(
    client: TestClient,
    committed: sessionmaker[Session],
    readers: list[int],
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    events = [{"email": "reader0@springfield.example", "event": "spamreport", "sg_event_id": "y"}]
    for moved in (-6 * 60, 6 * 60):
        old = sendgrid_post(client, sendgrid_key, events, timestamp=unix_now(moved))
        assert old.status_code == 401
    assert kinds(committed) == []
    assert sendgrid_post(client, sendgrid_key, events).status_code == 200


def test_postmark_basic_auth_bounce_types(
    client: TestClient, committed: sessionmaker[Session], readers: list[int]
) -> None:
    user, password = POSTMARK_AUTH.split(":")
    records = [
        {
            "RecordType": "Bounce",
            "ID": 11,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Email": "reader0@springfield.example",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
        },
        {
            "RecordType": "Bounce",
            "ID": 12,
            "Type": "SoftBounce",
            "TypeCode": 4096,
            "Email": "reader1@springfield.example",
            "Details": "smtp;552 5.2.2 mailbox full",
        },
        {
            "RecordType": "Bounce",
            "ID": 13,
            "Type": "AutoResponder",
            "TypeCode": 64,
            "Email": "reader3@springfield.example",
            "Details": "I am out of the office",
        },
        {
            "RecordType": "SpamComplaint",
            "ID": 14,
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Email": "reader2@springfield.example",
        },
    ]
    for record in records:
        response = client.post("/api/webhooks/postmark", json=record, auth=(user, password))
        assert response.json()["recorded"] == 1
    assert kinds(committed) == [
        ("hard", "reader0@springfield.example", "user-unknown"),
        ("soft", "reader1@springfield.example", "mailbox-full"),
        ("unknown", "reader3@springfield.example", "auto-reply"),
        ("complaint", "reader2@springfield.example", "complaint"),
    ]
    assert reader(committed, 3) == (SubscriberStatus.ACTIVE, False)
    wrong = client.post("/api/webhooks/postmark", json=records[0], auth=(user, "guess"))
    garbage = client.post("/api/webhooks/postmark", content=b"{{{")
    assert (wrong.status_code, garbage.status_code) == (401, 401)


def test_an_unconfigured_relay_webhook_is_off(committed: sessionmaker[Session]) -> None:
    client = TestClient(create_app(load_settings()))
    for relay in ("ses", "sendgrid", "mailgun", "postmark"):
        assert client.post(f"/api/webhooks/{relay}", json={}).status_code == 404
    assert BounceKind.HARD  # the enum the events use


def test_the_generic_webhook_checks_a_relays_hard_against_the_servers_words(
    client: TestClient, committed: sessionmaker[Session], readers: list[int]
) -> None:
    events = [
        {
            "event_id": "g-1",
            "type": "hard",
            "recipient": "reader0@springfield.example",
            "status": "5.0.0",
            "diagnostic": "554 Client host blocked using zen.spamhaus.org",
        },
        {
            "event_id": "g-2",
            "type": "hard",
            "recipient": "reader1@springfield.example",
            "diagnostic": "bounced",
        },
    ]
    response = client.post(
        "/api/bounces/other",
        json={"events": events},
        headers={"authorization": "Bearer generic-token"},
    )
    assert response.json() == {"recorded": 2, "duplicates": 0}
    assert kinds(committed) == [
        ("soft", "reader0@springfield.example", "blocked"),
        ("hard", "reader1@springfield.example", "undetermined"),
    ]


def test_ses_never_visits_a_subscribe_url_off_sns(client: TestClient, sns: LocalSns) -> None:
    message = sns.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "s-2",
            "Token": "t0k",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": "https://attacker.example/?Action=ConfirmSubscription",
            "Timestamp": "2025-11-24T06:00:00.000Z",
        }
    )
    response = client.post("/api/webhooks/ses", content=json.dumps(message))
    assert response.status_code == 401
    assert sns.fetched == [CERT_URL]


def test_sendgrid_drops_for_its_own_bounce_list_suppress_here_too(
    client: TestClient,
    committed: sessionmaker[Session],
    readers: list[int],
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    events = [
        {
            "email": "reader0@springfield.example",
            "event": "dropped",
            "reason": "Bounced Address",
            "sg_event_id": "d-1",
        },
        {
            "email": "reader1@springfield.example",
            "event": "dropped",
            "reason": "Spam Reporting Address",
            "sg_event_id": "d-2",
        },
    ]
    assert sendgrid_post(client, sendgrid_key, events).json() == {"recorded": 2, "duplicates": 0}
    assert reader(committed, 0) == (SubscriberStatus.BOUNCED, True)
    assert reader(committed, 1) == (SubscriberStatus.COMPLAINED, True)


def test_mailgun_failures_for_its_own_lists(
    client: TestClient, committed: sessionmaker[Session], readers: list[int]
) -> None:
    events = [
        {
            "event": "failed",
            "severity": "permanent",
            "reason": "suppress-complaint",
            "id": "s-1",
            "recipient": "reader0@springfield.example",
        },
        {
            "event": "failed",
            "severity": "permanent",
            "reason": "suppress-unsubscribe",
            "id": "s-2",
            "recipient": "reader1@springfield.example",
        },
    ]
    for event in events:
        response = client.post("/api/webhooks/mailgun", json=mailgun_body(MAILGUN_KEY, event))
        assert response.status_code == 200
    assert kinds(committed) == [("complaint", "reader0@springfield.example", "complaint")]
    assert reader(committed, 1) == (SubscriberStatus.ACTIVE, False)
