"""Breaking news alerts: one story, to the right town's opted-in readers, once, within the cap."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import SYSTEM_CLOCK
from digest.models import Delivery, Edition, Newsletter, Story
from digest.readers.choices import set_interests
from digest.readers.consent import Origin
from digest.sending import batches, delivery
from digest.sending.alerts import dispatch_breaking, send_alert
from digest.settings import load_settings
from tests import factories
from tests.support.smtp import SMTPServer

NOW = datetime.now(UTC).replace(microsecond=0)


def setting_up(session: Session) -> tuple[Newsletter, list[Story]]:
    springfield, riverton = factories.towns(session, ("springfield", "riverton"))
    morning = factories.newsletter(session)
    alerts = Newsletter(slug="breaking", name="Breaking News", kind="alert")
    session.add(alerts)
    session.flush()
    factories.readers(session, alerts, springfield, 3, prefix="alerted")
    factories.readers(session, alerts, riverton, 2, prefix="alerted")
    factories.readers(session, morning, springfield, 2, prefix="morning-only")
    (sporty,) = factories.readers(session, alerts, springfield, 1, prefix="sports-only")
    set_interests(session, sporty.id, "breaking", ["sports"], Origin("test"), NOW)
    stories = factories.stories(session, springfield, 4, NOW - timedelta(minutes=2))
    return alerts, stories


def test_an_alert_reaches_the_towns_opted_in_readers_once(
    committed: sessionmaker[Session], smtp_server: SMTPServer
) -> None:
    settings = load_settings(mail_url=smtp_server.url)
    with committed() as session, session.begin():
        alerts, stories = setting_up(session)
        edition = send_alert(session, settings, alerts, stories[0].id, NOW)
        again = send_alert(session, settings, alerts, stories[0].id, NOW)  # asked twice
        assert again.id == edition.id
        edition_id = edition.id
        plan = delivery.plan_batches(session, edition_id, 100, NOW)
    with delivery.open_sender(settings) as sender:
        for first, last in plan:
            batches.send_batch(committed, settings, edition_id, first, last, sender, SYSTEM_CLOCK)
    # Springfield's three opted-in readers; not Riverton's, not the morning-only readers, not
    # the reader who keeps only sports.
    assert sorted(smtp_server.recipients()) == [f"alerted{i}@springfield.example" for i in range(3)]
    with committed() as session:
        assert session.get_one(Edition, edition_id).status == "sent"
    message = smtp_server.received[0].message
    assert message["Subject"] == f"Breaking: {stories_title(committed)}"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def stories_title(committed: sessionmaker[Session]) -> str:
    with committed() as session:
        edition = session.scalars(select(Edition)).one()
        return session.get_one(Story, edition.story_id).title


def test_an_alert_respects_the_daily_cap(session: Session) -> None:
    settings = load_settings(alert_daily_cap=2)
    alerts, stories = setting_up(session)
    made = [send_alert(session, settings, alerts, story.id, NOW).id for story in stories[:3]]
    counts = [
        Counter(
            str(s) for s in session.scalars(select(Delivery.status).where(Delivery.edition_id == e))
        )
        for e in made
    ]
    assert counts == [Counter(queued=3), Counter(queued=3), Counter(cancelled=3)]
    # A day later the cap starts again.
    later = send_alert(session, settings, alerts, stories[3].id, NOW + timedelta(hours=25))
    assert Counter(
        str(s)
        for s in session.scalars(select(Delivery.status).where(Delivery.edition_id == later.id))
    ) == Counter(queued=3)


def test_a_feed_item_tagged_breaking_is_alerted_within_minutes(session: Session) -> None:
    settings = load_settings()
    alerts, stories = setting_up(session)
    stories[1].categories = ["Politics", "Breaking"]
    stories[1].first_seen_at = NOW - timedelta(minutes=1)
    session.flush()
    made = dispatch_breaking(session, settings, NOW)  # the scheduler's pass, every minute
    assert len(made) == 1
    edition = session.get_one(Edition, made[0])
    assert edition.story_id == stories[1].id
    assert edition.status == "sending"
    assert edition.created_at - stories[1].first_seen_at < timedelta(minutes=5)
    assert dispatch_breaking(session, settings, NOW + timedelta(minutes=1)) == []  # once
    assert alerts.kind == "alert"
