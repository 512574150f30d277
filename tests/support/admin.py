"""A newsroom with some history, for the editor's view: editions, readers, feeds, signups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.accounts.passwords import hash_password
from digest.curation.schedules import slot_instant
from digest.models import (
    Community,
    ConsentAction,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionSegment,
    EditionStatus,
    Feed,
    Newsletter,
    Role,
    SubscriptionStatus,
    User,
)
from digest.sending import delivery
from tests import factories
from tests.factories import NOW

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "editor-password-for-tests"
EDITOR_EMAIL = "editor@example.org"
TOWN_EDITOR_EMAIL = "riverton-editor@example.org"
TOKEN_FIELD = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass(frozen=True)
class Newsroom:
    sent: int  # edition fully sent
    sending: int  # edition half-way: 4 sent, 1 failed, 4 queued of 9
    ready: int  # Riverton's edition of today, built, not started


def newsroom(sessions: sessionmaker[Session], now: datetime = NOW) -> Newsroom:
    """Two towns, one newsletter, 9 confirmed readers, three editions, feeds and signups."""
    with sessions() as session, session.begin():
        springfield, riverton = factories.towns(session, ("springfield", "riverton"))
        letter = factories.newsletter(session)
        letter.description = "The region's top stories and your town's, every morning at 6"
        session.add(Newsletter(slug="weekend", name="Weekend Reads", description="Saturdays"))
        factories.readers(session, letter, springfield, 6)
        factories.readers(session, letter, springfield, 2, SubscriptionStatus.PENDING, "p")
        factories.readers(session, letter, riverton, 3)
        factories.readers(session, letter, riverton, 1, SubscriptionStatus.UNSUBSCRIBED, "u")
        factories.stories(session, springfield, 4, now - timedelta(hours=1))
        factories.stories(session, None, 3, now - timedelta(hours=2))
        sent = _edition(session, letter, [springfield, riverton], now, days_ago=2)
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.edition_id == sent.id)
            .values(status=DeliveryStatus.SENT)
        )
        sent.status = EditionStatus.SENT
        sent.finished_at = now - timedelta(days=2)
        sending = _edition(session, letter, [springfield, riverton], now, days_ago=1)
        rows = session.scalars(
            select(Delivery).where(Delivery.edition_id == sending.id).order_by(Delivery.id)
        ).all()
        outcomes = [DeliveryStatus.SENT] * 4 + [DeliveryStatus.FAILED]
        for row, status in zip(rows, outcomes, strict=False):
            row.status = status
        # Riverton's edition of today, built and not started (Springfield's is still to come).
        ready = factories.ready_edition(session, letter, [riverton], _slot(now, days_ago=0))
        failing = session.scalars(select(Feed).where(Feed.community_id.is_(None))).one()
        failing.consecutive_failures = 3
        failing.last_error = "HTTP 503 from news.example (Service Unavailable)"
        for feed in session.scalars(select(Feed).where(Feed.community_id.is_not(None))):
            feed.last_success_at = now - timedelta(minutes=10)
        for segment in session.scalars(select(EditionSegment)):
            # At the slot's own moment in the town, as the scheduler sets it.
            segment.send_at = slot_instant(segment.edition.slot, segment.community.timezone)
        _consent_history(session, now)
        accounts(session, riverton)
        return Newsroom(sent.id, sending.id, ready.id)


@cache
def _password_hash() -> str:
    # argon2 is slow on purpose: hash the tests' one password once per run.
    return hash_password(ADMIN_PASSWORD)


def accounts(session: Session, town: Community) -> None:
    """An admin, an editor of every town and an editor of one town, all with ADMIN_PASSWORD."""
    people = [
        (ADMIN_EMAIL, Role.ADMIN, "Ada Admin", []),
        (EDITOR_EMAIL, Role.EDITOR, "Eddie Editor", []),
        (TOWN_EDITOR_EMAIL, Role.EDITOR, "Rita Riverton", [town]),
    ]
    for email, role, name, towns in people:
        user = User(email=email, name=name, role=role, password_hash=_password_hash())
        user.towns = towns
        session.add(user)
    session.flush()


def log_in(client: Any, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> Any:
    """Sign in through the form as a browser would (a TestClient keeps the cookies)."""
    page = client.get("/admin/login")
    match = TOKEN_FIELD.search(page.text)
    assert match, "no form token on the login page"
    return client.post(
        "/admin/login",
        data={"form_token": match.group(1), "email": email, "password": password},
        follow_redirects=False,
    )


def browser_log_in(page: Any, base_url: str, email: str = ADMIN_EMAIL) -> None:
    """Sign in with the form in a Playwright page, and wait for the overview."""
    page.goto(base_url + "/admin/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/admin/")


def _edition(
    session: Session, letter: object, places: list[object], now: datetime, days_ago: int
) -> Edition:
    edition = factories.ready_edition(session, letter, places, _slot(now, days_ago))  # type: ignore[arg-type]
    delivery.start_sending(session, edition, now - timedelta(days=days_ago))
    session.flush()
    return edition


def _slot(now: datetime, days_ago: int) -> datetime:
    """The 06:00 slot (local wall-clock time) of `days_ago` days before `now`'s day."""
    return datetime.combine(now.date() - timedelta(days=days_ago), time(6, 0))


def _consent_history(session: Session, now: datetime) -> None:
    pattern = [3, 5, 2, 6, 4, 8, 3, 7, 5, 9, 4, 6, 10, 7]
    for days_ago, signups in enumerate(pattern):
        when = now - timedelta(days=days_ago, hours=2)
        for _i in range(signups):
            session.add(ConsentEvent(action=ConsentAction.SIGNUP, occurred_at=when, source="test"))
        for _i in range(days_ago % 3):
            session.add(
                ConsentEvent(action=ConsentAction.UNSUBSCRIBE, occurred_at=when, source="test")
            )
    session.flush()
