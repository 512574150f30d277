"""Where an ad can go in a digest, and what the templates get for one: a `SponsorSlot`."""

from __future__ import annotations

from dataclasses import dataclass

from digest.errors import DigestError

# Positions, in the order they appear in a digest.
PRESENTED_BY = "presented-by"  # one line under the masthead: "Presented by ..."
AFTER_TOP = "after-top"  # a box after the top stories
BEFORE_FOOTER = "before-footer"  # a box after the last section, before the footer
POSITIONS = (PRESENTED_BY, AFTER_TOP, BEFORE_FOOTER)

# Words that already tell a reader the slot is paid for, in English and French; any other
# label gets "Advertisement" (shown in the newsletter's language, digest.render.sponsor_views).
ADVERTISING_WORDS = (
    *("sponsor", "advert", "presented by", "paid", "partner", "promoted", " ad"),
    *("commandit", "publicit", "présenté par", "partenaire", "promotion", " pub"),
)
ADVERTISEMENT = "Advertisement"
DEFAULT_LABEL = "Sponsored"


@dataclass(frozen=True)
class SponsorSlot:
    """One ad as frozen in a segment: the creative's fields and whose it is."""

    position: str
    label: str
    headline: str
    text: str
    url: str
    image_url: str | None
    image_alt: str
    sponsor: str  # the sponsor's name
    campaign_id: int
    creative_id: int
    house: bool  # the publisher's own ad filling an unsold slot


def check_position(position: str) -> str:
    """The position if it is one of POSITIONS; else DigestError naming them."""
    if position not in POSITIONS:
        raise DigestError(f"unknown position {position!r} (use {', '.join(POSITIONS)})")
    return position


def advertising_label(label: str, house: bool) -> str:
    """The label a reader sees: a paid slot always says it is advertising, in words."""
    shown = " ".join(label.split())[:40] or DEFAULT_LABEL
    if house or any(word in f" {shown.lower()}" for word in ADVERTISING_WORDS):
        return shown
    return f"{ADVERTISEMENT} · {shown}"
