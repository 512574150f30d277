"""Towns in the admin (admins only): add one, rename it, move its time zone."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.accounts.audit import record
from digest.curation.communities import (
    add_community,
    get_community,
    list_communities,
    update_community,
)
from digest.errors import DigestError, NotFoundError
from digest.i18n import translatable
from digest.models import Subscriber, SubscriberStatus
from digest.web.admin import admin_page
from digest.web.admin_forms import not_found, problem, text_fields
from digest.web.auth import CheckedAdminForm, admin_user
from digest.web.context import WebContext, context
from digest.web.security import PostedForm

router = APIRouter(
    prefix="/admin/towns", dependencies=[Depends(admin_user)], include_in_schema=False
)
Web = Annotated[WebContext, Depends(context)]
Slug = Annotated[str, Path(max_length=64)]
LABELS = {
    "slug": translatable("Short name"),
    "name": translatable("Name"),
    "timezone": translatable("Time zone"),
}
NOTICES = {"saved": translatable("Saved."), "added": translatable("Added.")}
ZONES = sorted(
    zone for zone in available_timezones() if "/" in zone and not zone.startswith("Etc/")
)


def _rows(session: Session) -> list[dict[str, Any]]:
    counts = session.execute(
        select(Subscriber.community_id, func.count())
        .where(Subscriber.status == SubscriberStatus.ACTIVE)
        .group_by(Subscriber.community_id)
    )
    readers: dict[int, int] = {row[0]: row[1] for row in counts}
    return [
        {"slug": t.slug, "name": t.name, "timezone": t.timezone, "readers": readers.get(t.id, 0)}
        for t in list_communities(session)
    ]


def _list_page(
    web: WebContext, request: Request, values: dict[str, str], errors: dict[str, str]
) -> Response:
    with web.transaction() as session:
        rows = _rows(session)
    return admin_page(
        web,
        request,
        "admin/towns.html",
        400 if errors else 200,
        title=translatable("Towns"),
        section="towns",
        towns=rows,
        values=values,
        errors=errors,
        labels=LABELS,
        zones=ZONES,
    )


@router.get("/", response_class=Response)
def towns_page(request: Request, web: Web) -> Response:
    """Every town with its time zone and readers, and a form to add one."""
    return _list_page(web, request, {}, {})


@router.post("/", response_class=Response)
def add(request: Request, web: Web, form: PostedForm, user: CheckedAdminForm) -> Response:
    """Add a town."""
    values = text_fields(form)
    slug, name = values.get("slug", "").strip(), values.get("name", "").strip()
    timezone = values.get("timezone", "").strip()
    try:
        with web.transaction() as session:
            add_community(session, slug, name, timezone)
            detail = {"name": name, "timezone": timezone}
            record(session, user, "town.add", slug, detail, web.clock.now())
    except DigestError as exc:
        field = "timezone" if "time zone" in str(exc) else "slug"
        return _list_page(web, request, values, {field: problem(exc)})
    return RedirectResponse(f"/admin/towns/{slug}?done=added", status_code=303)


def _town_page(
    web: WebContext,
    request: Request,
    slug: str,
    values: dict[str, str] | None,
    errors: dict[str, str],
    notice: str | None = None,
) -> Response:
    with web.transaction() as session:
        try:
            town = get_community(session, slug)
        except NotFoundError as exc:
            raise not_found(exc) from None
        shown = values if values is not None else {"name": town.name, "timezone": town.timezone}
        title = town.name
    return admin_page(
        web,
        request,
        "admin/town.html",
        400 if errors else 200,
        title=title,
        section="towns",
        slug=slug,
        values=shown,
        errors=errors,
        labels=LABELS,
        zones=ZONES,
        notice=notice,
    )


@router.get("/{slug}", response_class=Response)
def town_page(request: Request, web: Web, slug: Slug, done: str = "") -> Response:
    """One town's name and time zone."""
    notice = NOTICES.get(done)
    return _town_page(web, request, slug, None, {}, notice)


@router.post("/{slug}", response_class=Response)
def save(
    request: Request, web: Web, slug: Slug, form: PostedForm, user: CheckedAdminForm
) -> Response:
    """Rename the town or move its time zone."""
    values = text_fields(form)
    try:
        with web.transaction() as session:
            try:
                town = get_community(session, slug)
            except NotFoundError as exc:
                raise not_found(exc) from None
            changed = update_community(
                session, town, values.get("name", ""), values.get("timezone", "").strip()
            )
            if changed:
                detail = {field: getattr(town, field) for field in changed}
                record(session, user, "town.update", slug, detail, web.clock.now())
    except DigestError as exc:
        field = "timezone" if "time zone" in str(exc) else "name"
        return _town_page(web, request, slug, values, {field: problem(exc)})
    return RedirectResponse(f"/admin/towns/{slug}?done=saved", status_code=303)
