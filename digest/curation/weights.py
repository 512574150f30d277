"""A newsletter's curation weights: how Top and Local rank, and when a town's story is regional.

Stored as JSON on the newsletter (`Newsletter.weights`); a key left out takes its default. The
rule they tune is in docs/curation.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from digest.errors import DigestError


@dataclass(frozen=True)
class Weights:
    # Top: strength = 1 + top_popularity * popularity + top_copies * (extra sites, up to 3),
    # halved every top_half_life_hours since first published.
    top_popularity: float = 4.0
    top_copies: float = 0.5
    top_half_life_hours: float = 12.0
    # Another town's story joins Top at this popularity (0 to 1) or when an editor picked it.
    regional_popularity: float = 0.5
    # Local: strength = 1 + local_popularity * popularity, halved every local_half_life_hours.
    local_popularity: float = 2.0
    local_half_life_hours: float = 6.0

    def to_json(self) -> dict[str, float]:
        return asdict(self)


NAMES = tuple(field.name for field in fields(Weights))
# Bounds keep a typo from silently emptying Top or dividing by zero.
_BOUNDS = {"regional_popularity": (0.0, 1.0)}
_HALF_LIVES = ("top_half_life_hours", "local_half_life_hours")


def weights_of(stored: dict[str, Any] | None) -> Weights:
    """The weights stored on a newsletter, defaults for what is missing or unknown."""
    known = {key: float(value) for key, value in (stored or {}).items() if key in NAMES}
    return Weights(**known)


def parse_weights(text: str, current: dict[str, Any] | None = None) -> dict[str, float]:
    """Weights from "top_popularity=4,regional_popularity=0.6" over `current`.

    Raises DigestError naming the bad part.
    """
    values = weights_of(current).to_json()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, _, raw = (piece.strip() for piece in part.partition("="))
        if key not in NAMES:
            raise DigestError(f"unknown weight {key!r} (use {', '.join(NAMES)})")
        try:
            value = float(raw)
        except ValueError:
            raise DigestError(f"weight {key}: {raw!r} is not a number") from None
        low, high = _BOUNDS.get(key, (0.0, 1000.0))
        if key in _HALF_LIVES:
            low = 0.5
        if not low <= value <= high:
            raise DigestError(f"weight {key}: {raw} must be from {low:g} to {high:g}")
        values[key] = value
    return values
