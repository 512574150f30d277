"""A newsletter's settings as an editor changes them: checked field by field, in words.

`check_newsletter_form` never raises: it returns the clean values and, per field, what is
wrong, so a form can show every problem at once. `apply_newsletter_settings` writes clean
values and says which fields changed (for the audit log).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from digest.curation.newsletters import parse_sections
from digest.curation.schedules import cron_line
from digest.errors import DigestError
from digest.i18n import DEFAULT_LANGUAGE, check_language
from digest.models import Newsletter
from digest.render.senders import parse_mailbox

ACCENT = re.compile(r"^#[0-9a-fA-F]{6}$")
# Characters that make a display name need quotes in a From header.
SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
LIMITS = {"name": 200, "description": 2000, "footer_text": 500, "logo_url": 2048}
FIELDS = (
    "name",
    "description",
    "schedule",
    "sections",
    "sender",
    "reply_to",
    "logo_url",
    "accent_color",
    "footer_text",
    "language",
    "active",
    "hold_for_approval",
    "if_unapproved",
    "approval_grace_minutes",
)
IF_UNAPPROVED = ("send", "skip")


def sections_text(caps: Mapping[str, int]) -> str:
    """Section caps as the form shows them: "top=5,local=5"."""
    return ",".join(f"{key}={value}" for key, value in caps.items())


def mailbox(name: str, address: str) -> str:
    """A From header value from a display name and an address (quoted when needed)."""
    name = " ".join(name.split())
    if not name:
        return address
    if SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def form_values(newsletter: Newsletter) -> dict[str, str]:
    """The form's fields for a newsletter as it is now."""
    sender = parse_mailbox(newsletter.sender) if newsletter.sender else None
    return {
        "name": newsletter.name,
        "description": newsletter.description,
        "schedule": newsletter.schedule,
        "sections": sections_text(newsletter.sections),
        "sender_name": sender[0] if sender else "",
        "sender_address": sender[1] if sender else "",
        "reply_to": newsletter.reply_to or "",
        "logo_url": newsletter.logo_url or "",
        "accent_color": newsletter.accent_color or "",
        "footer_text": newsletter.footer_text,
        "language": newsletter.language,
        "active": "yes" if newsletter.active else "",
        "hold_for_approval": "yes" if newsletter.hold_for_approval else "",
        "if_unapproved": newsletter.if_unapproved,
        "approval_grace_minutes": str(newsletter.approval_grace_minutes),
    }


def check_newsletter_form(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(clean values by model field, problems by form field); every problem in words."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def text(field: str) -> str:
        return (
            " ".join(str(form.get(field, "")).split())
            if field != "description"
            else str(form.get(field, "")).strip()
        )

    for field, limit in LIMITS.items():
        value = text(field)
        if len(value) > limit:
            errors[field] = f"Keep it under {limit} characters (it has {len(value)})."
        clean[field] = value
    if not clean["name"]:
        errors["name"] = "Give the newsletter a name readers will recognise."
    _check(errors, clean, "schedule", lambda: cron_line(text("schedule")) and text("schedule"))
    _check(errors, clean, "sections", lambda: parse_sections(text("sections")))
    _check_sender(form, clean, errors)
    reply_to = text("reply_to")
    if reply_to and parse_mailbox(reply_to) is None:
        errors["reply_to"] = "Write an email address, like letters@springfield-times.example."
    clean["reply_to"] = reply_to or None
    logo = clean["logo_url"]
    if logo and (urlsplit(logo).scheme != "https" or not urlsplit(logo).netloc):
        errors["logo_url"] = "Give the logo's full https:// address (mail clients block http)."
    clean["logo_url"] = logo or None
    accent = text("accent_color")
    if accent and not ACCENT.match(accent):
        errors["accent_color"] = "Write the colour like #0b4f8a (a # and six hex digits)."
    clean["accent_color"] = accent.lower() or None
    language = text("language") or DEFAULT_LANGUAGE
    try:
        language = check_language(language)
    except DigestError as exc:
        errors["language"] = str(exc)
    clean["language"] = language
    clean["active"] = bool(form.get("active"))
    _check_approval(form, clean, errors)
    return clean, errors


def _check_approval(form: Mapping[str, str], clean: dict[str, Any], errors: dict[str, str]) -> None:
    """Hold for approval, and what happens at the slot when nobody approved (docs/desk.md)."""
    clean["hold_for_approval"] = bool(form.get("hold_for_approval"))
    choice = str(form.get("if_unapproved", "send")).strip() or "send"
    if choice not in IF_UNAPPROVED:
        errors["if_unapproved"] = "Choose whether to send anyway or skip the edition."
    clean["if_unapproved"] = choice
    grace = str(form.get("approval_grace_minutes", "30")).strip() or "0"
    if not grace.isdigit() or int(grace) > 24 * 60:
        errors["approval_grace_minutes"] = "Write a number of minutes from 0 to 1440."
        return
    clean["approval_grace_minutes"] = int(grace)


def _check(errors: dict[str, str], clean: dict[str, Any], field: str, parse: Any) -> None:
    try:
        clean[field] = parse()
    except DigestError as exc:
        message = str(exc)
        errors[field] = message[0].upper() + message[1:] + "."


def _check_sender(form: Mapping[str, str], clean: dict[str, Any], errors: dict[str, str]) -> None:
    name = " ".join(str(form.get("sender_name", "")).split())
    address = str(form.get("sender_address", "")).strip()
    if not address:
        clean["sender"] = None  # DIGEST_SENDER, the publisher's From
        if name:
            errors["sender_address"] = "A sender name needs an address to go with it."
        return
    value = mailbox(name, address)
    parsed = parse_mailbox(value)
    if parsed is None or parsed[1] != address:
        errors["sender_address"] = "Write an email address, like news@springfield-times.example."
        return
    clean["sender"] = value


def apply_newsletter_settings(newsletter: Newsletter, clean: Mapping[str, Any]) -> list[str]:
    """Write checked values; returns the names of the fields that changed. Does not commit."""
    changed = []
    for field in FIELDS:
        if field in clean and getattr(newsletter, field) != clean[field]:
            setattr(newsletter, field, clean[field])
            changed.append(field)
    return changed
