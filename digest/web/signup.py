"""Signup: the hosted form (works without JavaScript) and the JSON API for embedded forms.

Whatever the address's state (new, pending, confirmed, unsubscribed, suppressed), a valid
signup gets the same "check your inbox" answer, so the form never reveals who subscribes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from digest.addresses import AddressError, normalize_email
from digest.curation.communities import list_communities
from digest.curation.newsletters import open_newsletters
from digest.i18n import (
    DEFAULT_LANGUAGE,
    translatable,
    translate,
    translate_all,
    translated,
    translated_plural,
)
from digest.readers.consent import consent_wording
from digest.readers.signup import SignupError, SignupOutcome, confirmation_not_sent, signup
from digest.web.context import WebContext, context
from digest.web.languages import QUERY, browser_language, form_language, reader_language
from digest.web.security import CSRF_FIELD, FormToken, PostedForm

log = logging.getLogger(__name__)

router = APIRouter()
Web = Annotated[WebContext, Depends(context)]

HONEYPOT = "website"
CHECK_INBOX = translatable(
    "Thank you! Please check your inbox: we have sent you an email with a link to confirm "
    "your subscription. If it is not there in a few minutes, look in your spam folder."
)


class SignupUnavailableError(Exception):
    """The signup was saved but its confirmation email could not be queued."""


class Throttled(Exception):  # noqa: N818  a signal, not an error
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


def address_key(email: str) -> str | None:
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
    language: str,
) -> SignupOutcome:
    """Limit, record, commit, then queue the confirmation; raises Throttled, SignupError.

    `language` is the form's: the consent recorded is the sentence the reader read.
    """
    ip = request.client.host if request.client else "unknown"
    retry_after = web.limiter.check(ip, address_key(email))
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
                    wording=consent_wording(settings, language),
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
    lang: str,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    newsletter_slug: str | None = None,
) -> Response:
    token, fresh = web.guard.issue(request)
    with web.transaction() as session:
        towns = [(c.slug, c.name) for c in list_communities(session)]
        letters = [(n.slug, n.name, n.description) for n in open_newsletters(session)]
    response = web.page(
        "signup.html",
        status,
        lang=lang,
        towns=towns,
        newsletters=letters,
        wording=consent_wording(web.settings, lang),
        form_token=token,
        csrf_field=CSRF_FIELD,
        values=values or {"newsletters": []},
        errors=translate_all(errors or {}, lang),
        notice=translate(notice, lang) if notice else None,
        newsletter_slug=newsletter_slug,  # kept by the links to the other languages
    )
    web.guard.set_cookie(response, fresh)
    return response


@router.get("/", summary="The signup page", response_class=Response)
def signup_page(
    request: Request,
    web: Web,
    newsletter: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A newsletter's slug: ticked on the form, which speaks its language.",
        ),
    ] = None,
) -> Response:
    """The form, in the newsletter's language when one is named, else in the browser's."""
    chosen: list[str] = []
    languages: list[str] = []
    if newsletter:
        with web.transaction() as session:
            found = [n for n in open_newsletters(session) if n.slug == newsletter]
            chosen = [n.slug for n in found]
            languages = [n.language for n in found]
    lang = reader_language(request, languages)
    only = chosen[0] if chosen else None
    return _form_page(web, request, lang, values={"newsletters": chosen}, newsletter_slug=only)


@router.get("/signup", include_in_schema=False)
def signup_again(request: Request) -> Response:
    """The form's own address, asked for by a link on the page it answered (another
    language): the form, with the same choices."""
    query = request.url.query
    return RedirectResponse(f"/?{query}" if query else "/", status_code=303)


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
                    "lang": {"type": "string", "enum": ["en", "fr"]},
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
    lang = form_language(form) or browser_language(request)  # the form's own, in a hidden field
    values: dict[str, Any] = {
        "email": str(form.get("email") or ""),
        "community": str(form.get("community") or ""),
        "newsletters": [str(v) for v in form.getlist("newsletters")],
        "consent": form.get("consent") is not None,
    }
    if form.get(HONEYPOT):
        # Only bots fill the hidden field: they get the same answer, and nothing happens.
        return RedirectResponse(_check_inbox(lang), status_code=303)
    if fill_seconds < web.settings.signup_min_fill_seconds:
        notice = translatable(
            "That was very quick! Please check your details and send the form again."
        )
        return _form_page(web, request, lang, 400, values, notice=notice)
    try:
        _record_signup(web, request, source="form: /", language=lang, **values)
    except SignupError as exc:
        return _form_page(web, request, lang, 422, values, errors=exc.errors)
    except Throttled as exc:
        title = translated(lang, "Please wait a little")
        page = web.page("message.html", 429, lang=lang, title=title, message=_wait(exc, lang))
        page.headers["retry-after"] = str(exc.retry_after)
        return page
    except SignupUnavailableError:
        return _unavailable_page(web, lang)
    return RedirectResponse(_check_inbox(lang), status_code=303)


def _check_inbox(lang: str) -> str:
    return "/check-your-inbox" if lang == DEFAULT_LANGUAGE else f"/check-your-inbox?{QUERY}={lang}"


@router.get("/check-your-inbox", summary="After signing up", response_class=Response)
def check_inbox_page(request: Request, web: Web) -> Response:
    lang = browser_language(request)
    return web.page(
        "message.html",
        lang=lang,
        title=translated(lang, "Check your inbox"),
        message=translate(CHECK_INBOX, lang),
    )


def _wait(exc: Throttled, lang: str) -> str:
    minutes = max(1, round(exc.retry_after / 60))
    return translated_plural(
        lang,
        "We have had many signups from here. Please try again in {n} minute.",
        "We have had many signups from here. Please try again in {n} minutes.",
        minutes,
    )


def _unavailable_page(web: WebContext, lang: str) -> Response:
    message = translated(
        lang,
        "We could not send your confirmation email just now. Please try again in a few minutes.",
    )
    title = translated(lang, "Please try again soon")
    return web.page("message.html", 503, lang=lang, title=title, message=message)


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
    message: str = str(CHECK_INBOX)  # English; a request gets its own language


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
    lang = browser_language(request)
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
            language=lang,
        )
    except SignupError as exc:
        fields = translate_all(exc.errors, lang)
        return api_error(422, "invalid", "; ".join(fields.values()), fields=fields)
    except Throttled as exc:
        return api_error(
            429, "rate_limited", _wait(exc, lang), headers={"retry-after": str(exc.retry_after)}
        )
    except SignupUnavailableError:
        message = translated(lang, "The confirmation email could not be sent; retry soon.")
        return api_error(503, "unavailable", message)
    accepted = SignupAccepted(message=translate(CHECK_INBOX, lang))
    return JSONResponse(accepted.model_dump(), status_code=202)


def _allowed_origin(web: WebContext, origin: str) -> bool:
    own = urlsplit(web.settings.base_url)
    allowed = {*web.settings.cors_origin_list, f"{own.scheme}://{own.netloc}"}
    return origin.rstrip("/") in allowed


@router.get(
    "/api/signup-options",
    response_model=SignupOptions,
    summary="The towns and newsletters an embedded form offers, and the consent wording",
)
def signup_options(request: Request, web: Web) -> SignupOptions:
    """In the language of `?lang=`, else of the browser (Accept-Language)."""
    lang = browser_language(request)
    with web.transaction() as session:
        return SignupOptions(
            communities=[Option(slug=c.slug, name=c.name) for c in list_communities(session)],
            newsletters=[Option(slug=n.slug, name=n.name) for n in open_newsletters(session)],
            consent_wording=consent_wording(web.settings, lang),
            consent_wording_version=web.settings.consent_wording_version,
        )
