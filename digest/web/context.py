"""What every route of the web app shares: settings, sessions, templates, limits, email."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.clock import Clock
from digest.readers.consent import Origin, publisher_name
from digest.render.templates import templates_dir
from digest.settings import Settings
from digest.web.ratelimit import SignupLimiter
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


def template_environment(settings: Settings) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(web_templates()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["publisher"] = publisher_name(settings)
    environment.globals["postal_address"] = settings.postal_address
    return environment


@dataclass
class WebContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    templates: Environment
    limiter: SignupLimiter
    guard: FormGuard
    notifier: Notifier
    clock: Clock

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction, committed when the block ends without error."""
        with self.sessions() as session, session.begin():
            yield session

    def page(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(**values)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

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
