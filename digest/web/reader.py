"""The pages a reader reaches from an email: confirm, preferences, unsubscribe.

A GET never changes anything (mail scanners fetch links); only a POST confirms or
unsubscribes. The unsubscribe URL also takes RFC 8058 one-click POSTs from mailbox
providers: no cookie, no form token, no redirect, 200 at once.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from digest.curation.communities import list_communities
from digest.curation.newsletters import open_newsletters
from digest.i18n import names_list, translatable, translate, translated
from digest.models import Newsletter, Subscriber, SubscriptionStatus
from digest.readers.choices import apply_choices, choices_of
from digest.readers.consent import consent_wording
from digest.readers.preferences import (
    change_preferences,
    live_subscriptions,
    set_click_opt_out,
    unsubscribe,
)
from digest.readers.signup import (
    SignupError,
    confirm,
    confirmed_newsletters,
    pending_newsletters,
)
from digest.readers.subscribers import SubscriberGoneError, live_subscriber
from digest.tokens import CONFIRM, PREFERENCES, UNSUBSCRIBE, TokenError, read_token
from digest.web.choices import choices_from_form
from digest.web.context import WebContext, context
from digest.web.languages import browser_language, reader_language
from digest.web.security import CSRF_FIELD, FormToken, PostedForm, check_form_token

log = logging.getLogger(__name__)

router = APIRouter()
Web = Annotated[WebContext, Depends(context)]
Token = Annotated[str, Path(max_length=1000, description="The signed token from the email.")]

ONE_CLICK = "One-Click"
FORM_BODY = {
    "required": False,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "List-Unsubscribe": {"type": "string", "enum": [ONE_CLICK]},
                    "form_token": {"type": "string"},
                },
            }
        }
    },
}


async def one_click_or_form_token(request: Request, form: PostedForm) -> bool:
    """True for an RFC 8058 one-click post (no cookie, no token by design); any other post
    needs its form token (raises FormRejectedError)."""
    if form.get("List-Unsubscribe") == ONE_CLICK:
        return True
    await check_form_token(request, form)
    return False


OneClick = Annotated[bool, Depends(one_click_or_form_token)]


class BadLinkError(Exception):
    """A link whose token does not verify or has expired."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired


def _payload(web: WebContext, purpose: str, token: str) -> tuple[int, int | None]:
    """(subscriber id, newsletter id or None) from a token; raises BadLinkError."""
    try:
        payload: Any = read_token(web.settings, purpose, token)
    except TokenError as exc:
        raise BadLinkError(exc.expired) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise BadLinkError(expired=False)
    newsletter = payload.get("n")
    return payload["s"], newsletter if isinstance(newsletter, int) else None


def bad_link_page(web: WebContext, expired: bool, lang: str) -> Response:
    if expired:
        message = translated(
            lang,
            "This link has expired. Links to confirm a subscription work for 7 days: "
            "please sign up again and we will send you a new one.",
        )
    else:
        message = translated(
            lang,
            "This link is not valid. Please open the link from your email again, copying it "
            "whole if your mail program split it over two lines.",
        )
    title = translated(lang, "This link does not work")
    return web.page("message.html", 400, lang=lang, title=title, message=message, signup_link=True)


def _gone_page(web: WebContext, lang: str) -> Response:
    message = translated(
        lang, "This link no longer works: the address it was sent to has been removed."
    )
    title = translated(lang, "This link no longer works")
    return web.page("message.html", 410, lang=lang, title=title, message=message, signup_link=True)


def _form_page(
    web: WebContext, request: Request, name: str, lang: str, status: int = 200, **values: Any
) -> Response:
    token, fresh = web.guard.issue(request)
    response = web.page(name, status, lang=lang, form_token=token, csrf_field=CSRF_FIELD, **values)
    web.guard.set_cookie(response, fresh)
    return response


# Confirm


def _confirm_language(session: Session, request: Request, subscriber_id: int) -> str:
    """The language of the newsletters being confirmed (or already confirmed, on a second
    visit), else the browser's."""
    letters = pending_newsletters(session, subscriber_id) or confirmed_newsletters(
        session, subscriber_id
    )
    return reader_language(request, [letter.language for letter in letters])


@router.get(
    "/confirm/{token}",
    summary="The confirm page (confirms nothing by itself)",
    response_class=Response,
)
def confirm_page(token: Token, request: Request, web: Web) -> Response:
    try:
        subscriber_id, _ = _payload(web, CONFIRM, token)
        with web.transaction() as session:
            live_subscriber(session, subscriber_id)
            names = [n.name for n in pending_newsletters(session, subscriber_id)]
            lang = _confirm_language(session, request, subscriber_id)
    except BadLinkError as exc:
        return bad_link_page(web, exc.expired, browser_language(request))
    except SubscriberGoneError:
        return _gone_page(web, browser_language(request))
    if not names:
        return web.page(
            "message.html",
            lang=lang,
            title=translated(lang, "You are all set"),
            message=translated(lang, "Your subscription is already confirmed. Thank you!"),
        )
    return _form_page(web, request, "confirm.html", lang, newsletters=names)


@router.post("/confirm/{token}", summary="Confirm the subscription", response_class=Response)
def confirm_post(token: Token, request: Request, web: Web, _checked: FormToken) -> Response:
    try:
        subscriber_id, _ = _payload(web, CONFIRM, token)
        with web.transaction() as session:
            lang = _confirm_language(session, request, subscriber_id)
            outcome = confirm(
                session, subscriber_id, web.origin(request, "confirm page"), web.clock.now()
            )
    except BadLinkError as exc:
        return bad_link_page(web, exc.expired, browser_language(request))
    except SubscriberGoneError:
        return _gone_page(web, browser_language(request))
    if outcome.send_welcome:
        try:
            web.notifier.welcome(subscriber_id)
        except Exception:
            # The subscription stands; only the welcome is lost, which the reader can live with.
            log.exception("could not queue the welcome of subscriber %s", subscriber_id)
    names = names_list(outcome.confirmed, lang) or translated(lang, "your newsletters")
    return web.page(
        "message.html",
        lang=lang,
        title=translated(lang, "You are subscribed"),
        message=translated(
            lang, "Thank you! Your subscription to {names} is confirmed.", names=names
        ),
    )


# Unsubscribe


def _unsubscribe_scope(
    web: WebContext, request: Request, subscriber_id: int, newsletter_id: int | None
) -> tuple[str, str]:
    """What the link leaves (names) and the page's language."""
    with web.transaction() as session:
        subscriber = live_subscriber(session, subscriber_id)
        if newsletter_id is not None:
            newsletter = session.get(Newsletter, newsletter_id)
            if newsletter is not None:
                lang = reader_language(request, [newsletter.language])
                return names_list([newsletter.name], lang), lang
        receiving = [s.newsletter for s in live_subscriptions(subscriber)]
        lang = reader_language(request, [n.language for n in receiving])
        names = names_list(sorted(n.name for n in receiving), lang)
        return names or translated(lang, "all newsletters"), lang


@router.get(
    "/u/{token}",
    summary="The unsubscribe page (unsubscribes nobody by itself)",
    response_class=Response,
)
def unsubscribe_page(token: Token, request: Request, web: Web) -> Response:
    try:
        subscriber_id, newsletter_id = _payload(web, UNSUBSCRIBE, token)
        scope, lang = _unsubscribe_scope(web, request, subscriber_id, newsletter_id)
    except BadLinkError as exc:
        return bad_link_page(web, exc.expired, browser_language(request))
    except SubscriberGoneError:
        return _unsubscribed_page(web, [], browser_language(request))
    return _form_page(web, request, "unsubscribe.html", lang, scope=scope)


@router.post(
    "/u/{token}",
    summary="Unsubscribe: RFC 8058 one-click (List-Unsubscribe=One-Click) or the page's button",
    response_class=Response,
    openapi_extra={"requestBody": FORM_BODY},
)
def unsubscribe_post(token: Token, request: Request, web: Web, one_click: OneClick) -> Response:
    try:
        subscriber_id, newsletter_id = _payload(web, UNSUBSCRIBE, token)
        source = "one-click (RFC 8058)" if one_click else "unsubscribe page"
        lang = browser_language(request)
        if not one_click:
            _, lang = _unsubscribe_scope(web, request, subscriber_id, newsletter_id)
        with web.transaction() as session:
            left = unsubscribe(
                session, subscriber_id, newsletter_id, web.origin(request, source), web.clock.now()
            )
    except BadLinkError as exc:
        if one_click:
            return PlainTextResponse("This unsubscribe link is not valid.", status_code=400)
        return bad_link_page(web, exc.expired, browser_language(request))
    except SubscriberGoneError:
        left, lang = [], browser_language(request)
    if one_click:  # read by a mailbox provider's machine, not by the reader
        return PlainTextResponse("You are unsubscribed.", headers={"cache-control": "no-store"})
    return _unsubscribed_page(web, left, lang)


def _unsubscribed_page(web: WebContext, left: list[str], lang: str) -> Response:
    what = names_list(left, lang) if left else translated(lang, "our newsletters")
    return web.page(
        "message.html",
        lang=lang,
        title=translated(lang, "You are unsubscribed"),
        message=translated(
            lang, "You will not receive {what} any more. We are sorry to see you go.", what=what
        ),
    )


# Preferences


def preferences_language(request: Request, subscriber: Subscriber) -> str:
    """The language of the newsletters the reader receives, else the browser's."""
    letters = [s.newsletter.language for s in live_subscriptions(subscriber)]
    return reader_language(request, letters)


def _preferences_page(
    web: WebContext, request: Request, subscriber_id: int, status: int = 200, **values: Any
) -> Response:
    with web.transaction() as session:
        subscriber = live_subscriber(session, subscriber_id)
        lang = preferences_language(request, subscriber)
        receiving = {
            s.newsletter.slug
            for s in subscriber.subscriptions
            if s.status == SubscriptionStatus.CONFIRMED
        }
        towns = [(c.slug, c.name) for c in list_communities(session)]
        letters = [(n.slug, n.name, n.description) for n in open_newsletters(session)]
        values.setdefault("community", subscriber.community.slug)
        values.setdefault("chosen", receiving)
        values.setdefault("click_opt_out", subscriber.click_opt_out)
        values["choices"] = choices_of(session, subscriber_id, web.clock.now())
        values["email_action"] = f"{request.url.path}/email"
        email = subscriber.email
    if "errors" in values:
        values["errors"] = {key: translate(error, lang) for key, error in values["errors"].items()}
    if "saved" in values:
        values["saved"] = " ".join(translate(said, lang) for said in values["saved"])
    return _form_page(
        web,
        request,
        "preferences.html",
        lang,
        status,
        towns=towns,
        newsletters=letters,
        email=email,
        wording=consent_wording(web.settings, lang),
        per_reader_clicks=web.settings.click_per_reader,
        **values,
    )


@router.get("/preferences/{token}", summary="The preferences centre", response_class=Response)
def preferences_page(token: Token, request: Request, web: Web) -> Response:
    try:
        subscriber_id, _ = _payload(web, PREFERENCES, token)
        return _preferences_page(web, request, subscriber_id)
    except BadLinkError as exc:
        return bad_link_page(web, exc.expired, browser_language(request))
    except SubscriberGoneError:
        return _gone_page(web, browser_language(request))


@router.post(
    "/preferences/{token}",
    summary="Save preferences, or unsubscribe from all",
    response_class=Response,
)
def preferences_post(
    token: Token, request: Request, web: Web, form: PostedForm, _checked: FormToken
) -> Response:
    community = str(form.get("community") or "")
    chosen = [str(v) for v in form.getlist("newsletters")]
    try:
        subscriber_id, _ = _payload(web, PREFERENCES, token)
        origin = web.origin(request, "preferences page")
        with web.transaction() as session:
            lang = preferences_language(request, live_subscriber(session, subscriber_id))
            if form.get("action") == "unsubscribe_all":
                left = unsubscribe(session, subscriber_id, None, origin, web.clock.now())
                return _unsubscribed_page(web, left, lang)
            change = change_preferences(
                session,
                subscriber_id,
                community=community,
                newsletters=chosen,
                origin=origin,
                wording=consent_wording(web.settings, lang),
                now=web.clock.now(),
            )
            if web.settings.click_per_reader:  # the choice is only offered when it means something
                opt_out = form.get("click_opt_out") == "yes"
                set_click_opt_out(session, subscriber_id, opt_out, origin, web.clock.now())
            said = apply_choices(
                session,
                subscriber_id,
                choices_from_form(form, chosen),
                origin,
                web.clock.now(),
            )
    except BadLinkError as exc:
        return bad_link_page(web, exc.expired, browser_language(request))
    except SubscriberGoneError:
        return _gone_page(web, browser_language(request))
    except SignupError as exc:
        return _preferences_page(
            web,
            request,
            subscriber_id,
            422,
            errors=exc.errors,
            community=community,
            chosen=set(chosen),
        )
    saved = [translatable("Your preferences are saved.")]
    if change.joined:
        saved.append(translatable("You now receive {names}.", names=list(change.joined)))
    if change.left:
        saved.append(translatable("You no longer receive {names}.", names=list(change.left)))
    return _preferences_page(web, request, subscriber_id, saved=[*saved, *said])
