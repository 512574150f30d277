"""The bounce webhook: a relay (SES, Postmark, Mailgun, ...) posts bounces and complaints.

`POST /api/bounces/{relay}` with `Authorization: Bearer DIGEST_BOUNCE_WEBHOOK_TOKEN` and a JSON
batch of events in Digest's own small format (a relay's native payload is mapped to it by the
relay's webhook template or a small adapter). Each event is kept and acted on exactly as a
DSN from the bounce mailbox would be (`digest.bounces.apply_report`); the relay's event id makes
a repeated post change nothing.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from digest.bounces.actions import apply_report, webhook_report
from digest.models import BounceKind
from digest.web.context import WebContext, context
from digest.web.signup import ErrorBody, api_error

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
            report = webhook_report(
                web.settings,
                relay=relay,
                event_id=event.event_id,
                kind=BounceKind(event.type),
                recipient=event.recipient,
                return_path=event.return_path,
                status=event.status,
                diagnostic=event.diagnostic,
            )
            if apply_report(session, web.settings, report, web.clock.now()) is not None:
                recorded += 1
    accepted = BounceBatchAccepted(recorded=recorded, duplicates=len(body.events) - recorded)
    return JSONResponse(accepted.model_dump())
