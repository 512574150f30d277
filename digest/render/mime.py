"""MIME: a segment's message encoded once, and each reader's bytes spliced from it cheaply.

`MessageTemplate` holds the fixed headers and both bodies already quoted-printable encoded,
cut at the placeholders that `digest.render.render` leaves. `compose` fills in one reader: To, Date,
Message-ID, List-Unsubscribe, the greeting, address and link tokens, each encoded on its own
and joined to its neighbours with soft line breaks. No EmailMessage, Jinja2 or premailer runs
per reader; every line stays within 78 octets except long tokens (always under 998).
"""

from __future__ import annotations

import binascii
import html as htmlmod
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime

from digest.errors import DigestError
from digest.i18n import DEFAULT_LANGUAGE
from digest.models import Newsletter
from digest.render import links
from digest.render.placeholders import (
    CLICK_TAG,
    EMAIL,
    GREETING,
    PLACEHOLDERS,
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    email_html,
)
from digest.render.senders import ADDRESS, parse_mailbox, sender_of
from digest.render.transactional import RenderedEmail
from digest.render.views import greeting, language_of_newsletter
from digest.settings import Settings
from digest.tokens import message_id_tag, verp_address

CRLF = b"\r\n"
MAX_LINE = 998
NAME_LIMIT = 120
PLACEHOLDER_RE = re.compile("(" + "|".join(re.escape(p) for p in PLACEHOLDERS) + ")")
# Characters that would let a value end a header line or break its structure.
UNSAFE_HEADER_CHARS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
# A phrase (display name) that needs no quoting: RFC 5322 atext and spaces.
SAFE_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+")


class MimeError(DigestError):
    """A message cannot be built as asked: the message says which value is wrong."""


@dataclass(frozen=True)
class Reader:
    """Who one message is for; `delivery_id` is None for a transactional email."""

    delivery_id: int | None
    subscriber_id: int
    email: str
    name: str | None = None
    # False when the reader opted out of per-reader click counts (see links.click_tag).
    counts_clicks: bool = True


@dataclass(frozen=True)
class Personalized:
    """One reader's message, ready for a transport."""

    mail_from: str  # the envelope sender (VERP for a digest delivery)
    data: bytes  # CRLF line ends, every line under 998 octets
    message_id: str  # with angle brackets, as in the header


# A body is a sequence of encoded bytes and placeholder names, joined per reader.
Piece = bytes | str


@dataclass(frozen=True)
class MessageTemplate:
    """A message encoded once (per edition segment), waiting for its reader."""

    settings: Settings
    head: bytes  # fixed headers, each ending in CRLF
    text_pieces: tuple[Piece, ...]
    html_pieces: tuple[Piece, ...]
    boundary: str
    message_key: str  # names the segment in Message-IDs: <KEY.DELIVERY.TAG@DOMAIN>
    domain: str  # Message-ID domain: the sender's
    date: datetime
    newsletter_id: int | None
    list_unsubscribe: bool  # digest emails carry List-Unsubscribe; a confirmation does not
    language: str = DEFAULT_LANGUAGE  # of the reader's greeting, filled in per reader


# Building the template (once)


def clean_header_text(value: str, limit: int | None = None) -> str:
    """Text fit for a header: control characters (CR, LF, ...) become single spaces."""
    text = " ".join(UNSAFE_HEADER_CHARS.sub(" ", value).split())
    return text[:limit].rstrip() if limit else text


def segment_template(
    settings: Settings,
    newsletter: Newsletter,
    *,
    subject: str,
    html: str,
    text: str,
    message_key: str,
    date: datetime,
) -> MessageTemplate:
    """The message template of a digest segment (subject, html, text from render_segment).

    `message_key` names the segment, e.g. f"e{edition.id}.s{segment.id}"; `date` is the Date
    header unless `compose` is given another. From is the newsletter's sender or DIGEST_SENDER.
    """
    return build_template(
        settings,
        subject=subject,
        html=email_html(html),
        text=text,
        message_key=message_key,
        date=date,
        newsletter=newsletter,
        list_unsubscribe=True,
    )


def transactional_template(
    settings: Settings,
    email: RenderedEmail,
    *,
    date: datetime,
    newsletter: Newsletter | None = None,
) -> MessageTemplate:
    """The message template of a confirm, welcome or unsubscribed email (no List-Unsubscribe)."""
    return build_template(
        settings,
        subject=email.subject,
        html=email.html,
        text=email.text,
        message_key=f"{email.kind}.{secrets.token_hex(6)}",
        date=date,
        newsletter=newsletter,
        list_unsubscribe=False,
        language=email.language,
    )


def build_template(
    settings: Settings,
    *,
    subject: str,
    html: str,
    text: str,
    message_key: str,
    date: datetime,
    newsletter: Newsletter | None,
    list_unsubscribe: bool,
    language: str | None = None,
) -> MessageTemplate:
    """Encode the fixed headers and both bodies once; raises MimeError for a bad sender.

    `language` is the greeting's (else the newsletter's, else English).
    """
    name, address = sender_of(settings, newsletter)
    domain = address.rpartition("@")[2]
    boundary = f"=_digest_{secrets.token_hex(12)}"  # "=_" never occurs in quoted-printable
    head = _fixed_headers(settings, newsletter, subject, name, address, boundary, list_unsubscribe)
    return MessageTemplate(
        settings=settings,
        head=head,
        text_pieces=_encode_body(text),
        html_pieces=_encode_body(html),
        boundary=boundary,
        message_key=re.sub(r"[^A-Za-z0-9.\-]", "-", message_key)[:64] or "digest",
        domain=domain,
        date=date if date.tzinfo else date.replace(tzinfo=UTC),
        newsletter_id=newsletter.id if newsletter is not None else None,
        list_unsubscribe=list_unsubscribe,
        language=language or language_of_newsletter(newsletter),
    )


def _fixed_headers(
    settings: Settings,
    newsletter: Newsletter | None,
    subject: str,
    name: str,
    address: str,
    boundary: str,
    list_unsubscribe: bool,
) -> bytes:
    lines = [
        address_header("From", name, address),
        unstructured_header("Subject", clean_header_text(subject, 250) or "(no subject)"),
    ]
    reply_to = parse_mailbox(newsletter.reply_to) if newsletter and newsletter.reply_to else None
    if reply_to is not None:
        lines.append(address_header("Reply-To", *reply_to))
    if newsletter is not None:
        label = re.sub(r"[^a-z0-9\-]", "-", newsletter.slug.lower()).strip("-") or "digest"
        list_id = f"<{label}.{address.rpartition('@')[2]}>"
        lines.append(phrase_header("List-Id", clean_header_text(newsletter.name, 80), list_id))
    if list_unsubscribe:
        lines.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    lines.append(b"MIME-Version: 1.0\r\n")
    lines.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode())
    return b"".join(lines)


# Headers, written by hand: the stdlib's folder can leave specials in a folded display name
# unquoted, and clients disagree on its long-name folding. These stay on one line when ASCII
# (at most ~400 octets, as names are cut to 120 characters) and use RFC 2047 words otherwise.


def unstructured_header(field: str, value: str) -> bytes:
    """`Field: value` folded at 78 columns, RFC 2047 encoded when not ASCII."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name=field).encode(linesep="\r\n")
    return f"{field}: {encoded}\r\n".encode("ascii")


def phrase_header(field: str, phrase: str, tail: str) -> bytes:
    """`Field: phrase tail`, the phrase quoted when ASCII, RFC 2047 encoded otherwise."""
    if not phrase:
        return f"{field}: {tail}\r\n".encode("ascii")
    if phrase.isascii():
        quoted = phrase if SAFE_PHRASE.fullmatch(phrase) else _quoted(phrase)
        return f"{field}: {quoted} {tail}\r\n".encode("ascii")
    encoded = Header(phrase, "utf-8", header_name=field).encode(linesep="\r\n")
    return f"{field}: {encoded}\r\n {tail}\r\n".encode("ascii")


def address_header(field: str, name: str, address: str) -> bytes:
    """`Field: Name <address>`, the name cleaned, quoted or encoded as it needs."""
    return phrase_header(field, clean_header_text(name, NAME_LIMIT), f"<{address}>")


def _quoted(phrase: str) -> str:
    return '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encode_body(body: str) -> tuple[Piece, ...]:
    normal = body.replace("\r\n", "\n").replace("\r", "\n")
    pieces: list[Piece] = []
    parts = PLACEHOLDER_RE.split(normal)
    for index, part in enumerate(parts):
        if index % 2:
            pieces.append(part)
        elif part or index == len(parts) - 1:
            last = index == len(parts) - 1
            pieces.append(qp(part.encode("utf-8")) if last else qp_open(part.encode("utf-8")))
    return tuple(pieces)


# Quoted-printable pieces that can be joined


def qp(data: bytes) -> bytes:
    """Quoted-printable with CRLF line ends and lines of at most 76 octets."""
    return binascii.b2a_qp(data, quotetabs=False, istext=True).replace(b"\n", CRLF)


def qp_open(data: bytes) -> bytes:
    """Quoted-printable ending in a soft line break, so the next piece continues the line."""
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True)
    start = encoded.rfind(b"\n") + 1
    if len(encoded) - start > 75:  # room for the "=" of the soft break
        cut = start + 75
        if encoded[cut - 1 : cut] == b"=":
            cut -= 1
        elif encoded[cut - 2 : cut - 1] == b"=":
            cut -= 2
        encoded = encoded[:cut] + b"=\n" + encoded[cut:]
    return (encoded + b"=\n").replace(b"\n", CRLF)


# Per reader


def compose(template: MessageTemplate, reader: Reader, now: datetime | None = None) -> Personalized:
    """One reader's message: the template with their headers, greeting, address and tokens.

    Raises MimeError when the reader's address is not a plain ASCII address.
    """
    settings = template.settings
    email = reader.email
    if not ADDRESS.fullmatch(email) or len(email) > 254:
        raise MimeError(f"subscriber {reader.subscriber_id}: {email!r} cannot be a recipient")
    name = clean_header_text(reader.name or "", NAME_LIMIT)
    unsubscribe_token = links.unsubscribe_token(
        settings, reader.subscriber_id, template.newsletter_id
    )
    unsubscribe = links.unsubscribe_url_for(settings, unsubscribe_token)
    values = {
        GREETING: greeting(name, template.language),
        EMAIL: email,
        UNSUBSCRIBE_URL: unsubscribe,
        PREFERENCES_URL: links.preferences_url(settings, reader.subscriber_id),
        CLICK_TAG: links.click_tag(
            settings,
            now or template.date,
            reader.subscriber_id if reader.counts_clicks and reader.delivery_id else None,
            reader.delivery_id,
        ),
    }
    if reader.delivery_id is not None:
        tag = message_id_tag(template.settings, template.message_key, reader.delivery_id)
        key = f"{reader.delivery_id}.{tag}"
    else:
        key = secrets.token_hex(8)
    message_id = f"<{template.message_key}.{key}@{template.domain}>"
    date = format_datetime((now or template.date).astimezone(UTC))
    lines = [
        b"Date: " + date.encode("ascii") + CRLF,
        b"Message-ID: " + message_id.encode("ascii") + CRLF,
        address_header("To", name, email) if name else f"To: {email}\r\n".encode("ascii"),
    ]
    if template.list_unsubscribe:
        mailto = links.unsubscribe_mailto(settings, reader.subscriber_id, template.newsletter_id)
        lines.append(f"List-Unsubscribe: <{unsubscribe}>,\r\n <{mailto}>\r\n".encode("ascii"))
    boundary = template.boundary.encode("ascii")
    data = b"".join(
        [
            *lines,
            template.head,
            CRLF,
            b"--" + boundary + CRLF,
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            _fill(template.text_pieces, values, escape=False),
            CRLF + b"--" + boundary + CRLF,
            b'Content-Type: text/html; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            _fill(template.html_pieces, values, escape=True),
            CRLF + b"--" + boundary + b"--" + CRLF,
        ]
    )
    return Personalized(_envelope_sender(settings, reader), data, message_id)


def personalize(template: MessageTemplate, reader: Reader, now: datetime | None = None) -> bytes:
    """The bytes of one reader's message (see `compose`)."""
    return compose(template, reader, now).data


def _fill(pieces: Sequence[Piece], values: dict[str, str], *, escape: bool) -> bytes:
    chunks = {
        name: qp_open((htmlmod.escape(value) if escape else value).encode("utf-8"))
        for name, value in values.items()
    }
    return b"".join([piece if isinstance(piece, bytes) else chunks[piece] for piece in pieces])


def _envelope_sender(settings: Settings, reader: Reader) -> str:
    if reader.delivery_id is not None:
        return verp_address(settings, reader.delivery_id)
    return f"bounces@{settings.bounce_domain}"


def header_lines_ok(data: bytes) -> bool:
    """True when no line of the message is longer than 998 octets (RFC 5322)."""
    return all(len(line) <= MAX_LINE for line in data.split(CRLF))
