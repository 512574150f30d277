"""The bounce webhooks: relays post bounces and complaints.

Native webhooks, each with the relay's own payload and proof of origin (docs/bounces.md):
`POST /api/webhooks/ses` (Amazon SES through SNS, signature checked against the signing
certificate), `/api/webhooks/sendgrid` (signed Event Webhook), `/api/webhooks/mailgun` (HMAC
signature), `/api/webhooks/postmark` (basic auth).

The generic one, for any other relay: `POST /api/bounces/{relay}` with
`Authorization: Bearer DIGEST_BOUNCE_WEBHOOK_TOKEN` and a JSON batch of events in Digest's
own small format. Each event is kept and acted on exactly as a DSN from the bounce mailbox
would be (`digest.bounces.apply_report`); the relay's event id makes a repeated post change
nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from digest.bounces.actions import apply_report, webhook_report
from digest.bounces.classify import Reason, classify
from digest.bounces.relays import (
    RelayEvent,
    mailgun_events,
    postmark_events,
    sendgrid_events,
    ses_notification_events,
)
from digest.bounces.signatures import (
    SignatureError,
    SnsVerifier,
    verify_basic_auth,
    verify_mailgun,
    verify_sendgrid,
)
from digest.models import BounceKind
from digest.web.context import WebContext, context
from digest.web.signup import ErrorBody, api_error

log = logging.getLogger(__name__)
router = APIRouter()
Web = Annotated[WebContext, Depends(context)]


class BounceEventIn(BaseModel):
    """One bounce or complaint as the relay saw it."""

    event_id: str = Field(min_length=1, max_length=200, description="The relay's id for it.")
    type: Literal["hard", "soft", "complaint"]
    recipient: str | None = Field(default=None, max_length=320)
    return_path: str | None = Field(
        default=None, max_length=400, description="The envelope sender: Digest's VERP address."
    )
    status: str | None = Field(default=None, max_length=32, description="e.g. 5.1.1")
    diagnostic: str | None = Field(default=None, max_length=2000)


class BounceBatch(BaseModel):
    events: list[BounceEventIn] = Field(min_length=1, max_length=500)


class BounceBatchAccepted(BaseModel):
    recorded: int = Field(description="Events kept and acted on now.")
    duplicates: int = Field(description="Events posted before: nothing changed.")


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorBody, "description": "The webhook is off (no token is set)."},
    422: {"model": ErrorBody, "description": "A field is wrong."},
}


@router.post(
    "/api/bounces/{relay}",
    response_model=BounceBatchAccepted,
    responses=ERRORS,
    summary="Record bounces and complaints reported by a mail relay",
)
def bounce_webhook(
    body: BounceBatch,
    web: Web,
    relay: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")],
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    expected = web.settings.bounce_webhook_token
    if not expected:
        return api_error(
            404, "not_found", "The bounce webhook is off (DIGEST_BOUNCE_WEBHOOK_TOKEN)."
        )
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return api_error(401, "unauthorized", "Send the webhook token as a bearer token.")
    recorded = 0
    with web.transaction() as session:
        for event in body.events:
            kind, reason = _generic_verdict(event)
            report = webhook_report(
                web.settings,
                relay=relay,
                event_id=event.event_id,
                kind=kind,
                recipient=event.recipient,
                return_path=event.return_path,
                status=event.status,
                diagnostic=event.diagnostic,
                reason=reason,
            )
            if apply_report(session, web.settings, report, web.clock.now()) is not None:
                recorded += 1
    accepted = BounceBatchAccepted(recorded=recorded, duplicates=len(body.events) - recorded)
    return JSONResponse(accepted.model_dump())


def _generic_verdict(event: BounceEventIn) -> tuple[BounceKind, Reason]:
    """The relay's type, checked by the classifier: a "hard" bounce whose server's words say
    the fault is ours (blocked, full, too big) is soft; unreadable words keep the relay's."""
    if event.type == "complaint":
        return BounceKind.COMPLAINT, Reason.COMPLAINT
    verdict = classify(event.diagnostic, event.status)
    if event.type == "hard" and not verdict.hard and verdict.reason != Reason.UNDETERMINED:
        return BounceKind.SOFT, verdict.reason
    return BounceKind(event.type), verdict.reason


# Native relay webhooks: each relay's own payload and proof of origin.
#
# Every route authenticates first (a wrong or missing proof gets 401 and learns nothing
# about the body), then reads the payload; network calls (SNS certificates, subscription
# confirmation) happen before the transaction opens. Replays change nothing: each event is
# kept under the relay's own id.

MAX_BODY = 1_000_000
WEBHOOK_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "The relay's proof of origin is missing or wrong."},
    404: {"model": ErrorBody, "description": "This relay's webhook is off (not configured)."},
    422: {"model": ErrorBody, "description": "The body is not the relay's payload (or over 1 MB)."},
}
_default_verifier = SnsVerifier()


async def raw_body(request: Request) -> bytes:
    """The request's bytes as sent: signatures are over them, not over parsed JSON."""
    return await request.body()


def sns_verifier() -> SnsVerifier:
    """The SNS verifier (overridden in tests with one that serves a local certificate)."""
    return _default_verifier


Body = Annotated[bytes, Depends(raw_body)]


def _off(relay: str, setting: str) -> Response:
    return api_error(404, "not_found", f"The {relay} webhook is off (DIGEST_{setting}).")


def _unauthorized(relay: str, error: SignatureError) -> Response:
    log.warning("%s webhook refused: %s", relay, error)
    return api_error(401, "unauthorized", "The request could not be authenticated.")


def _unreadable(relay: str) -> Response:
    return api_error(422, "invalid", f"The body is not a {relay} webhook payload.")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if len(body) <= MAX_BODY else None
    except ValueError:
        return None


def _record(web: WebContext, relay: str, events: list[RelayEvent]) -> Response:
    recorded = 0
    with web.transaction() as session:
        for event in events:
            report = webhook_report(
                web.settings,
                relay=relay,
                event_id=event.event_id,
                kind=event.kind,
                recipient=event.recipient,
                return_path=event.return_path,
                status=event.status,
                diagnostic=event.diagnostic,
                reason=event.reason,
            )
            if apply_report(session, web.settings, report, web.clock.now()) is not None:
                recorded += 1
    accepted = BounceBatchAccepted(recorded=recorded, duplicates=len(events) - recorded)
    return JSONResponse(accepted.model_dump())


@router.post(
    "/api/webhooks/ses",
    response_model=BounceBatchAccepted,
    responses=WEBHOOK_ERRORS,
    summary="Amazon SES bounce and complaint notifications, through SNS",
)
def ses_webhook(
    web: Web, body: Body, verifier: Annotated[SnsVerifier, Depends(sns_verifier)]
) -> Response:
    topics = {arn.strip() for arn in (web.settings.ses_topic_arns or "").split(",") if arn.strip()}
    if not topics:
        return _off("SES", "SES_TOPIC_ARNS")
    message = _json(body)
    try:
        if not isinstance(message, dict):
            raise SignatureError("the body is not an SNS message")
        verifier.verify(message)
        if message.get("TopicArn") not in topics:
            raise SignatureError(f"topic {message.get('TopicArn')!r} is not accepted")
        if message["Type"] == "SubscriptionConfirmation":
            verifier.confirm(message)
            log.info("SNS subscription to %s confirmed", message["TopicArn"])
            return JSONResponse(BounceBatchAccepted(recorded=0, duplicates=0).model_dump())
    except SignatureError as error:
        return _unauthorized("SES", error)
    if message["Type"] != "Notification":
        return JSONResponse(BounceBatchAccepted(recorded=0, duplicates=0).model_dump())
    notification = _json(str(message.get("Message", "")).encode())
    if not isinstance(notification, dict):
        return _unreadable("SES")
    return _record(web, "ses", ses_notification_events(notification))


@router.post(
    "/api/webhooks/sendgrid",
    response_model=BounceBatchAccepted,
    responses=WEBHOOK_ERRORS,
    summary="SendGrid signed Event Webhook: bounces, blocks, deferrals, spam reports",
)
def sendgrid_webhook(
    web: Web,
    body: Body,
    signature: Annotated[str | None, Header(alias="X-Twilio-Email-Event-Webhook-Signature")] = None,
    timestamp: Annotated[str | None, Header(alias="X-Twilio-Email-Event-Webhook-Timestamp")] = None,
) -> Response:
    key = web.settings.sendgrid_webhook_public_key
    if not key:
        return _off("SendGrid", "SENDGRID_WEBHOOK_PUBLIC_KEY")
    try:
        verify_sendgrid(key, signature, timestamp, body, web.clock.now())
    except SignatureError as error:
        return _unauthorized("SendGrid", error)
    payload = _json(body)
    if not isinstance(payload, list):
        return _unreadable("SendGrid")
    return _record(web, "sendgrid", sendgrid_events(payload))


@router.post(
    "/api/webhooks/mailgun",
    response_model=BounceBatchAccepted,
    responses=WEBHOOK_ERRORS,
    summary="Mailgun webhooks: failed (permanent or temporary) and complained",
)
def mailgun_webhook(web: Web, body: Body) -> Response:
    key = web.settings.mailgun_signing_key
    if not key:
        return _off("Mailgun", "MAILGUN_SIGNING_KEY")
    payload = _json(body)
    try:
        # The proof is inside the body; nothing else in it is read before it is checked.
        signature = payload.get("signature") if isinstance(payload, dict) else None
        token = verify_mailgun(key, signature, web.clock.now())
    except SignatureError as error:
        return _unauthorized("Mailgun", error)
    # The signature does not cover the events: a token seen before is a replay of it.
    if not web.seen_tokens.first_time("mailgun", token):
        return _unauthorized("Mailgun", SignatureError("the Mailgun token was used before"))
    try:
        return _record(web, "mailgun", mailgun_events(payload))
    except Exception:
        web.seen_tokens.forget("mailgun", token)  # not recorded: the relay's retry may come
        raise


@router.post(
    "/api/webhooks/postmark",
    response_model=BounceBatchAccepted,
    responses=WEBHOOK_ERRORS,
    summary="Postmark bounce and spam complaint webhooks (basic auth)",
)
def postmark_webhook(
    web: Web, body: Body, authorization: Annotated[str | None, Header()] = None
) -> Response:
    expected = web.settings.postmark_webhook_auth
    if not expected:
        return _off("Postmark", "POSTMARK_WEBHOOK_AUTH")
    try:
        verify_basic_auth(expected, authorization)
    except SignatureError as error:
        return _unauthorized("Postmark", error)
    payload = _json(body)
    if not isinstance(payload, dict):
        return _unreadable("Postmark")
    return _record(web, "postmark", postmark_events(payload))
