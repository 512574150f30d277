"""A stored edition segment as a message template: built here and nowhere else.

The template is encoded once per segment and process (never per reader). Each Message-ID ends
in 64 bits of HMAC of the segment and delivery (`digest.tokens.message_id_tag`), so none can
be guessed from an edition's, a segment's or a delivery's numbers, and a retry of a delivery
keeps its Message-ID (`<e2.s4.10.9c1f0e7a4b2d6c83@news.example>`, 10 being the delivery).
"""

from __future__ import annotations

from datetime import datetime

from digest.models import EditionSegment
from digest.render.mime import MessageTemplate, segment_template
from digest.settings import Settings


def message_key(segment: EditionSegment) -> str:
    """The segment's part of its Message-IDs: its edition and itself."""
    return f"e{segment.edition_id}.s{segment.id}"


def template_of(settings: Settings, segment: EditionSegment, date: datetime) -> MessageTemplate:
    """The message template of a rendered segment, dated `date` unless `compose` says else."""
    return segment_template(
        settings,
        segment.edition.newsletter,
        subject=segment.subject,
        html=segment.html,
        text=segment.text,
        message_key=message_key(segment),
        date=date,
    )
