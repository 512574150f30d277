"""Newsletters: the lists a reader can join, each with a schedule and capped sections."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.communities import check_slug
from digest.curation.schedules import cron_line
from digest.curation.sections import LOCAL, SECTION_ORDER, TOP
from digest.errors import AlreadyExistsError, DigestError, NotFoundError
from digest.models import Newsletter

DEFAULT_SECTIONS = {TOP: 5, LOCAL: 5}


def parse_sections(text: str) -> dict[str, int]:
    """Section caps from "top=5,local=5,most_read=3"; raises DigestError naming the bad part."""
    caps: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in SECTION_ORDER:
            raise DigestError(f"unknown section {key!r} (use {', '.join(SECTION_ORDER)})")
        if not value.strip().isdigit() or int(value) > 50:
            raise DigestError(f"section {key}: cap {value!r} must be a whole number from 0 to 50")
        caps[key] = int(value)
    if not any(caps.values()):
        raise DigestError("at least one section needs a cap above 0 (like top=5,local=5)")
    return caps


def add_newsletter(
    session: Session,
    slug: str,
    name: str,
    schedule: str = "0 6 * * *",
    sections: dict[str, int] | None = None,
    window_hours: int = 48,
    description: str = "",
    kind: str = "digest",
) -> Newsletter:
    """Add a newsletter; raises DigestError for a bad slug, schedule or a slug already taken."""
    check_slug(slug, "newsletter")
    if kind not in ("digest", "alert"):
        raise DigestError(f"unknown newsletter kind {kind!r} (use digest or alert)")
    cron_line(schedule)
    if not 1 <= window_hours <= 24 * 31:
        raise DigestError("window must be between 1 hour and 31 days (in hours)")
    if session.scalar(select(Newsletter.id).where(Newsletter.slug == slug)) is not None:
        raise AlreadyExistsError("newsletter", f"newsletter {slug!r} already exists")
    newsletter = Newsletter(
        slug=slug,
        name=name.strip() or slug,
        description=description,
        schedule=schedule,
        sections=dict(sections or DEFAULT_SECTIONS),
        window_hours=window_hours,
        kind=kind,
    )
    session.add(newsletter)
    session.flush()
    return newsletter


def get_newsletter(session: Session, slug: str) -> Newsletter:
    newsletter = session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    if newsletter is None:
        raise NotFoundError("newsletter", f"no newsletter {slug!r}")
    return newsletter


def list_newsletters(session: Session) -> list[Newsletter]:
    return list(session.scalars(select(Newsletter).order_by(Newsletter.slug)))


def open_newsletters(session: Session) -> list[Newsletter]:
    """The newsletters a reader can join, by name."""
    query = select(Newsletter).where(Newsletter.active.is_(True)).order_by(Newsletter.name)
    return list(session.scalars(query))


UTM_PAIR = re.compile(r"[A-Za-z0-9_.\-]+=[A-Za-z0-9_.~%+\-]*")


def set_utm_params(session: Session, slug: str, params: str) -> Newsletter:
    """Set the query parameters added to the newsletter's story links ("" for none).

    Raises NotFoundError for an unknown newsletter, DigestError for a malformed parameter.
    Does not commit.
    """
    newsletter = get_newsletter(session, slug)
    params = params.strip().lstrip("?&")
    for pair in (p for p in params.split("&") if p):
        if not UTM_PAIR.fullmatch(pair):
            raise DigestError(
                f"UTM parameter {pair!r} is not key=value "
                "(write them like utm_source=digest&utm_medium=email)"
            )
    if len(params) > 500:
        raise DigestError("UTM parameters are longer than 500 characters")
    newsletter.utm_params = params
    session.flush()
    return newsletter
