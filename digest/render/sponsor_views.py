"""What the digest templates get for the sponsor slots: cleaned text and a safe link per slot.

Rendering shows what `digest.sponsors.choose` froze for the segment; it never chooses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from digest.i18n import DEFAULT_LANGUAGE, translated
from digest.ingest.story_text import one_line, safe_url
from digest.sponsors.slots import ADVERTISEMENT, DEFAULT_LABEL, POSITIONS, SponsorSlot


@dataclass(frozen=True)
class SponsorView:
    """A sponsor's slot as the templates show it."""

    label: str
    headline: str
    text: str
    url: str
    image_url: str | None
    image_alt: str
    sponsor: str


def sponsor_views(
    sponsors: Mapping[str, SponsorSlot], language: str = DEFAULT_LANGUAGE
) -> dict[str, SponsorView | None]:
    """Every slot's ad or None, keyed as the templates name them (presented_by, after_top...)."""
    return {
        position.replace("-", "_"): _view(sponsors[position], language)
        if position in sponsors
        else None
        for position in POSITIONS
    }


def label_in(label: str, language: str) -> str:
    """The words Digest adds to a label ("Sponsored", "Advertisement · ...") in `language`;
    the label an editor wrote is shown as written."""
    if label == DEFAULT_LABEL:
        return translated(language, "Sponsored")
    prefix = f"{ADVERTISEMENT} · "
    if label.startswith(prefix):
        return f"{translated(language, 'Advertisement')} · {label.removeprefix(prefix)}"
    return label


def _view(slot: SponsorSlot, language: str) -> SponsorView | None:
    url = safe_url(slot.url)
    if url is None:  # checked when booked; an ad without a working link is never shown
        return None
    image_url = safe_url(slot.image_url)
    return SponsorView(
        label=label_in(one_line(slot.label, 40), language),
        headline=one_line(slot.headline, 120),
        text=one_line(slot.text, 300),
        url=url,
        image_url=image_url,
        image_alt=one_line(slot.image_alt, 200) if image_url else "",
        sponsor=one_line(slot.sponsor, 120),
    )
