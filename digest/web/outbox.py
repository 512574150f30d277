"""The dev outbox viewer (/dev/outbox): the messages in the Maildir of DIGEST_MAIL_URL.

Only in dev (404 with DIGEST_ENV=prod), and only for a signed-in admin: a deployment that
forgot DIGEST_ENV=prod must not serve every reader's mail and personal links to anyone. A
message's HTML part is shown in a sandboxed frame whose links open in the whole window, so a
newcomer can sign up, open the confirmation here and follow its link in the same browser.
Remote images are not loaded (nothing here may reach the internet), as in a mail client that
blocks them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from digest.sending.mail_url import transport_for_url
from digest.sending.maildir import MaildirTransport
from digest.web.admin import ADMIN_POLICY
from digest.web.auth import admin_user
from digest.web.context import WebContext, context

# The newest messages listed; older ones stay in the Maildir.
LIST_LIMIT = 200
# A sent message: inline styles, local and inline images only, no script; links leave the frame.
MESSAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups "
    "allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
)
URL = re.compile(r"https?://[^\s<>\"']+")
HEAD = re.compile(r"(<head\b[^>]*>)", re.I)


async def dev_only(request: Request) -> None:
    """404 outside dev: the viewer shows every reader's mail and its personal links."""
    web: WebContext = request.app.state.web
    if not web.settings.is_dev:
        raise HTTPException(404)


# dev_only first: outside dev the answer is 404, never a login form.
router = APIRouter(
    prefix="/dev/outbox",
    dependencies=[Depends(dev_only), Depends(admin_user)],
    include_in_schema=False,
)
Web = Annotated[WebContext, Depends(context)]
Key = Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9._,=-]+$")]


@dataclass(frozen=True)
class Listed:
    key: str
    sender: str
    to: str
    subject: str
    date: str
    received: datetime


def outbox_path(mail_url: str) -> FilePath | None:
    """The Maildir that DIGEST_MAIL_URL names, or None when it is not a maildir:// URL."""
    if not mail_url.lower().startswith("maildir://"):
        return None
    transport = transport_for_url(mail_url)
    return transport.path if isinstance(transport, MaildirTransport) else None


def newest_messages(path: FilePath, limit: int = LIST_LIMIT) -> list[Listed]:
    """The newest messages first (by arrival in the Maildir), headers only."""
    arrived: list[tuple[int, str, FilePath]] = []
    for folder in ("new", "cur"):
        try:
            entries = list(os.scandir(path / folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_file() and not entry.name.startswith("."):
                key = entry.name.split(":", 1)[0]
                arrived.append((entry.stat().st_mtime_ns, key, FilePath(entry.path)))
    arrived.sort(reverse=True)
    listed = []
    for mtime, key, file in arrived[:limit]:
        with file.open("rb") as handle:
            headers = BytesParser(policy=policy.default).parse(handle, headersonly=True)
        listed.append(
            Listed(
                key,
                str(headers.get("from", "")),
                str(headers.get("to", "")),
                str(headers.get("subject", "(no subject)")),
                _date(str(headers.get("date", ""))),
                datetime.fromtimestamp(mtime / 1e9, UTC),
            )
        )
    return listed


def _date(value: str) -> str:
    try:
        return f"{parsedate_to_datetime(value):%Y-%m-%d %H:%M:%S %z}"
    except (TypeError, ValueError):
        return value


def read_message(path: FilePath, key: str) -> EmailMessage:
    """The message with this Maildir key; raises KeyError when there is none."""
    for folder in ("new", "cur"):
        directory = path / folder
        if not directory.is_dir():
            continue
        for name in os.listdir(directory):
            if name.split(":", 1)[0] == key:
                parsed = BytesParser(policy=policy.default).parsebytes(
                    (directory / name).read_bytes()
                )
                assert isinstance(parsed, EmailMessage)
                return parsed
    raise KeyError(key)


def linkify(text: str) -> Markup:
    """The text, escaped, with its http(s) URLs as links."""
    parts: list[str] = []
    last = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:)")
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.start() + len(url)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def _path(web: WebContext) -> FilePath:
    path = outbox_path(web.settings.mail_url)
    if path is None:
        raise HTTPException(404, "The outbox viewer needs DIGEST_MAIL_URL=maildir://PATH.")
    return path


def _message(web: WebContext, key: str) -> EmailMessage:
    try:
        return read_message(_path(web), key)
    except KeyError:
        raise HTTPException(404, "There is no such message in the outbox.") from None


def _page(web: WebContext, name: str, **values: Any) -> Response:
    response = web.page(name, section="outbox", dev=True, **values)
    response.headers["content-security-policy"] = ADMIN_POLICY
    return response


@router.get("/", response_class=Response)
def outbox(web: Web) -> Response:
    """The messages in the outbox, newest first."""
    path = outbox_path(web.settings.mail_url)
    messages = newest_messages(path) if path is not None else []
    return _page(
        web,
        "outbox/list.html",
        title="Outbox",
        path=path,
        messages=messages,
        limit=LIST_LIMIT,
        mail_url=web.settings.mail_url,
    )


@router.get("/{key}", response_class=Response)
def message_page(key: Key, web: Web) -> Response:
    """One message: its HTML part framed, its text part, and its raw headers."""
    message = _message(web, key)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    text = text_part.get_content() if text_part is not None else ""
    headers = "".join(f"{name}: {value}\n" for name, value in message.items())
    return _page(
        web,
        "outbox/message.html",
        title=str(message.get("subject", "(no subject)")),
        key=key,
        sender=str(message.get("from", "")),
        to=str(message.get("to", "")),
        date=_date(str(message.get("date", ""))),
        has_html=html_part is not None,
        text=linkify(text),
        headers=headers,
    )


@router.get("/{key}/html", response_class=Response)
def message_html(key: Key, web: Web) -> Response:
    """The message's HTML part, for the message page's sandboxed frame."""
    html_part = _message(web, key).get_body(("html",))
    if html_part is None:
        raise HTTPException(404, "This message has no HTML part.")
    html = str(html_part.get_content())
    # Links open in the whole window: the pages they lead to refuse to be framed.
    html, found = HEAD.subn(r'\1<base target="_top">', html, count=1)
    if not found:
        html = '<base target="_top">' + html
    headers = {
        "content-security-policy": MESSAGE_POLICY,
        "x-frame-options": "SAMEORIGIN",
        "cache-control": "no-store",
    }
    return HTMLResponse(html, headers=headers)
