"""The readers' web app: `create_app(settings)` builds it; `digest web` serves it with uvicorn.

Every failure answers a clear page (or a JSON error under /api/), never a bare traceback.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from digest import __version__
from digest.accounts.users import NotAllowedError
from digest.bounces.signatures import MAX_SKEW
from digest.clock import SYSTEM_CLOCK, Clock
from digest.db import make_engine, make_session_factory
from digest.i18n import DEFAULT_LANGUAGE, translatable, translate, translated
from digest.ingest.click_buffer import ClickBuffer
from digest.settings import Settings
from digest.web import (
    admin,
    archive,
    audit,
    auth,
    bounces,
    choices,
    clicks,
    desk,
    email_change,
    feeds,
    keep,
    newsletters,
    outbox,
    reader,
    reader_lookup,
    signup,
    sponsors,
    suppressions,
    towns,
)
from digest.web.context import (
    CeleryNotifier,
    Notifier,
    WebContext,
    page_environments,
    template_environment,
    web_templates,
)
from digest.web.languages import browser_language, is_reader_page
from digest.web.ratelimit import SeenTokens, SignupLimiter
from digest.web.security import (
    FORM_REJECTED,
    BodyLimit,
    FormGuard,
    FormRejectedError,
    SecurityHeaders,
    form_back_link,
)

log = logging.getLogger(__name__)

TITLES = {
    400: translatable("Something in the request is wrong"),
    401: translatable("Please sign in"),
    403: translatable("Not allowed"),
    404: translatable("Page not found"),
    405: translatable("This page does not take that request"),
    413: translatable("The request is too large"),
    415: translatable("Unsupported request"),
    422: translatable("Something in the request is wrong"),
    429: translatable("Please wait a little"),
    503: translatable("Not available right now"),
}
SOMETHING_WRONG = translatable("Something went wrong")


def create_app(
    settings: Settings, *, notifier: Notifier | None = None, clock: Clock | None = None
) -> FastAPI:
    """The web app for these settings; emails are queued through `notifier` (Celery by default)."""
    _warn_if_dev_in_public(settings)
    engine = make_engine(settings.database_url, **_pool_options(settings.database_url))
    web = WebContext(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        templates=template_environment(settings),
        reader_templates=page_environments(settings),
        limiter=SignupLimiter(settings),
        # Twice the skew a signed timestamp may have: a token outlives its signature's validity.
        seen_tokens=SeenTokens(settings, 2 * MAX_SKEW),
        guard=FormGuard(settings),
        notifier=notifier or CeleryNotifier(),
        clock=clock or SYSTEM_CLOCK,
    )
    click_buffer = ClickBuffer(settings.click_burst_links)
    click_flusher = clicks.ClickFlusher(web, click_buffer)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What is alive after startup (modules, templates, the app) lives as long as the
        # process: keep it out of the garbage collector's full passes, which then stay short.
        gc.collect()
        gc.freeze()
        click_flusher.start()
        try:
            yield
        finally:
            click_flusher.stop()  # the last counts reach the store before the process ends
            engine.dispose()

    app = FastAPI(
        title="Digest readers' web",
        version=__version__,
        description="Sign up (double opt-in), confirm, preferences, unsubscribe, archive.",
        docs_url=None,  # Swagger UI loads its code from a CDN: the spec is at /openapi.json
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.web = web
    app.state.click_buffer = click_buffer
    app.state.click_flusher = click_flusher
    app.include_router(signup.router)
    app.include_router(reader.router)
    app.include_router(keep.router)
    app.include_router(choices.router)
    app.include_router(email_change.router)
    app.include_router(archive.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.include_router(sponsors.admin_router)
    app.include_router(sponsors.public_router)
    app.include_router(desk.router)
    for settings_page in (newsletters, towns, feeds, suppressions, reader_lookup, audit):
        app.include_router(settings_page.router)
    app.include_router(outbox.router)
    app.include_router(bounces.router)
    app.include_router(clicks.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], summary="Database and broker")
    app.mount("/static", StaticFiles(directory=web_templates() / "static"), name="static")
    _install_error_pages(app, web)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST"],
        allow_headers=["content-type"],
        max_age=600,
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, https=settings.base_url.startswith("https://"))
    # Outermost: a click is answered before any other middleware or the router runs.
    app.add_middleware(clicks.FastRedirect, web=web, buffer=click_buffer)
    return app


def _warn_if_dev_in_public(settings: Settings) -> None:
    """Dev mode on a public address is most likely a deployment without DIGEST_ENV=prod."""
    host = urlsplit(settings.base_url).hostname or ""
    if settings.is_dev and host not in ("localhost", "127.0.0.1", "::1"):
        log.warning(
            "DIGEST_ENV is %s but DIGEST_BASE_URL is %s: set DIGEST_ENV=prod for a deployment "
            "(dev serves /dev/outbox to admins and generates its own secret key)",
            settings.env,
            settings.base_url,
        )


def _pool_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # SQLite takes one writer at a time and makes the others sleep and retry; one shared
        # connection queues the route threads in order instead (and :memory: stays one DB).
        return {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
    # Each uvicorn worker runs sync routes in a thread pool of 40: let them all hold a connection.
    return {"pool_size": 10, "max_overflow": 30, "pool_timeout": 10}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz",)


def _error(
    web: WebContext,
    request: Request,
    status: int,
    message: str,
    fields: dict[str, str] | None = None,
) -> Response:
    if _wants_json(request):
        code = {404: "not_found", 405: "method_not_allowed", 422: "invalid"}.get(status, "error")
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        return JSONResponse(body, status_code=status)
    lang = browser_language(request) if is_reader_page(request.url.path) else DEFAULT_LANGUAGE
    title = translate(TITLES.get(status, SOMETHING_WRONG), lang)
    return web.page(
        "message.html", status, lang=lang, title=title, message=translate(message, lang)
    )


def _install_error_pages(app: FastAPI, web: WebContext) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else ""
        if exc.status_code == 404:
            message = (
                exc.detail
                if isinstance(exc.detail, str) and exc.detail != "Not Found"
                else translatable(
                    "There is nothing at this address. Check the link, or start from the home page."
                )
            )
        response = _error(web, request, exc.status_code, message or TITLES.get(exc.status_code, ""))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields: dict[str, str] = {}
        for error in exc.errors():
            location = [str(part) for part in error.get("loc", ()) if part != "body"]
            fields[".".join(location) or "body"] = str(error.get("msg", "invalid"))
        if _wants_json(request):
            return _error(web, request, 422, "The request is not valid: see `fields`.", fields)
        message = translatable("This address is not valid. Check the link in your email.")
        return _error(web, request, 400, message)

    @app.exception_handler(auth.LoginRequiredError)
    async def login_required(request: Request, exc: auth.LoginRequiredError) -> Response:
        if request.method == "GET" and not request.url.path.endswith(".json"):
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"{auth.LOGIN_PATH}?next={target}", status_code=303)
        message = "Please sign in first: your session has ended or you never signed in."
        return _error(web, request, 401, message)

    @app.exception_handler(NotAllowedError)
    async def not_allowed(request: Request, exc: NotAllowedError) -> Response:
        log.warning("refused %s %s: %s", request.method, request.url.path, exc)
        return _error(web, request, 403, str(exc))

    @app.exception_handler(FormRejectedError)
    async def form_rejected(request: Request, exc: FormRejectedError) -> Response:
        back = form_back_link(request)
        lang = browser_language(request) if is_reader_page(request.url.path) else DEFAULT_LANGUAGE
        return web.page(
            "message.html",
            400,
            lang=lang,
            title=translated(lang, "Please try again"),
            message=translate(FORM_REJECTED, lang),
            back=back,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # A bug: still a polite answer (the traceback goes to the server's log).
        message = translatable(
            "Something went wrong on our side. Please try again in a few minutes."
        )
        return _error(web, request, 500, message)

    @app.exception_handler(SQLAlchemyError)
    async def database_down(request: Request, exc: SQLAlchemyError) -> Response:
        log.exception("database error on %s", request.url.path, exc_info=exc)
        message = translatable(
            "We are having a technical problem. Please try again in a few minutes."
        )
        return _error(web, request, 503, message)


def healthz(request: Request) -> JSONResponse:
    """200 when the database and the broker answer; 503 with the reason otherwise."""
    web: WebContext = request.app.state.web
    checks = {"database": _check_database(web), "broker": _check_broker(web.settings)}
    healthy = all(value == "ok" for value in checks.values())
    for name, value in checks.items():
        if value != "ok":  # the reason names hosts and users: the log has it, not the page
            log.warning("healthz: %s %s", name, value)
    shown = {name: "ok" if value == "ok" else "unreachable" for name, value in checks.items()}
    body = {"status": "ok" if healthy else "unavailable", **shown}
    return JSONResponse(body, status_code=200 if healthy else 503)


def _check_database(web: WebContext) -> str:
    try:
        with web.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"unreachable: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}"
    return "ok"


def _check_broker(settings: Settings) -> str:
    url = settings.broker_url
    try:
        if url is None:
            folder = settings.var_dir / "broker" / "queue"
            folder.mkdir(parents=True, exist_ok=True)
            return "ok" if os.access(folder, os.W_OK) else f"unreachable: {folder} is not writable"
        if url.startswith(("redis", "rediss")):
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
            return "ok"
        from kombu import Connection

        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
        return "ok"
    except Exception as exc:  # every client raises its own kind of connection error
        return f"unreachable: {exc}".splitlines()[0][:200]
