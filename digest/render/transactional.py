"""Transactional emails (confirm, welcome, unsubscribed, change of address): rendered with the
same templates, footer and placeholders as a digest, in the newsletters' language."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from digest.errors import DigestError
from digest.i18n import (
    DEFAULT_LANGUAGE,
    names_list,
    translated,
)
from digest.ingest.story_text import (
    one_line,
    truncate,
)
from digest.render.render import footer_context, inline_css, normalize_text
from digest.render.subjects import SUBJECT_LIMIT
from digest.render.templates import email_templates
from digest.settings import Settings

log = logging.getLogger(__name__)

TRANSACTIONAL_KINDS = ("confirm", "welcome", "unsubscribed", "email_change", "reengage")


@dataclass(frozen=True)
class RenderedEmail:
    """A transactional email; `html` and `text` hold the same placeholders as a digest."""

    kind: str
    subject: str
    html: str
    text: str
    language: str = DEFAULT_LANGUAGE  # of the words around the reader's greeting


# Transactional emails


def transactional_subject(kind: str, names: str, language: str) -> str:
    """The subject of a transactional email about the newsletters `names`."""
    if kind == "confirm":
        return translated(language, "Please confirm your subscription to {names}", names=names)
    if kind == "welcome":
        return translated(language, "Welcome to {names}", names=names)
    if kind == "unsubscribed":
        return translated(language, "You have been unsubscribed from {names}", names=names)
    if kind == "reengage":
        return translated(language, "Do you still want {names}?", names=names)
    return translated(language, "Please confirm your new address")


def render_transactional(settings: Settings, kind: str, context: dict[str, Any]) -> RenderedEmail:
    """A confirm, welcome or unsubscribed email, inlined, with the reader's placeholders.

    `context` needs `newsletters` (list of names) and, for confirm, `confirm_url`; it may
    give `community_name`, `newsletter` (a Newsletter whose sender signs the email) and
    `language` (else the newsletter's, else English).
    Raises DigestError for an unknown kind, EmailTemplateError when a template or value is missing.
    """
    if kind not in TRANSACTIONAL_KINDS:
        raise DigestError(
            f"unknown transactional email {kind!r} (use {', '.join(TRANSACTIONAL_KINDS)})"
        )
    newsletter = context.get("newsletter")
    names = [one_line(name, 120) for name in context.get("newsletters", [])]
    values: dict[str, Any] = {
        **footer_context(settings, newsletter, context.get("language")),
        "community_name": one_line(context.get("community_name"), 120),
        **{
            k: v
            for k, v in context.items()
            if k not in ("newsletters", "community_name", "language")
        },
        "newsletters": names,
    }
    subject = truncate(
        transactional_subject(
            kind, names_list(names, values["lang"]) or values["publisher"], values["lang"]
        ),
        SUBJECT_LIMIT,
    )
    values.update(title=subject, preheader=subject)
    templates = email_templates(language=values["lang"])
    html = inline_css(templates.render(f"{kind}.html", **values))
    text = normalize_text(templates.render(f"{kind}.txt", **values))
    return RenderedEmail(kind=kind, subject=subject, html=html, text=text, language=values["lang"])
