"""Clicks as they arrive: told apart from scanners, and counted in memory until the next flush.

The redirect never writes to the database: `ClickBuffer.record` adds one to a counter under a
lock (microseconds), and a flusher hands `take()`'s batch to the store every
DIGEST_CLICK_FLUSH_SECONDS (`digest.ingest.clicks`). A batch is plain JSON, so it can wait in
Redis for a worker, and carries an id, so it is never added to the counts twice.

Scanners and prefetchers (mail security gateways click every link on arrival) are counted in
buckets of their own and left out of the figures: a HEAD request, a click within
DIGEST_CLICK_SCANNER_SECONDS of the message being sent, a known scanner's user agent, and
DIGEST_CLICK_BURST_LINKS different links from one client within one second.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from digest.ingest.click_links import MessageTag, TrackedLink

HUMAN = "clicks"
HEAD, EARLY, AGENT, BURST = "scanner_head", "scanner_early", "scanner_agent", "scanner_burst"
BUCKETS = (HUMAN, HEAD, EARLY, AGENT, BURST)

# Lower-case pieces of the user agents of link scanners, previewers and plain HTTP libraries.
# A reader's browser or mail app never sends these.
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "safelinks",
    "bingpreview",
    "google-safety",
    "googleimageproxy",
    "ms-office",
    "microsoft office",
    "trendmicro",
    "symantec",
    "forcepoint",
    "fortiguard",
    "sophos",
    "bot",
    "spider",
    "crawler",
    "python-requests",
    "python-httpx",
    "go-http-client",
    "curl/",
    "wget/",
)


def is_scanner_agent(user_agent: str | None) -> bool:
    """True for no user agent at all or one of SCANNER_AGENTS."""
    agent = (user_agent or "").lower()
    return not agent.strip() or any(piece in agent for piece in SCANNER_AGENTS)


def classify(
    method: str, user_agent: str | None, tag: MessageTag, now: datetime, scanner_seconds: int
) -> str:
    """The bucket of one request, before the burst check (HUMAN or a scanner bucket)."""
    if method.upper() == "HEAD":
        return HEAD
    if is_scanner_agent(user_agent):
        return AGENT
    if tag.sent_at is not None and (now - tag.sent_at).total_seconds() <= scanner_seconds:
        return EARLY
    return HUMAN


def client_key(ip: str | None, user_agent: str | None) -> str:
    """An opaque, short-lived key of one client (kept in memory for two seconds, never stored)."""
    return hashlib.sha256(f"{ip}\n{user_agent}".encode()).hexdigest()[:16]


@dataclass
class _Counts:
    kind: str
    item_id: int | None
    url: str
    last_at: datetime
    buckets: dict[str, int] = field(default_factory=dict)
    clickers: set[str] = field(default_factory=set)  # pseudonyms of the HUMAN clicks


@dataclass
class _Burst:
    started: float
    links: list[tuple[int, int, str]] = field(default_factory=list)  # counted as HUMAN so far
    seen: dict[tuple[int, int, str], tuple[TrackedLink, str | None]] = field(
        default_factory=dict
    )  # each link and the pseudonym it was clicked with
    tripped: bool = False


# (edition id, community id, link key)
CountKey = tuple[int, int, str]


def clickers_of(row: list[Any]) -> list[str]:
    """The pseudonyms of a batch's count row (none in a batch from before unique clickers)."""
    return list(row[8]) if len(row) > 8 else []


class ClickBuffer:
    """Counts per edition, town and link (and per-reader events), held until `take()`."""

    def __init__(self, burst_links: int) -> None:
        self.burst_links = burst_links
        self._lock = threading.Lock()
        self._counts: dict[CountKey, _Counts] = {}
        self._events: list[list[Any]] = []
        self._bursts: dict[str, _Burst] = {}

    def record(
        self,
        link: TrackedLink,
        bucket: str,
        now: datetime,
        client: str,
        subscriber_id: int | None = None,
        clicker: str | None = None,
    ) -> str:
        """Count one request; returns its bucket (BURST once the client clicked too many).

        `clicker` is the message's delivery pseudonym: a HUMAN click adds it to the link's
        unique clickers.
        """
        key = (link.edition_id, link.community_id, link.key)
        with self._lock:
            if bucket == HUMAN:
                bucket = self._burst_check(client, key, link, now, clicker)
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = _Counts(link.kind, link.item_id, link.url, now)
            counts.buckets[bucket] = counts.buckets.get(bucket, 0) + 1
            counts.last_at = max(counts.last_at, now)
            if bucket == HUMAN and clicker is not None:
                counts.clickers.add(clicker)
            if bucket == HUMAN and subscriber_id is not None:
                self._events.append([*key, subscriber_id, now.isoformat()])
        return bucket

    def _burst_check(
        self, client: str, key: CountKey, link: TrackedLink, now: datetime, clicker: str | None
    ) -> str:
        at = now.timestamp()
        burst = self._bursts.get(client)
        if burst is None or at - burst.started > 1.0:
            burst = self._bursts[client] = _Burst(started=at)
        if burst.tripped:
            return BURST
        if key not in burst.links:
            burst.links.append(key)
            burst.seen[key] = (link, clicker)
        if len(burst.links) < self.burst_links:
            return HUMAN
        # Every link in one second: this client's earlier clicks were a scanner's too. The
        # correction may reach a batch already flushed; counts add up as signed increments
        # (a pseudonym already flushed stays counted: a sketch cannot take one back).
        burst.tripped = True
        for earlier in burst.links[:-1]:
            seen, seen_clicker = burst.seen[earlier]
            counts = self._counts.get(earlier)
            if counts is None:  # flushed since: the correction goes in the next batch
                counts = self._counts[earlier] = _Counts(seen.kind, seen.item_id, seen.url, now)
            counts.buckets[HUMAN] = counts.buckets.get(HUMAN, 0) - 1
            counts.buckets[BURST] = counts.buckets.get(BURST, 0) + 1
            if seen_clicker is not None:
                counts.clickers.discard(seen_clicker)
        return BURST

    def take(self, now: datetime) -> dict[str, Any] | None:
        """The counts so far as a batch (JSON-ready, with a fresh id), or None when empty."""
        with self._lock:
            counts, events = self._counts, self._events
            self._counts, self._events = {}, []
            cutoff = now.timestamp() - 2.0
            self._bursts = {k: b for k, b in self._bursts.items() if b.started >= cutoff}
        rows = [
            [*key, c.kind, c.item_id, c.url, c.last_at.isoformat(), c.buckets, sorted(c.clickers)]
            for key, c in counts.items()
        ]
        if not rows and not events:
            return None
        return {"id": uuid.uuid4().hex, "counts": rows, "events": events}

    def put_back(self, batch: dict[str, Any]) -> None:
        """Return a batch that could not be flushed, so the next flush carries it."""
        with self._lock:
            for row in batch["counts"]:
                edition, community, link_key, kind, item, url, last, buckets = row[:8]
                key = (edition, community, link_key)
                counts = self._counts.get(key)
                if counts is None:
                    last_at = datetime.fromisoformat(last)
                    counts = self._counts[key] = _Counts(kind, item, url, last_at)
                for bucket, value in buckets.items():
                    counts.buckets[bucket] = counts.buckets.get(bucket, 0) + value
                counts.clickers.update(clickers_of(row))
            self._events.extend(batch["events"])
