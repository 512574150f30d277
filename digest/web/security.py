"""The web app's defences: security headers, a body size cap, and signed form tokens (CSRF).

Form tokens are a signed double submit: a random nonce in an HttpOnly cookie, and the same
nonce signed (with the time the form was shown) in a hidden field. A post is accepted only
when the two match, which a page on another site cannot arrange, and the signature's time
gives the form's fill time for the bot check.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends
from itsdangerous import BadSignature, SignatureExpired, Signer, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from digest.i18n import translatable
from digest.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    # Links carry tokens in their path: never hand them to another site in a Referer.
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

CSRF_COOKIE = "digest_form"
CSRF_FIELD = "form_token"
FORM_TOKEN_MAX_AGE = 24 * 3600


class SecurityHeaders:
    """Adds the security headers to every response that does not set its own."""

    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if https:
            self.headers["strict-transport-security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.encode(), value.encode())
                    for name, value in self.headers.items()
                    if name.encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLargeError(Exception):
    """A request body went past DIGEST_MAX_BODY_BYTES while it was being read."""


class BodyLimit:
    """Answers 413 to a request whose body is larger than `limit` bytes, declared or not."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = f"The request is too large (at most {self.limit} bytes)."
        if scope.get("path", "").startswith("/api/"):
            body = json.dumps({"error": {"code": "too_large", "message": message}}).encode()
            kind = b"application/json"
        else:
            body = f"<!doctype html><title>Too large</title><p>{message}</p>".encode()
            kind = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class FormRejectedError(Exception):
    """A form post without a valid token: missing, forged, expired, or from another site."""


class FormGuard:
    """Issues and checks signed double-submit form tokens.

    The cookie holds a nonce signed by Digest, so a nonce planted by someone else (a sibling
    subdomain, a man in the middle on http) is never adopted: the form gets a fresh one. Over
    https the cookie is `__Host-` prefixed, which browsers refuse to let another host set.
    """

    def __init__(self, settings: Settings) -> None:
        keys = [k for k in (settings.secret_key_previous, settings.signing_key()) if k]
        self.serializer = URLSafeTimedSerializer(keys, salt="digest.form")
        self.cookie_signer = Signer(keys, salt="digest.form-cookie")
        self.secure_cookie = settings.base_url.startswith("https://")
        self.cookie_name = ("__Host-" if self.secure_cookie else "") + CSRF_COOKIE

    def _nonce(self, request: Request) -> str | None:
        """The nonce of the browser's cookie, if Digest signed it; None otherwise."""
        cookie = request.cookies.get(self.cookie_name)
        if not cookie or len(cookie) > 200:
            return None
        try:
            return self.cookie_signer.unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def issue(self, request: Request) -> tuple[str, str | None]:
        """(token for the form, new cookie value or None when the browser's cookie is reused)."""
        nonce = self._nonce(request)
        fresh = None
        if nonce is None:
            nonce = secrets.token_urlsafe(24)
            fresh = self.cookie_signer.sign(nonce).decode()
        return str(self.serializer.dumps(nonce)), fresh

    def set_cookie(self, response: Response, cookie: str | None) -> None:
        if cookie is not None:
            response.set_cookie(
                self.cookie_name,
                cookie,
                max_age=FORM_TOKEN_MAX_AGE,
                path="/",
                httponly=True,
                samesite="lax",
                secure=self.secure_cookie,
            )

    def check(self, request: Request, token: str | None) -> float:
        """The seconds since the form was shown; raises FormRejectedError."""
        nonce = self._nonce(request)
        if not token or not nonce:
            raise FormRejectedError
        try:
            signed, shown_at = self.serializer.loads(
                token, max_age=FORM_TOKEN_MAX_AGE, return_timestamp=True
            )
        except (BadSignature, SignatureExpired):
            raise FormRejectedError from None
        if not secrets.compare_digest(str(signed), nonce):
            raise FormRejectedError
        return time.time() - float(shown_at.timestamp())


# The dependencies. Reading the body is async (it waits on the network), so routes that use
# these can be plain `def` routes: FastAPI runs them in its thread pool, off the event loop.


async def read_form(request: Request) -> FormData:
    """The posted form, read once (Starlette caches it on the request)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(read_form)]


async def check_form_token(request: Request, form: PostedForm) -> float:
    """The form's token checked against its cookie; the seconds since the form was shown.

    Raises FormRejectedError, which the app answers with one page (see `form_rejected_page`).
    """
    guard: FormGuard = request.app.state.web.guard
    token = form.get(CSRF_FIELD)
    return guard.check(request, token if isinstance(token, str) else None)


# A route that takes `FormToken` runs only for a post with a valid form token; the value is
# the form's fill time in seconds (for the signup bot check).
FormToken = Annotated[float, Depends(check_form_token)]

FORM_REJECTED = translatable(
    "Sorry, this form had expired or your browser refused our cookie. Please try again: "
    "reload the page and send the form again."
)


def form_back_link(request: Request) -> str:
    """Where the reader finds the form again: the page it was posted from."""
    path = request.url.path
    # The hosted signup form lives at / and posts to /signup; an edition's buttons post to
    # /admin/editions/ID/ACTION from its page; the readers' pages post to themselves.
    if path == "/signup":
        return "/"
    if path.startswith("/admin/"):
        return path.rsplit("/", 1)[0]
    return path
