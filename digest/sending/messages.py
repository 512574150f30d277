"""A stored edition segment as a message template: built here and nowhere else.

The template is encoded once per segment and process (never per reader). Its Message-ID key
carries 64 random bits, so no Message-ID can be guessed from an edition's and a segment's
numbers (`<e2.s4.9c1f0e7a4b2d6c83.10@news.example>`, the last part being the delivery).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from digest.models import EditionSegment
from digest.render.mime import MessageTemplate, segment_template
from digest.settings import Settings


def message_key(segment: EditionSegment) -> str:
    """The segment's part of its Message-IDs: its edition, itself, and a random part."""
    return f"e{segment.edition_id}.s{segment.id}.{secrets.token_hex(8)}"


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
