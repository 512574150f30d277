"""The data model (DESIGN.md, "Data model"): typed SQLAlchemy 2.0 mappings.

Constraints here carry the guarantees: one delivery per edition and reader, one edition per
newsletter and slot, one segment per edition and town, one subscriber per normalized address.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from digest.addresses import email_hash
from digest.db import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit keys on PostgreSQL for the tables that grow by millions; SQLite's rowid is 64-bit already.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as short strings with no native ENUM type, so adding a state is no DDL on PostgreSQL.
    return Enum(
        cls,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class FeedKind(enum.StrEnum):
    STORIES = "stories"
    MOST_READ = "most_read"  # the feed's order is a popularity rank


class SubscriberStatus(enum.StrEnum):
    ACTIVE = "active"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    ERASED = "erased"


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class ConsentAction(enum.StrEnum):
    SIGNUP = "signup"
    CONFIRM = "confirm"
    IMPORT = "import"
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"
    COMPLAINT = "complaint"
    ERASE = "erase"
    SUPPRESS = "suppress"  # an operator put the address on the suppression list
    UNSUPPRESS = "unsuppress"  # an operator lifted its suppression, with a reason
    KEEP = "keep"  # the reader asked to stay subscribed, from a re-engagement email


class EditionStatus(enum.StrEnum):
    BUILDING = "building"
    READY = "ready"
    SENDING = "sending"
    SENT = "sent"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    AWAITING = "awaiting"  # built ahead, held for an editor's approval


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"  # suppressed between creation and send: never mailed
    CANCELLED = "cancelled"


class SuppressionReason(enum.StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    ERASED = "erased"


class BounceKind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    UNKNOWN = "unknown"  # a report that names no failure Digest could read: kept for a human


class Community(Base):
    """A town or region a reader can pick."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    feeds: Mapped[list[Feed]] = relationship(back_populates="community")


class Feed(Base):
    """A source of stories; community is None for regional desks and wire copy."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str | None] = mapped_column(String(300))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    section: Mapped[str] = mapped_column(String(64), default="news")
    kind: Mapped[FeedKind] = mapped_column(_enum(FeedKind), default=FeedKind.STORIES)
    etag: Mapped[str | None] = mapped_column(String(256))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    poll_interval_seconds: Mapped[int] = mapped_column(default=900)
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    # An editor paused it: never polled until resumed; its stories stay.
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    community: Mapped[Community | None] = relationship(back_populates="feeds")


class Story(Base):
    """One article, as carried by one feed; wire copies share a cluster_key."""

    __tablename__ = "stories"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid"),
        Index("ix_stories_community_published", "community_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    guid: Mapped[str] = mapped_column(String(1024))
    url: Mapped[str] = mapped_column(String(2048), index=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2048))
    image_alt: Mapped[str] = mapped_column(String(500), default="")
    author: Mapped[str | None] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(64), default="news")
    categories: Mapped[list[Any]] = mapped_column(default=list)
    published_at: Mapped[datetime] = mapped_column(index=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=1)
    popularity: Mapped[float] = mapped_column(Float, default=0.0)
    editors_pick: Mapped[bool] = mapped_column(Boolean, default=False)
    cluster_key: Mapped[str] = mapped_column(String(64), index=True)

    feed: Mapped[Feed] = relationship()


class PopularitySample(Base):
    """One reading of a story's popularity (views, or a rank in a most-read list), with its time."""

    __tablename__ = "popularity_samples"
    __table_args__ = (Index("ix_popularity_samples_story_measured", "story_id", "measured_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    measured_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(200))
    views: Mapped[int | None]
    rank: Mapped[int | None]
    score: Mapped[float] = mapped_column(Float)


class Newsletter(Base):
    """A list a reader can join; `sections` caps each section, `schedule` is a cron line."""

    __tablename__ = "newsletters"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    schedule: Mapped[str] = mapped_column(String(100), default="0 6 * * *")
    sections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    window_hours: Mapped[int] = mapped_column(default=48)
    sender: Mapped[str | None] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(100), default="digest")
    # "digest" (curated on a schedule) or "alert" (one breaking story, sent when chosen).
    kind: Mapped[str] = mapped_column(String(16), default="digest", server_default="digest")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Query parameters added to every story link, e.g. "utm_source=digest&utm_medium=email".
    utm_params: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Branding, set by an editor in the admin; empty means the template's defaults.
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    accent_color: Mapped[str | None] = mapped_column(String(7))
    footer_text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Hold for approval (docs/desk.md): editions are built ahead and wait for an editor; one
    # not approved by a town's slot is sent `approval_grace_minutes` late ("send") or skipped.
    hold_for_approval: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
    if_unapproved: Mapped[str] = mapped_column(String(8), default="send", server_default="send")
    approval_grace_minutes: Mapped[int] = mapped_column(default=30, server_default="30")
    # Curation weights (digest.curation.weights) and the subject and preheader templates
    # (digest.curation.subjects); empty means the defaults.
    weights: Mapped[dict[str, Any]] = mapped_column(default=dict)
    subject_template: Mapped[str] = mapped_column(String(200), default="")
    preheader_template: Mapped[str] = mapped_column(String(200), default="")
    # List hygiene (docs/readers.md): off by default. A reader with no click in
    # `hygiene_after_editions` editions delivered since `hygiene_since` (when it was turned on)
    # gets one re-engagement email, and is unsubscribed `hygiene_grace_editions` later.
    hygiene: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    hygiene_after_editions: Mapped[int] = mapped_column(default=10, server_default="10")
    hygiene_grace_editions: Mapped[int] = mapped_column(default=3, server_default="3")
    hygiene_since: Mapped[datetime | None]


def _email_hash_default(context: Any) -> str | None:
    email = context.get_current_parameters().get("email")
    return None if email is None else email_hash(email)


class Subscriber(Base):
    """One reader's address, normalized; email is None once erased."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    # sha256 of email, kept in step by _keep_email_hash (ORM) and the column default (Core
    # inserts); suppressions are matched on it, in SQL, on SQLite and PostgreSQL alike.
    email_hash: Mapped[str | None] = mapped_column(
        String(64), index=True, default=_email_hash_default
    )
    name: Mapped[str | None] = mapped_column(String(200))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus), default=SubscriberStatus.ACTIVE
    )
    # No edition is delivered before this instant (a pause of 1, 2 or 4 weeks).
    paused_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set from the clock by whoever changes the row (no onupdate: it would read the system
    # clock behind the injectable one).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The reader's "do not count my clicks" (used only when per-reader engagement is on).
    click_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    community: Mapped[Community] = relationship()
    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="subscriber")
    other_towns: Mapped[list[SubscriberTown]] = relationship(
        cascade="all, delete-orphan", order_by="SubscriberTown.community_id"
    )


class SubscriberTown(Base):
    """A town a reader follows besides their own (work, family): merged into their edition."""

    __tablename__ = "subscriber_towns"
    __table_args__ = (UniqueConstraint("subscriber_id", "community_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))

    community: Mapped[Community] = relationship()


@event.listens_for(Subscriber.email, "set")
def _keep_email_hash(target: Subscriber, value: str | None, *_args: object) -> None:
    target.email_hash = None if value is None else email_hash(value)


class Subscription(Base):
    """A reader on a newsletter: pending until confirmed by email, then until unsubscribed."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "newsletter_id"),
        Index("ix_subscriptions_newsletter_status", "newsletter_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus), default=SubscriptionStatus.PENDING
    )
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmation_sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # The story sections (Story.section) the reader wants; None means all of them.
    interests: Mapped[list[Any] | None] = mapped_column(JSON())
    frequency: Mapped[str] = mapped_column(  # daily | weekly
        String(16), default="daily", server_default="daily"
    )
    # Which segment of an edition the reader gets, derived from their choices by
    # digest.readers.audiences ("" = the town's plain edition): one render per audience.
    audience: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # List hygiene: "mailing" while the re-engagement email of the reader's current lapse is
    # being sent (claimed before the send, so a crash never mails twice), "mailed" once the
    # relay took it; `reengaged_at` is when. None: no lapse under way.
    reengage_state: Mapped[str | None] = mapped_column(String(16))
    reengaged_at: Mapped[datetime | None]

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    newsletter: Mapped[Newsletter] = relationship()


class ConsentEvent(Base):
    """Append-only proof of a consent or its withdrawal (CASL, GDPR)."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    newsletter_id: Mapped[int | None] = mapped_column(ForeignKey("newsletters.id"))
    action: Mapped[ConsentAction] = mapped_column(_enum(ConsentAction))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(200))
    wording_version: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


@event.listens_for(ConsentEvent, "before_update")
def _consent_events_are_append_only(*_args: object) -> None:
    raise ValueError("consent events are append-only: record a new event instead")


class Edition(Base):
    """One issue of a newsletter for one schedule slot.

    `slot` is the slot's local wall-clock time (naive), the same in every town: "06:00 on
    24 November". Each town's segment turns it into its own UTC `send_at`.
    """

    __tablename__ = "editions"
    __table_args__ = (
        UniqueConstraint("newsletter_id", "slot"),
        UniqueConstraint("newsletter_id", "story_id"),  # one alert per story and newsletter
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id"))
    slot: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    status: Mapped[EditionStatus] = mapped_column(
        _enum(EditionStatus), default=EditionStatus.BUILDING
    )
    subject: Mapped[str] = mapped_column(String(300), default="")
    skip_reason: Mapped[str | None] = mapped_column(Text)
    recipient_count: Mapped[int] = mapped_column(default=0)
    # Why the edition paused itself (the circuit breaker), shown to editors; None otherwise.
    pause_reason: Mapped[str | None] = mapped_column(Text)
    # An alert's one story (None for a curated edition).
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    # When its deliveries were folded into EditionTownCount rows (then purged): retention.
    folded_at: Mapped[datetime | None]

    newsletter: Mapped[Newsletter] = relationship()
    segments: Mapped[list[EditionSegment]] = relationship(back_populates="edition")


class EditionSegment(Base):
    """An edition for one town: its frozen stories and its HTML and text, inlined once."""

    __tablename__ = "edition_segments"
    __table_args__ = (UniqueConstraint("edition_id", "community_id", "audience"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    audience: Mapped[str] = mapped_column(  # see Subscription.audience
        String(255), default="", server_default=""
    )
    send_at: Mapped[datetime]
    sections: Mapped[list[Any]] = mapped_column(default=list)
    story_ids: Mapped[list[Any]] = mapped_column(default=list)
    cluster_keys: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(String(300), default="")
    preheader: Mapped[str] = mapped_column(String(300), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    dropped_stories: Mapped[int] = mapped_column(default=0)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]  # when its deliveries were made
    # What curation chose before any editor's pick, and the next candidates of each section
    # (for a swap): picks are applied to this, so changing them never re-curates.
    curated: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # When it was curated: before send_at means built ahead, for the scheduler to start on time.
    built_at: Mapped[datetime | None]

    edition: Mapped[Edition] = relationship(back_populates="segments")
    community: Mapped[Community] = relationship()
    # The sponsor slots frozen with the segment (digest.sponsors); saved and dropped with it.
    placements: Mapped[list[SponsorPlacement]] = relationship(cascade="all, delete-orphan")


class PickKind(enum.StrEnum):
    NOTE = "note"
    PIN = "pin"
    DROP = "drop"
    ADD = "add"
    SWAP = "swap"


class EditionPick(Base):
    """An editor's choice for one edition, in one town or (community None) in all its towns."""

    __tablename__ = "edition_picks"
    __table_args__ = (Index("ix_edition_picks_edition", "edition_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    kind: Mapped[PickKind] = mapped_column(_enum(PickKind))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    cluster_key: Mapped[str | None] = mapped_column(String(64))  # a drop or swap: every copy
    section: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[int | None]  # a pin's place among the section's pins
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One edition to one reader; the row moves queued -> sending -> sent (or a failure)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        Index("ix_deliveries_edition_status", "edition_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("edition_segments.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_reply: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    # The batch run that holds the row while `sending`; every write of that run is fenced on it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set from the clock by whoever changes the row (no onupdate: it would read the system
    # clock behind the injectable one).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EditionTownCount(Base):
    """Deliveries of an old edition in one town and state, kept after the rows are purged."""

    __tablename__ = "edition_town_counts"
    __table_args__ = (UniqueConstraint("edition_id", "community_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus))
    count: Mapped[int] = mapped_column(default=0)


class Suppression(Base):
    """An address never to mail, kept by hash so an erased reader stays suppressed."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[SuppressionReason] = mapped_column(_enum(SuppressionReason))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BounceEvent(Base):
    """One bounce or complaint as received, matched or not; never deleted (nothing is lost).

    `message_ref` identifies the report and recipient, so reading the same report twice
    records and changes nothing the second time.
    """

    __tablename__ = "bounce_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[BounceKind] = mapped_column(_enum(BounceKind))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str | None] = mapped_column(String(32))  # enhanced status code, e.g. 5.1.1
    # The classifier's reason (digest.bounces.classify.Reason), e.g. user-unknown.
    reason: Mapped[str | None] = mapped_column(String(32))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300))  # where it came from: a file, a relay
    message_ref: Mapped[str] = mapped_column(String(400), unique=True)


class LinkClicks(Base):
    """Click counts of one link in one edition for one town: no reader identity.

    `clicks` are the figures; each kind of scanner click is counted apart and left out.
    `link_key` is sha256 of kind and target (`digest.ingest.click_links.TrackedLink.key`).
    """

    __tablename__ = "link_clicks"
    __table_args__ = (UniqueConstraint("edition_id", "community_id", "link_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    link_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int | None] = mapped_column(index=True)
    url: Mapped[str] = mapped_column(String(2048))
    clicks: Mapped[int] = mapped_column(default=0)
    scanner_head: Mapped[int] = mapped_column(default=0)
    scanner_early: Mapped[int] = mapped_column(default=0)
    scanner_agent: Mapped[int] = mapped_column(default=0)
    scanner_burst: Mapped[int] = mapped_column(default=0)
    last_click_at: Mapped[datetime] = mapped_column(index=True)
    # Distinct delivery pseudonyms among `clicks` (digest.ingest.click_uniques): exact up to 256,
    # then an estimate; `clickers` is their sketch, dropped after the click event retention.
    unique_clicks: Mapped[int] = mapped_column(default=0, server_default="0")
    clickers: Mapped[bytes | None] = mapped_column(LargeBinary)


class TownClickers(Base):
    """Unique clickers of one edition in one town, any link: the union of its links' sketches."""

    __tablename__ = "town_clickers"
    __table_args__ = (UniqueConstraint("edition_id", "community_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    unique_clicks: Mapped[int] = mapped_column(default=0)
    clickers: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_click_at: Mapped[datetime] = mapped_column(index=True)


class ClickEvent(Base):
    """One reader's counted click (per-reader engagement only), pruned after the retention."""

    __tablename__ = "click_events"
    __table_args__ = (Index("ix_click_events_subscriber_clicked", "subscriber_id", "clicked_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    link_key: Mapped[str] = mapped_column(String(64))
    clicked_at: Mapped[datetime] = mapped_column(index=True)


class ClickBatch(Base):
    """A batch of buffered clicks already added to the counts: a batch is never added twice."""

    __tablename__ = "click_batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flushed_at: Mapped[datetime] = mapped_column(index=True)


class Sponsor(Base):
    """An advertiser; its creatives are what readers see, its campaigns when and where."""

    __tablename__ = "sponsors"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Creative(Base):
    """One ad: a label that marks it as advertising, headline, text, image with alt, link."""

    __tablename__ = "creatives"

    id: Mapped[int] = mapped_column(primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("sponsors.id"), index=True)
    label: Mapped[str] = mapped_column(String(40))
    headline: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2048))
    image_alt: Mapped[str] = mapped_column(String(300), default="")
    link_url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sponsor: Mapped[Sponsor] = relationship()


class Campaign(Base):
    """A creative booked for a date range (inclusive), newsletters, towns and a position.

    Empty `newsletter_ids` / `community_ids` mean every newsletter / town. A house campaign
    (`house`) fills a slot no paid campaign has and never clashes with one.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("sponsors.id"), index=True)
    creative_id: Mapped[int] = mapped_column(ForeignKey("creatives.id"))
    position: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    newsletter_ids: Mapped[list[Any]] = mapped_column(default=list)
    community_ids: Mapped[list[Any]] = mapped_column(default=list)
    house: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sponsor: Mapped[Sponsor] = relationship()
    creative: Mapped[Creative] = relationship()


class SponsorPlacement(Base):
    """The campaign a frozen segment carries in one slot: what impressions are counted from."""

    __tablename__ = "sponsor_placements"
    __table_args__ = (UniqueConstraint("segment_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("edition_segments.id", ondelete="CASCADE"))
    position: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    creative_id: Mapped[int] = mapped_column(ForeignKey("creatives.id"))


class SponsorSwap(Base):
    """The editor's choice for one slot of one day's edition in one town, over the booking."""

    __tablename__ = "sponsor_swaps"
    __table_args__ = (
        UniqueConstraint("newsletter_id", "edition_date", "community_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    edition_date: Mapped[date] = mapped_column(Date)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    position: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(enum.StrEnum):
    ADMIN = "admin"  # everything: settings, suppressions, accounts
    EDITOR = "editor"  # editorial work, optionally limited to some towns


user_communities = Table(
    "user_communities",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("community_id", ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A person who signs in to the admin: an admin, or an editor (maybe limited to towns)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.EDITOR)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    # Empty: every town. Otherwise the only towns this editor may act on.
    towns: Mapped[list[Community]] = relationship(secondary=user_communities)


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random id, the row holds its sha256."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The form token of this session: every admin post must carry it (CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed logins in a row for one account or one client address, and the wait they earned."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class AuditEntry(Base):
    """Append-only: who did what to what, and when (shown in the admin)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    # The account's email, or "cli" / "system" for what no person in the browser did.
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(400), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
