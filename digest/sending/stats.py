"""The counts an editor and an operator look at: the same for `digest stats` and /admin."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.models import (
    Community,
    ConsentAction,
    ConsentEvent,
    Delivery,
    Edition,
    EditionTownCount,
    Feed,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.sending.states import done_count


@dataclass(frozen=True)
class EditionProgress:
    id: int
    newsletter: str
    slot: datetime
    status: str
    recipients: int
    counts: dict[str, int]
    pause_reason: str | None = None

    @property
    def done(self) -> int:
        return done_count(self.counts)

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.recipients if self.recipients else 0.0


@dataclass(frozen=True)
class ReadersByTown:
    newsletter: str
    town: str
    confirmed: int
    pending: int
    unsubscribed: int


@dataclass(frozen=True)
class DailySignups:
    day: date
    signups: int
    confirmations: int
    unsubscribes: int


def recent_editions(session: Session, limit: int = 20) -> list[EditionProgress]:
    """The newest editions, each with its deliveries counted by status."""
    editions = session.execute(
        select(
            Edition.id,
            Newsletter.slug,
            Edition.slot,
            Edition.status,
            Edition.recipient_count,
            Edition.pause_reason,
        )
        .join(Newsletter, Newsletter.id == Edition.newsletter_id)
        .order_by(Edition.id.desc())
        .limit(limit)
    ).all()
    ids = [row[0] for row in editions]
    counts: dict[int, Counter[str]] = {edition_id: Counter() for edition_id in ids}
    rows = session.execute(
        select(Delivery.edition_id, Delivery.status, func.count())
        .where(Delivery.edition_id.in_(ids))
        .group_by(Delivery.edition_id, Delivery.status)
    ).all()
    folded = session.execute(  # the history of old editions, kept by retention as counts
        select(
            EditionTownCount.edition_id, EditionTownCount.status, func.sum(EditionTownCount.count)
        )
        .where(EditionTownCount.edition_id.in_(ids))
        .group_by(EditionTownCount.edition_id, EditionTownCount.status)
    ).all()
    for edition_id, status, count in [*rows, *folded]:
        counts[edition_id][str(status)] += int(count or 0)
    return [
        EditionProgress(row[0], row[1], row[2], str(row[3]), row[4], dict(counts[row[0]]), row[5])
        for row in editions
    ]


def readers_by_town(session: Session) -> list[ReadersByTown]:
    """Readers of each newsletter in each town, by subscription status."""
    rows = session.execute(
        select(Newsletter.slug, Community.slug, Subscription.status, func.count())
        .join(Subscription, Subscription.newsletter_id == Newsletter.id)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .join(Community, Community.id == Subscriber.community_id)
        .group_by(Newsletter.slug, Community.slug, Subscription.status)
    ).all()
    table: dict[tuple[str, str], Counter[str]] = {}
    for newsletter, town, status, count in rows:
        table.setdefault((newsletter, town), Counter())[str(status)] = count
    return [
        ReadersByTown(
            newsletter,
            town,
            counts[SubscriptionStatus.CONFIRMED],
            counts[SubscriptionStatus.PENDING],
            counts[SubscriptionStatus.UNSUBSCRIBED],
        )
        for (newsletter, town), counts in sorted(table.items())
    ]


def daily_signups(session: Session, today: date, days: int = 30) -> list[DailySignups]:
    """Signups, confirmations and unsubscribes per day over the last `days` days (UTC)."""
    since = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)
    day = func.date(ConsentEvent.occurred_at)  # a date on PostgreSQL, 'YYYY-MM-DD' on SQLite
    rows = session.execute(
        select(day, ConsentEvent.action, func.count())
        .where(ConsentEvent.occurred_at >= since)
        .group_by(day, ConsentEvent.action)
    ).all()
    by_day: dict[date, Counter[str]] = {}
    for when, action, count in rows:
        key = when if isinstance(when, date) else date.fromisoformat(str(when))
        by_day.setdefault(key, Counter())[str(action)] += count
    return [
        DailySignups(
            when,
            by_day.get(when, Counter())[ConsentAction.SIGNUP],
            by_day.get(when, Counter())[ConsentAction.CONFIRM],
            by_day.get(when, Counter())[ConsentAction.UNSUBSCRIBE]
            + by_day.get(when, Counter())[ConsentAction.COMPLAINT],
        )
        for when in (today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    ]


def feed_health(session: Session) -> list[Feed]:
    """Every feed, failing ones first."""
    return list(session.scalars(select(Feed).order_by(Feed.consecutive_failures.desc(), Feed.url)))
