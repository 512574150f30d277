"""Delivery rows: created in bulk for exactly the right readers, batched, claimed once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.db import make_engine, make_session_factory
from digest.models import (
    Base,
    Delivery,
    DeliveryStatus,
    EditionStatus,
    SubscriberStatus,
    SubscriptionStatus,
    SuppressionReason,
)
from digest.readers.suppressions import suppress
from digest.sending import claims, delivery, editions, results
from digest.settings import get_settings
from tests import factories
from tests.factories import NOW


def test_deliveries_go_to_confirmed_active_unsuppressed_readers_only(session: Session) -> None:
    springfield, riverton, lakeside = factories.towns(session)
    letter = factories.newsletter(session)
    confirmed = factories.readers(session, letter, springfield, 3)
    factories.readers(session, letter, springfield, 2, SubscriptionStatus.PENDING, "pending")
    factories.readers(session, letter, riverton, 2, SubscriptionStatus.UNSUBSCRIBED, "gone")
    in_riverton = factories.readers(session, letter, riverton, 2, prefix="rivertonian")
    factories.readers(session, letter, lakeside, 2, prefix="no-segment")
    confirmed[0].status = SubscriberStatus.BOUNCED
    suppress(session, confirmed[1].email or "", SuppressionReason.COMPLAINT, None, NOW)
    edition = factories.ready_edition(session, letter, [springfield, riverton])

    created = delivery.start_sending(session, edition, NOW)

    rows = session.scalars(select(Delivery).where(Delivery.edition_id == edition.id)).all()
    assert created == 3
    assert {row.subscriber_id for row in rows} == {confirmed[2].id, *(r.id for r in in_riverton)}
    assert all(row.status == DeliveryStatus.QUEUED for row in rows)
    assert edition.status == EditionStatus.SENDING
    assert edition.recipient_count == 3


def test_starting_again_creates_no_second_delivery(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 5)
    edition = factories.ready_edition(session, letter, [town])
    assert delivery.start_sending(session, edition, NOW) == 5
    assert delivery.start_sending(session, edition, NOW) == 0
    late = factories.readers(session, letter, town, 1, prefix="late")
    assert delivery.start_sending(session, edition, NOW) == 1
    assert (
        session.scalar(
            select(Delivery.subscriber_id).where(
                Delivery.edition_id == edition.id, Delivery.subscriber_id == late[0].id
            )
        )
        == late[0].id
    )


def test_batches_cover_every_queued_delivery_once(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 23)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    ids = sorted(session.scalars(select(Delivery.id).where(Delivery.edition_id == edition.id)))

    batches = delivery.plan_batches(session, edition.id, 10, NOW)

    assert [last - first + 1 for first, last in batches] == [10, 10, 3]
    covered = [i for first, last in batches for i in ids if first <= i <= last]
    assert covered == ids


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(session: Session) -> None:
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 4)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    ((first, last),) = delivery.plan_batches(session, edition.id, 10, NOW)
    lease = timedelta(minutes=5)

    claimed = claims.claim(session, edition.id, first, last, "a" * 32, NOW, lease)
    again = claims.claim(
        session, edition.id, first, last, "b" * 32, NOW + timedelta(minutes=1), lease
    )
    after_lease = claims.claim(
        session, edition.id, first, last, "c" * 32, NOW + timedelta(minutes=6), lease
    )

    assert len(claimed) == 4
    assert again == []
    assert [c.delivery_id for c in after_lease] == [c.delivery_id for c in claimed]
    assert all(c.attempts == 2 for c in after_lease)
    # The first run's heartbeat finds nothing left to renew: the rows are the third run's.
    ids = [c.delivery_id for c in claimed]
    assert claims.renew(session, "a" * 32, ids, NOW + timedelta(minutes=7)) == set()
    assert claims.renew(session, "c" * 32, ids, NOW + timedelta(minutes=7)) == set(ids)


@pytest.fixture(params=["test database", "sqlite"])
def any_session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """The run's test database, and a SQLite file (the embedded default) whatever that is."""
    if request.param == "test database":
        yield request.getfixturevalue("session")
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'digest.db'}")
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as sqlite_session:
        yield sqlite_session
    engine.dispose()


def test_a_group_renewal_names_the_readers_suppressed_since_the_claim(
    any_session: Session,
) -> None:
    session = any_session
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 3)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    ((first, last),) = delivery.plan_batches(session, edition.id, 10, NOW)
    claimed = claims.claim(session, edition.id, first, last, "a" * 32, NOW, timedelta(minutes=1))
    complainer = claimed[1]
    suppress(session, complainer.email, SuppressionReason.COMPLAINT, None, NOW)
    ids = [item.delivery_id for item in claimed]

    renewed = claims.renew_group(session, "a" * 32, ids, NOW + timedelta(minutes=2), edition.id)
    assert renewed == {item.delivery_id: item is complainer for item in claimed}
    assert claims.renew_group(session, "b" * 32, ids, NOW, edition.id) == {}  # not its rows
    edition.status = EditionStatus.PAUSED
    session.flush()
    assert claims.renew_group(session, "a" * 32, ids, NOW, edition.id) == {}  # not sending


def test_a_result_is_written_only_by_the_run_that_holds_the_row(session: Session) -> None:
    settings = get_settings()
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 1)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    ((first, last),) = delivery.plan_batches(session, edition.id, 10, NOW)
    lease = timedelta(seconds=30)
    (old,) = claims.claim(session, edition.id, first, last, "a" * 32, NOW, lease)
    later = NOW + timedelta(minutes=1)
    (new,) = claims.claim(session, edition.id, first, last, "b" * 32, later, lease)

    stale = delivery.Outcome(old.delivery_id, DeliveryStatus.FAILED, "550 from the old run")
    results.record(session, settings, "a" * 32, [(old, stale)], later)
    claims.release(session, "a" * 32, [old.delivery_id], later)

    row = session.get_one(Delivery, new.delivery_id)
    session.refresh(row)
    assert row.status == DeliveryStatus.SENDING
    assert row.claim_token == "b" * 32


def test_deferred_deliveries_back_off_then_fail_past_the_retry_age(session: Session) -> None:
    settings = get_settings()
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 1)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    ((first, last),) = delivery.plan_batches(session, edition.id, 10, NOW)
    token = claims.new_token()
    (item,) = claims.claim(session, edition.id, first, last, token, NOW, timedelta(minutes=5))
    outcome = delivery.Outcome(item.delivery_id, DeliveryStatus.DEFERRED, "451 busy")

    results.record(session, settings, token, [(item, outcome)], NOW)
    row = session.get_one(Delivery, item.delivery_id)
    assert row.status == DeliveryStatus.DEFERRED
    assert row.next_attempt_at == NOW + timedelta(seconds=settings.retry_base_seconds)

    late = NOW + timedelta(hours=settings.retry_max_age_hours)
    again = claims.new_token()  # the retry's run claims the row again, then it is deferred again
    (retry,) = claims.claim(session, edition.id, first, last, again, late, timedelta(minutes=5))
    results.record(session, settings, again, [(retry, outcome)], late)
    session.refresh(row)
    assert row.status == DeliveryStatus.FAILED
    assert row.last_reply == "gave up after 2 attempts: 451 busy"


def test_backoff_doubles_and_is_capped() -> None:
    settings = get_settings()
    base = settings.retry_base_seconds
    assert results.backoff(settings, 1) == timedelta(seconds=base)
    assert results.backoff(settings, 3) == timedelta(seconds=4 * base)
    assert results.backoff(settings, 40) == results.MAX_BACKOFF


def test_a_row_cancelled_while_out_is_revived_only_by_what_really_went_out(
    session: Session,
) -> None:
    settings = get_settings()
    (town,) = factories.towns(session, ("springfield",))
    letter = factories.newsletter(session)
    factories.readers(session, letter, town, 2)
    edition = factories.ready_edition(session, letter, [town])
    delivery.start_sending(session, edition, NOW)
    ((first, last),) = delivery.plan_batches(session, edition.id, 10, NOW)
    token = claims.new_token()
    sent, deferred = claims.claim(
        session, edition.id, first, last, token, NOW, timedelta(seconds=30)
    )
    editions.cancel(session, edition, NOW)  # while both messages are out

    results.record(
        session,
        settings,
        token,
        [
            (sent, delivery.Outcome(sent.delivery_id, DeliveryStatus.SENT, "250 ok", "<m>")),
            (deferred, delivery.Outcome(deferred.delivery_id, DeliveryStatus.DEFERRED, "451")),
        ],
        NOW,
    )

    rows = {row.id: row for row in session.scalars(select(Delivery))}
    for row in rows.values():
        session.refresh(row)
    assert rows[sent.delivery_id].status == DeliveryStatus.SENT  # it went out: say so
    assert rows[deferred.delivery_id].status == DeliveryStatus.CANCELLED  # not revived
