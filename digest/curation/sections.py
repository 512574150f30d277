"""An edition's content for one town: sections of story cards.

Curation produces them, an edition segment freezes them (as JSON), rendering reads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

# Section keys in the order an edition shows them.
TOP = "top"
LOCAL = "local"
MOST_READ = "most_read"
JUST_POSTED = "just_posted"
SECTION_ORDER = (TOP, LOCAL, MOST_READ, JUST_POSTED)


@dataclass(frozen=True)
class StoryCard:
    """One story as a reader sees it; `rank` orders cards across the edition (0 = best)."""

    story_id: int
    cluster_key: str
    title: str
    url: str
    summary: str
    published_at: datetime
    rank: int
    image_url: str | None = None
    image_alt: str = ""
    author: str | None = None
    source: str = ""  # the site or desk that carried it, e.g. "Springfield Times"
    editors_pick: bool = False
    community_id: int | None = None  # the town whose site carried this copy; None: region, wire

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoryCard:
        return cls(**{**data, "published_at": datetime.fromisoformat(data["published_at"])})


@dataclass(frozen=True)
class Section:
    key: str  # one of SECTION_ORDER
    title: str  # e.g. "Top stories", "Local: Springfield"
    stories: tuple[StoryCard, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "stories": [card.to_json() for card in self.stories],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Section:
        cards = tuple(StoryCard.from_json(card) for card in data["stories"])
        return cls(key=data["key"], title=data["title"], stories=cards)


def sections_to_json(sections: list[Section]) -> list[dict[str, Any]]:
    return [section.to_json() for section in sections]
