"""`/keep/<token>`: "keep me subscribed", the one link of a re-engagement email (list hygiene).

A reader's click counts at once, like a click on a story: no button to press. A request that
looks like a link scanner's (HEAD, a scanner's user agent, or within
DIGEST_CLICK_SCANNER_SECONDS of the email being sent) records nothing and shows the same
question with a button, so a prefetch never keeps anyone by itself, and a reader misjudged as
one is one press away.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from digest.i18n import translated
from digest.ingest.click_buffer import HUMAN, classify
from digest.ingest.click_links import MessageTag
from digest.models import Newsletter
from digest.readers.hygiene import keep
from digest.readers.subscribers import SubscriberGoneError
from digest.render.links import preferences_url
from digest.tokens import KEEP, TokenError, read_token
from digest.web.context import WebContext, context
from digest.web.languages import reader_language
from digest.web.reader import BadLinkError, bad_link_page
from digest.web.security import CSRF_FIELD, FormToken

router = APIRouter()
Web = Annotated[WebContext, Depends(context)]
Token = Annotated[str, Path(max_length=1000, description="The signed token from the email.")]


def _payload(web: WebContext, token: str) -> tuple[int, int, datetime | None]:
    """(subscriber id, newsletter id, when the email was sent); raises BadLinkError."""
    try:
        payload: Any = read_token(web.settings, KEEP, token)
    except TokenError as exc:
        raise BadLinkError(exc.expired) from None
    if not isinstance(payload, dict):
        raise BadLinkError(expired=False)
    reader, newsletter, sent = payload.get("s"), payload.get("n"), payload.get("t")
    if not isinstance(reader, int) or not isinstance(newsletter, int):
        raise BadLinkError(expired=False)
    return reader, newsletter, datetime.fromtimestamp(sent, UTC) if isinstance(sent, int) else None


def _language(web: WebContext, request: Request, token: str) -> str:
    """The reader's language for this link: its newsletter's, else the browser's."""
    try:
        _reader, newsletter_id, _sent = _payload(web, token)
    except BadLinkError:
        return reader_language(request)
    with web.transaction() as session:
        newsletter = session.get(Newsletter, newsletter_id)
    return reader_language(request, [newsletter.language] if newsletter else [])


def _kept(web: WebContext, request: Request, token: str, source: str) -> Response:
    lang = _language(web, request, token)
    try:
        reader, newsletter, _sent = _payload(web, token)
        with web.transaction() as session:
            name = keep(session, reader, newsletter, web.origin(request, source), web.clock.now())
    except BadLinkError as exc:
        return bad_link_page(web, exc.expired, lang)
    except SubscriberGoneError:
        name = None
    if name is None:
        message = translated(
            lang,
            "This newsletter is no longer sent to you. To receive it again, choose it in your "
            "preferences: {url}",
            url=preferences_url(web.settings, reader),
        )
        title = translated(lang, "You are no longer subscribed")
        return web.page("message.html", lang=lang, title=title, message=message)
    return web.page(
        "message.html",
        lang=lang,
        title=translated(lang, "You stay subscribed"),
        message=translated(lang, "Thank you! You will keep receiving {name}.", name=name),
    )


@router.get("/keep/{token}", summary="Keep me subscribed", response_class=Response)
@router.head("/keep/{token}", include_in_schema=False, response_class=Response)
def keep_page(token: Token, request: Request, web: Web) -> Response:
    """Keep the reader subscribed, unless the request looks like a link scanner's."""
    lang = _language(web, request, token)
    try:
        _reader, _newsletter, sent = _payload(web, token)
    except BadLinkError as exc:
        return bad_link_page(web, exc.expired, lang)
    bucket = classify(
        request.method,
        request.headers.get("user-agent"),
        MessageTag(sent_at=sent),
        web.clock.now(),
        web.settings.click_scanner_seconds,
    )
    if bucket == HUMAN:
        return _kept(web, request, token, "keep link")
    form_token, fresh = web.guard.issue(request)
    response = web.page("keep.html", lang=lang, form_token=form_token, csrf_field=CSRF_FIELD)
    web.guard.set_cookie(response, fresh)
    return response


@router.post("/keep/{token}", summary="Keep me subscribed (the page's button)")
def keep_post(token: Token, request: Request, web: Web, _checked: FormToken) -> Response:
    return _kept(web, request, token, "keep page")
