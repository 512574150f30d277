"""A reader's audience: which rendering of an edition their choices call for.

An edition is rendered once per town (premailer is too slow to run per reader). A reader who
follows other towns, keeps only some story sections, or reads weekly gets the rendering of
their audience: one segment per (town, audience), built once for every reader who made the
same choices. The key is derived from the choices and kept on the subscription, so creating
deliveries stays one INSERT ... SELECT joining readers to segments on (town, audience).
The plain daily edition of one town, every section, is the audience "".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Feed

DAILY = "daily"
WEEKLY = "weekly"
FREQUENCIES = (DAILY, WEEKLY)


@dataclass(frozen=True)
class Audience:
    other_towns: tuple[str, ...] = ()  # slugs of towns followed besides the reader's own
    interests: frozenset[str] | None = None  # story sections kept; None = all
    frequency: str = DAILY

    @property
    def key(self) -> str:
        parts = []
        if self.other_towns:
            parts.append("towns=" + "+".join(sorted(set(self.other_towns))))
        if self.interests is not None:
            parts.append("interests=" + "+".join(sorted(self.interests)))
        if self.frequency != DAILY:
            parts.append(self.frequency)
        return ";".join(parts)[:255]


def audience_key(
    other_towns: Iterable[str], interests: Iterable[str] | None, frequency: str = DAILY
) -> str:
    kept = None if interests is None else frozenset(interests)
    return Audience(tuple(other_towns), kept, frequency).key


def parse_audience(key: str) -> Audience:
    """The choices an audience key stands for (the inverse of Audience.key)."""
    towns: tuple[str, ...] = ()
    interests: frozenset[str] | None = None
    frequency = DAILY
    for part in filter(None, key.split(";")):
        name, _, value = part.partition("=")
        if name == "towns":
            towns = tuple(value.split("+"))
        elif name == "interests":
            interests = frozenset(filter(None, value.split("+")))
        elif name in FREQUENCIES:
            frequency = name
    return Audience(towns, interests, frequency)


# Story sections a reader can keep even before a feed of that section exists (a newsletter
# about to add one); the feeds' own sections are added to them (known_interests).
COMMON_SECTIONS = (
    "news",
    "sports",
    "schools",
    "obituaries",
    "events",
    "opinion",
    "business",
    "arts",
    "weather",
)


def known_interests(session: Session) -> list[str]:
    """Every story section a reader can choose: the feeds' sections and the common ones."""
    found = set(session.scalars(select(Feed.section).distinct()))
    return sorted(found | set(COMMON_SECTIONS))
