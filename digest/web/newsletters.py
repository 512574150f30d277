"""Newsletter settings in the admin (admins only): name, schedule, sections, sender, branding.

Every problem in a posted form is shown next to its field, in words, and nothing is saved
until all are fixed. A saved change goes to the audit log with the fields it changed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from digest.accounts.audit import record
from digest.curation.communities import list_communities
from digest.curation.newsletters import add_newsletter, get_newsletter, list_newsletters
from digest.errors import DigestError, NotFoundError
from digest.i18n import translatable
from digest.models import Newsletter
from digest.render.newsletter_settings import (
    apply_newsletter_settings,
    check_newsletter_form,
    form_values,
    sections_text,
)
from digest.render.senders import sender_of
from digest.sending.slots import next_slot
from digest.web.admin import admin_page
from digest.web.admin_forms import not_found, sentence, text_fields
from digest.web.auth import CheckedAdminForm, admin_user
from digest.web.context import WebContext, context
from digest.web.security import PostedForm

router = APIRouter(
    prefix="/admin/newsletters", dependencies=[Depends(admin_user)], include_in_schema=False
)
Web = Annotated[WebContext, Depends(context)]
Slug = Annotated[str, Path(max_length=64)]
LABELS = {
    "name": translatable("Name"),
    "description": translatable("Description"),
    "schedule": translatable("Schedule"),
    "sections": translatable("Sections and caps"),
    "sender_name": translatable("Sender name"),
    "sender_address": translatable("Sender address"),
    "reply_to": translatable("Reply-to address"),
    "logo_url": translatable("Logo URL"),
    "accent_color": translatable("Accent colour"),
    "footer_text": translatable("Footer text"),
    "language": translatable("Language"),
    "if_unapproved": translatable("If nobody approves"),
    "approval_grace_minutes": translatable("Grace period"),
    "slug": translatable("Short name"),
}
NOTICES = {
    "saved": translatable("Saved."),
    "added": translatable("Added: now set its schedule and sender."),
}


@router.get("/", response_class=Response)
def newsletters_page(request: Request, web: Web) -> Response:
    """Every newsletter, and a form to add one."""
    with web.transaction() as session:
        rows = _rows(session)
    return admin_page(
        web,
        request,
        "admin/newsletters.html",
        title=translatable("Newsletters"),
        section="newsletters",
        newsletters=rows,
        values={},
        errors={},
        labels=LABELS,
    )


@router.post("/", response_class=Response)
def add(request: Request, web: Web, form: PostedForm, user: CheckedAdminForm) -> Response:
    """Add a newsletter by short name and name; then its settings page."""
    values = text_fields(form)
    slug, name = values.get("slug", "").strip(), values.get("name", "").strip()
    try:
        with web.transaction() as session:
            add_newsletter(session, slug, name)
            record(session, user, "newsletter.add", slug, {"name": name}, web.clock.now())
    except DigestError as exc:
        with web.transaction() as session:
            rows = _rows(session)
        return admin_page(
            web,
            request,
            "admin/newsletters.html",
            400,
            title=translatable("Newsletters"),
            section="newsletters",
            newsletters=rows,
            values=values,
            errors={"slug": sentence(str(exc))},
            labels=LABELS,
        )
    return RedirectResponse(f"/admin/newsletters/{slug}?done=added", status_code=303)


def _rows(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "slug": n.slug,
            "name": n.name,
            "schedule": n.schedule,
            "sections": sections_text(n.sections),
            "active": n.active,
        }
        for n in list_newsletters(session)
    ]


def _letter(session: Session, slug: str) -> Newsletter:
    """The newsletter, or a 404 page naming it."""
    try:
        return get_newsletter(session, slug)
    except NotFoundError as exc:
        raise not_found(exc) from None


def _settings_page(
    web: WebContext,
    request: Request,
    slug: str,
    values: dict[str, str] | None,
    errors: dict[str, str],
    notice: str | None = None,
) -> Response:
    with web.transaction() as session:
        letter = _letter(session, slug)
        now = web.clock.now()
        upcoming = [
            {"town": town.name, "slot": next_slot(letter, town, now)}
            for town in list_communities(session)
        ]
        name, address = sender_of(web.settings, letter)
        shown = values if values is not None else form_values(letter)
        title = letter.name
    return admin_page(
        web,
        request,
        "admin/newsletter.html",
        400 if errors else 200,
        title=translatable("Settings of {name}", name=title),
        section="newsletters",
        slug=slug,
        values=shown,
        errors=errors,
        labels=LABELS,
        upcoming=upcoming,
        sender=f"{name} <{address}>",
        notice=notice,
    )


@router.get("/{slug}", response_class=Response)
def settings_page(request: Request, web: Web, slug: Slug, done: str = "") -> Response:
    """One newsletter's settings, with its next edition in each town."""
    notice = NOTICES.get(done)
    return _settings_page(web, request, slug, None, {}, notice)


@router.post("/{slug}", response_class=Response)
def save(
    request: Request, web: Web, slug: Slug, form: PostedForm, user: CheckedAdminForm
) -> Response:
    """Save the settings, or show the form again with every problem next to its field."""
    values = text_fields(form)
    clean, errors = check_newsletter_form(values)
    if errors:
        return _settings_page(web, request, slug, values, errors)
    with web.transaction() as session:
        letter = _letter(session, slug)
        changed = apply_newsletter_settings(letter, clean)
        if changed:
            detail = {field: str(clean[field]) for field in changed}
            record(session, user, "newsletter.update", slug, detail, web.clock.now())
    return RedirectResponse(f"/admin/newsletters/{slug}?done=saved", status_code=303)
