"""List hygiene's decisions: who lapsed, who is spared, and the switches (PostgreSQL under CI)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import (
    ClickEvent,
    Community,
    ConsentAction,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    EditionSegment,
    EditionStatus,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.readers import hygiene
from digest.readers.consent import Origin
from digest.readers.hygiene import HygieneError, Step
from digest.settings import load_settings
from tests import factories

NOW = factories.NOW
START = NOW - timedelta(days=20)  # hygiene turned on; the editions follow, one a day
PER_READER = load_settings(env="test", click_per_reader=True)


def letter_with_hygiene(session: Session, after: int = 3, grace: int = 2) -> Newsletter:
    letter = factories.newsletter(session)
    hygiene.configure(session, PER_READER, letter, on=True, after=after, grace=grace, now=START)
    return letter


def readers(session: Session, letter: Newsletter, town: Community, count: int) -> list[Subscriber]:
    made = factories.readers(session, letter, town, count)
    for subscription in session.scalars(select(Subscription)):
        subscription.confirmed_at = START - timedelta(days=30)
    return made


def deliver(
    session: Session, letter: Newsletter, town: Community, to: list[Subscriber], day: int
) -> int:
    """Edition `day` (days after START) delivered to `to`; returns its id."""
    at = START + timedelta(days=day, hours=1)
    edition = factories.ready_edition(session, letter, [town], slot=at.replace(tzinfo=None))
    edition.status = EditionStatus.SENT
    segment = session.scalars(
        select(EditionSegment).where(EditionSegment.edition_id == edition.id)
    ).one()
    session.add_all(
        Delivery(
            edition_id=edition.id,
            segment_id=segment.id,
            subscriber_id=reader.id,
            status=DeliveryStatus.SENT,
            sent_at=at,
        )
        for reader in to
    )
    session.flush()
    return edition.id


def steps(session: Session, letter: Newsletter, settings: object = PER_READER) -> dict[int, Step]:
    return {
        lapse.subscriber_id: lapse.step
        for lapse in hygiene.review(session, settings, letter, NOW)  # type: ignore[arg-type]
    }


def test_a_reader_is_mailed_after_n_editions_without_a_click_and_not_before(
    session: Session,
) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = letter_with_hygiene(session)
    old, young = readers(session, letter, town, 2)
    young_subscription = session.scalars(
        select(Subscription).where(Subscription.subscriber_id == young.id)
    ).one()
    young_subscription.confirmed_at = START + timedelta(days=1, hours=2)  # after edition 1
    deliver(session, letter, town, [old, young], 0)
    deliver(session, letter, town, [old, young], 1)
    assert steps(session, letter) == {}
    deliver(session, letter, town, [old, young], 2)
    assert steps(session, letter) == {old.id: Step.MAIL}  # the young reader had only one


def test_a_click_a_keep_or_an_opt_out_spares_a_reader(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = letter_with_hygiene(session)
    lapsed, clicker, keeper, private = readers(session, letter, town, 4)
    private.click_opt_out = True
    everyone = [lapsed, clicker, keeper, private]
    editions = [deliver(session, letter, town, everyone, day) for day in range(4)]
    session.add(
        ClickEvent(
            edition_id=editions[1],
            community_id=town.id,
            subscriber_id=clicker.id,
            link_key="a" * 64,
            clicked_at=START + timedelta(days=1, hours=3),
        )
    )
    hygiene.keep(
        session, keeper.id, letter.id, Origin("keep link"), START + timedelta(days=1, hours=3)
    )
    assert steps(session, letter) == {lapsed.id: Step.MAIL}
    deliver(session, letter, town, everyone, 4)  # the third edition since their engagement
    assert steps(session, letter) == {
        lapsed.id: Step.MAIL,
        clicker.id: Step.MAIL,
        keeper.id: Step.MAIL,
    }


def test_hygiene_off_or_without_per_reader_engagement_does_nothing(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = letter_with_hygiene(session)
    (reader,) = readers(session, letter, town, 1)
    for day in range(5):
        deliver(session, letter, town, [reader], day)
    assert steps(session, letter) == {reader.id: Step.MAIL}
    aggregates_only = load_settings(env="test")
    assert steps(session, letter, aggregates_only) == {}
    assert hygiene.hygiene_newsletters(session, aggregates_only) == []
    with pytest.raises(HygieneError, match="per-reader engagement"):
        hygiene.configure(
            session,
            aggregates_only,
            factories.newsletter(session, "evening"),
            on=True,
            after=3,
            grace=2,
            now=NOW,
        )
    hygiene.configure(session, PER_READER, letter, on=False, after=None, grace=None, now=NOW)
    assert steps(session, letter) == {}


def test_a_lapse_is_mailed_once_then_removed_after_the_grace_with_a_consent_event(
    session: Session,
) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = letter_with_hygiene(session)
    (reader,) = readers(session, letter, town, 1)
    for day in range(3):
        deliver(session, letter, town, [reader], day)
    (lapse,) = hygiene.review(session, PER_READER, letter, NOW)
    mailed_at = START + timedelta(days=2, hours=5)
    assert hygiene.claim_mail(session, lapse.subscription_id, mailed_at)
    assert not hygiene.claim_mail(session, lapse.subscription_id, mailed_at)  # claimed once
    assert steps(session, letter) == {reader.id: Step.STUCK}  # no outcome yet: never again
    hygiene.record_mail(session, lapse.subscription_id, sent=True)
    assert steps(session, letter) == {}
    deliver(session, letter, town, [reader], 3)
    assert steps(session, letter) == {}
    deliver(session, letter, town, [reader], 4)
    (due,) = hygiene.review(session, PER_READER, letter, NOW)
    assert (due.step, due.editions) == (Step.REMOVE, 2)
    assert hygiene.remove(session, due, Origin("list hygiene"), NOW)
    assert not hygiene.remove(session, due, Origin("list hygiene"), NOW)  # once
    subscription = session.get_one(Subscription, due.subscription_id)
    assert subscription.status == SubscriptionStatus.UNSUBSCRIBED
    (event,) = session.scalars(
        select(ConsentEvent).where(ConsentEvent.action == ConsentAction.UNSUBSCRIBE)
    ).all()
    assert event.source == "list hygiene"
    assert "no click in 3 editions" in str(event.detail["reason"])
    assert steps(session, letter) == {}


def test_a_click_after_the_email_ends_the_lapse(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = letter_with_hygiene(session)
    (reader,) = readers(session, letter, town, 1)
    editions = [deliver(session, letter, town, [reader], day) for day in range(3)]
    (lapse,) = hygiene.review(session, PER_READER, letter, NOW)
    hygiene.claim_mail(session, lapse.subscription_id, START + timedelta(days=2, hours=5))
    hygiene.record_mail(session, lapse.subscription_id, sent=True)
    session.add(
        ClickEvent(
            edition_id=editions[2],
            community_id=town.id,
            subscriber_id=reader.id,
            link_key="b" * 64,
            clicked_at=START + timedelta(days=2, hours=8),
        )
    )
    session.flush()
    assert steps(session, letter) == {reader.id: Step.RESET}
    hygiene.reset(session, lapse.subscription_id)
    for day in (3, 4):
        deliver(session, letter, town, [reader], day)
    assert steps(session, letter) == {}


def test_editions_older_than_the_click_retention_never_count(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = letter_with_hygiene(session)
    (reader,) = readers(session, letter, town, 1)
    for day in range(3):
        deliver(session, letter, town, [reader], day)
    short = load_settings(env="test", click_per_reader=True, click_event_retention_days=19)
    assert steps(session, letter, short) == {}  # a click on day 0 would be forgotten by now
    assert steps(session, letter) == {reader.id: Step.MAIL}
