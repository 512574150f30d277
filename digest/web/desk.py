"""The editor's desk (/admin/editions/{id}/towns/{slug}/desk): shape one town's edition (or
all its towns), approve it, test-send it, and see exactly what will be sent.

Behind the admin's sign-in (digest.web.auth): every post carries the session's form token, an
editor limited to some towns may shape only those (all-towns changes need every town of the
edition), and each change is recorded in the audit log. Every form posts and redirects;
a change re-renders the segment, and the preview frames show that segment's email HTML at
desktop and phone width, with a sample reader in place of the personal parts.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.accounts.audit import record
from digest.accounts.users import Actor, NotAllowedError, require_town
from digest.curation.picks import current_note
from digest.curation.sections import SECTION_ORDER
from digest.errors import DigestError
from digest.i18n import translatable
from digest.models import Community, Edition, EditionStatus
from digest.render.placeholders import EMAIL, GREETING, PREFERENCES_URL, UNSUBSCRIBE_URL, email_html
from digest.sending import approval, pages, proofs, shaping
from digest.tokens import TokenError, make_token, read_token
from digest.web.admin import EDITION_POLICY, FRAMEABLE, admin_page
from digest.web.auth import CheckedForm, current_user
from digest.web.context import WebContext, context
from digest.web.security import PostedForm

log = logging.getLogger(__name__)

router = APIRouter(prefix="/admin", dependencies=[Depends(current_user)], include_in_schema=False)
Web = Annotated[WebContext, Depends(context)]
EditionId = Annotated[int, Path(ge=1, le=2**62)]
Town = Annotated[str, Path(max_length=64)]
Scope = Literal["town", "all"]
Action = Literal["note", "pin", "up", "down", "drop", "swap", "add", "approve", "test-send"]
# What the preview shows in place of a reader's personal parts.
SAMPLE = {
    GREETING: "Hi Sam,",
    EMAIL: "sam@example.com",
    UNSUBSCRIBE_URL: "#unsubscribe",
    PREFERENCES_URL: "#preferences",
}
DONE = {
    "note": translatable("The note is saved."),
    "pin": translatable("Pinned: the story leads its section."),
    "up": translatable("Moved up."),
    "down": translatable("Moved down."),
    "drop": translatable("Dropped."),
    "swap": translatable("Swapped for the section's next story."),
    "add": translatable("Added."),
    "approve": translatable("Approved: each town goes at its slot."),
    "test-send": translatable("The test was sent."),
}


# The refusal travels to the desk as a signed code, never as text: a crafted link cannot put
# words of its own in the admin's alert (content spoofing). A code lasts long enough to be shown.
ERROR_PURPOSE = "desk-error"
ERROR_MAX_AGE = 600


def _error_code(web: WebContext, message: str) -> str:
    return quote(make_token(web.settings, ERROR_PURPOSE, message[:300]), safe="")


def _error_message(web: WebContext, code: str) -> str:
    """The refusal a code stands for; '' for no code, a forged one or one too old."""
    if not code:
        return ""
    try:
        message = read_token(web.settings, ERROR_PURPOSE, code, max_age=ERROR_MAX_AGE)
    except TokenError:
        log.warning("desk error code that this Digest did not sign: %r", code[:80])
        return ""
    return message if isinstance(message, str) else ""


def _desk_url(edition_id: int, town: str, scope: str = "town", done: str = "") -> str:
    url = f"/admin/editions/{edition_id}/towns/{quote(town)}/desk?scope={scope}"
    return url + (f"&done={done}" if done else "")


def _load(session: Session, edition_id: int, slug: str) -> tuple[Edition, Community]:
    edition = session.get(Edition, edition_id)
    town = session.scalar(select(Community).where(Community.slug == slug))
    if edition is None or town is None:
        raise HTTPException(404, "There is no such edition or town.")
    return edition, town


@router.get("/editions/{edition_id}/towns/{town}/desk", response_class=Response)
def desk_page(
    edition_id: EditionId,
    town: Town,
    request: Request,
    web: Web,
    scope: Annotated[Scope, Query()] = "town",
    done: Annotated[str, Query(max_length=20)] = "",
    error: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The desk: the town's stories with their controls, the note, approval, test send, preview."""
    with web.transaction() as session:
        edition, place = _load(session, edition_id, town)
        segment = shaping.segment_for(session, edition, place)
        try:
            shaping.require_editable(session, edition)
            locked = ""
        except DigestError as exc:
            locked = str(exc)
        values: dict[str, Any] = {
            "edition": edition,
            "newsletter": edition.newsletter,
            "town": place,
            "segment": segment,
            "sections": segment.sections,
            "towns": sorted((s.community for s in edition.segments), key=lambda c: c.name),
            "note": current_note(session, edition.id, place.id),
            "locked": locked,
            "awaiting": edition.status == EditionStatus.AWAITING,
        }
    return admin_page(
        web,
        request,
        "admin/desk.html",
        title=translatable("Edition {id} for {town}", id=str(edition_id), town=values["town"].name),
        scope=scope,
        done=DONE.get(done),
        error=_error_message(web, error),
        section_keys=SECTION_ORDER,
        section="overview",
        **values,
    )


@router.get("/editions/{edition_id}/towns/{town}/desk/email", response_class=Response)
def desk_email(edition_id: EditionId, town: Town, web: Web) -> Response:
    """The town's email HTML exactly as frozen for sending, a sample reader filled in."""
    with web.transaction() as session:
        edition, place = _load(session, edition_id, town)
        segment = shaping.segment_for(session, edition, place)
        if not segment.html:
            raise HTTPException(404, f"Nothing to send in this town: {segment.skip_reason}")
        html = email_html(segment.html)
    for placeholder, value in SAMPLE.items():
        html = html.replace(placeholder, value)
    html = html.replace("<head>", '<head>\n<base target="_blank">', 1)
    return HTMLResponse(html, headers={**FRAMEABLE, "content-security-policy": EDITION_POLICY})


@router.post("/editions/{edition_id}/towns/{town}/desk/{action}", response_class=Response)
def desk_action(
    edition_id: EditionId,
    town: Town,
    action: Action,
    request: Request,
    web: Web,
    form: PostedForm,
    user: CheckedForm,
) -> Response:
    """One change, then back to the desk (303); a refusal comes back in words on the desk."""
    fields = {key: str(value)[:2000] for key, value in form.items() if isinstance(value, str)}
    scope = "all" if fields.get("scope") == "all" else "town"
    try:
        with web.transaction() as session:
            # Approval sends every town's segment: it needs every town, whatever the scope.
            _allowed(session, user, edition_id, town, "all" if action == "approve" else scope)
        if action == "add":
            _add_by_url(web, edition_id, town, scope, fields, user)
        elif action == "test-send":
            _test_send(web, edition_id, town, fields.get("address", ""))
        else:
            with web.transaction() as session:
                _change(session, web, edition_id, town, scope, action, fields, user)
        with web.transaction() as session:
            detail = {k: v[:300] for k, v in fields.items() if k in AUDITED}
            target = f"edition {edition_id} " + ("all towns" if scope == "all" else town)
            record(session, user, f"edition.desk.{action}", target, detail, web.clock.now())
    except NotAllowedError:
        raise
    except DigestError as exc:
        url = _desk_url(edition_id, town, scope) + "&error=" + _error_code(web, str(exc))
        return RedirectResponse(url, status_code=303)
    log.info("edition %s, %s (%s): %s by %s", edition_id, town, scope, action, user.email)
    return RedirectResponse(_desk_url(edition_id, town, scope, action), status_code=303)


# What the audit log keeps of a desk form (never the form token).
AUDITED = ("scope", "story", "note", "url", "section", "address")


def _allowed(session: Session, user: Actor, edition_id: int, slug: str, scope: str) -> None:
    """An editor limited to some towns acts on those only (all towns: on every one)."""
    edition, place = _load(session, edition_id, slug)
    towns = [s.community_id for s in edition.segments] if scope == "all" else [place.id]
    for town_id in towns:
        require_town(user, town_id)


def _change(
    session: Session,
    web: WebContext,
    edition_id: int,
    slug: str,
    scope: str,
    action: str,
    fields: dict[str, str],
    user: Actor,
) -> None:
    by = user.email
    edition, place = _load(session, edition_id, slug)
    now = web.clock.now()
    target = None if scope == "all" else place
    if action == "approve":
        approval.approve(session, edition, by, now)
        return
    if action == "note":
        shaping.write_note(session, web.settings, edition, target, fields.get("note", ""), by, now)
        return
    story = shaping.get_story(session, _story_id(fields))
    if action in ("up", "down"):
        direction: Literal["up", "down"] = "up" if action == "up" else "down"
        shaping.move(session, web.settings, edition, place, story, direction, by, now)
    elif action == "pin":
        shaping.pin(session, web.settings, edition, target, story, by, now)
    elif action == "drop":
        shaping.drop(session, web.settings, edition, target, story, by, now)
    else:
        shaping.swap(session, web.settings, edition, target, story, by, now)


def _story_id(fields: dict[str, str]) -> int:
    value = fields.get("story", "")
    if not value.isdigit() or len(value) > 18:
        raise DigestError("choose a story")
    return int(value)


def _add_by_url(
    web: WebContext, edition_id: int, slug: str, scope: str, fields: dict[str, str], user: Actor
) -> None:
    """A known story by its URL, else the page fetched first, outside any transaction."""
    url = pages.checked_url(fields.get("url", ""))
    section = fields.get("section", "top")
    with web.transaction() as session:
        edition, _ = _load(session, edition_id, slug)
        shaping.require_editable(session, edition)
        known = pages.story_by_url(session, url) is not None
    page = None if known else pages.fetch_page(web.settings, url)
    with web.transaction() as session:
        edition, place = _load(session, edition_id, slug)
        now = web.clock.now()
        story = pages.story_by_url(session, url) if page is None else None
        story = story or pages.record_page(session, page or pages.Page(url, url, "", None), now)
        target = None if scope == "all" else place
        shaping.add(session, web.settings, edition, target, story, section, user.email, now)


def _test_send(web: WebContext, edition_id: int, slug: str, address: str) -> None:
    with web.transaction() as session:
        edition, place = _load(session, edition_id, slug)
        proof = proofs.prepare_proof(session, edition, place)
    proofs.send_proof(web.settings, proof, address, web.clock.now())
