"""Breaking news: an alert newsletter sends one story, now, to the readers who opted in.

A reader opts in by subscribing to a newsletter of kind "alert". An alert is an edition like
any other (segments, deliveries, the same sending, fencing and bounce handling), so it keeps
every guarantee of delivery: one message per reader, suppressions honoured at creation and
at send time. What differs:
- its one story is chosen by an editor (`digest alerts send`) or is a feed item tagged
  "breaking" (`dispatch_breaking`, run with the scheduler's pass every minute);
- it goes to the story's town (or the town the editor names; a regional story to every
  town), and only to readers whose sections for the alert newsletter include the story's;
- one alert per story and newsletter (a unique constraint), whoever asks twice;
- a reader gets at most DIGEST_ALERT_DAILY_CAP alerts in 24 hours: the deliveries past the cap
  are made cancelled in the same transaction, so they are never sent and stay on record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from digest.curation.sections import TOP, Section, StoryCard
from digest.errors import DigestError, NotFoundError
from digest.models import (
    Community,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionSegment,
    EditionStatus,
    Newsletter,
    Story,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.audiences import parse_audience
from digest.render.render import render_segment
from digest.render.subjects import breaking_section_title, breaking_subject
from digest.sending.delivery import start_sending
from digest.settings import Settings

ALERT = "alert"
BREAKING_TAG = "breaking"
# A feed item tagged breaking is alerted if first seen this recently (older ones are history).
BREAKING_WINDOW = timedelta(minutes=30)
CAP_PERIOD = timedelta(hours=24)


def alert_newsletter(session: Session, slug: str) -> Newsletter:
    found = session.scalars(select(Newsletter).where(Newsletter.slug == slug)).one_or_none()
    if found is None:
        raise NotFoundError("newsletter", f"no newsletter {slug!r}")
    if found.kind != ALERT:
        raise DigestError(
            f"newsletter {slug!r} is not an alert newsletter (its kind is {found.kind})"
        )
    return found


def send_alert(
    session: Session,
    settings: Settings,
    newsletter: Newsletter,
    story_id: int,
    now: datetime,
    community: str | None = None,
) -> Edition:
    """Build the alert edition of one story and create its deliveries; returns the edition.

    Asking again for the same story returns the edition already made. The caller commits,
    then enqueues the edition's sending. Raises NotFoundError for an unknown story or town.
    """
    existing = session.scalars(
        select(Edition).where(Edition.newsletter_id == newsletter.id, Edition.story_id == story_id)
    ).one_or_none()
    if existing is not None:
        return existing
    story = session.get(Story, story_id)
    if story is None:
        raise NotFoundError("story", f"no story {story_id}")
    edition = Edition(
        newsletter_id=newsletter.id,
        slot=_free_slot(session, newsletter, now),
        story_id=story.id,
        status=EditionStatus.READY,
        subject=breaking_subject(newsletter, story.title),
        created_at=now,
    )
    session.add(edition)
    session.flush()
    for town in _towns(session, newsletter, story, community):
        for segment in _segments(session, settings, edition, newsletter, story, town, now):
            session.add(segment)
    session.flush()
    start_sending(session, edition, now)
    capped = _apply_cap(session, settings, edition, now)
    edition.recipient_count -= capped
    return edition


def _free_slot(session: Session, newsletter: Newsletter, now: datetime) -> datetime:
    """The alert's slot: now (UTC, naive like every slot), or just after the newsletter's
    latest one when several stories are alerted at the same moment (slots are unique)."""
    latest = session.scalar(
        select(func.max(Edition.slot)).where(Edition.newsletter_id == newsletter.id)
    )
    slot = now.astimezone(UTC).replace(tzinfo=None)
    return slot if latest is None or latest < slot else latest + timedelta(microseconds=1)


def _towns(
    session: Session, newsletter: Newsletter, story: Story, community: str | None
) -> list[Community]:
    if community is not None:
        town = session.scalars(select(Community).where(Community.slug == community)).one_or_none()
        if town is None:
            raise NotFoundError("community", f"no community {community!r}")
        return [town]
    if story.community_id is not None:
        return [session.get_one(Community, story.community_id)]
    query = (  # a regional story: every town with a reader of the alerts
        select(Community)
        .join(Subscriber, Subscriber.community_id == Community.id)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            Subscription.newsletter_id == newsletter.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
        )
        .distinct()
        .order_by(Community.slug)
    )
    return list(session.scalars(query))


def _segments(
    session: Session,
    settings: Settings,
    edition: Edition,
    newsletter: Newsletter,
    story: Story,
    town: Community,
    now: datetime,
) -> list[EditionSegment]:
    """One segment per audience of the town's alert readers that keeps the story's section;
    rendered once for the town (the audiences share the same HTML)."""
    audiences = [
        key
        for key in session.scalars(
            select(Subscription.audience)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(
                Subscription.newsletter_id == newsletter.id,
                Subscription.status == SubscriptionStatus.CONFIRMED,
                Subscriber.community_id == town.id,
                Subscriber.status == SubscriberStatus.ACTIVE,
            )
            .distinct()
        )
        if _wants(key, story.section)
    ]
    if not audiences:
        return []
    card = StoryCard(
        story_id=story.id,
        cluster_key=story.cluster_key,
        title=story.title,
        url=story.url,
        summary=story.summary,
        published_at=story.published_at,
        rank=0,
        image_url=story.image_url,
        image_alt=story.image_alt,
        author=story.author,
    )
    sections = [Section(TOP, breaking_section_title(newsletter), (card,))]
    rendered = render_segment(
        settings, newsletter, town, sections, now.date(), edition_id=edition.id
    )
    return [
        EditionSegment(
            edition_id=edition.id,
            community_id=town.id,
            audience=key,
            send_at=now,
            sections=[section.to_json() for section in rendered.sections],
            story_ids=[story.id],
            cluster_keys=[story.cluster_key],
            subject=breaking_subject(newsletter, story.title),
            preheader=rendered.preheader,
            html=rendered.html,
            text=rendered.text,
        )
        for key in sorted(audiences)
    ]


def _wants(audience: str, section: str) -> bool:
    interests = parse_audience(audience).interests
    return interests is None or section in interests


def _apply_cap(session: Session, settings: Settings, edition: Edition, now: datetime) -> int:
    """Cancel this alert's deliveries to readers who had their day's alerts; returns how many."""
    earlier = (
        select(Delivery.subscriber_id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(
            Edition.story_id.is_not(None),
            Edition.id != edition.id,
            Delivery.created_at > now - CAP_PERIOD,
            Delivery.status.not_in([DeliveryStatus.CANCELLED, DeliveryStatus.SUPPRESSED]),
        )
        .group_by(Delivery.subscriber_id)
        .having(func.count() >= settings.alert_daily_cap)
    )
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.edition_id == edition.id,
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.subscriber_id.in_(earlier),
        )
        .values(
            status=DeliveryStatus.CANCELLED,
            last_reply=f"daily alert cap of {settings.alert_daily_cap} reached",
            updated_at=now,
        ),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def dispatch_breaking(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Alert every feed item tagged "breaking" first seen in the last half hour, on every
    active alert newsletter; returns the editions made (already-alerted stories are skipped)."""
    letters = list(
        session.scalars(
            select(Newsletter).where(Newsletter.kind == ALERT, Newsletter.active.is_(True))
        )
    )
    if not letters:
        return []
    recent = session.scalars(
        select(Story).where(Story.first_seen_at > now - BREAKING_WINDOW, Story.first_seen_at <= now)
    )
    breaking = [s for s in recent if BREAKING_TAG in {str(c).lower() for c in s.categories}]
    made = []
    for story in breaking:
        for letter in letters:
            done = session.scalar(
                select(Edition.id).where(
                    Edition.newsletter_id == letter.id, Edition.story_id == story.id
                )
            )
            if done is None:
                made.append(send_alert(session, settings, letter, story.id, now).id)
    return made
