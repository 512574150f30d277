"""Feeds in the admin (admins only): their health, add one (fetched and read first, as
`digest feeds add` does), pause, resume and remove.

Adding runs in three steps so no transaction is open during the fetch: check the URL and town
(database), fetch and parse the feed (network), then register it (database).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from digest.accounts.audit import record
from digest.curation.communities import get_community, list_communities
from digest.errors import DigestError, NotFoundError
from digest.i18n import translatable
from digest.ingest.feeds import (
    add_feed,
    check_feed,
    get_feed,
    list_feeds,
    new_feed_url,
    remove_feed,
    set_paused,
)
from digest.ingest.fetch import FetchOptions
from digest.models import Community, FeedKind
from digest.web.admin import REGION, admin_page
from digest.web.admin_forms import not_found, problem, text_fields
from digest.web.auth import CheckedAdminForm, admin_user
from digest.web.context import WebContext, context
from digest.web.security import PostedForm

router = APIRouter(
    prefix="/admin/feeds", dependencies=[Depends(admin_user)], include_in_schema=False
)
Web = Annotated[WebContext, Depends(context)]
FeedId = Annotated[int, Path(ge=1, le=2**31)]
LABELS = {
    "url": translatable("Feed URL"),
    "community": translatable("Town"),
    "section": translatable("Section"),
    "kind": translatable("Kind"),
}
DONE = {
    "added": translatable("Added: it is polled with the others from now on."),
    "pause": translatable("Paused: it is not polled until you resume it; its stories stay."),
    "resume": translatable("Resumed: it is polled at the next pass."),
    "remove": translatable("Removed, with its stories (editions already built keep theirs)."),
}


def _rows(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "id": feed.id,
            "url": feed.url,
            "title": feed.title or "",
            "town": feed.community.name if feed.community else REGION,
            "section": feed.section,
            "kind": str(feed.kind),
            "paused": feed.paused,
            "failures": feed.consecutive_failures,
            "last_success": feed.last_success_at,
            "error": (feed.last_error or "")[:300],
        }
        for feed in list_feeds(session)
    ]


def _page(
    web: WebContext,
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    done: str = "",
) -> Response:
    with web.transaction() as session:
        rows = _rows(session)
        towns = [(town.slug, town.name) for town in list_communities(session)]
    return admin_page(
        web,
        request,
        "admin/feeds.html",
        400 if errors else 200,
        title=translatable("Feeds"),
        section="feeds",
        feeds=rows,
        towns=towns,
        values=values,
        errors=errors,
        labels=LABELS,
        notice=DONE.get(done),
    )


@router.get("/", response_class=Response)
def feeds_page(request: Request, web: Web, done: str = "") -> Response:
    """Every feed with its health, and a form to add one."""
    return _page(web, request, {}, {}, done)


@router.post("/", response_class=Response)
def add(request: Request, web: Web, form: PostedForm, user: CheckedAdminForm) -> Response:
    """Fetch and read the feed; register it only when that worked (else say why)."""
    values = text_fields(form)
    slug = values.get("community", "").strip()
    section = values.get("section", "").strip() or "news"
    kind = FeedKind.MOST_READ if values.get("kind") == FeedKind.MOST_READ else FeedKind.STORIES
    errors: dict[str, str] = {}
    try:
        with web.transaction() as session:  # what needs no network, first
            url = new_feed_url(session, values.get("url", ""))
            if slug:
                get_community(session, slug)
    except DigestError as exc:
        field = "community" if isinstance(exc, NotFoundError) else "url"
        return _page(web, request, values, {field: problem(exc)})
    if len(section) > 64:
        errors["section"] = translatable("Keep the section under 64 characters.")
    try:
        items = check_feed(url, kind, FetchOptions.from_settings(web.settings), web.clock.now())
    except DigestError as exc:
        errors["url"] = translatable(
            "{problem} Check the address, or try again later.", problem=problem(exc)
        )
    if errors:
        return _page(web, request, values, errors)
    try:
        with web.transaction() as session:
            town: Community | None = get_community(session, slug) if slug else None
            feed = add_feed(session, url, town, section, kind)
            detail = {"town": slug or "regional", "section": section, "items": items}
            record(session, user, "feed.add", feed.url, detail, web.clock.now())
    except DigestError as exc:  # added by someone else while this one was fetched
        return _page(web, request, values, {"url": problem(exc)})
    return RedirectResponse("/admin/feeds/?done=added", status_code=303)


@router.post("/{feed_id}/{action}", response_class=Response)
def change(
    feed_id: FeedId,
    action: Literal["pause", "resume", "remove"],
    web: Web,
    user: CheckedAdminForm,
) -> Response:
    """Pause, resume or remove a feed."""
    with web.transaction() as session:
        try:
            feed = get_feed(session, str(feed_id))
        except NotFoundError as exc:
            raise not_found(exc) from None
        url = feed.url
        if action == "remove":
            remove_feed(session, feed)
        else:
            set_paused(feed, action == "pause")
        record(session, user, f"feed.{action}", url, None, web.clock.now())
    return RedirectResponse(f"/admin/feeds/?done={action}", status_code=303)
