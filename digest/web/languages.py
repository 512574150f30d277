"""Which language a reader's page speaks.

In order: the reader's explicit choice (`?lang=fr`; the signup form keeps its page's language
in a hidden `lang` field), the language of the newsletters the page belongs to when they share
one, the browser's Accept-Language, English.

An editor's page: the editor's choice (`?lang=fr`, remembered in a cookie so it sticks across
pages), the browser's Accept-Language, English. The advertiser's campaign report: the
campaign's newsletters' language when they share one, else the browser's.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from digest.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_of, negotiate

QUERY = "lang"
# The editor's choice of language, kept for a year across the editors' pages.
COOKIE = "digest_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
# The editors' and advertisers' pages choose their language themselves (`editor_language`),
# and the JSON API's codes are English; every other page (and an error page at any other
# address, such as a mistyped link) is a reader's.
ENGLISH_TREES = ("/admin", "/sponsor-report", "/dev", "/api/", "/healthz", "/docs", "/openapi")


def is_reader_page(path: str) -> bool:
    return not path.startswith(ENGLISH_TREES)


def explicit_language(request: Request) -> str | None:
    """The language the reader chose in the address (`?lang=fr`), when it is one we have."""
    asked = (request.query_params.get(QUERY) or "").strip().lower()
    return asked if asked in LANGUAGES else None


def form_language(form: FormData) -> str | None:
    """The language of the page a form was sent from (its hidden `lang` field)."""
    sent = str(form.get(QUERY) or "").strip().lower()
    return sent if sent in LANGUAGES else None


def browser_language(request: Request) -> str:
    """The reader's choice, else the browser's preferred language we have, else English."""
    return (
        explicit_language(request)
        or negotiate(request.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )


def reader_language(request: Request, newsletter_languages: Iterable[str] = ()) -> str:
    """The page's language: the reader's choice, the newsletters' own, or the browser's."""
    return (
        explicit_language(request) or language_of(newsletter_languages) or browser_language(request)
    )


def editor_language(request: Request) -> str:
    """An editor's page: `?lang=`, else the remembered choice, else the browser's, else English."""
    remembered = (request.cookies.get(COOKIE) or "").strip().lower()
    return (
        explicit_language(request)
        or (remembered if remembered in LANGUAGES else None)
        or negotiate(request.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )


def remember_language(request: Request, response: Response, *, secure: bool) -> None:
    """Keep the language chosen in the address (`?lang=`) for the editor's next pages."""
    chosen = explicit_language(request)
    if chosen is not None and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(
            COOKIE, chosen, max_age=COOKIE_MAX_AGE, path="/", samesite="lax", secure=secure
        )
