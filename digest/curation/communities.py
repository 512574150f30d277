"""Communities: the towns and regions a reader can pick, each in its own time zone."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.curation.schedules import zone
from digest.errors import AlreadyExistsError, DigestError, NotFoundError
from digest.models import Community

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def check_slug(slug: str, what: str) -> str:
    """The slug if it is lower-case letters, digits and dashes; else DigestError."""
    if not SLUG.match(slug):
        raise DigestError(
            f"{what} slug {slug!r}: use lower-case letters, digits and dashes (like 'springfield')"
        )
    return slug


def add_community(session: Session, slug: str, name: str, timezone: str) -> Community:
    """Add a town; raises DigestError for a bad slug or time zone, or a slug already taken."""
    check_slug(slug, "community")
    zone(timezone)
    if session.scalar(select(Community.id).where(Community.slug == slug)) is not None:
        raise AlreadyExistsError("community", f"community {slug!r} already exists")
    community = Community(slug=slug, name=name.strip() or slug, timezone=timezone)
    session.add(community)
    session.flush()
    return community


def get_community(session: Session, slug: str) -> Community:
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise NotFoundError("community", f"no community {slug!r}")
    return community


def list_communities(session: Session) -> list[Community]:
    """Every town, by name (the order readers and editors see)."""
    return list(session.scalars(select(Community).order_by(Community.name)))


def update_community(session: Session, community: Community, name: str, timezone: str) -> list[str]:
    """Rename a town or move its time zone; returns the fields that changed.

    Raises DigestError for an empty name or an unknown time zone. A new zone applies from the
    next slot: editions already built keep their send times. Does not commit.
    """
    name = " ".join(name.split())
    if not name:
        raise DigestError("give the town a name readers will recognise")
    if len(name) > 200:
        raise DigestError("keep the town's name under 200 characters")
    zone(timezone)
    changed = []
    if community.name != name:
        community.name = name
        changed.append("name")
    if community.timezone != timezone:
        community.timezone = timezone
        changed.append("timezone")
    session.flush()
    return changed
