"""Wire-copy clusters: the same story carried by several sites shares one cluster key.

Two stories are the same story when they have the same canonical URL, or when their titles
are near-identical (token Jaccard similarity >= TITLE_SIMILARITY over at least MIN_TOKENS
words) and they were published within CLUSTER_HOURS of each other by different feeds. Short
titles ("Police blotter") never match on title alone: every town has one.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Story

TITLE_SIMILARITY = 0.8
MIN_TOKENS = 4
CLUSTER_HOURS = 36
_STOPWORDS = (
    "a an and are as at be by for from has in is it its of on or that the to was were will with"
)
STOPWORDS = frozenset(_STOPWORDS.split())
_WORD = re.compile(r"[a-z0-9]+")


def url_cluster_key(url: str) -> str:
    """The cluster key a story starts with: derived from its canonical URL, so copies agree."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def title_tokens(title: str) -> frozenset[str]:
    """The words of a title that identify it: lower case, accents and stopwords removed."""
    folded = unicodedata.normalize("NFKD", title.lower())
    ascii_text = folded.encode("ascii", "ignore").decode()
    return frozenset(word for word in _WORD.findall(ascii_text) if word not in STOPWORDS)


@dataclass(frozen=True)
class _Entry:
    feed_id: int
    tokens: frozenset[str]
    published_at: datetime
    cluster_key: str


def _order(token: str) -> tuple[int, str]:
    # A fixed pseudo-random global order spreads the prefix tokens evenly over the index.
    return (zlib.crc32(token.encode()), token)


def _prefix(tokens: frozenset[str]) -> list[str]:
    # Prefix filtering: sets with Jaccard >= t share a token among the first
    # |s| - ceil(t * |s|) + 1 of each set in any fixed global order.
    size = len(tokens) - math.ceil(TITLE_SIMILARITY * len(tokens)) + 1
    return sorted(tokens, key=_order)[:size]


class ClusterIndex:
    """The recent stories' URLs and titles, to find the cluster a new story belongs to."""

    def __init__(self) -> None:
        self._by_url: dict[str, str] = {}
        self._by_token: dict[str, list[_Entry]] = defaultdict(list)

    @classmethod
    def load(cls, session: Session, start: datetime, end: datetime) -> ClusterIndex:
        """An index of the stories published between start and end (widened by CLUSTER_HOURS)."""
        index = cls()
        margin = timedelta(hours=CLUSTER_HOURS)
        rows = session.execute(
            select(Story.feed_id, Story.url, Story.title, Story.published_at, Story.cluster_key)
            .where(Story.published_at >= start - margin, Story.published_at <= end + margin)
            .order_by(Story.id)
        )
        for feed_id, url, title, published_at, cluster_key in rows:
            index.add(feed_id, url, title, published_at, cluster_key)
        return index

    def add(
        self, feed_id: int, url: str, title: str, published_at: datetime, cluster_key: str
    ) -> None:
        """Remember a story so later ones can join its cluster."""
        self._by_url.setdefault(url, cluster_key)
        tokens = title_tokens(title)
        if len(tokens) < MIN_TOKENS:
            return
        entry = _Entry(feed_id, tokens, published_at, cluster_key)
        for token in _prefix(tokens):
            self._by_token[token].append(entry)

    def cluster_for(self, feed_id: int, url: str, title: str, published_at: datetime) -> str:
        """The key of the cluster this story joins: same URL, else a near-identical title."""
        if url in self._by_url:
            return self._by_url[url]
        tokens = title_tokens(title)
        if len(tokens) >= MIN_TOKENS:
            match = self._title_match(feed_id, tokens, published_at)
            if match is not None:
                return match
        return url_cluster_key(url)

    def _title_match(
        self, feed_id: int, tokens: frozenset[str], published_at: datetime
    ) -> str | None:
        window = timedelta(hours=CLUSTER_HOURS)
        best: tuple[float, str] | None = None
        for token in _prefix(tokens):
            for entry in self._by_token.get(token, ()):
                if entry.feed_id == feed_id or abs(entry.published_at - published_at) > window:
                    continue
                shared = len(tokens & entry.tokens)
                similarity = shared / (len(tokens) + len(entry.tokens) - shared)
                if similarity >= TITLE_SIMILARITY and (
                    best is None or (similarity, entry.cluster_key) > best
                ):
                    best = (similarity, entry.cluster_key)
        return None if best is None else best[1]
