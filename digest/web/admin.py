"""The editor's view (/admin): editions and their progress, pause/resume/cancel, a preview of
any town's next edition, feed health, readers per town, and signups over time.

Behind a signed-in account (digest.web.auth). Every page works without
JavaScript: the live progress is a small framed page that the browser reloads by itself
(a `Refresh` header) while an edition is sending. Buttons post with the session's form token.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.accounts.audit import record
from digest.accounts.users import NotAllowedError, require_town
from digest.curation.newsletters import get_newsletter
from digest.errors import DigestError
from digest.i18n import Translatable, translatable, translate
from digest.ingest import clicks as click_store
from digest.models import Community, Edition, EditionSegment, EditionStatus, Newsletter
from digest.render.placeholders import web_version_html
from digest.sending import delivery, editions, states, stats
from digest.sending.previews import preview_next_edition
from digest.sending.progress import controls, edition_progress
from digest.sending.states import DELIVERY_STATE_ORDER
from digest.web.auth import CheckedForm, current_user, session_form_token
from digest.web.charts import signup_chart
from digest.web.context import WebContext, context
from digest.web.languages import editor_language, remember_language
from digest.web.security import CONTENT_SECURITY_POLICY, CSRF_FIELD

log = logging.getLogger(__name__)

# The admin pages frame their own previews and progress; nothing else may frame them.
ADMIN_POLICY = CONTENT_SECURITY_POLICY + "; frame-src 'self'"
# A framed part of an admin page (live progress): framed by this site only.
FRAGMENT_POLICY = CONTENT_SECURITY_POLICY.replace(
    "frame-ancestors 'none'", "frame-ancestors 'self'"
)
# A rendered edition: inline styles and remote images like an email client, never scripts;
# links open in a new tab (the preview adds <base target="_blank">).
EDITION_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups "
    "allow-popups-to-escape-sandbox"
)
FRAMEABLE = {"x-frame-options": "SAMEORIGIN", "cache-control": "no-store"}
# Seconds between reloads of the live progress while an edition is sending.
LIVE_REFRESH_SECONDS = 3
SIGNUP_DAYS = 30
# Where a feed of no town (the region's or a wire's) is shown.
REGION = translatable("Region / wire")
ACTIVE = (EditionStatus.SENDING, EditionStatus.PAUSED)
DONE_NOTICES = {
    "pause": translatable("Paused: batches stop after the message in hand; the rest stays queued."),
    "resume": translatable("Resumed: the workers carry on with what is still queued."),
    "resume-later": translatable(
        "Resumed, but the workers could not be told: the next sweep picks it up."
    ),
    "cancel": translatable("Cancelled: nothing more of this edition will be sent."),
}


class EditionStarter(Protocol):
    """Tells the workers to (re)start sending an edition; called only after the commit."""

    def send_edition(self, edition_id: int) -> None: ...


class CeleryEditionStarter:
    """Queues workers.tasks.send_edition by name (the web process imports no task module)."""

    def send_edition(self, edition_id: int) -> None:
        from workers.celery_app import app

        app.send_task("digest.send_edition", args=[edition_id])


def edition_starter(request: Request) -> EditionStarter:
    """The app's starter: `app.state.edition_starter` when set (tests), else Celery."""
    starter: EditionStarter | None = getattr(request.app.state, "edition_starter", None)
    return starter or CeleryEditionStarter()


router = APIRouter(prefix="/admin", dependencies=[Depends(current_user)], include_in_schema=False)
# The name other admin routers (the desk) protected themselves with before accounts: the same
# session check. New code takes `CurrentUser` from digest.web.auth.
editor = current_user
Web = Annotated[WebContext, Depends(context)]
Starter = Annotated[EditionStarter, Depends(edition_starter)]
EditionId = Annotated[int, Path(ge=1, le=2**62)]
Slug = Annotated[str, Query(max_length=64)]


def admin_page(
    web: WebContext, request: Request, name: str, status: int = 200, **values: Any
) -> Response:
    """An admin page for the signed-in user, its forms carrying their session's token.

    It speaks the editor's language (`editor_language`); values marked `translatable` (titles,
    notices) are shown in it.
    """
    values.setdefault("section", "overview")
    language = editor_language(request)
    response = web.page(
        name,
        status,
        lang=language,
        form_token=session_form_token(request),
        csrf_field=CSRF_FIELD,
        dev=web.settings.is_dev,
        user=current_user(request),
        **{key: translate_value(value, language) for key, value in values.items()},
    )
    response.headers["content-security-policy"] = ADMIN_POLICY
    remember_language(request, response, secure=web.guard.secure_cookie)
    return response


def translate_value(value: Any, language: str) -> Any:
    """`value` with the messages marked `translatable` in it (also in dicts and lists) shown
    in `language`; anything else as it is."""
    if isinstance(value, Translatable):
        return translate(value, language)
    if isinstance(value, dict):
        return {key: translate_value(item, language) for key, item in value.items()}
    if isinstance(value, list):
        return [translate_value(item, language) for item in value]
    return value


_page = admin_page


def _edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise HTTPException(404, f"There is no edition {edition_id}.")
    return edition


# Pages


@router.get("/", response_class=Response)
def dashboard(request: Request, web: Web) -> Response:
    """Editions, readers per town and newsletter, signups over time and feed health."""
    today = web.clock.now().date()
    with web.transaction() as session:
        recent = stats.recent_editions(session)
        readers = stats.readers_by_town(session)
        days = stats.daily_signups(session, today, SIGNUP_DAYS)
        feeds = [_feed_row(feed) for feed in stats.feed_health(session)]
        choices = _preview_choices(session)
    totals: dict[str, int] = {}
    for row in readers:
        totals[row.newsletter] = totals.get(row.newsletter, 0) + row.confirmed
    return admin_page(
        web,
        request,
        "admin/dashboard.html",
        title=translatable("Editor's view"),
        editions=recent,
        actions=_actions,
        sending=any(item.status in ACTIVE for item in recent),
        readers=readers,
        totals=totals,
        chart=signup_chart(days, editor_language(request)),
        days=days,
        feeds=feeds,
        **choices,
    )


def _actions(status: str) -> list[str]:
    return states.controls_for(status)


def _feed_row(feed: Any) -> dict[str, Any]:
    return {
        "url": feed.url,
        "title": feed.title or "",
        "town": feed.community.name if feed.community else REGION,
        "last_success": feed.last_success_at,
        "failures": feed.consecutive_failures,
        "error": (feed.last_error or "")[:300],
        "next_poll": feed.next_poll_at,
    }


def _preview_choices(session: Session) -> dict[str, Any]:
    letters = session.scalars(
        select(Newsletter).where(Newsletter.active.is_(True)).order_by(Newsletter.name)
    )
    towns = session.scalars(select(Community).order_by(Community.name))
    return {
        "newsletter_choices": [(n.slug, n.name) for n in letters],
        "town_choices": [(c.slug, c.name) for c in towns],
    }


@router.get("/live", response_class=Response)
def live(
    request: Request, web: Web, edition: Annotated[int | None, Query(ge=1, le=2**62)] = None
) -> Response:
    """The framed live progress: of one edition, or of every edition sending or paused.

    Reloads itself (Refresh header, no script) while anything shown is still to send.
    """
    with web.transaction() as session:
        if edition is not None:
            shown = [_progress(session, _edition(session, edition))]
        else:
            active = session.scalars(
                select(Edition).where(Edition.status.in_(ACTIVE)).order_by(Edition.id.desc())
            )
            shown = [_progress(session, item) for item in active]
    html = (
        web.templates_in(editor_language(request))
        .get_template("admin/live.html")
        .render(editions=shown, one=edition is not None)
    )
    headers = {**FRAMEABLE, "content-security-policy": FRAGMENT_POLICY}
    if any(item.status in (EditionStatus.READY, EditionStatus.SENDING) for item in shown):
        headers["refresh"] = str(LIVE_REFRESH_SECONDS)
    return HTMLResponse(html, headers=headers)


def _progress(session: Session, edition: Edition) -> stats.EditionProgress:
    """The same figures as `stats.recent_editions`, for one edition."""
    return edition_progress(session, edition)


@router.get("/editions/{edition_id}/progress.json", response_class=JSONResponse)
def progress_json(edition_id: EditionId, web: Web) -> JSONResponse:
    """One edition's progress as JSON: status, recipients, done, percent, counts by status."""
    with web.transaction() as session:
        item = _progress(session, _edition(session, edition_id))
    body = {
        "id": item.id,
        "newsletter": item.newsletter,
        "status": item.status,
        "recipients": item.recipients,
        "done": item.done,
        "percent": round(item.percent, 1),
        "counts": item.counts,
    }
    return JSONResponse(body, headers={"cache-control": "no-store"})


@router.get("/editions/{edition_id}", response_class=Response)
def edition_page(
    edition_id: EditionId, request: Request, web: Web, done: str | None = None
) -> Response:
    """One edition: its towns, and its status, counts, progress and controls from one read.

    While it is ready or sending the whole page reloads itself (Refresh header, no script),
    so the status, the figures and the buttons offered never disagree.
    """
    with web.transaction() as session:
        edition = _edition(session, edition_id)
        item = edition_progress(session, edition)
        town_clicks = {t.community_id: t for t in click_store.edition_clicks(session, edition_id)}
        segments = [
            {
                "town": segment.community.name,
                "slug": segment.community.slug,
                "audience": segment.audience,
                "subject": segment.subject,
                "stories": len(segment.story_ids or []),
                "skip_reason": segment.skip_reason,
                "send_at": segment.send_at,
                "has_html": bool(segment.html),
                "clicks": town_clicks.get(segment.community_id),
            }
            for segment in sorted(edition.segments, key=lambda s: s.community.name)
        ]
        newsletter = edition.newsletter.name
    response = admin_page(
        web,
        request,
        "admin/edition.html",
        title=translatable("Edition {id}", id=str(edition_id)),
        edition=edition,
        item=item,
        newsletter=newsletter,
        counts=item.counts,
        states=DELIVERY_STATE_ORDER,
        segments=segments,
        actions=controls(item),
        notice=DONE_NOTICES.get(done or ""),
    )
    if item.status in (EditionStatus.READY, EditionStatus.SENDING):
        response.headers["refresh"] = str(LIVE_REFRESH_SECONDS)
    return response


@router.get("/editions/{edition_id}/towns/{town}", response_class=Response)
def segment_page(
    edition_id: EditionId, town: Annotated[str, Path(max_length=64)], web: Web
) -> Response:
    """A town's segment of an edition as its web version (no personal parts)."""
    with web.transaction() as session:
        segment = session.scalars(
            select(EditionSegment)
            .join(Community, Community.id == EditionSegment.community_id)
            .where(EditionSegment.edition_id == edition_id, Community.slug == town)
            .order_by(EditionSegment.audience)  # the town's own ("") before readers' mixes
            .limit(1)
        ).one_or_none()
        if segment is None or not segment.html:
            raise HTTPException(404, "This edition has no page for that town.")
        html = web_version_html(segment.html)
    return HTMLResponse(html, headers={**FRAMEABLE, "content-security-policy": EDITION_POLICY})


@router.post("/editions/{edition_id}/{action}", response_class=Response)
def control(
    edition_id: EditionId,
    action: Literal["pause", "resume", "cancel"],
    request: Request,
    web: Web,
    starter: Starter,
    user: CheckedForm,
) -> Response:
    """Pause, resume or cancel an edition; resuming queues the sending after the commit."""
    try:
        with web.transaction() as session:
            edition = _edition(session, edition_id)
            for segment in edition.segments:
                require_town(user, segment.community_id)
            if action == "pause":
                editions.pause(session, edition)
            elif action == "resume":
                delivery.resume(session, edition)
            else:
                editions.cancel(session, edition, web.clock.now())
            target = f"edition {edition_id}"
            record(session, user, f"edition.{action}", target, None, web.clock.now())
    except NotAllowedError:
        raise
    except DigestError as exc:
        back = f"/admin/editions/{edition_id}"
        return admin_page(
            web,
            request,
            "message.html",
            409,
            title=translatable("Not possible now"),
            message=str(exc),
            back=back,
        )
    log.info("edition %s: %s by %s", edition_id, action, user.email)
    done: str = action
    if action == "resume":
        try:
            starter.send_edition(edition_id)
        except Exception:
            log.exception("could not queue the sending of edition %s", edition_id)
            done = "resume-later"
    return RedirectResponse(f"/admin/editions/{edition_id}?done={done}", status_code=303)


# Preview


@router.get("/preview", response_class=Response)
def preview_page(request: Request, web: Web, newsletter: Slug = "", town: Slug = "") -> Response:
    """Pick a newsletter and a town; shows the next edition at desktop and phone widths."""
    with web.transaction() as session:
        choices = _preview_choices(session)
        preview = None
        error = None
        names = ("", "")
        if newsletter and town:
            try:
                letter = get_newsletter(session, newsletter)
                community = _community(session, town)
                names = (letter.name, community.name)
                preview = preview_next_edition(
                    session, web.settings, letter, community, web.clock.now()
                )
            except DigestError as exc:
                error = str(exc)
    return admin_page(
        web,
        request,
        "admin/preview.html",
        400 if error else 200,
        title=translatable("Preview the next edition"),
        section="preview",
        newsletter=newsletter,
        town=town,
        preview=preview,
        error=error,
        names=names,
        **choices,
    )


@router.get("/preview/page", response_class=Response)
def preview_html(web: Web, newsletter: Slug, town: Slug) -> Response:
    """The previewed edition's page itself, for the preview's frames (no personal tokens)."""
    with web.transaction() as session:
        try:
            letter = get_newsletter(session, newsletter)
            preview = preview_next_edition(
                session, web.settings, letter, _community(session, town), web.clock.now()
            )
        except DigestError as exc:
            raise HTTPException(404, str(exc)) from None
    if preview.skip_reason is not None:
        raise HTTPException(404, f"Nothing to preview: {preview.skip_reason}")
    html = preview.html.replace("<head>", '<head>\n<base target="_blank">', 1)
    return HTMLResponse(html, headers={**FRAMEABLE, "content-security-policy": EDITION_POLICY})


def _community(session: Session, slug: str) -> Community:
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise DigestError(f"no town {slug!r}")
    return community
