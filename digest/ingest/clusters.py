"""Wire-copy clusters: the same story carried by several sites shares one cluster key.

A new story joins the cluster of a story already stored (published within CLUSTER_HOURS of it,
by another feed) when, in this order:

1. they name the same canonical URL (as link or as guid: a member paper often keeps the wire's
   permalink as its guid);
2. they carry the same wire identifier: a guid that is a `urn:` or `tag:` URI, unique by
   definition (RFC 8141, RFC 4151), which wire services and member papers pass along;
3. their titles are near-identical (token Jaccard >= TITLE_SIMILARITY over at least MIN_TOKENS
   words); short titles ("Police blotter") never match on title alone: every town has one;
4. they are near-duplicates on title and summary together (a member paper's retitled and
   lightly rewritten copy): MinHash/LSH (datasketch) finds the candidates, and the exact
   Jaccard of their words (>= TEXT_SIMILARITY over at least MIN_TEXT_TOKENS words, sharing
   at least MIN_SHARED_TITLE_WORDS title words) decides, so the probabilistic index never
   merges on its own. Boilerplate (a word in most of the indexed texts, like a site's
   footer) counts for neither.

Editors merge and split clusters by hand (`digest.ingest.cluster_edits`).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Story

if TYPE_CHECKING:
    from datasketch import MinHash, MinHashLSH

TITLE_SIMILARITY = 0.8
MIN_TOKENS = 4
TEXT_SIMILARITY = 0.5
MIN_TEXT_TOKENS = 8
MIN_SHARED_TITLE_WORDS = 2
CLUSTER_HOURS = 36
# LSH finds pairs likely above its threshold; set below TEXT_SIMILARITY so few true pairs are
# missed: with 64 permutations datasketch picks 21 bands of 3 rows, which finds a pair at
# Jaccard 0.5 with probability 0.94, at 0.6 with 0.994, at 0.7 with 0.9998.
LSH_THRESHOLD = 0.35
NUM_PERM = 64
_STOPWORDS = (
    "a an and are as at be by for from has in is it its of on or that the to was were will with"
)
STOPWORDS = frozenset(_STOPWORDS.split())
_WORD = re.compile(r"[a-z0-9]+")
_WIRE_ID = re.compile(r"^(urn|tag):\S{6,}$", re.I)


@functools.lru_cache(maxsize=65536)
def _word_hash(word: bytes) -> int:
    # datasketch's own 32-bit SHA-1 hash, remembered: a region's news repeats its words.
    from datasketch.hashfunc import sha1_hash32

    return int(sha1_hash32(word))


@functools.cache
def _seed() -> MinHash:
    """One set of permutations for every MinHash: building them is the expensive part.

    datasketch (with numpy and scipy) is imported on first use, not by every `digest` command.
    """
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1, hashfunc=_word_hash)


def url_cluster_key(url: str) -> str:
    """The cluster key a story starts with: derived from its canonical URL, so copies agree."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def title_tokens(title: str) -> frozenset[str]:
    """The words of a title that identify it: lower case, accents and stopwords removed."""
    folded = unicodedata.normalize("NFKD", title.lower())
    ascii_text = folded.encode("ascii", "ignore").decode()
    return frozenset(word for word in _WORD.findall(ascii_text) if word not in STOPWORDS)


def wire_id(guid: str | None) -> str | None:
    """The guid when it is a globally unique wire identifier (a urn: or tag: URI), else None."""
    if guid and _WIRE_ID.match(guid.strip()):
        return guid.strip().lower()
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    feed_id: int
    tokens: frozenset[str]  # of the title
    text: frozenset[str]  # of the title and summary
    published: float  # POSIX seconds: cheaper to compare than datetimes, and compared a lot
    cluster_key: str


def _order(token: str) -> tuple[int, str]:
    # A fixed pseudo-random global order spreads the prefix tokens evenly over the index.
    return (zlib.crc32(token.encode()), token)


# Titles of at most this many words are matched by their one-word-deletion neighbourhoods:
# for them Jaccard >= 0.8 allows at most one word of difference on each side, so two such
# titles match only if they share a key, and a story meets only its true near-duplicates
# (where the prefix index gives it every title sharing a common word).
SHORT_TITLE = 9
# A word in more than this share of the indexed texts (and in more than BOILERPLATE_MIN of
# them) is boilerplate: left out of the MinHash sketches and of the text comparison.
BOILERPLATE_SHARE = 0.05
BOILERPLATE_MIN = 50


def _deletion_keys(tokens: frozenset[str]) -> list[frozenset[str]]:
    """The title's words, and (when one may differ) the title less each word in turn."""
    keys = [tokens]
    if len(tokens) - math.ceil(TITLE_SIMILARITY * len(tokens)) >= 1:
        keys += [tokens - {token} for token in sorted(tokens)]
    return keys


def _prefix(tokens: frozenset[str]) -> list[str]:
    # Prefix filtering: sets with Jaccard >= t share a token among the first
    # |s| - ceil(t * |s|) + 1 of each set in any fixed global order.
    size = len(tokens) - math.ceil(TITLE_SIMILARITY * len(tokens)) + 1
    return sorted(tokens, key=_order)[:size]


def _minhash(words: frozenset[str]) -> MinHash:
    from datasketch import MinHash

    seed = _seed()
    sketch = MinHash(
        num_perm=NUM_PERM, hashfunc=_word_hash, permutations=seed.permutations, scheme=seed.scheme
    )
    sketch.update_batch([word.encode() for word in sorted(words)])
    return sketch


class ClusterIndex:
    """The recent stories' URLs, wire ids, titles and texts, to find a new story's cluster."""

    def __init__(self) -> None:
        self._by_url: dict[str, str] = {}
        self._by_wire_id: dict[str, str] = {}
        # Near-identical titles: short ones by deletion keys, and a prefix index of each
        # length class, so a short title still meets a long one (9 words vs 10) and the reverse.
        self._by_key: dict[frozenset[str], list[_Entry]] = defaultdict(list)
        self._short_prefix: dict[str, list[_Entry]] = defaultdict(list)
        self._long_prefix: dict[str, list[_Entry]] = defaultdict(list)
        from datasketch import MinHashLSH

        self._lsh: MinHashLSH = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self._texts: list[_Entry] = []
        # How many indexed texts carry each word: a word in most of them is boilerplate
        # ("Read more", "appeared first on") and would make every story a candidate.
        self._word_counts: Counter[str] = Counter()
        self._boilerplate: set[str] = set()
        # cluster_for's sketch, kept for the add that follows it: hashing is most of the cost.
        self._last: tuple[frozenset[str], MinHash] | None = None

    @classmethod
    def load(cls, session: Session, start: datetime, end: datetime) -> ClusterIndex:
        """An index of the stories published between start and end (widened by CLUSTER_HOURS)."""
        index = cls()
        margin = timedelta(hours=CLUSTER_HOURS)
        rows = session.execute(
            select(
                Story.feed_id,
                Story.url,
                Story.title,
                Story.published_at,
                Story.cluster_key,
                Story.summary,
                Story.guid,
            )
            .where(Story.published_at >= start - margin, Story.published_at <= end + margin)
            .order_by(Story.id)
        )
        for feed_id, url, title, published_at, cluster_key, summary, guid in rows:
            index.add(feed_id, url, title, published_at, cluster_key, summary, guid)
        return index

    def add(
        self,
        feed_id: int,
        url: str,
        title: str,
        published_at: datetime,
        cluster_key: str,
        summary: str = "",
        guid: str | None = None,
    ) -> None:
        """Remember a story so later ones can join its cluster."""
        self._by_url.setdefault(url, cluster_key)
        if guid and guid.startswith(("http://", "https://")):
            self._by_url.setdefault(guid, cluster_key)
        if (identifier := wire_id(guid)) is not None:
            self._by_wire_id.setdefault(identifier, cluster_key)
        tokens = title_tokens(title)
        text = tokens | title_tokens(summary)
        entry = _Entry(feed_id, tokens, text, published_at.timestamp(), cluster_key)
        if len(tokens) >= MIN_TOKENS:
            if len(tokens) <= SHORT_TITLE:
                for key in _deletion_keys(tokens):
                    self._by_key[key].append(entry)
            by_token = self._short_prefix if len(tokens) <= SHORT_TITLE else self._long_prefix
            for token in _prefix(tokens):
                by_token[token].append(entry)
        if len(text - self._boilerplate) >= MIN_TEXT_TOKENS:
            core = text - self._boilerplate
            self._lsh.insert(len(self._texts), self._sketch(core), check_duplication=False)
            self._texts.append(entry)
            self._count_words(text)

    def cluster_for(
        self,
        feed_id: int,
        url: str,
        title: str,
        published_at: datetime,
        summary: str = "",
        guid: str | None = None,
    ) -> str:
        """The key of the cluster this story joins (see the module's rules), or a new one."""
        for known in (url, guid if guid and guid.startswith(("http://", "https://")) else None):
            if known and known in self._by_url:
                return self._by_url[known]
        identifier = wire_id(guid)
        if identifier is not None and identifier in self._by_wire_id:
            return self._by_wire_id[identifier]
        tokens = title_tokens(title)
        if len(tokens) >= MIN_TOKENS:
            match = self._title_match(feed_id, tokens, published_at)
            if match is not None:
                return match
        text = tokens | title_tokens(summary)
        if len(text - self._boilerplate) >= MIN_TEXT_TOKENS:
            match = self._text_match(feed_id, tokens, text, published_at)
            if match is not None:
                return match
        return url_cluster_key(url)

    def _count_words(self, text: frozenset[str]) -> None:
        self._word_counts.update(text)
        common = max(BOILERPLATE_MIN, BOILERPLATE_SHARE * len(self._texts))
        if len(self._texts) % 256 == 0:  # the share grows with the index: look again now and then
            self._boilerplate = {w for w, n in self._word_counts.items() if n > common}
        self._boilerplate.update(w for w in text if self._word_counts[w] > common)

    def _sketch(self, core: frozenset[str]) -> MinHash:
        """The MinHash of a text's own words; kept for the add that follows a cluster_for."""
        if self._last is None or self._last[0] != core:
            self._last = (core, _minhash(core))
        return self._last[1]

    def _title_match(
        self, feed_id: int, tokens: frozenset[str], published_at: datetime
    ) -> str | None:
        prefix = _prefix(tokens)
        candidates = [entry for token in prefix for entry in self._long_prefix.get(token, ())]
        if len(tokens) <= SHORT_TITLE:
            candidates += [e for key in _deletion_keys(tokens) for e in self._by_key.get(key, ())]
        else:
            candidates += [e for token in prefix for e in self._short_prefix.get(token, ())]
        return _best(candidates, feed_id, published_at.timestamp(), tokens, TITLE_SIMILARITY)

    def _text_match(
        self, feed_id: int, tokens: frozenset[str], text: frozenset[str], published_at: datetime
    ) -> str | None:
        # Words most texts carry (a site's footer, "read more") say nothing about the story:
        # left out of the sketch and of the comparison.
        ignore = frozenset(self._boilerplate)
        core = text - ignore
        found = self._lsh.query(self._sketch(core))
        candidates = [self._texts[position] for position in sorted(found)]
        # Two stories of a town's routine ("council meets Tuesday") share summary words;
        # a retitled copy still shares words of its title ("rural broadband ... bill").
        return _best(
            candidates,
            feed_id,
            published_at.timestamp(),
            core,
            TEXT_SIMILARITY,
            title=tokens,
            ignore=ignore,
        )


def _best(
    candidates: list[_Entry],
    feed_id: int,
    published: float,
    words: frozenset[str],
    threshold: float,
    title: frozenset[str] | None = None,
    ignore: frozenset[str] = frozenset(),
) -> str | None:
    """The cluster key of the most similar candidate from another feed within CLUSTER_HOURS.

    Compares `words` with each candidate's title words, or with its text when `title` is
    given (then without the `ignore` words, and needing MIN_SHARED_TITLE_WORDS title words in
    common). A tight loop: a
    region's headlines give each new story hundreds of candidates.
    """
    window = CLUSTER_HOURS * 3600
    size = len(words)
    best: tuple[float, str] | None = None
    for entry in candidates:
        if entry.feed_id == feed_id or abs(entry.published - published) > window:
            continue
        other = entry.tokens if title is None else entry.text - ignore if ignore else entry.text
        shared = len(words & other)
        value = shared / (size + len(other) - shared)
        if value < threshold:
            continue
        if title is not None and len(title & entry.tokens) < MIN_SHARED_TITLE_WORDS:
            continue
        if best is None or (value, entry.cluster_key) > best:
            best = (value, entry.cluster_key)
    return None if best is None else best[1]
