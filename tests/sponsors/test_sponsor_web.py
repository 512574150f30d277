"""The reports in the browser's terms (FastAPI's TestClient): the editor's pages behind the
sign-in, and the advertiser's signed read-only link that works without one and refuses a
tampered or forged token."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import Campaign, Community, Delivery, DeliveryStatus, Edition, Subscriber
from digest.sending import delivery
from digest.settings import Settings, load_settings
from digest.sponsors import reports
from digest.tokens import make_token
from digest.web import create_app
from tests.sponsors.test_sponsored_edition import NOW, newsroom
from tests.support.admin import accounts, log_in
from tests.support.web import RecordingNotifier, form_token


def web_settings() -> Settings:
    return load_settings(
        database_url=os.environ["DIGEST_DATABASE_URL"],
        base_url="http://127.0.0.1:8000",
    )


@pytest.fixture
def client(committed: sessionmaker[Session]) -> Iterator[TestClient]:
    edition_id = newsroom(committed)
    with committed() as session, session.begin():
        # Two of Springfield's three messages went out; the third is still queued.
        delivery.start_sending(session, session.get_one(Edition, edition_id), NOW)
        springfield = select(Subscriber.id).join(Community).where(Community.slug == "springfield")
        ids = session.scalars(
            select(Delivery.id).where(Delivery.subscriber_id.in_(springfield)).order_by(Delivery.id)
        ).all()
        session.execute(
            update(Delivery).where(Delivery.id.in_(ids[:2])).values(status=DeliveryStatus.SENT)
        )
        accounts(session, session.scalars(select(Community).order_by(Community.id)).first())  # type: ignore[arg-type]
    app = create_app(web_settings(), notifier=RecordingNotifier(), clock=FixedClock(NOW))
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        log_in(test_client)
        yield test_client


def advertiser_link(committed: sessionmaker[Session], slug: str = "hardware-dec") -> str:
    with committed() as session:
        campaign = session.scalars(select(Campaign).where(Campaign.slug == slug)).one()
        return reports.report_url(web_settings(), campaign).removeprefix("http://127.0.0.1:8000")


def test_the_editors_pages_need_the_sign_in(client: TestClient) -> None:
    client.cookies.clear()  # signed out
    for path in (
        "/admin/sponsors/",
        "/admin/sponsors/hardware-dec",
        "/admin/sponsors/x/report.csv",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (303, 401), path
        assert response.status_code == 401 or "/admin/login" in response.headers["location"]
        assert "Main Street Hardware" not in response.text


def test_the_editor_sees_campaigns_a_report_with_a_chart_and_the_csv(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    listing = client.get("/admin/sponsors/")
    assert listing.status_code == 200
    assert "hardware-dec" in listing.text
    assert "house-all" in listing.text
    page = client.get("/admin/sponsors/hardware-dec")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "2026-12-01: 2 impressions" in page.text  # the bar's tooltip
    assert "Clicks are not counted yet" not in page.text  # counted by the redirect
    assert advertiser_link(committed) in page.text
    csv = client.get("/admin/sponsors/hardware-dec/report.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1].endswith(",springfield,2,0,0,0,0.0000")
    assert client.get("/admin/sponsors/nothing-here").status_code == 404


def test_the_advertisers_link_shows_the_report_without_login(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    link = advertiser_link(committed)
    page = client.get(link)
    assert page.status_code == 200
    assert "Main Street Hardware" in page.text
    assert "Springfield" in page.text
    assert "<svg" in page.text
    assert "noindex" in page.headers["x-robots-tag"]
    assert "<form" not in page.text  # read-only: nothing to press
    assert '<th scope="col" class="num">Unique clicks</th>' in page.text
    assert "the click rate is unique clicks per impression" in page.text
    csv = client.get(f"{link}/report.csv")
    assert csv.status_code == 200
    assert "springfield,2" in csv.text


def test_a_tampered_or_forged_link_shows_nothing(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    link = advertiser_link(committed)
    token = link.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with committed() as session:
        house_id = session.scalars(select(Campaign.id).where(Campaign.slug == "house-all")).one()
    # A token for another purpose (an unsubscribe) naming the other campaign's id.
    forged = make_token(web_settings(), "unsubscribe", {"c": house_id})
    other_key = make_token(
        load_settings(secret_key="another-secret-key-0123456789abcdef"),
        "sponsor-report",
        {"c": house_id},
    )
    for bad in (tampered, forged, other_key, "not-a-token"):
        for path in (f"/sponsor-report/{bad}", f"/sponsor-report/{bad}/report.csv"):
            response = client.get(path)
            assert response.status_code == 404, (bad, path)
            assert "Main Street Hardware" not in response.text
            assert "impressions" not in response.text


def test_the_editor_swaps_a_slot_for_an_edition_not_yet_built(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    query = "newsletter=morning&town=springfield&day=2026-12-02"
    page = client.get(f"/admin/sponsors/swap?{query}")
    assert page.status_code == 200
    assert "after-top</strong>: Main Street Hardware" in page.text
    fields = {"newsletter": "morning", "town": "springfield", "campaign": "house-all"}
    posted = client.post(
        "/admin/sponsors/swap",
        data={**fields, "day": "2026-12-02", "form_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/admin/preview?newsletter=morning&town=springfield"
    after = client.get(f"/admin/sponsors/swap?{query}")
    assert "after-top</strong>: Morning Digest" in after.text
    # The edition of 1 December has started sending: its readers all get what was frozen.
    frozen = client.post(
        "/admin/sponsors/swap",
        data={**fields, "day": "2026-12-01", "form_token": form_token(after.text)},
    )
    assert frozen.status_code == 409
    assert "has started sending" in frozen.text
    without_token = client.post("/admin/sponsors/swap", data={**fields, "day": "2026-12-03"})
    assert without_token.status_code in (400, 403)


def test_an_editor_of_one_town_swaps_there_only_and_the_swap_is_audited(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    from digest.models import AuditEntry
    from tests.support.admin import TOWN_EDITOR_EMAIL

    log_in(client, TOWN_EDITOR_EMAIL)  # an editor of Springfield only
    page = client.get("/admin/sponsors/swap?newsletter=morning&town=springfield&day=2026-12-02")
    fields = {"newsletter": "morning", "campaign": "house-all", "day": "2026-12-02"}
    elsewhere = client.post(
        "/admin/sponsors/swap",
        data={**fields, "town": "riverton", "form_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 403
    own = client.post(
        "/admin/sponsors/swap",
        data={**fields, "town": "springfield", "form_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert own.status_code == 303
    with committed() as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "sponsor.swap"))
        assert [entry.target for entry in audited] == ["springfield"]
