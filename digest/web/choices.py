"""A reader's own mix on the web: the preferences page's extra fields and the JSON API.

The page and the API both end in `digest.readers.choices.apply_choices`, so a choice made
either way is recorded the same way (a consent event per change).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import FormData

from digest.readers.choices import Choices, apply_choices, choices_of
from digest.readers.signup import SignupError
from digest.readers.subscribers import SubscriberGoneError
from digest.tokens import PREFERENCES, TokenError, read_token
from digest.web.context import WebContext, context
from digest.web.signup import api_error

router = APIRouter()
Web = Annotated[WebContext, Depends(context)]
Token = Annotated[str, Path(max_length=1000, description="The signed preferences token.")]


def choices_from_form(form: FormData, newsletters: list[str]) -> Choices:
    """The page's fields: towns, interests-SLUG (all or none ticked = every section),
    frequency-SLUG, pause (weeks; 0 ends a pause, empty leaves it)."""
    interests: dict[str, list[str] | None] = {}
    known = [str(v) for v in form.getlist("known_interests")]
    for slug in newsletters:
        ticked = [str(v) for v in form.getlist(f"interests-{slug}")]
        everything = bool(known) and set(ticked) >= set(known)
        interests[slug] = None if not ticked or everything else ticked
    frequency = {
        slug: str(form.get(f"frequency-{slug}"))
        for slug in newsletters
        if form.get(f"frequency-{slug}")
    }
    pause = str(form.get("pause") or "")
    return Choices(
        other_towns=[str(v) for v in form.getlist("towns")],
        interests=interests,
        frequency=frequency,
        pause_weeks=int(pause) if pause.isdigit() else None,
    )


class ChoicesBody(BaseModel):
    other_towns: list[str] | None = Field(None, max_length=10)
    interests: dict[str, list[str] | None] = Field(default_factory=dict)
    frequency: dict[str, str] = Field(default_factory=dict)
    pause_weeks: int | None = None


def _subscriber(web: WebContext, token: str) -> int | None:
    try:
        payload: Any = read_token(web.settings, PREFERENCES, token)
    except TokenError:
        return None
    subscriber = payload.get("s") if isinstance(payload, dict) else None
    return subscriber if isinstance(subscriber, int) else None


@router.get("/api/preferences/{token}", summary="A reader's choices and what they can choose")
def get_choices(token: Token, web: Web) -> Response:
    subscriber_id = _subscriber(web, token)
    if subscriber_id is None:
        return api_error(404, "bad_link", "This link does not work (expired or changed).")
    try:
        with web.transaction() as session:
            return JSONResponse(choices_of(session, subscriber_id, web.clock.now()))
    except SubscriberGoneError as exc:
        return api_error(404, "gone", str(exc))


@router.put("/api/preferences/{token}", summary="Change a reader's choices")
def put_choices(token: Token, body: ChoicesBody, request: Request, web: Web) -> Response:
    subscriber_id = _subscriber(web, token)
    if subscriber_id is None:
        return api_error(404, "bad_link", "This link does not work (expired or changed).")
    choices = Choices(body.other_towns, body.interests, body.frequency, body.pause_weeks)
    try:
        with web.transaction() as session:
            now = web.clock.now()
            said = apply_choices(
                session, subscriber_id, choices, web.origin(request, "preferences api"), now
            )
            return JSONResponse({"changes": said, **choices_of(session, subscriber_id, now)})
    except SignupError as exc:
        return api_error(422, "invalid", str(exc), fields=exc.errors)
    except SubscriberGoneError as exc:
        return api_error(404, "gone", str(exc))
