"""Unique clickers without reader identity: a sketch of the delivery pseudonyms that clicked.

Each digest message's links carry a pseudonym of its delivery (`click_links.clicker_of`), one
per edition and reader. A `UniqueSketch` counts the distinct pseudonyms of an aggregate
(an edition's link in one town, or the whole town's edition):

- exactly while it has seen at most EXACT_LIMIT of them (it keeps their 64-bit hashes), which
  covers nearly every link of a local edition;
- past that, as a HyperLogLog of 2**PRECISION one-byte registers (4 KB, no pseudonym kept):
  an estimate with a standard error of 1.04 / sqrt(4096), about 1.6%.

So a row's storage is bounded (at most 4 KB) whatever the number of clicks, and sketches
merge (a town's unique clickers are the union of its links').
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

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
