"""Importing readers who consented elsewhere (Mailchimp, Substack, listmonk, Campaign Monitor, CSV).

- A row is read by its headers (`import_formats`); a row Digest cannot use is reported with
  its line and reason and skipped, never fatal.
- Subscribed rows become confirmed readers; the source's consent date is their consent
  record's date (the import's own time is kept beside it).
- Unsubscribed, cleaned, bounced, complained and blocklisted rows become suppressions: those
  addresses are never mailed, whatever else the file or a later import says.
- Suppressed addresses and readers who unsubscribed here are never re-added.
- Rows go in by chunks with a few bulk statements each (100,000 rows in seconds, see
  bench/bench_import.py). Nothing commits: a dry run is the same import rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.addresses import AddressError, email_hash, normalize_email
from digest.curation.communities import list_communities
from digest.errors import DigestError, NotFoundError
from digest.models import (
    Community,
    ConsentAction,
    ConsentEvent,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from digest.readers import import_formats as formats
from digest.readers.audiences import audience_key, known_interests
from digest.readers.bulk import insert_rows, one_of

CHUNK = 2000
NO_TOWN = "no town: give it a town column or import with --community"
_SUPPRESS_AS = {
    formats.UNSUBSCRIBED: SuppressionReason.MANUAL,
    formats.CLEANED: SuppressionReason.HARD_BOUNCE,
    formats.BOUNCED: SuppressionReason.HARD_BOUNCE,
    formats.COMPLAINED: SuppressionReason.COMPLAINT,
    formats.BLOCKED: SuppressionReason.MANUAL,
}


@dataclass
class ImportReport:
    added: int = 0  # new readers
    confirmed: int = 0  # subscriptions started
    unchanged: int = 0  # already confirmed
    suppressed: int = 0  # unsubscribed, cleaned or bounced at the source: never mailed
    rows: int = 0
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (line, email, reason)


@dataclass(frozen=True)
class _Plan:
    """What every row of one import is checked against, read once."""

    newsletters: list[Newsletter]
    towns: dict[str, Community]  # by slug and by lower-case name
    default_town: Community | None
    sections: frozenset[str]
    source: str
    now: datetime


@dataclass
class _Reader:
    line: int
    email: str
    row: formats.SourceRow
    town: Community | None  # None only for rows that are suppressed, not imported
    interests: list[str] | None


def import_subscribers(
    session: Session,
    rows: Iterable[Mapping[str, str | None]],
    *,
    source: str,
    community: str | None,
    newsletters: Sequence[str],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import rows (a dict per row, keyed by the file's headers) as confirmed readers.

    `source` says where and how they consented; `community` is the town of rows that name
    none. `progress` is called with the number of rows done after each chunk. Raises
    DigestError when the source, newsletters or default town are missing or unknown.
    """
    plan = _plan(session, source, community, newsletters, now)
    report = ImportReport()
    seen: dict[str, int] = {}
    numbered = enumerate(rows, start=2)  # line 1 is the header
    while chunk := list(islice(numbered, CHUNK)):
        _import_chunk(session, plan, report, seen, chunk)
        report.rows += len(chunk)
        if progress is not None:
            progress(report.rows)
    session.expire_all()  # rows were written in bulk, behind the ORM's back
    report.skipped.sort(key=lambda skipped: skipped[0])
    return report


def _plan(
    session: Session, source: str, community: str | None, newsletters: Sequence[str], now: datetime
) -> _Plan:
    if not source.strip():
        raise DigestError("import: a consent source is required (how these readers agreed)")
    if not newsletters:
        raise DigestError("import: at least one newsletter is required")
    chosen = list(session.scalars(select(Newsletter).where(Newsletter.slug.in_(newsletters))))
    missing = sorted(set(newsletters) - {n.slug for n in chosen})
    if missing:
        raise NotFoundError("newsletter", f"import: no newsletter {', '.join(missing)}")
    known = list_communities(session)
    towns = {c.slug: c for c in known} | {c.name.lower(): c for c in known}
    if community is not None and community not in towns:
        names = ", ".join(sorted(c.slug for c in known))
        raise DigestError(f"import: unknown town {community!r} (known: {names})")
    session.flush()  # readers added earlier in this transaction are seen by the bulk reads
    sections = frozenset(known_interests(session))
    return _Plan(
        chosen,
        towns,
        towns[community] if community else None,
        sections,
        f"import: {source.strip()}"[:200],
        now,
    )


def _import_chunk(
    session: Session,
    plan: _Plan,
    report: ImportReport,
    seen: dict[str, int],
    chunk: list[tuple[int, Mapping[str, str | None]]],
) -> None:
    readers: list[_Reader] = []
    suppress: dict[str, tuple[str, formats.SourceRow]] = {}
    for line, raw in chunk:
        reader = _read_row(plan, report, seen, line, raw)
        if reader is None:
            continue
        if reader.row.status == formats.SUBSCRIBED:
            readers.append(reader)
        elif reader.row.status == formats.PENDING:
            report.skipped.append((line, reader.email, "not confirmed at the source: no consent"))
        else:
            suppress[reader.email] = (reader.row.status, reader.row)
    report.suppressed += _suppress(session, plan, suppress)
    blocked = _suppressed(session, [email_hash(r.email) for r in readers])
    wanted = []
    for reader in readers:
        if email_hash(reader.email) in blocked:
            report.skipped.append((reader.line, reader.email, "suppressed: never mailed again"))
        else:
            wanted.append(reader)
    ids = _subscriber_ids(session, plan, report, wanted)
    _subscribe(session, plan, report, [r for r in wanted if r.email in ids], ids)


def _read_row(
    plan: _Plan,
    report: ImportReport,
    seen: dict[str, int],
    line: int,
    raw: Mapping[str, str | None],
) -> _Reader | None:
    try:
        row = formats.source_row(raw)
    except ValueError as exc:
        report.skipped.append((line, "", str(exc)))
        return None
    try:
        email = normalize_email(row.email)
    except AddressError as exc:
        report.skipped.append((line, row.email, str(exc)))
        return None
    if email in seen:
        report.skipped.append((line, email, f"the same address as line {seen[email]}"))
        return None
    seen[email] = line
    town = _town(plan, row)
    if town is None and row.status == formats.SUBSCRIBED:
        reason = f"unknown town {row.town!r}" if row.town else NO_TOWN
        report.skipped.append((line, email, reason))
        return None
    unknown = [i for i in row.interests if i.lower() not in plan.sections]
    if unknown and row.status == formats.SUBSCRIBED:
        known = ", ".join(sorted(plan.sections))
        report.skipped.append((line, email, f"unknown interest {unknown[0]!r} (known: {known})"))
        return None
    # Tags that name a section are interests (Mailchimp keeps groups and tags that way).
    kept = {i.lower() for i in row.interests} | {
        t.lower() for t in row.tags if t.lower() in plan.sections
    }
    return _Reader(line, email, row, town, sorted(kept) or None)


def _town(plan: _Plan, row: formats.SourceRow) -> Community | None:
    if row.town:
        return plan.towns.get(row.town) or plan.towns.get(row.town.lower())
    for tag in row.tags:
        town = plan.towns.get(tag) or plan.towns.get(tag.lower())
        if town is not None:
            return town
    return plan.default_town


def _suppressed(session: Session, hashes: list[str]) -> set[str]:
    """Which of these address hashes are suppressed (one query for a chunk)."""
    if not hashes:
        return set()
    query = select(Suppression.email_hash).where(one_of(session, Suppression.email_hash, hashes))
    return set(session.scalars(query))


def _suppress(session: Session, plan: _Plan, rows: dict[str, tuple[str, formats.SourceRow]]) -> int:
    """Suppress addresses the source had stopped mailing; returns how many are new."""
    if not rows:
        return 0
    values = {
        email_hash(email): {
            "email_hash": email_hash(email),
            "email": email,
            "reason": _SUPPRESS_AS[status],
            "detail": f"{status} at the source ({plan.source})"[:500],
            "created_at": plan.now,
        }
        for email, (status, _row) in rows.items()
    }
    before = _suppressed(session, list(values))
    fresh = [v for digest, v in values.items() if digest not in before]
    if fresh:
        dialect = session.get_bind().dialect.name
        insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert_into(Suppression).on_conflict_do_nothing(), fresh)
    return len(fresh)


def _subscriber_ids(
    session: Session, plan: _Plan, report: ImportReport, readers: list[_Reader]
) -> dict[str, int]:
    """The id of each reader's row, adding the new ones; readers not active are reported."""
    emails = [r.email for r in readers]
    found = session.execute(
        select(Subscriber.email, Subscriber.id, Subscriber.status).where(
            Subscriber.email.in_(emails)
        )
    ).all()
    ids = {
        str(email): int(id_) for email, id_, status in found if status == SubscriberStatus.ACTIVE
    }
    inactive = {str(email): status for email, _, status in found if status != "active"}
    for reader in readers:
        if reader.email in inactive:
            status = SubscriberStatus(inactive[reader.email]).value
            report.skipped.append((reader.line, reader.email, f"subscriber is {status}"))
    new = [r for r in readers if r.email not in ids and r.email not in inactive]
    if new:
        rows = [
            {
                "email": r.email,
                "email_hash": email_hash(r.email),
                "name": (r.row.name or "")[:200] or None,
                "community_id": r.town.id if r.town else None,
                "status": SubscriberStatus.ACTIVE,
                "created_at": plan.now,
                "updated_at": plan.now,
            }
            for r in new
        ]
        insert_rows(session, Subscriber, rows)
        added = select(Subscriber.email, Subscriber.id).where(
            one_of(session, Subscriber.email, [r.email for r in new])
        )
        ids.update({str(email): int(id_) for email, id_ in session.execute(added)})
        report.added += len(new)
    return ids


def _subscribe(
    session: Session,
    plan: _Plan,
    report: ImportReport,
    readers: list[_Reader],
    ids: dict[str, int],
) -> None:
    """Confirm each reader on each newsletter, with a consent record dated by the source."""
    if not readers:
        return
    letters = [n.id for n in plan.newsletters]
    existing = {
        (int(sub), int(letter)): (int(id_), status)
        for id_, sub, letter, status in session.execute(
            select(
                Subscription.id,
                Subscription.subscriber_id,
                Subscription.newsletter_id,
                Subscription.status,
            ).where(
                one_of(session, Subscription.subscriber_id, [ids[r.email] for r in readers]),
                Subscription.newsletter_id.in_(letters),
            )
        )
    }
    new_rows: list[dict[str, object]] = []
    pending_ids: list[int] = []
    events: list[dict[str, object]] = []
    for reader in readers:
        subscriber_id = ids[reader.email]
        consented = reader.row.consent_at or plan.now
        for newsletter in plan.newsletters:
            found = existing.get((subscriber_id, newsletter.id))
            if found is not None and found[1] == SubscriptionStatus.UNSUBSCRIBED:
                reason = f"unsubscribed from {newsletter.slug}: not re-added"
                report.skipped.append((reader.line, reader.email, reason))
                continue
            if found is not None and found[1] == SubscriptionStatus.CONFIRMED:
                report.unchanged += 1
                continue
            if found is None:
                new_rows.append(_subscription_row(plan, reader, subscriber_id, newsletter))
            else:
                pending_ids.append(found[0])
            report.confirmed += 1
            events.append(_consent_row(plan, reader, subscriber_id, newsletter, consented))
    if new_rows:
        insert_rows(session, Subscription, new_rows)
    if pending_ids:
        session.execute(
            update(Subscription)
            .where(Subscription.id.in_(pending_ids))
            .values(status=SubscriptionStatus.CONFIRMED, confirmed_at=plan.now),
            execution_options={"synchronize_session": False},
        )
    if events:
        insert_rows(session, ConsentEvent, events)


def _subscription_row(
    plan: _Plan, reader: _Reader, subscriber_id: int, newsletter: Newsletter
) -> dict[str, object]:
    return {
        "subscriber_id": subscriber_id,
        "newsletter_id": newsletter.id,
        "status": SubscriptionStatus.CONFIRMED,
        "source": plan.source,
        "created_at": plan.now,
        "confirmed_at": reader.row.consent_at or plan.now,
        "interests": reader.interests,
        "frequency": "daily",
        "audience": audience_key((), reader.interests),
    }


def _consent_row(
    plan: _Plan,
    reader: _Reader,
    subscriber_id: int,
    newsletter: Newsletter,
    consented: datetime,
) -> dict[str, object]:
    detail: dict[str, object] = {"line": reader.line, "imported_at": plan.now.isoformat()}
    if reader.row.consent_at is None:
        detail["consent_date"] = "not given by the source: the import's time"
    return {
        "subscriber_id": subscriber_id,
        "newsletter_id": newsletter.id,
        "action": ConsentAction.IMPORT,
        "occurred_at": consented,
        "source": plan.source,
        "detail": detail,
    }
