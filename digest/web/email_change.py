"""Changing a reader's address on the web: asked on the preferences page, confirmed from the
link mailed to the new address (a GET shows a button; only the POST changes anything)."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from digest.i18n import translate, translated, translated_plural
from digest.readers.email_change import (
    ChangeTooSoonError,
    confirm_email_change,
    request_email_change,
)
from digest.readers.signup import SignupError
from digest.readers.subscribers import SubscriberGoneError, live_subscriber
from digest.tokens import EMAIL_CHANGE, PREFERENCES, TokenError, read_token
from digest.web.context import WebContext, context
from digest.web.languages import browser_language
from digest.web.reader import _form_page, _gone_page, bad_link_page, preferences_language
from digest.web.security import FormToken, PostedForm
from digest.web.signup import address_key

log = logging.getLogger(__name__)
router = APIRouter()
Web = Annotated[WebContext, Depends(context)]
Token = Annotated[str, Path(max_length=1000, description="The signed token from the email.")]


def _read(web: WebContext, purpose: str, token: str) -> dict[str, Any] | None:
    try:
        payload: Any = read_token(web.settings, purpose, token)
    except TokenError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        return None
    return payload


@router.get("/preferences/{token}/email", include_in_schema=False)
def ask_page(token: Token, request: Request) -> Response:
    """The page that answered the request, in another language (its language links): the
    preferences, where the request is made."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/preferences/{quote(token, safe='')}{query}", status_code=303)


@router.post(
    "/preferences/{token}/email",
    summary="Ask to change the address (a link goes to the new one)",
    response_class=Response,
)
def ask(
    token: Token, request: Request, web: Web, form: PostedForm, _checked: FormToken
) -> Response:
    """The same answer for any well-formed address, another reader's or a suppressed one too
    (nothing is mailed then): this form must not tell who subscribes. Limited per client IP
    and per new address (sharing the signup's counts: one budget of mail to an address) and
    to one request per reader per resend window."""
    payload = _read(web, PREFERENCES, token)
    lang = browser_language(request)
    if payload is None:
        return bad_link_page(web, False, lang)
    new_email = str(form.get("new_email") or "")[:320]
    ip = request.client.host if request.client else "unknown"
    retry_after = web.limiter.check(ip, address_key(new_email))
    if retry_after is not None:
        return _wait_page(web, lang, retry_after, asked_recently=False)
    try:
        with web.transaction() as session:
            lang = preferences_language(request, live_subscriber(session, payload["s"]))
            origin = web.origin(request, "preferences page: change of address")
            resend_after = timedelta(minutes=web.settings.confirm_resend_minutes)
            asked = request_email_change(
                session, payload["s"], new_email, origin, web.clock.now(), resend_after
            )
    except SignupError as exc:
        return _address_error(web, 422, exc, lang)
    except ChangeTooSoonError as exc:
        return _wait_page(web, lang, exc.retry_after, asked_recently=True)
    except SubscriberGoneError:
        return _gone_page(web, lang)
    if asked.mail:
        web.notifier.email_change(payload["s"], asked.address)
    else:
        log.info("address change of subscriber %s to a taken address: nothing sent", payload["s"])
    return web.page(
        "message.html",
        lang=lang,
        title=translated(lang, "Check your new inbox"),
        message=translated(
            lang,
            "We sent a link to {address}. Your address changes when you follow it; "
            "until then your email keeps coming to your current address.",
            address=asked.address,
        ),
    )


def _wait_page(web: WebContext, lang: str, retry_after: int, asked_recently: bool) -> Response:
    minutes = max(1, math.ceil(retry_after / 60))
    if asked_recently:
        text = translated_plural(
            lang,
            "You asked for a change of address just now. You can ask again in {n} minute.",
            "You asked for a change of address just now. You can ask again in {n} minutes.",
            minutes,
        )
    else:
        text = translated_plural(
            lang,
            "We have had many requests from here. Please try again in {n} minute.",
            "We have had many requests from here. Please try again in {n} minutes.",
            minutes,
        )
    title = translated(lang, "Please wait a little")
    page = web.page("message.html", 429, lang=lang, title=title, message=text)
    page.headers["retry-after"] = str(retry_after)
    return page


def _address_error(web: WebContext, status: int, exc: SignupError, lang: str) -> Response:
    message = " ".join(translate(error, lang) for error in exc.errors.values())
    title = translated(lang, "Your address")
    return web.page("message.html", status, lang=lang, title=title, message=message)


@router.get(
    "/email/{token}", summary="The page that confirms a new address", response_class=Response
)
def confirm_page(token: Token, request: Request, web: Web) -> Response:
    payload = _read(web, EMAIL_CHANGE, token)
    lang = browser_language(request)
    if payload is None or not isinstance(payload.get("e"), str):
        return bad_link_page(web, False, lang)
    try:
        with web.transaction() as session:
            lang = preferences_language(request, live_subscriber(session, payload["s"]))
    except SubscriberGoneError:
        return _gone_page(web, lang)
    return _form_page(web, request, "email_change.html", lang, new_email=payload["e"])


@router.post("/email/{token}", summary="Confirm the new address", response_class=Response)
def confirm_post(token: Token, request: Request, web: Web, _checked: FormToken) -> Response:
    payload = _read(web, EMAIL_CHANGE, token)
    lang = browser_language(request)
    if payload is None or not isinstance(payload.get("e"), str):
        return bad_link_page(web, False, lang)
    try:
        with web.transaction() as session:
            lang = preferences_language(request, live_subscriber(session, payload["s"]))
            origin = web.origin(request, "email change page")
            address = confirm_email_change(
                session, payload["s"], payload["e"], origin, web.clock.now()
            )
    except SignupError as exc:
        return _address_error(web, 409, exc, lang)
    except SubscriberGoneError:
        return _gone_page(web, lang)
    return web.page(
        "message.html",
        lang=lang,
        title=translated(lang, "Your address is changed"),
        message=translated(lang, "Your newsletters now come to {address}.", address=address),
    )
