"""Lists in and out: importing readers who consented elsewhere, exporting a newsletter's list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.addresses import AddressError, normalize_email
from digest.curation.communities import list_communities
from digest.errors import DigestError, NotFoundError
from digest.models import (
    Community,
    ConsentAction,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.consent import Origin, record_consent
from digest.readers.subscribers import subscriber_for, subscription_for
from digest.readers.suppressions import is_suppressed


@dataclass
class ImportReport:
    added: int = 0
    confirmed: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (line, email, reason)


def import_subscribers(
    session: Session,
    rows: Iterable[Mapping[str, str | None]],
    *,
    source: str,
    community: str | None,
    newsletters: Sequence[str],
    now: datetime,
) -> ImportReport:
    """Add readers who consented elsewhere (`source` says where and how), confirmed at once.

    Each row has `email` and optionally `name`, `community` (a town slug, else the
    `community` argument). Suppressed addresses and readers who unsubscribed are skipped,
    never re-added. Raises DigestError when the source or newsletters are missing or unknown.
    """
    if not source.strip():
        raise DigestError("import: a consent source is required (how these readers agreed)")
    if not newsletters:
        raise DigestError("import: at least one newsletter is required")
    chosen = list(session.scalars(select(Newsletter).where(Newsletter.slug.in_(newsletters))))
    missing = sorted(set(newsletters) - {n.slug for n in chosen})
    if missing:
        raise NotFoundError("newsletter", f"import: no newsletter {', '.join(missing)}")
    towns = {c.slug: c for c in list_communities(session)}
    if community is not None and community not in towns:
        raise DigestError(f"import: unknown town {community!r} (known: {', '.join(sorted(towns))})")
    origin = Origin(source=f"import: {source.strip()}"[:200])
    report = ImportReport()
    for line, row in enumerate(rows, start=2):  # line 1 is the CSV header
        raw = (row.get("email") or "").strip()
        try:
            normal = normalize_email(raw)
        except AddressError as exc:
            report.skipped.append((line, raw, str(exc)))
            continue
        town_slug = (row.get("community") or "").strip() or community
        if town_slug is None or town_slug not in towns:
            report.skipped.append((line, normal, f"unknown town {town_slug!r}"))
            continue
        if is_suppressed(session, normal):
            report.skipped.append((line, normal, "suppressed: never mailed again"))
            continue
        _import_one(session, report, line, normal, row, towns[town_slug], chosen, origin, now)
    session.flush()
    return report


def _import_one(
    session: Session,
    report: ImportReport,
    line: int,
    normal: str,
    row: Mapping[str, str | None],
    town: Community,
    chosen: list[Newsletter],
    origin: Origin,
    now: datetime,
) -> None:
    existing = session.scalars(select(Subscriber).where(Subscriber.email == normal)).one_or_none()
    subscriber = existing or subscriber_for(session, normal, town, now)
    if existing is None:
        subscriber.name = (row.get("name") or "").strip()[:200] or None
        session.flush()  # its id goes into the consent records
        report.added += 1
    if subscriber.status != SubscriberStatus.ACTIVE:
        report.skipped.append((line, normal, f"subscriber is {subscriber.status.value}"))
        return
    for newsletter in chosen:
        subscription = subscription_for(subscriber, newsletter, origin, now)
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            report.skipped.append(
                (line, normal, f"unsubscribed from {newsletter.slug}: not re-added")
            )
            continue
        if subscription.status == SubscriptionStatus.CONFIRMED:
            report.unchanged += 1
            continue
        subscription.status = SubscriptionStatus.CONFIRMED
        subscription.confirmed_at = now
        report.confirmed += 1
        record_consent(
            session, subscriber.id, newsletter.id, ConsentAction.IMPORT, origin, now, {"line": line}
        )


def export_list(session: Session, newsletter: str) -> list[dict[str, str]]:
    """The confirmed, active readers of a newsletter, by address (for a CSV)."""
    found = session.scalars(select(Newsletter).where(Newsletter.slug == newsletter)).one_or_none()
    if found is None:
        raise NotFoundError("newsletter", f"no newsletter {newsletter!r}")
    query = (
        select(Subscriber, Subscription, Community)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(Community, Community.id == Subscriber.community_id)
        .where(
            Subscription.newsletter_id == found.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscriber.status == SubscriberStatus.ACTIVE,
        )
        .order_by(Subscriber.email)
    )
    return [
        {
            "email": subscriber.email or "",
            "name": subscriber.name or "",
            "community": town.slug,
            "confirmed_at": subscription.confirmed_at.isoformat()
            if subscription.confirmed_at
            else "",
            "source": subscription.source,
        }
        for subscriber, subscription, town in session.execute(query)
    ]
