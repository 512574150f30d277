"""What every route of the web app shares: settings, sessions, templates, limits, email."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.clock import Clock
from digest.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    clock,
    long_date,
    supported,
    translatable,
    translate,
)
from digest.readers.consent import Origin, publisher_name
from digest.render.templates import install_language, templates_dir
from digest.settings import Settings
from digest.web.ratelimit import SeenTokens, SignupLimiter
from digest.web.security import FormGuard

log = logging.getLogger(__name__)


def web_templates() -> Path:
    """The web pages' templates (`templates/web`), from a checkout or an installed package."""
    return templates_dir() / "web"


class Notifier(Protocol):
    """Queues the reader's transactional emails; called only after the commit."""

    def confirmation(self, subscriber_id: int) -> None: ...

    def welcome(self, subscriber_id: int) -> None: ...

    def email_change(self, subscriber_id: int, new_address: str) -> None: ...


class CeleryNotifier:
    """Queues the emails as Celery tasks (workers.tasks), by name: the web process needs
    only the Celery app, not the modules the tasks import."""

    def confirmation(self, subscriber_id: int) -> None:
        from workers.celery_app import app

        app.send_task("digest.send_confirmation", args=[subscriber_id])

    def welcome(self, subscriber_id: int) -> None:
        from workers.celery_app import app

        app.send_task("digest.send_welcome", args=[subscriber_id])

    def email_change(self, subscriber_id: int, new_address: str) -> None:
        from workers.celery_app import app

        app.send_task("digest.send_email_change", args=[subscriber_id, new_address])


def template_environment(settings: Settings, language: str = DEFAULT_LANGUAGE) -> Environment:
    """The web pages in one language."""
    environment = Environment(
        loader=FileSystemLoader(web_templates()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["publisher"] = publisher_name(settings)
    environment.globals["postal_address"] = settings.postal_address
    install_language(environment, language)
    environment.filters["interest_name"] = lambda key: interest_name(key, language)
    # A reader's page links to itself in the other languages (`?lang=`), each named in its own.
    environment.globals["other_languages"] = [
        (code, LANGUAGE_NAMES[code]) for code in LANGUAGES if code != supported(language)
    ]
    environment.filters["iso_long_date"] = lambda iso: long_date(date.fromisoformat(iso), language)
    environment.filters["day_and_time"] = lambda at: day_and_time(at, language)
    return environment


def day_and_time(at: datetime, language: str) -> str:
    """An edition's slot on the editors' pages: 'Tuesday 01 December 2026, 06:00' /
    'mardi 1 décembre 2026, 6 h 00'."""
    if supported(language) == DEFAULT_LANGUAGE:
        return at.strftime("%A %d %B %Y, %H:%M")
    return f"{long_date(at, language)}, {clock(at, language)}"


# The story sections readers choose from (digest.readers.audiences), as a reader reads them; a
# section only a feed names is shown as written.
INTEREST_NAMES = {
    "news": translatable("News"),
    "sports": translatable("Sports"),
    "schools": translatable("Schools"),
    "obituaries": translatable("Obituaries"),
    "events": translatable("Events"),
    "opinion": translatable("Opinion"),
    "business": translatable("Business"),
    "arts": translatable("Arts"),
    "weather": translatable("Weather"),
    "regional": translatable("Regional"),
    "wire": translatable("Wire"),
    "most_read": translatable("Most read"),
}


def interest_name(key: str, language: str) -> str:
    known = INTEREST_NAMES.get(key)
    return translate(known, language) if known else key.replace("_", " ").capitalize()


def page_environments(settings: Settings) -> dict[str, Environment]:
    return {language: template_environment(settings, language) for language in LANGUAGES}


@dataclass
class WebContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    templates: Environment  # English
    limiter: SignupLimiter
    seen_tokens: SeenTokens  # of signed webhook posts (a replay is refused)
    guard: FormGuard
    notifier: Notifier
    clock: Clock
    reader_templates: Mapping[str, Environment] = field(default_factory=dict)  # by language

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction, committed when the block ends without error."""
        with self.sessions() as session, session.begin():
            yield session

    def templates_in(self, language: str) -> Environment:
        """The pages in `language` (English when it has no environment)."""
        return self.reader_templates.get(supported(language), self.templates)

    def page(
        self, name: str, status: int = 200, *, lang: str | None = None, **values: Any
    ) -> HTMLResponse:
        """A page in `lang`, with links to itself in the other languages; without `lang`, an
        English page without them (the development outbox)."""
        templates = self.templates_in(lang) if lang else self.templates
        html = templates.get_template(name).render(language_links=bool(lang), **values)
        headers = {"cache-control": "no-store"}
        if lang:
            headers["content-language"] = supported(lang)
            headers["vary"] = "Accept-Language"
        return HTMLResponse(html, status_code=status, headers=headers)

    def origin(self, request: Request, source: str) -> Origin:
        return Origin(
            source=source,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            wording_version=self.settings.consent_wording_version,
        )


async def context(request: Request) -> WebContext:
    """The app's WebContext (async, so FastAPI does not spend a thread hop on it)."""
    web: WebContext = request.app.state.web
    return web
