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

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from digest.clock import Clock
from digest.ingest import clicks
from digest.ingest.click_buffer import HUMAN, ClickBuffer, classify, client_key
from digest.ingest.click_links import TAG_SEPARATOR, read_link_token, read_tag
from digest.settings import Settings
from digest.web.context import WebContext

log = logging.getLogger(__name__)

router = APIRouter()

NOT_A_LINK = "This link is not valid. Open the story from the newsletter's web version instead."


@router.api_route("/r/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def redirect(token: str, request: Request) -> Response:
    """302 to exactly the signed target, counted; 404 for anything not signed by us."""
    web: WebContext = request.app.state.web
    token, _, tag_text = token.partition(TAG_SEPARATOR)
    link = read_link_token(web.settings, token)
    if link is None:
        raise HTTPException(404, NOT_A_LINK)
    now = web.clock.now()
    tag = read_tag(web.settings, tag_text)
    agent = request.headers.get("user-agent")
    bucket = classify(request.method, agent, tag, now, web.settings.click_scanner_seconds)
    client = client_key(request.client.host if request.client else None, agent)
    reader = tag.subscriber_id if web.settings.click_per_reader else None
    buffer: ClickBuffer = request.app.state.click_buffer
    buffer.record(link, bucket, now, client, reader if bucket == HUMAN else None)
    # Never cached: each click must reach us; no referrer: the target learns nothing of the token.
    headers = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
    return RedirectResponse(link.url, status_code=302, headers=headers)


class ClickFlusher:
    """Moves the buffer's counts to the store in batches, from a thread of its own."""

    def __init__(self, web: WebContext, buffer: ClickBuffer) -> None:
        self.settings: Settings = web.settings
        self.web = web
        self.buffer = buffer
        self.clock: Clock = web.clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="click-flusher", daemon=True)
        self._redis: Any = None
        if self.settings.redis_url:
            import redis

            self._redis = redis.Redis.from_url(
                self.settings.redis_url, socket_timeout=5, socket_connect_timeout=5
            )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and flush what is left (the process is shutting down)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.flush()
        if self._redis is not None:
            self._redis.close()

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
