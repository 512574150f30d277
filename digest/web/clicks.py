"""The counted redirect `/r/<token>` and the thread that flushes its counts in batches.

The route does no I/O at all: it verifies the token's signature, classifies the request
(`digest.ingest.click_buffer`), adds one to an in-memory counter and answers 302. So it is an
`async` route: nothing in it blocks the event loop. A `ClickFlusher` thread hands the counts
to the store every DIGEST_CLICK_FLUSH_SECONDS (a Redis list for the `flush_clicks` task when
DIGEST_REDIS_URL is set, else the database directly), and once more when the process stops.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from digest.clock import Clock
from digest.i18n import translatable
from digest.ingest import clicks
from digest.ingest.click_buffer import ClickBuffer, classify, client_key
from digest.ingest.click_links import TAG_SEPARATOR, read_link_token, read_tag
from digest.settings import Settings
from digest.web.context import WebContext

log = logging.getLogger(__name__)

router = APIRouter()

NOT_A_LINK = translatable(
    "This link is not valid. Open the story from the newsletter's web version instead."
)


def count_click(
    web: WebContext,
    buffer: ClickBuffer,
    path_token: str,
    method: str,
    user_agent: str | None,
    ip: str | None,
) -> str | None:
    """Count one request for `/r/<path_token>`; returns the signed target, None if not ours."""
    token, _, tag_text = path_token.partition(TAG_SEPARATOR)
    link = read_link_token(web.settings, token)
    if link is None:
        return None
    now = web.clock.now()
    tag = read_tag(web.settings, tag_text)
    bucket = classify(method, user_agent, tag, now, web.settings.click_scanner_seconds)
    reader = tag.subscriber_id if web.settings.click_per_reader else None
    buffer.record(link, bucket, now, client_key(ip, user_agent), reader, tag.clicker)
    return link.url


@router.api_route("/r/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def redirect(token: str, request: Request) -> Response:
    """302 to exactly the signed target, counted; 404 for anything not signed by us.

    `FastRedirect` answers good links before they reach here; this route is what answers
    the others (with the site's 404 page), and every link when the middleware is absent.
    """
    web: WebContext = request.app.state.web
    target = count_click(
        web,
        request.app.state.click_buffer,
        token,
        request.method,
        request.headers.get("user-agent"),
        request.client.host if request.client else None,
    )
    if target is None:
        raise HTTPException(404, NOT_A_LINK)
    return RedirectResponse(target, status_code=302, headers=dict(REDIRECT_HEADERS))


# Never cached: each click must reach us; no referrer: the target learns nothing of the token.
REDIRECT_HEADERS = (("cache-control", "no-store"), ("referrer-policy", "no-referrer"))
# What Starlette's RedirectResponse leaves unquoted in a Location header.
LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;"


class FastRedirect:
    """ASGI middleware answering good `/r/` links before routing (the hot path).

    It runs outside FastAPI's routing, dependency and middleware stack: a click is a signature
    check, a counter and a 302. Anything it does not recognise goes on to the app.
    """

    def __init__(self, app: ASGIApp, web: WebContext, buffer: ClickBuffer) -> None:
        self.app = app
        self.web = web
        self.buffer = buffer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/r/") and scope["method"] in ("GET", "HEAD"):
            agent = next((v for k, v in scope["headers"] if k == b"user-agent"), None)
            client = scope.get("client")
            target = count_click(
                self.web,
                self.buffer,
                path[3:],
                scope["method"],
                agent.decode("latin-1") if agent is not None else None,
                client[0] if client else None,
            )
            if target is not None:
                location = quote(target, safe=LOCATION_SAFE).encode("latin-1")
                headers = [(b"location", location), (b"content-length", b"0")]
                headers += [(k.encode(), v.encode()) for k, v in REDIRECT_HEADERS]
                await send({"type": "http.response.start", "status": 302, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


class ClickFlusher:
    """Moves the buffer's counts to the store in batches, from a thread of its own."""

    def __init__(self, web: WebContext, buffer: ClickBuffer) -> None:
        self.settings: Settings = web.settings
        self.web = web
        self.buffer = buffer
        self.clock: Clock = web.clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis: Any = None
        if self.settings.redis_url:
            import redis

            self._redis = redis.Redis.from_url(
                self.settings.redis_url, socket_timeout=5, socket_connect_timeout=5
            )

    def start(self) -> None:
        """Start flushing (again, after a `stop`: an app's lifespan may run more than once)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="click-flusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and flush what is left (the process is shutting down)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.click_flush_seconds):
            self.flush()

    def flush(self) -> bool:
        """Hand the counts so far to the store; on failure they wait for the next flush."""
        batch = self.buffer.take(self.clock.now())
        if batch is None:
            return True
        try:
            if self._redis is not None:
                clicks.push_batch(self._redis, batch)
            else:
                with self.web.transaction() as session:
                    clicks.add_batch(session, batch, self.clock.now())
        except Exception:  # a store that is down must not lose the counts: keep them
            log.exception("could not flush %d click counts; keeping them", len(batch["counts"]))
            self.buffer.put_back(batch)
            return False
        return True
