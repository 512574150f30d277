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
   lightly rewritten copy): MinHash/LSH finds the candidates, and the exact Jaccard of their
   words (>= TEXT_SIMILARITY over at least MIN_TEXT_TOKENS words, sharing at least
   MIN_SHARED_TITLE_WORDS title words) decides, so the probabilistic index never merges on
   its own. Boilerplate (a word in most of the indexed texts, like a site's footer) counts
   for neither.

The MinHash/LSH index is this module's own (about thirty lines, numpy for the minimum)
rather than datasketch's: importing datasketch imports scipy (half a second of CPU, more on a
busy machine, for a parameter optimisation that BANDS and ROWS fix), and its per-story
MinHash objects cost more than all the rest of clustering. A word's hash values are computed
once and remembered; a text's signature is their per-function minimum.

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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Story

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

TITLE_SIMILARITY = 0.8
MIN_TOKENS = 4
TEXT_SIMILARITY = 0.5
MIN_TEXT_TOKENS = 8
MIN_SHARED_TITLE_WORDS = 2
CLUSTER_HOURS = 36
# LSH: a text's signature is cut into BANDS bands of ROWS values, and texts sharing a band are
# candidates: at Jaccard J that happens with probability 1 - (1 - J**ROWS)**BANDS, 0.94 at 0.5,
# 0.994 at 0.6, 0.9998 at 0.7, so few true pairs (>= TEXT_SIMILARITY) are missed. (The bands
# datasketch chose for a threshold of 0.35 over 64 permutations, kept.)
BANDS = 21
ROWS = 3
SIGNATURE_SIZE = BANDS * ROWS
_STOPWORDS = (
    "a an and are as at be by for from has in is it its of on or that the to was were will with"
)
STOPWORDS = frozenset(_STOPWORDS.split())
_WORD = re.compile(r"[a-z0-9]+")
_WIRE_ID = re.compile(r"^(urn|tag):\S{6,}$", re.I)
_BAND_BYTES = ROWS * 4  # a signature's values are little-endian 32-bit


@functools.lru_cache(maxsize=1 << 17)
def _word_hashes(word: str) -> NDArray[np.uint32]:
    """The word's value under each of the signature's hash functions, remembered (read-only).

    SIGNATURE_SIZE independent 32-bit hashes, read from one SHAKE-128 output: the same in
    every process (unlike `hash()`), and a region's news repeats its words. numpy is
    imported on first use, not by every `digest` command.
    """
    import numpy as np

    digest = hashlib.shake_128(word.encode()).digest(4 * SIGNATURE_SIZE)
    return np.frombuffer(digest, dtype="<u4")


def _signature(words: Iterable[str]) -> bytes:
    """The MinHash signature of a set of words (at least one): per hash function, the least.

    Packed as bytes, which the garbage collector need not visit (the index holds many). One
    numpy reduction: a summary of 80 words takes about 30 microseconds, where a loop of
    Python's `min` took 250.
    """
    import numpy as np

    least: NDArray[np.uint32] = np.minimum.reduce([_word_hashes(word) for word in words])
    return least.tobytes()


def _band_keys(signature: bytes) -> list[bytes]:
    return [
        signature[start : start + _BAND_BYTES] for start in range(0, len(signature), _BAND_BYTES)
    ]


class _Bands:
    """Locality-sensitive hashing of signatures: the texts sharing a band with a new one."""

    def __init__(self) -> None:
        self._buckets: list[dict[bytes, list[int]]] = [{} for _ in range(BANDS)]

    def insert(self, position: int, keys: list[bytes]) -> None:
        for buckets, key in zip(self._buckets, keys, strict=True):
            buckets.setdefault(key, []).append(position)

    def query(self, keys: list[bytes]) -> set[int]:
        found: set[int] = set()
        for buckets, key in zip(self._buckets, keys, strict=True):
            found.update(buckets.get(key, ()))
        return found


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


@functools.lru_cache(maxsize=1 << 17)
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


def _deletion_keys(tokens: frozenset[str]) -> list[tuple[str, ...]]:
    """The title's words (sorted), and (when one may differ) the title less each in turn."""
    words = tuple(sorted(tokens))
    keys = [words]
    if len(words) - math.ceil(TITLE_SIMILARITY * len(words)) >= 1:
        keys += [words[:at] + words[at + 1 :] for at in range(len(words))]
    return keys


def _prefix(tokens: frozenset[str]) -> list[str]:
    # Prefix filtering: sets with Jaccard >= t share a token among the first
    # |s| - ceil(t * |s|) + 1 of each set in any fixed global order.
    size = len(tokens) - math.ceil(TITLE_SIMILARITY * len(tokens)) + 1
    return sorted(tokens, key=_order)[:size]


@dataclass(frozen=True, slots=True)
class _Words:
    """A story's words as the index looks them up: worked out once, for the match and the add."""

    title: frozenset[str]
    text: frozenset[str]  # of the title and summary
    core: frozenset[str]  # the text less boilerplate, as it was when the story came
    prefix: list[str]  # of a title of at least MIN_TOKENS words, else empty
    deletion_keys: list[tuple[str, ...]]  # of such a title of at most SHORT_TITLE words
    bands: list[bytes]  # of a core of at least MIN_TEXT_TOKENS words, else empty

    @classmethod
    def of(cls, title: str, summary: str, boilerplate: set[str]) -> _Words:
        tokens = title_tokens(title)
        text = tokens | title_tokens(summary)
        core = text - boilerplate
        titled = len(tokens) >= MIN_TOKENS
        return cls(
            tokens,
            text,
            core,
            _prefix(tokens) if titled else [],
            _deletion_keys(tokens) if titled and len(tokens) <= SHORT_TITLE else [],
            _band_keys(_signature(core)) if len(core) >= MIN_TEXT_TOKENS else [],
        )


class ClusterIndex:
    """The recent stories' URLs, wire ids, titles and texts, to find a new story's cluster."""

    def __init__(self) -> None:
        self._by_url: dict[str, str] = {}
        self._by_wire_id: dict[str, str] = {}
        # Near-identical titles: short ones by deletion keys, and a prefix index of each
        # length class, so a short title still meets a long one (9 words vs 10) and the reverse.
        self._by_key: dict[tuple[str, ...], list[_Entry]] = defaultdict(list)
        self._short_prefix: dict[str, list[_Entry]] = defaultdict(list)
        self._long_prefix: dict[str, list[_Entry]] = defaultdict(list)
        self._bands = _Bands()
        self._texts: list[_Entry] = []
        # How many indexed texts carry each word: a word in most of them is boilerplate
        # ("Read more", "appeared first on") and would make every story a candidate.
        self._word_counts: Counter[str] = Counter()
        self._boilerplate: set[str] = set()

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
        """Remember a story whose cluster is known, so later ones can join it."""
        words = _Words.of(title, summary, self._boilerplate)
        self._remember(feed_id, url, guid, published_at.timestamp(), words, cluster_key)

    def assign(
        self,
        feed_id: int,
        url: str,
        title: str,
        published_at: datetime,
        summary: str = "",
        guid: str | None = None,
    ) -> str:
        """The key of the cluster a new story joins (see the module's rules), or a new one.

        The story is remembered with it, so the stories after it can join it too.
        """
        words = _Words.of(title, summary, self._boilerplate)
        published = published_at.timestamp()
        key = self._match(feed_id, url, guid, published, words) or url_cluster_key(url)
        self._remember(feed_id, url, guid, published, words, key)
        return key

    def _match(
        self, feed_id: int, url: str, guid: str | None, published: float, words: _Words
    ) -> str | None:
        for known in (url, guid if guid and guid.startswith(("http://", "https://")) else None):
            if known and known in self._by_url:
                return self._by_url[known]
        identifier = wire_id(guid)
        if identifier is not None and identifier in self._by_wire_id:
            return self._by_wire_id[identifier]
        if words.prefix:
            match = self._title_match(feed_id, words, published)
            if match is not None:
                return match
        if words.bands:
            return self._text_match(feed_id, words, published)
        return None

    def _remember(
        self,
        feed_id: int,
        url: str,
        guid: str | None,
        published: float,
        words: _Words,
        cluster_key: str,
    ) -> None:
        self._by_url.setdefault(url, cluster_key)
        if guid and guid.startswith(("http://", "https://")):
            self._by_url.setdefault(guid, cluster_key)
        if (identifier := wire_id(guid)) is not None:
            self._by_wire_id.setdefault(identifier, cluster_key)
        entry = _Entry(feed_id, words.title, words.text, published, cluster_key)
        for key in words.deletion_keys:
            self._by_key[key].append(entry)
        by_token = self._short_prefix if len(words.title) <= SHORT_TITLE else self._long_prefix
        for token in words.prefix:
            by_token[token].append(entry)
        if words.bands:
            self._bands.insert(len(self._texts), words.bands)
            self._texts.append(entry)
            self._count_words(words.text)

    def _count_words(self, text: frozenset[str]) -> None:
        self._word_counts.update(text)
        common = max(BOILERPLATE_MIN, BOILERPLATE_SHARE * len(self._texts))
        if len(self._texts) % 256 == 0:  # the share grows with the index: look again now and then
            self._boilerplate = {w for w, n in self._word_counts.items() if n > common}
        self._boilerplate.update(w for w in text if self._word_counts[w] > common)

    def _title_match(self, feed_id: int, words: _Words, published: float) -> str | None:
        prefix = words.prefix
        candidates = [entry for token in prefix for entry in self._long_prefix.get(token, ())]
        if len(words.title) <= SHORT_TITLE:
            candidates += [e for key in words.deletion_keys for e in self._by_key.get(key, ())]
        else:
            candidates += [e for token in prefix for e in self._short_prefix.get(token, ())]
        return _best(candidates, feed_id, published, words.title, TITLE_SIMILARITY)

    def _text_match(self, feed_id: int, words: _Words, published: float) -> str | None:
        # Words most texts carry (a site's footer, "read more") say nothing about the story:
        # left out of the sketch and of the comparison.
        found = self._bands.query(words.bands)
        candidates = [self._texts[position] for position in sorted(found)]
        # Two stories of a town's routine ("council meets Tuesday") share summary words;
        # a retitled copy still shares words of its title ("rural broadband ... bill").
        return _best(
            candidates,
            feed_id,
            published,
            words.core,
            TEXT_SIMILARITY,
            title=words.title,
            ignore=frozenset(self._boilerplate),
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
