"""Signup: the hosted form (works without JavaScript) and the JSON API for embedded forms.

Whatever the address's state (new, pending, confirmed, unsubscribed, suppressed), a valid
signup gets the same "check your inbox" answer, so the form never reveals who subscribes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from digest.addresses import AddressError, normalize_email
from digest.curation.communities import list_communities
from digest.curation.newsletters import open_newsletters
from digest.readers.consent import consent_wording
from digest.readers.signup import SignupError, SignupOutcome, confirmation_not_sent, signup
from digest.web.context import WebContext, context
from digest.web.security import CSRF_FIELD, FormToken, PostedForm

log = logging.getLogger(__name__)

router = APIRouter()
Web = Annotated[WebContext, Depends(context)]

HONEYPOT = "website"
CHECK_INBOX = (
    "Thank you! Please check your inbox: we have sent you an email with a link to confirm "
    "your subscription. If it is not there in a few minutes, look in your spam folder."
)


class SignupUnavailableError(Exception):
    """The signup was saved but its confirmation email could not be queued."""


class Throttled(Exception):  # noqa: N818  a signal, not an error
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


def _address_key(email: str) -> str | None:
    try:
        return normalize_email(email)
    except AddressError:
        return None


def _record_signup(
    web: WebContext,
    request: Request,
    *,
    email: str,
    community: str,
    newsletters: list[str],
    consent: bool,
    source: str,
) -> SignupOutcome:
    """Limit, record, commit, then queue the confirmation; raises Throttled, SignupError."""
    ip = request.client.host if request.client else "unknown"
    retry_after = web.limiter.check(ip, _address_key(email))
    if retry_after is not None:
        raise Throttled(retry_after)
    settings = web.settings
    for attempt in (1, 2):
        try:
            with web.transaction() as session:
                outcome = signup(
                    session,
                    email=email,
                    community=community,
                    newsletters=newsletters,
                    consent=consent,
                    origin=web.origin(request, source),
                    wording=consent_wording(settings),
                    now=web.clock.now(),
                    resend_after=timedelta(minutes=settings.confirm_resend_minutes),
                )
            break
        except IntegrityError:
            # The same new address signed up twice at once; the second try finds the first.
            if attempt == 2:
                raise
    if outcome.send_confirmation and outcome.subscriber_id is not None:
        try:
            web.notifier.confirmation(outcome.subscriber_id)
        except Exception as exc:
            log.exception(
                "could not queue the confirmation of subscriber %s", outcome.subscriber_id
            )
            with web.transaction() as session:
                confirmation_not_sent(session, outcome.subscriber_id)
            raise SignupUnavailableError from exc
    return outcome


# The hosted form


def _form_page(
    web: WebContext,
    request: Request,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    token, fresh = web.guard.issue(request)
    with web.transaction() as session:
        towns = [(c.slug, c.name) for c in list_communities(session)]
        letters = [(n.slug, n.name, n.description) for n in open_newsletters(session)]
    response = web.page(
        "signup.html",
        status,
        towns=towns,
        newsletters=letters,
        wording=consent_wording(web.settings),
        form_token=token,
        csrf_field=CSRF_FIELD,
        values=values or {"newsletters": []},
        errors=errors or {},
        notice=notice,
    )
    web.guard.set_cookie(response, fresh)
    return response


@router.get("/", summary="The signup page", response_class=Response)
def signup_page(request: Request, web: Web) -> Response:
    return _form_page(web, request)


SIGNUP_FORM_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "email": {"type": "string"},
                    "community": {"type": "string"},
                    "newsletters": {"type": "array", "items": {"type": "string"}},
                    "consent": {"type": "string"},
                    "website": {"type": "string"},
                    "form_token": {"type": "string"},
                },
            }
        }
    },
}


@router.post(
    "/signup",
    summary="Send the signup form",
    response_class=Response,
    openapi_extra={"requestBody": SIGNUP_FORM_BODY},
)
def signup_form(request: Request, web: Web, form: PostedForm, fill_seconds: FormToken) -> Response:
    values: dict[str, Any] = {
        "email": str(form.get("email") or ""),
        "community": str(form.get("community") or ""),
        "newsletters": [str(v) for v in form.getlist("newsletters")],
        "consent": form.get("consent") is not None,
    }
    if form.get(HONEYPOT):
        # Only bots fill the hidden field: they get the same answer, and nothing happens.
        return RedirectResponse("/check-your-inbox", status_code=303)
    if fill_seconds < web.settings.signup_min_fill_seconds:
        notice = "That was very quick! Please check your details and send the form again."
        return _form_page(web, request, 400, values, notice=notice)
    try:
        _record_signup(web, request, source="form: /", **values)
    except SignupError as exc:
        return _form_page(web, request, 422, values, errors=exc.errors)
    except Throttled as exc:
        page = web.page("message.html", 429, title="Please wait a little", message=_wait(exc))
        page.headers["retry-after"] = str(exc.retry_after)
        return page
    except SignupUnavailableError:
        return _unavailable_page(web)
    return RedirectResponse("/check-your-inbox", status_code=303)


@router.get("/check-your-inbox", summary="After signing up", response_class=Response)
def check_inbox_page(web: Web) -> Response:
    return web.page("message.html", title="Check your inbox", message=CHECK_INBOX)


def _wait(exc: Throttled) -> str:
    minutes = max(1, round(exc.retry_after / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"We have had many signups from here. Please try again in {minutes} {unit}."


def _unavailable_page(web: WebContext) -> Response:
    message = (
        "We could not send your confirmation email just now. Please try again in a few minutes."
    )
    return web.page("message.html", 503, title="Please try again soon", message=message)


# The JSON API for embedded forms


class SignupRequest(BaseModel):
    """A signup from a form embedded on the publisher's site."""

    model_config = ConfigDict(extra="ignore")

    email: str = Field(max_length=320, description="The reader's email address.")
    community: str = Field(max_length=64, description="The slug of the reader's town.")
    newsletters: list[Annotated[str, Field(max_length=64)]] = Field(
        max_length=20, description="Slugs of the newsletters to join (at least one)."
    )
    consent: bool = Field(description="True when the reader ticked the consent box.")
    website: str = Field(
        default="", max_length=200, description="Honeypot: leave empty (bots fill it)."
    )


class SignupAccepted(BaseModel):
    status: str = "check_inbox"
    message: str = CHECK_INBOX


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


class Option(BaseModel):
    slug: str
    name: str


class SignupOptions(BaseModel):
    communities: list[Option]
    newsletters: list[Option]
    consent_wording: str
    consent_wording_version: str


def api_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=extra.pop("fields", {})))
    return JSONResponse(body.model_dump(), status_code=status, headers=extra.get("headers"))


ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "A field is wrong; `fields` says which and why."},
    403: {"model": ErrorBody, "description": "The page's origin is not allowed."},
    429: {"model": ErrorBody, "description": "Too many signups; see Retry-After."},
    503: {"model": ErrorBody, "description": "The confirmation email could not be queued."},
}


@router.post(
    "/api/subscriptions",
    status_code=202,
    response_model=SignupAccepted,
    responses=ERRORS,
    summary="Sign a reader up (double opt-in: a confirmation email follows)",
)
def signup_api(body: SignupRequest, request: Request, web: Web) -> Response:
    origin = request.headers.get("origin")
    if origin and not _allowed_origin(web, origin):
        return api_error(
            403, "origin_not_allowed", f"Signups from {origin[:100]} are not accepted."
        )
    if body.website:
        return JSONResponse(SignupAccepted().model_dump(), status_code=202)
    try:
        _record_signup(
            web,
            request,
            email=body.email,
            community=body.community,
            newsletters=body.newsletters,
            consent=body.consent,
            source=f"api: {request.headers.get('origin', 'no origin')}"[:200],
        )
    except SignupError as exc:
        return api_error(422, "invalid", str(exc), fields=exc.errors)
    except Throttled as exc:
        return api_error(
            429, "rate_limited", _wait(exc), headers={"retry-after": str(exc.retry_after)}
        )
    except SignupUnavailableError:
        return api_error(
            503, "unavailable", "The confirmation email could not be sent; retry soon."
        )
    return JSONResponse(SignupAccepted().model_dump(), status_code=202)


def _allowed_origin(web: WebContext, origin: str) -> bool:
    own = urlsplit(web.settings.base_url)
    allowed = {*web.settings.cors_origin_list, f"{own.scheme}://{own.netloc}"}
    return origin.rstrip("/") in allowed


@router.get(
    "/api/signup-options",
    response_model=SignupOptions,
    summary="The towns and newsletters an embedded form offers, and the consent wording",
)
def signup_options(web: Web) -> SignupOptions:
    with web.transaction() as session:
        return SignupOptions(
            communities=[Option(slug=c.slug, name=c.name) for c in list_communities(session)],
            newsletters=[Option(slug=n.slug, name=n.name) for n in open_newsletters(session)],
            consent_wording=consent_wording(web.settings),
            consent_wording_version=web.settings.consent_wording_version,
        )
