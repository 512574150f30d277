"""Unique clickers without reader identity: a sketch of the delivery pseudonyms that clicked.

Each digest message's links carry a pseudonym of its delivery (`click_links.clicker_of`), one
per edition and reader. A `UniqueSketch` counts the distinct pseudonyms of an aggregate
(an edition's link in one town, or the whole town's edition):

- exactly while it has seen at most EXACT_LIMIT of them (it keeps their 64-bit hashes), which
  covers nearly every link of a local edition;
- past that, as a HyperLogLog of 2**PRECISION one-byte registers (4 KB, no pseudonym kept):
  an estimate with a standard error of 1.04 / sqrt(4096), about 1.6%.

So a row's storage is bounded (at most 4 KB) whatever the number of clicks, and sketches
merge (a town's unique clickers are the union of its links'). `add_clickers` merges a click
batch's pseudonyms into the stored sketches (`link_clicks`, `town_clickers`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.models import LinkClicks, TownClickers

EXACT_LIMIT = 256  # hashes kept exactly (8 bytes each: 2 KB at most)
PRECISION = 12
REGISTERS = 1 << PRECISION
STANDARD_ERROR = 1.04 / math.sqrt(REGISTERS)
_EXACT, _HLL = b"E", b"H"
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)


def clicker_hash(clicker: str) -> int:
    """The 64-bit hash a sketch keeps of one pseudonym."""
    return int.from_bytes(hashlib.blake2b(clicker.encode(), digest_size=8).digest(), "big")


class UniqueSketch:
    """Distinct pseudonyms seen: exact up to EXACT_LIMIT, then a HyperLogLog estimate."""

    def __init__(self) -> None:
        self._exact: set[int] | None = set()
        self._registers = bytearray()

    @property
    def exact(self) -> bool:
        """True while `count()` is exact (not an estimate)."""
        return self._exact is not None

    def add(self, clickers: Iterable[str]) -> None:
        for clicker in clickers:
            self._add_hash(clicker_hash(clicker))

    def _add_hash(self, value: int) -> None:
        if self._exact is not None:
            self._exact.add(value)
            if len(self._exact) > EXACT_LIMIT:
                self._to_registers()
            return
        index = value >> (64 - PRECISION)
        rest = value & ((1 << (64 - PRECISION)) - 1)
        rank = (64 - PRECISION) - rest.bit_length() + 1
        if rank > self._registers[index]:
            self._registers[index] = rank

    def _to_registers(self) -> None:
        hashes, self._exact = self._exact or set(), None
        self._registers = bytearray(REGISTERS)
        for value in hashes:
            self._add_hash(value)

    def merge(self, other: UniqueSketch) -> None:
        """Add every pseudonym `other` has seen (the union)."""
        if other._exact is not None:
            for value in other._exact:
                self._add_hash(value)
            return
        if self._exact is not None:
            self._to_registers()
        self._registers = bytearray(map(max, self._registers, other._registers))

    def count(self) -> int:
        """Distinct pseudonyms: exact, or the HyperLogLog estimate (linear counting when small)."""
        if self._exact is not None:
            return len(self._exact)
        estimate = _ALPHA * REGISTERS * REGISTERS / sum(2.0**-r for r in self._registers)
        zeros = self._registers.count(0)
        if estimate <= 2.5 * REGISTERS and zeros:
            estimate = REGISTERS * math.log(REGISTERS / zeros)
        return round(estimate)

    def to_bytes(self) -> bytes:
        if self._exact is not None:
            return _EXACT + b"".join(v.to_bytes(8, "big") for v in sorted(self._exact))
        return _HLL + bytes(self._registers)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> UniqueSketch:
        """A sketch read back; an empty or unreadable one starts afresh."""
        sketch = cls()
        if not data:
            return sketch
        body = data[1:]
        if data[:1] == _HLL and len(body) == REGISTERS:
            sketch._exact = None
            sketch._registers = bytearray(body)
        elif data[:1] == _EXACT and len(body) % 8 == 0:
            sketch._exact = {int.from_bytes(body[i : i + 8], "big") for i in range(0, len(body), 8)}
        return sketch


# Stored sketches


def add_clickers(
    session: Session, by_link: dict[tuple[int, int, str], list[str]], now: datetime
) -> None:
    """Merge a batch's pseudonyms, per (edition, town, link), into the link's and the town's
    sketches. The link rows must exist (the batch's counts were upserted first). Does not
    commit."""
    _add_link_clickers(session, by_link)
    by_town: dict[tuple[int, int], list[str]] = {}
    for (edition, community, _link), clickers in by_link.items():
        by_town.setdefault((edition, community), []).extend(clickers)
    for (edition, community), clickers in by_town.items():
        _add_town_clickers(session, edition, community, clickers, now)


def _add_link_clickers(session: Session, by_link: dict[tuple[int, int, str], list[str]]) -> None:
    """Merge each link's new pseudonyms into its sketch: one read and one write for the batch.

    The upserts above hold the rows' locks until the commit, so this read-merge-write cannot
    interleave with another batch's.
    """
    table = LinkClicks.__table__.c
    keys = tuple_(table.edition_id, table.community_id, table.link_key)
    rows = session.execute(
        select(table.id, table.edition_id, table.community_id, table.link_key, table.unique_clicks)
        .add_columns(table.clickers)
        .where(keys.in_(list(by_link)))
        .with_for_update()
    ).all()
    changes = []
    for row_id, edition, community, link_key, count, stored in rows:
        merged, sketch = _merged(count, stored, by_link[(edition, community, link_key)])
        changes.append({"id": row_id, "unique_clicks": merged, "clickers": sketch})
    session.execute(update(LinkClicks), changes)


def _add_town_clickers(
    session: Session, edition: int, community: int, clickers: list[str], now: datetime
) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(TownClickers)
        .values(edition_id=edition, community_id=community, unique_clicks=0, last_click_at=now)
        .on_conflict_do_nothing(index_elements=["edition_id", "community_id"])
    )
    row = session.scalars(
        select(TownClickers)
        .where(TownClickers.edition_id == edition, TownClickers.community_id == community)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    row.unique_clicks, row.clickers = _merged(row.unique_clicks, row.clickers, clickers)
    row.last_click_at = max(row.last_click_at, now)


def _merged(count: int, stored: bytes | None, clickers: list[str]) -> tuple[int, bytes | None]:
    """The unique count and sketch once `clickers` are added.

    A sketch dropped after the retention (count kept, sketch None) cannot be merged: the
    batch's distinct clickers are added to the count (a reader clicking again that late may
    count twice).
    """
    fresh = UniqueSketch()
    fresh.add(clickers)
    if stored is None and count > 0:
        return count + fresh.count(), None
    sketch = UniqueSketch.from_bytes(stored)
    sketch.merge(fresh)
    return sketch.count(), sketch.to_bytes()


def is_estimate(sketch: bytes | None) -> bool:
    """True when a stored sketch's count is a HyperLogLog estimate rather than exact."""
    return sketch is not None and not UniqueSketch.from_bytes(sketch).exact
