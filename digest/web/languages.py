"""Which language a reader's page speaks.

In order: the reader's explicit choice (`?lang=fr`; the signup form keeps its page's language
in a hidden `lang` field), the language of the newsletters the page belongs to when they share
one, the browser's Accept-Language, English. Editors' and advertisers' pages are in English.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import FormData
from starlette.requests import Request

from digest.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_of, negotiate

QUERY = "lang"
# The editors' and advertisers' pages, and the JSON API, are in English; every other page
# (and an error page at any other address, such as a mistyped link) is a reader's.
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
