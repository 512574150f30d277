"""The archive: each newsletter's past editions, and each town's web version of an edition."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.i18n import translatable
from digest.models import Community, Edition, EditionSegment, EditionStatus, Newsletter
from digest.render.placeholders import web_version_html
from digest.web.context import WebContext, context
from digest.web.languages import reader_language

router = APIRouter()
Web = Annotated[WebContext, Depends(context)]
Slug = Annotated[str, Path(max_length=64)]

PAST = (EditionStatus.SENT, EditionStatus.SENDING)
ARCHIVE_PAGE_SIZE = 100
# An edition's HTML is an email: inline styles and remote images, never scripts or forms.
WEB_VERSION_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox allow-popups "
    "allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
)


def _newsletter(session: Session, slug: str) -> Newsletter:
    found = session.scalars(
        select(Newsletter).where(Newsletter.slug == slug, Newsletter.active.is_(True))
    ).one_or_none()
    if found is None:
        raise HTTPException(404, translatable("There is no newsletter at this address."))
    return found


def _past_editions(session: Session, newsletter_id: int, limit: int) -> list[Edition]:
    query = (
        select(Edition)
        .where(Edition.newsletter_id == newsletter_id, Edition.status.in_(PAST))
        .order_by(Edition.slot.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


@router.get(
    "/archive/", summary="Every newsletter and its latest editions", response_class=Response
)
def archive_index(request: Request, web: Web) -> Response:
    with web.transaction() as session:
        newsletters = list(
            session.scalars(
                select(Newsletter).where(Newsletter.active.is_(True)).order_by(Newsletter.name)
            )
        )
        shelves = [(n, _past_editions(session, n.id, 5)) for n in newsletters]
    lang = reader_language(request, [n.language for n in newsletters])
    return web.page("archive_index.html", lang=lang, shelves=shelves)


@router.get("/archive/{slug}/", summary="A newsletter's past editions", response_class=Response)
def archive_newsletter(slug: Slug, request: Request, web: Web) -> Response:
    with web.transaction() as session:
        newsletter = _newsletter(session, slug)
        editions = _past_editions(session, newsletter.id, ARCHIVE_PAGE_SIZE)
        towns = {
            edition.id: [
                (segment.community.slug, segment.community.name)
                for segment in sorted(edition.segments, key=lambda s: s.community.name)
                if segment.html and not segment.skip_reason and not segment.audience
            ]
            for edition in editions
        }
    lang = reader_language(request, [newsletter.language])
    return web.page(
        "archive_newsletter.html", lang=lang, newsletter=newsletter, editions=editions, towns=towns
    )


@router.get(
    "/archive/{slug}/{edition_id}/{town}",
    summary="An edition's web version for a town",
    response_class=Response,
)
def archive_edition(
    slug: Slug,
    edition_id: Annotated[int, Path(ge=1, le=2**62)],
    town: Slug,
    web: Web,
) -> Response:
    with web.transaction() as session:
        newsletter = _newsletter(session, slug)
        segment = session.scalars(
            select(EditionSegment)
            .join(Edition, Edition.id == EditionSegment.edition_id)
            .join(Community, Community.id == EditionSegment.community_id)
            .where(
                Edition.id == edition_id,
                Edition.newsletter_id == newsletter.id,
                Edition.status.in_(PAST),
                Community.slug == town,
            )
            .order_by(EditionSegment.audience)  # the town's own ("") before readers' mixes
            .limit(1)
        ).one_or_none()
        if segment is None or not segment.html:
            raise HTTPException(404, translatable("There is no such edition in the archive."))
        html = web_version_html(segment.html)
    return HTMLResponse(html, headers={"content-security-policy": WEB_VERSION_POLICY})
