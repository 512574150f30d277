"""The demo's sample feeds (written for this project), shipped in the package.

Three towns in three US time zones, a regional desk, a wire feed whose stories some towns
also carry (same link, or a near-identical title), images on example.com that nothing ever
fetches, and a most-read document. `manifest.json` says which town and section each feed is;
their dates are written around `reference_time`, and `copy_feeds` moves them to the present
so the demo's stories fall inside a newsletter's window.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

FEEDS_DIR = Path(__file__).parent / "feeds"

_RFC822 = re.compile(r"<pubDate>([^<]+)</pubDate>")
_ISO = re.compile(r"<(published|updated|dc:date)>([^<]+)</\1>")


@dataclass(frozen=True)
class DemoFeed:
    path: Path
    community: str | None  # a community slug from the manifest, or None for regional and wire
    section: str
    kind: str  # "stories" or "most_read" (a models.FeedKind value)

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()


def manifest() -> dict[str, Any]:
    """The shipped manifest: reference_time, communities and feeds."""
    data: dict[str, Any] = json.loads((FEEDS_DIR / "manifest.json").read_text())
    return data


def copy_feeds(target: Path, now: datetime) -> list[DemoFeed]:
    """Copy the sample feeds into `target`, every date moved by (now - reference_time).

    Returns the copies with their towns and sections, ready for file:// registration.
    """
    data = manifest()
    shift = now - datetime.fromisoformat(data["reference_time"])
    target.mkdir(parents=True, exist_ok=True)
    feeds = []
    for entry in data["feeds"]:
        text = (FEEDS_DIR / entry["file"]).read_text(encoding="utf-8")
        text = _RFC822.sub(
            lambda m: f"<pubDate>{format_datetime(parsedate_to_datetime(m[1]) + shift)}</pubDate>",
            text,
        )
        text = _ISO.sub(
            lambda m: f"<{m[1]}>{(datetime.fromisoformat(m[2]) + shift).isoformat()}</{m[1]}>",
            text,
        )
        path = target / entry["file"]
        path.write_text(text, encoding="utf-8")
        feeds.append(DemoFeed(path, entry["community"], entry["section"], entry["kind"]))
    return feeds
