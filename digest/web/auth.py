"""Signing in to the admin: the login form, logout, the session cookie, and the dependencies
every admin route uses (`CurrentUser`, `AdminUser`, `CheckedForm`).

The session lives in the database (digest.accounts.sessions); the cookie holds only its random
id: HttpOnly, SameSite=Strict, and on https `Secure` with the `__Host-` prefix. Logging in
always starts a new session (a planted id is never adopted). Every admin post carries the
session's own form token, so a token from another session or a planted cookie is refused.
Failed logins are throttled by account at a client, by client, and account-wide only for
clients that failed on it (digest.accounts.throttle): a storm of wrong passwords from elsewhere
never refuses the real user. Argon2 checks run a few at a time (digest.accounts.passwords).
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from digest.accounts import sessions, throttle
from digest.accounts.audit import record
from digest.accounts.passwords import PasswordCheckBusyError
from digest.accounts.users import Actor, authenticate, require_admin
from digest.i18n import translatable, translate, translated
from digest.web.context import WebContext, context
from digest.web.languages import editor_language, remember_language
from digest.web.security import CSRF_FIELD, FormRejectedError, FormToken, PostedForm

log = logging.getLogger(__name__)

SESSION_COOKIE = "digest_session"
LOGIN_PATH = "/admin/login"
LOGIN_FAILED = translatable("That email address and password do not match an active account.")
# Seconds to wait when every password check of the process is busy (a burst of logins).
BUSY_WAIT = 5

router = APIRouter(prefix="/admin", include_in_schema=False)
Web = Annotated[WebContext, Depends(context)]


class LoginRequiredError(Exception):
    """No live session: the app sends a page request to the login form (see app.py)."""


def cookie_name(web: WebContext) -> str:
    return ("__Host-" if _https(web) else "") + SESSION_COOKIE


def _https(web: WebContext) -> bool:
    return web.settings.base_url.startswith("https://")


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


# The dependencies


def current_user(request: Request) -> Actor:
    """The signed-in user; raises LoginRequiredError without a live session.

    Plain `def`: it reads the database, in FastAPI's thread pool. Leaves the session's form
    token on `request.state.form_token` for the page's forms.
    """
    cached: Actor | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    web: WebContext = request.app.state.web
    with web.transaction() as session:
        row = sessions.find_session(session, request.cookies.get(cookie_name(web)), web.clock.now())
        if row is None:
            raise LoginRequiredError
        user = Actor.of(row.user)
        request.state.form_token = row.csrf_token
    request.state.user = user
    return user


CurrentUser = Annotated[Actor, Depends(current_user)]


def admin_user(user: CurrentUser) -> Actor:
    """The signed-in user if an admin; NotAllowedError (403) for an editor."""
    require_admin(user)
    return user


AdminUser = Annotated[Actor, Depends(admin_user)]


def check_session_form(request: Request, form: PostedForm, user: CurrentUser) -> Actor:
    """The signed-in user, when the post carries their session's form token (CSRF)."""
    given = form.get(CSRF_FIELD)
    expected: str = request.state.form_token
    if not isinstance(given, str) or not secrets.compare_digest(given, expected):
        log.warning("admin post without its session's form token: %s", request.url.path)
        raise FormRejectedError
    return user


# A route that takes `CheckedForm` runs only for a signed-in user's post with their token.
CheckedForm = Annotated[Actor, Depends(check_session_form)]


def check_admin_form(user: CheckedForm) -> Actor:
    """An admin's post with their session's token; NotAllowedError (403) for an editor."""
    require_admin(user)
    return user


CheckedAdminForm = Annotated[Actor, Depends(check_admin_form)]


def session_form_token(request: Request) -> str:
    """The form token for a page's forms (after `current_user` ran for this request)."""
    token: str = request.state.form_token
    return token


# The pages


def _safe_next(target: str | None) -> str:
    """Where to go after login: an admin path (or the dev outbox) of this site only."""
    if target and target.startswith(("/admin/", "/dev/outbox/")) and not target.startswith("//"):
        return target if "\\" not in target else "/admin/"
    return "/admin/"


def _login_page(web: WebContext, request: Request, status: int = 200, **values: Any) -> Response:
    token, fresh = web.guard.issue(request)
    language = editor_language(request)
    error = values.pop("error", None)
    values["error"] = translate(error, language) if error else None
    response = web.page(
        "admin/login.html",
        status,
        lang=language,
        title=translated(language, "Sign in"),
        form_token=token,
        csrf_field=CSRF_FIELD,
        next=_safe_next(request.query_params.get("next")),
        **values,
    )
    web.guard.set_cookie(response, fresh)
    remember_language(request, response, secure=web.guard.secure_cookie)
    return response


@router.get("/login", response_class=Response)
def login_form(request: Request, web: Web) -> Response:
    """The sign-in form."""
    return _login_page(web, request)


@router.post("/login", response_class=Response)
def login(
    request: Request,
    web: Web,
    _checked: FormToken,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/admin/",
) -> Response:
    """Check the password; on success a new session (and cookie), else the form again.

    The attempt is counted before the password is checked (digest.accounts.throttle), in its
    own short transaction; a correct password takes it back.
    """
    now = web.clock.now()
    attempt = throttle.attempt_for(email, _client(request))
    try:
        with web.transaction() as session:
            earned = throttle.reserve(session, attempt, now)
    except throttle.ThrottledError as exc:
        return _refused(web, request, email, exc.wait)
    try:
        with web.transaction() as session:
            user = authenticate(session, email, password, now)
            if user is not None:
                throttle.release(session, attempt)
                throttle.purge(session, now)
                sessions.end_session(session, request.cookies.get(cookie_name(web)))
                session_id, _row = sessions.start_session(session, user, now, _client(request))
                record(session, user, "login", user.email, {"ip": _client(request)}, now)
    except PasswordCheckBusyError:
        log.warning(
            "login of %r from %s: too many password checks at once", email[:80], _client(request)
        )
        message = translatable(
            "Too many people are signing in at this moment. Please try again shortly."
        )
        response = _login_page(web, request, 503, error=message, email=email)
        response.headers["retry-after"] = str(BUSY_WAIT)
        return response
    if user is None:
        log.warning("failed login for %r from %s", email[:80], _client(request))
        return _refused(web, request, email, earned)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        cookie_name(web),
        session_id,
        max_age=int(sessions.LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_https(web),
    )
    return response


def _refused(web: WebContext, request: Request, email: str, wait: int) -> Response:
    if not wait:
        return _login_page(web, request, 401, error=LOGIN_FAILED, email=email)
    log.warning("login throttled for %r from %s: %s s to wait", email[:80], _client(request), wait)
    message = (
        translatable(
            "Too many failed attempts. Please wait {minutes} min {seconds} s before trying again.",
            minutes=wait // 60,
            seconds=wait % 60,
        )
        if wait >= 60
        else translatable(
            "Too many failed attempts. Please wait {seconds} seconds before trying again.",
            seconds=wait,
        )
    )
    response = _login_page(web, request, 429, error=message, email=email)
    response.headers["retry-after"] = str(wait)
    return response


@router.post("/logout", response_class=Response)
def logout(request: Request, web: Web, user: CheckedForm) -> Response:
    """End the session here and forget the cookie."""
    now = web.clock.now()
    with web.transaction() as session:
        sessions.end_session(session, request.cookies.get(cookie_name(web)))
        record(session, user, "logout", user.email, None, now)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(cookie_name(web), path="/", secure=_https(web), httponly=True)
    return response
