"""The readers' web app through FastAPI's TestClient: every page and every failure path."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.clock import FixedClock
from digest.models import (
    ConsentAction,
    ConsentEvent,
    Edition,
    EditionSegment,
    EditionStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
)
from digest.readers.suppressions import suppress
from digest.render.links import confirm_url, email_change_url, preferences_url, unsubscribe_url
from digest.settings import Settings, load_settings
from digest.tokens import CONFIRM, DAY
from digest.web import create_app
from tests.conftest import TEST_SECRET
from tests.support.web import (
    START,
    RecordingNotifier,
    form_token,
    past_token,
    populate,
    signup_fields,
)

MakeClient = Callable[..., TestClient]


@pytest.fixture
def ids(committed: sessionmaker[Session]) -> dict[str, int]:
    return populate(committed)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def web_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": os.environ["DIGEST_DATABASE_URL"],
        "signup_min_fill_seconds": 0,
        "cors_origins": "https://news.example",
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def make_client(
    ids: dict[str, int], notifier: RecordingNotifier, clock: FixedClock
) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        app = create_app(web_settings(**overrides), notifier=notifier, clock=clock)
        client = TestClient(app, base_url="http://127.0.0.1:8000")
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


@pytest.fixture
def settings() -> Settings:
    return web_settings()


def sign_up(client: TestClient, **overrides: Any) -> Any:
    page = client.get("/")
    fields = {"form_token": form_token(page.text), **signup_fields(**overrides)}
    return client.post("/signup", data=fields, follow_redirects=False)


def count(sessions: sessionmaker[Session], model: type[Any], *where: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def subscriber(sessions: sessionmaker[Session], email: str) -> Subscriber:
    with sessions() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        found.subscriptions  # noqa: B018  load them before the session closes
        return found


def statuses(sessions: sessionmaker[Session], email: str) -> dict[str, str]:
    with sessions() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        return {s.newsletter.slug: s.status.value for s in found.subscriptions}


def path(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


# The signup page


def test_signup_page_offers_towns_newsletters_and_an_unticked_consent(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "Springfield" in html
    assert "Shelbyville" in html
    assert "Morning Digest" in html
    assert "Weekend Reads" in html
    assert "Old Letter" not in html  # a retired newsletter is not offered
    assert " checked" not in html  # nothing is ticked for the reader
    assert "withdraw my consent at any time" in html
    assert "Digest Demo News, 100 Main Street" in html  # who the publisher is
    assert 'name="website"' in html  # the honeypot
    assert "<script" not in html  # works without JavaScript
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "digest_form=" in page.headers["set-cookie"]


def test_signup_records_a_pending_subscription_and_consent_then_queues_a_confirmation(
    client: TestClient, committed: sessionmaker[Session], notifier: RecordingNotifier
) -> None:
    answer = sign_up(client, email=" Jane@Example.ORG ", newsletters=["morning", "weekend"])
    assert answer.status_code == 303
    assert answer.headers["location"] == "/check-your-inbox"
    assert "check your inbox" in client.get("/check-your-inbox").text.lower()

    reader = subscriber(committed, "jane@example.org")
    assert statuses(committed, "jane@example.org") == {"morning": "pending", "weekend": "pending"}
    assert notifier.confirmations == [reader.id]
    with committed() as session:
        events = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        assert [e.action for e in events] == [ConsentAction.SIGNUP, ConsentAction.SIGNUP]
        event = events[0]
        assert event.subscriber_id == reader.id
        assert event.ip == "testclient"
        assert event.user_agent == "testclient"
        assert event.source == "form: /"
        assert event.wording_version == "2026-11"
        assert "withdraw my consent" in event.detail["wording"]


def test_every_state_of_an_address_gets_the_same_answer(
    client: TestClient,
    committed: sessionmaker[Session],
    notifier: RecordingNotifier,
    clock: FixedClock,
    settings: Settings,
) -> None:
    first = sign_up(client)
    reader = subscriber(committed, "jane@example.org")
    clock.advance(hours=1)
    pending = sign_up(client)
    with committed() as session, session.begin():
        row = session.scalars(select(Subscription)).one()
        row.status = SubscriptionStatus.CONFIRMED
    clock.advance(hours=1)
    confirmed = sign_up(client)
    answers = {(a.status_code, a.headers["location"]) for a in (first, pending, confirmed)}
    assert answers == {(303, "/check-your-inbox")}
    # A confirmed reader gets no new confirmation email; a pending one gets a reminder.
    assert notifier.confirmations == [reader.id, reader.id]

    client.post(path(unsubscribe_url(settings, reader.id)), data={"List-Unsubscribe": "One-Click"})
    again = sign_up(client)
    assert (again.status_code, again.headers["location"]) == (303, "/check-your-inbox")
    assert statuses(committed, "jane@example.org") == {"morning": "pending"}
    assert notifier.confirmations == [reader.id, reader.id, reader.id]


def test_confirmation_is_not_sent_again_within_the_resend_interval(
    client: TestClient,
    committed: sessionmaker[Session],
    notifier: RecordingNotifier,
    clock: FixedClock,
) -> None:
    sign_up(client)
    clock.advance(minutes=5)
    sign_up(client)
    assert len(notifier.confirmations) == 1
    clock.advance(minutes=11)
    sign_up(client)
    assert len(notifier.confirmations) == 2


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("jane@example", "It should have a period"),
        ("jane.example.org", "must have an @-sign"),
        ("jane@gmial.com", "did you mean jane@gmail.com?"),
        ("jäne@example.org", "cannot be accepted"),
        ("", "Please enter your email address"),
    ],
)
def test_a_bad_address_is_refused_with_a_clear_message(
    client: TestClient, committed: sessionmaker[Session], email: str, message: str
) -> None:
    answer = sign_up(client, email=email)
    assert answer.status_code == 422
    assert message in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert count(committed, Subscriber) == 0


def test_missing_consent_is_refused_and_the_form_keeps_the_values(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    answer = sign_up(client, consent=None)
    assert answer.status_code == 422
    assert "tick the box to say you agree" in answer.text
    assert 'value="jane@example.org"' in answer.text
    assert count(committed, Subscriber) == 0


def test_an_unknown_town_or_newsletter_is_refused(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    town = sign_up(client, community="atlantis")
    assert town.status_code == 422
    assert "choose your town" in town.text
    retired = sign_up(client, newsletters=["retired"])
    assert retired.status_code == 422
    assert "not available" in retired.text
    none = sign_up(client, newsletters=[])
    assert "tick at least one newsletter" in none.text
    assert count(committed, Subscriber) == 0


def test_a_filled_honeypot_gets_the_usual_answer_and_records_nothing(
    client: TestClient, committed: sessionmaker[Session], notifier: RecordingNotifier
) -> None:
    answer = sign_up(client, website="http://spam.example")
    assert (answer.status_code, answer.headers["location"]) == (303, "/check-your-inbox")
    assert count(committed, Subscriber) == 0
    assert notifier.confirmations == []


def test_a_post_without_the_form_token_is_refused_politely(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    client.get("/")
    missing = client.post("/signup", data=signup_fields())
    assert missing.status_code == 400
    assert "send the form again" in missing.text
    forged = client.post("/signup", data={"form_token": "forged.token.value", **signup_fields()})
    assert forged.status_code == 400
    assert count(committed, Subscriber) == 0


def test_a_form_token_from_another_browser_is_refused(
    make_client: MakeClient, committed: sessionmaker[Session]
) -> None:
    victim, attacker = make_client(), make_client()
    token = form_token(attacker.get("/").text)
    victim.get("/")  # the victim has a cookie of their own
    answer = victim.post("/signup", data={"form_token": token, **signup_fields()})
    assert answer.status_code == 400
    assert count(committed, Subscriber) == 0


def test_a_planted_form_cookie_is_never_adopted(
    make_client: MakeClient, committed: sessionmaker[Session]
) -> None:
    # Someone who can set a cookie for the victim's browser (a sibling subdomain, a network on
    # http) plants a nonce they chose, then fetches a form with it to get a matching token.
    planted = "attacker-chosen-nonce-0123456789"
    attacker, victim = make_client(), make_client()
    attacker.cookies.set("digest_form", planted)
    victim.cookies.set("digest_form", planted)
    page = attacker.get("/")
    assert planted not in page.headers["set-cookie"]  # a fresh, signed nonce instead
    token = form_token(page.text)
    answer = victim.post("/signup", data={"form_token": token, **signup_fields()})
    assert answer.status_code == 400
    assert "send the form again" in answer.text
    assert count(committed, Subscriber) == 0


def test_over_https_the_form_cookie_is_host_only_and_secure(make_client: MakeClient) -> None:
    client = make_client(base_url="https://news.example")
    cookie = client.get("/").headers["set-cookie"]
    assert cookie.startswith("__Host-digest_form=")
    assert "secure" in cookie.lower()
    assert "path=/" in cookie.lower()


def test_a_form_sent_back_too_fast_is_refused(
    make_client: MakeClient, committed: sessionmaker[Session]
) -> None:
    client = make_client(signup_min_fill_seconds=60)
    answer = sign_up(client)
    assert answer.status_code == 400
    assert "very quick" in answer.text
    assert count(committed, Subscriber) == 0


def test_signups_per_ip_are_limited(make_client: MakeClient) -> None:
    client = make_client(signup_limit_per_ip="2/hour")
    assert sign_up(client, email="a@example.org").status_code == 303
    assert sign_up(client, email="b@example.org").status_code == 303
    third = sign_up(client, email="c@example.org")
    assert third.status_code == 429
    assert "Please try again in" in third.text
    assert 0 < int(third.headers["retry-after"]) <= 3600


def test_signups_per_address_are_limited(make_client: MakeClient) -> None:
    client = make_client(signup_limit_per_address="1/hour")
    assert sign_up(client, email="a@example.org").status_code == 303
    assert sign_up(client, email="A@Example.org").status_code == 429
    assert sign_up(client, email="b@example.org").status_code == 303


@pytest.mark.redis
def test_signup_limits_are_shared_through_redis(
    make_client: MakeClient, redis_client: object, redis_url: str
) -> None:
    one = make_client(redis_url=redis_url, signup_limit_per_ip="1/hour")
    other = make_client(redis_url=redis_url, signup_limit_per_ip="1/hour")
    assert sign_up(one, email="a@example.org").status_code == 303
    assert sign_up(other, email="b@example.org").status_code == 429  # another process, one count


def test_when_the_email_cannot_be_queued_the_reader_is_told_and_can_retry_at_once(
    client: TestClient, notifier: RecordingNotifier
) -> None:
    notifier.fail = True
    answer = sign_up(client)
    assert answer.status_code == 503
    assert "try again in a few minutes" in answer.text
    notifier.fail = False
    assert sign_up(client).status_code == 303
    assert len(notifier.confirmations) == 1


def test_a_body_over_the_cap_is_refused(client: TestClient) -> None:
    big = client.post(
        "/signup",
        content=b"email=" + b"a" * 20000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    api = client.post(
        "/api/subscriptions",
        content=b"[" + b"1," * 10000 + b"1]",
        headers={"content-type": "application/json"},
    )
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "too_large"


def test_user_text_is_escaped(client: TestClient) -> None:
    answer = sign_up(client, email="<script>alert(1)</script>@example.org")
    assert answer.status_code == 422
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;" in answer.text


# The JSON API


def api_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "jane@example.org",
        "community": "springfield",
        "newsletters": ["morning"],
        "consent": True,
    }
    body.update(overrides)
    return body


def test_api_signup_is_accepted_and_queues_a_confirmation(
    client: TestClient, committed: sessionmaker[Session], notifier: RecordingNotifier
) -> None:
    answer = client.post(
        "/api/subscriptions", json=api_body(), headers={"origin": "https://news.example"}
    )
    assert answer.status_code == 202
    assert answer.json()["status"] == "check_inbox"
    assert answer.headers["access-control-allow-origin"] == "https://news.example"
    assert statuses(committed, "jane@example.org") == {"morning": "pending"}
    assert len(notifier.confirmations) == 1
    with committed() as session:
        assert session.scalars(select(ConsentEvent.source)).one() == "api: https://news.example"


def test_api_errors_name_each_field(client: TestClient) -> None:
    answer = client.post(
        "/api/subscriptions", json=api_body(email="nope", consent=False, community="atlantis")
    )
    assert answer.status_code == 422
    fields = answer.json()["error"]["fields"]
    assert set(fields) == {"email", "consent", "community"}
    malformed = client.post("/api/subscriptions", json={"email": 3})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid"
    assert "newsletters" in malformed.json()["error"]["fields"]


def test_api_cors_allows_only_the_listed_origins(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    allowed = client.options(
        "/api/subscriptions", headers={"origin": "https://news.example", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://news.example"
    refused = client.options(
        "/api/subscriptions", headers={"origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers
    post = client.post(
        "/api/subscriptions", json=api_body(), headers={"origin": "https://evil.example"}
    )
    assert post.status_code == 403
    assert count(committed, Subscriber) == 0


def test_api_honeypot_and_rate_limit(
    make_client: MakeClient, committed: sessionmaker[Session]
) -> None:
    client = make_client(signup_limit_per_ip="1/hour")
    bot = client.post("/api/subscriptions", json=api_body(website="x"))
    assert bot.status_code == 202
    assert count(committed, Subscriber) == 0
    assert client.post("/api/subscriptions", json=api_body()).status_code == 202
    limited = client.post("/api/subscriptions", json=api_body(email="b@example.org"))
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert "retry-after" in limited.headers


def test_signup_options_list_towns_and_newsletters(client: TestClient) -> None:
    options = client.get("/api/signup-options").json()
    assert [c["slug"] for c in options["communities"]] == ["shelbyville", "springfield"]
    assert [n["slug"] for n in options["newsletters"]] == ["morning", "weekend"]
    assert options["consent_wording_version"] == "2026-11"


# Confirm


def signed_up(client: TestClient, sessions: sessionmaker[Session], **overrides: Any) -> int:
    assert sign_up(client, **overrides).status_code == 303
    return subscriber(sessions, overrides.get("email", "jane@example.org")).id


def test_opening_the_confirm_link_confirms_nothing_and_the_button_does(
    client: TestClient,
    committed: sessionmaker[Session],
    settings: Settings,
    notifier: RecordingNotifier,
) -> None:
    reader = signed_up(client, committed)
    link = path(confirm_url(settings, reader))
    page = client.get(link)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.text
    assert "Morning Digest" in page.text
    assert statuses(committed, "jane@example.org") == {"morning": "pending"}
    assert notifier.welcomes == []

    done = client.post(link, data={"form_token": form_token(page.text)})
    assert done.status_code == 200
    assert "is confirmed" in done.text
    assert statuses(committed, "jane@example.org") == {"morning": "confirmed"}
    assert notifier.welcomes == [reader]
    assert count(committed, ConsentEvent, ConsentEvent.action == ConsentAction.CONFIRM) == 1

    again = client.post(link, data={"form_token": form_token(page.text)})
    assert again.status_code == 200
    assert notifier.welcomes == [reader]  # no second welcome
    assert "already confirmed" in client.get(link).text


def test_confirm_post_without_form_token_confirms_nothing(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = signed_up(client, committed)
    answer = client.post(path(confirm_url(settings, reader)), data={})
    assert answer.status_code == 400
    assert statuses(committed, "jane@example.org") == {"morning": "pending"}


def test_an_expired_confirm_link_says_so(
    client: TestClient, committed: sessionmaker[Session]
) -> None:
    reader = signed_up(client, committed)
    token = past_token(TEST_SECRET, CONFIRM, {"s": reader}, age_seconds=8 * DAY)
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 400
    assert "expired" in page.text
    post = client.post(f"/confirm/{token}", data={})
    assert post.status_code == 400
    assert statuses(committed, "jane@example.org") == {"morning": "pending"}
    recent = past_token(TEST_SECRET, CONFIRM, {"s": reader}, age_seconds=6 * DAY)
    assert "Confirm my subscription" in client.get(f"/confirm/{recent}").text


def test_a_tampered_link_is_refused(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = signed_up(client, committed)
    token = confirm_url(settings, reader).rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for link in (f"/confirm/{tampered}", f"/u/{tampered}", f"/preferences/{tampered}"):
        page = client.get(link)
        assert page.status_code == 400, link
        assert "not valid" in page.text
    one_click = client.post(f"/u/{tampered}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 400
    # A confirm token is no unsubscribe token, and the other way round.
    assert client.get(f"/u/{token}").status_code == 400


# Unsubscribe


def confirmed_reader(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    newsletters: list[str] | None = None,
) -> int:
    reader = signed_up(client, sessions, newsletters=newsletters or ["morning", "weekend"])
    link = path(confirm_url(settings, reader))
    client.post(link, data={"form_token": form_token(client.get(link).text)})
    return reader


def test_unsubscribe_get_never_unsubscribes(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(client, committed, settings)
    page = client.get(path(unsubscribe_url(settings, reader)))
    assert page.status_code == 200
    assert "Unsubscribe" in page.text
    assert "Morning Digest, Weekend Reads" in page.text
    head = client.head(path(unsubscribe_url(settings, reader)))
    assert head.status_code in (200, 405)
    assert statuses(committed, "jane@example.org") == {
        "morning": "confirmed",
        "weekend": "confirmed",
    }


def test_one_click_post_unsubscribes_at_once_without_cookie_or_redirect(
    make_client: MakeClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(make_client(), committed, settings)
    provider = make_client()  # a mailbox provider: no cookie, no form token
    answer = provider.post(
        path(unsubscribe_url(settings, reader)),
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers
    assert "location" not in answer.headers
    assert statuses(committed, "jane@example.org") == {
        "morning": "unsubscribed",
        "weekend": "unsubscribed",
    }
    with committed() as session:
        event = session.scalars(
            select(ConsentEvent).where(ConsentEvent.action == ConsentAction.UNSUBSCRIBE)
        ).first()
        assert event is not None
        assert event.source == "one-click (RFC 8058)"
    again = provider.post(
        path(unsubscribe_url(settings, reader)), data={"List-Unsubscribe": "One-Click"}
    )
    assert again.status_code == 200


def test_one_click_as_multipart_form_data_works_too(
    make_client: MakeClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(make_client(), committed, settings)
    answer = make_client().post(
        path(unsubscribe_url(settings, reader)), files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert answer.status_code == 200
    assert set(statuses(committed, "jane@example.org").values()) == {"unsubscribed"}


def test_an_unsubscribe_link_for_one_newsletter_leaves_only_that_one(
    client: TestClient, committed: sessionmaker[Session], settings: Settings, ids: dict[str, int]
) -> None:
    reader = confirmed_reader(client, committed, settings)
    link = path(unsubscribe_url(settings, reader, ids["weekend"]))
    page = client.get(link)
    assert "Weekend Reads" in page.text
    assert "Morning Digest" not in page.text
    done = client.post(link, data={"form_token": form_token(page.text)})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert statuses(committed, "jane@example.org") == {
        "morning": "confirmed",
        "weekend": "unsubscribed",
    }


def test_the_unsubscribe_button_needs_its_form_token(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(client, committed, settings)
    answer = client.post(path(unsubscribe_url(settings, reader)), data={})
    assert answer.status_code == 400
    assert set(statuses(committed, "jane@example.org").values()) == {"confirmed"}


def test_unsubscribe_links_survive_a_key_rotation_and_never_expire(
    make_client: MakeClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(make_client(), committed, settings)
    old_link = path(unsubscribe_url(settings, reader))  # signed with TEST_SECRET
    rotated = make_client(
        secret_key="a-brand-new-secret-key-for-2027", secret_key_previous=TEST_SECRET
    )
    assert rotated.get(old_link).status_code == 200
    from digest.tokens import UNSUBSCRIBE

    year_old = past_token(TEST_SECRET, UNSUBSCRIBE, {"s": reader}, age_seconds=400 * DAY)
    answer = rotated.post(f"/u/{year_old}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert set(statuses(committed, "jane@example.org").values()) == {"unsubscribed"}


# Preferences


def test_preferences_change_town_and_newsletters(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(client, committed, settings, newsletters=["morning"])
    link = path(preferences_url(settings, reader))
    page = client.get(link)
    assert page.status_code == 200
    assert "jane@example.org" in page.text
    answer = client.post(
        link,
        data={
            "form_token": form_token(page.text),
            "action": "save",
            "community": "shelbyville",
            "newsletters": ["weekend"],
        },
    )
    assert answer.status_code == 200
    assert "You now receive Weekend Reads" in answer.text
    assert "You no longer receive Morning Digest" in answer.text
    assert statuses(committed, "jane@example.org") == {
        "morning": "unsubscribed",
        "weekend": "confirmed",
    }
    with committed() as session:
        found = session.get(Subscriber, reader)
        assert found is not None
        assert found.community.slug == "shelbyville"
        actions = session.scalars(select(ConsentEvent.action).order_by(ConsentEvent.id)).all()
        # the town change, then one event per newsletter joined or left
        assert actions[-3:] == [
            ConsentAction.PREFERENCES,
            ConsentAction.UNSUBSCRIBE,
            ConsentAction.PREFERENCES,
        ]


def test_preferences_unsubscribe_from_all(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(client, committed, settings)
    link = path(preferences_url(settings, reader))
    page = client.get(link)
    answer = client.post(
        link,
        data={
            "form_token": form_token(page.text),
            "action": "unsubscribe_all",
            "community": "springfield",
        },
    )
    assert "You are unsubscribed" in answer.text
    assert set(statuses(committed, "jane@example.org").values()) == {"unsubscribed"}


def test_preferences_refuse_an_unknown_town_and_a_missing_token(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(client, committed, settings)
    link = path(preferences_url(settings, reader))
    page = client.get(link)
    unknown = client.post(
        link,
        data={
            "form_token": form_token(page.text),
            "community": "atlantis",
            "newsletters": ["morning"],
        },
    )
    assert unknown.status_code == 422
    assert "choose your town" in unknown.text
    no_token = client.post(link, data={"community": "springfield"})
    assert no_token.status_code == 400
    assert set(statuses(committed, "jane@example.org").values()) == {"confirmed"}


def test_links_of_an_erased_reader_no_longer_work(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    from digest.readers.erase import erase_subscriber

    reader = confirmed_reader(client, committed, settings)
    with committed() as session, session.begin():
        erase_subscriber(session, "jane@example.org", START)
    assert client.get(path(preferences_url(settings, reader))).status_code == 410
    assert client.get(path(confirm_url(settings, reader))).status_code == 410
    one_click = client.post(
        path(unsubscribe_url(settings, reader)), data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200


# Archive, health, errors


SEGMENT_HTML = (
    "<html><body><h1>Bridge reopens</h1>"
    "<!-- digest:email --><a href='__DIGEST_UNSUBSCRIBE_URL__'>Unsubscribe</a>"
    "<!-- /digest:email -->"
    "<!-- digest:web --><a href='/'>Sign up for it</a><!-- /digest:web --></body></html>"
)


def test_archive_lists_past_editions_and_opens_each_web_version(
    client: TestClient, committed: sessionmaker[Session], ids: dict[str, int]
) -> None:
    from datetime import datetime

    with committed() as session, session.begin():
        sent = Edition(
            newsletter_id=ids["morning"],
            slot=datetime(2026, 11, 23, 6),
            status=EditionStatus.SENT,
            subject="Bridge reopens",
        )
        building = Edition(
            newsletter_id=ids["morning"],
            slot=datetime(2026, 11, 25, 6),
            status=EditionStatus.BUILDING,
            subject="Not yet",
        )
        session.add_all([sent, building])
        session.flush()
        for edition in (sent, building):
            session.add(
                EditionSegment(
                    edition_id=edition.id,
                    community_id=ids["springfield"],
                    send_at=START,
                    html=SEGMENT_HTML,
                    text="Bridge reopens",
                )
            )
        sent_id, building_id = sent.id, building.id
    index = client.get("/archive/")
    assert index.status_code == 200
    assert "Bridge reopens" in index.text
    assert "Not yet" not in index.text
    listing = client.get("/archive/morning/")
    assert f"/archive/morning/{sent_id}/springfield" in listing.text
    web_version = client.get(f"/archive/morning/{sent_id}/springfield")
    assert web_version.status_code == 200
    assert "<h1>Bridge reopens</h1>" in web_version.text
    assert "Sign up for it" in web_version.text  # the web version's own footer
    assert "__DIGEST_" not in web_version.text  # no personal placeholder, no token
    assert "sandbox" in web_version.headers["content-security-policy"]
    assert client.get(f"/archive/morning/{building_id}/springfield").status_code == 404
    assert client.get(f"/archive/morning/{sent_id}/shelbyville").status_code == 404
    assert client.get("/archive/retired/").status_code == 404


def test_healthz_reports_database_and_broker(make_client: MakeClient, client: TestClient) -> None:
    healthy = client.get("/healthz")
    assert healthy.status_code == 200
    assert healthy.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    broken = make_client(broker_url="redis://127.0.0.1:1/0").get("/healthz")
    assert broken.status_code == 503
    assert broken.json()["database"] == "ok"
    assert broken.json()["broker"].startswith("unreachable")


def test_a_database_outage_is_a_polite_503(notifier: RecordingNotifier) -> None:
    settings = load_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings, notifier=notifier)) as client:
        page = client.get("/")
        assert page.status_code == 503
        assert "try again in a few minutes" in page.text
        api = client.post("/api/subscriptions", json=api_body())
        assert api.status_code == 503
        assert api.json()["error"]["message"]
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["database"] == "unreachable"
        assert "127.0.0.1" not in health.text  # the reason (hosts, users) is for the log only


def test_unknown_pages_and_methods_answer_politely(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "There is nothing at this address" in page.text
    assert page.headers["content-type"].startswith("text/html")
    api = client.get("/api/nothing")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    method = client.delete("/")
    assert method.status_code == 405
    too_long = client.get("/confirm/" + "a" * 2000)
    assert too_long.status_code == 400


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/subscriptions" in spec["paths"]
    assert "/u/{token}" in spec["paths"]


def test_an_unreachable_limit_store_lets_readers_sign_up(
    make_client: MakeClient, committed: sessionmaker[Session]
) -> None:
    client = make_client(redis_url="redis://127.0.0.1:1/0")
    assert sign_up(client).status_code == 303
    assert statuses(committed, "jane@example.org") == {"morning": "pending"}


def test_even_a_bug_gets_a_polite_page(make_client: MakeClient) -> None:
    client = make_client()
    client.app.add_api_route("/boom", lambda: 1 / 0)  # type: ignore[attr-defined]
    quiet = TestClient(client.app, raise_server_exceptions=False)
    page = quiet.get("/boom")
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text
    assert "Traceback" not in page.text


def test_preferences_other_towns_interests_frequency_and_pause(
    client: TestClient, committed: sessionmaker[Session], settings: Settings
) -> None:
    reader = confirmed_reader(client, committed, settings, newsletters=["morning"])
    link = path(preferences_url(settings, reader))
    page = client.get(link)
    assert 'name="interests-morning"' in page.text
    assert 'name="towns"' in page.text
    answer = client.post(
        link,
        data={
            "form_token": form_token(page.text),
            "action": "save",
            "community": "springfield",
            "newsletters": ["morning"],
            "towns": ["shelbyville"],
            "interests-morning": ["sports", "news"],
            "frequency-morning": "weekly",
            "pause": "2",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "Your towns are saved." in answer.text
    assert "You now get morning weekly." in answer.text
    api = client.get(link.replace("/preferences/", "/api/preferences/")).json()
    assert api["other_towns"] == ["shelbyville"]
    assert api["newsletters"][0]["interests"] == ["news", "sports"]
    assert api["newsletters"][0]["frequency"] == "weekly"
    assert api["paused_until"] is not None
    changed = client.put(
        link.replace("/preferences/", "/api/preferences/"),
        json={"interests": {"morning": None}, "pause_weeks": 0, "frequency": {"morning": "daily"}},
    ).json()
    assert changed["newsletters"][0]["interests"] is None
    assert changed["paused_until"] is None
    bad = client.put(link.replace("/preferences/", "/api/preferences/"), json={"pause_weeks": 3})
    assert bad.status_code == 422
    with committed() as session:
        details = session.scalars(
            select(ConsentEvent.detail)
            .where(ConsentEvent.action == ConsentAction.PREFERENCES)
            .order_by(ConsentEvent.id)
        ).all()
    kinds = [
        next(iter(d)) for d in details if set(d) & {"towns", "interests", "frequency", "pause"}
    ]
    assert kinds == ["towns", "interests", "frequency", "pause", "interests", "frequency", "pause"]


def test_changing_the_address_waits_for_the_new_one_to_confirm(
    client: TestClient,
    committed: sessionmaker[Session],
    settings: Settings,
    notifier: RecordingNotifier,
) -> None:
    reader = confirmed_reader(client, committed, settings, newsletters=["morning"])
    link = path(preferences_url(settings, reader))
    page = client.get(link)
    assert f'action="{link}/email"' in page.text
    asked = client.post(
        f"{link}/email",
        data={"form_token": form_token(page.text), "new_email": "Jane.New@Example.org"},
    )
    assert asked.status_code == 200, asked.text
    assert notifier.email_changes == [(reader, "jane.new@example.org")]
    assert statuses(committed, "jane@example.org") == {"morning": "confirmed"}  # not yet
    confirm_link = path(email_change_url(settings, reader, "jane.new@example.org"))
    shown = client.get(confirm_link)
    assert shown.status_code == 200
    assert statuses(committed, "jane@example.org") == {"morning": "confirmed"}  # a GET: nothing
    done = client.post(confirm_link, data={"form_token": form_token(shown.text)})
    assert done.status_code == 200
    assert "jane.new@example.org" in done.text
    assert statuses(committed, "jane.new@example.org") == {"morning": "confirmed"}
    with committed() as session:
        steps = [
            d["email_change"]
            for d in session.scalars(select(ConsentEvent.detail).order_by(ConsentEvent.id))
            if "email_change" in d
        ]
    assert steps == ["requested", "confirmed"]


def ask_for_address(client: TestClient, link: str, new_email: str) -> Any:
    page = client.get(link)
    return client.post(
        f"{link}/email", data={"form_token": form_token(page.text), "new_email": new_email}
    )


def test_asking_for_a_taken_address_answers_as_any_other_and_mails_nothing(
    client: TestClient,
    committed: sessionmaker[Session],
    settings: Settings,
    notifier: RecordingNotifier,
    clock: FixedClock,
) -> None:
    other = confirmed_reader(client, committed, settings, newsletters=["morning"])
    with committed() as session, session.begin():
        session.get_one(Subscriber, other).email = "ben@example.org"
        suppress(session, "gone@example.org", SuppressionReason.COMPLAINT, None, START)
    reader = confirmed_reader(client, committed, settings, newsletters=["morning"])
    link = path(preferences_url(settings, reader))
    answers = {}
    for address in ("ben@example.org", "gone@example.org", "free@example.org"):
        clock.advance(minutes=settings.confirm_resend_minutes + 1)  # past the resend window
        answer = ask_for_address(client, link, address)
        answers[address] = (answer.status_code, answer.text.replace(address, "ADDRESS"))
    assert answers["ben@example.org"] == answers["free@example.org"]
    assert answers["gone@example.org"] == answers["free@example.org"]
    assert answers["free@example.org"][0] == 200
    assert notifier.email_changes == [(reader, "free@example.org")]  # never to a taken one
    confirm_link = path(email_change_url(settings, reader, "ben@example.org"))
    forged = client.post(confirm_link, data={"form_token": form_token(client.get(link).text)})
    assert forged.status_code in (400, 409)  # a taken address cannot be confirmed either
    assert statuses(committed, "ben@example.org") == {"morning": "confirmed"}


def test_address_change_requests_are_limited_per_reader_ip_and_address(
    make_client: MakeClient,
    committed: sessionmaker[Session],
    settings: Settings,
    notifier: RecordingNotifier,
    clock: FixedClock,
) -> None:
    client = make_client()
    reader = confirmed_reader(client, committed, settings, newsletters=["morning"])
    link = path(preferences_url(settings, reader))
    assert ask_for_address(client, link, "victim@example.org").status_code == 200
    again = ask_for_address(client, link, "victim2@example.org")
    assert again.status_code == 429  # one request per resend window, whatever the address
    assert "change of address just now" in again.text
    assert 0 < int(again.headers["retry-after"]) <= settings.confirm_resend_minutes * 60
    assert len(notifier.email_changes) == 1
    # Without the window, the signup's per-address limit (5/hour) bounds mail to a victim.
    bomber = make_client(confirm_resend_minutes=0, signup_limit_per_ip="1000/hour")
    answers = [ask_for_address(bomber, link, "victim@example.org") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert "many requests" in answers[-1].text
    # And the per-IP limit bounds mail to many addresses from one client.
    spreader = make_client(confirm_resend_minutes=0, signup_limit_per_ip="3/hour")
    spread = [ask_for_address(spreader, link, f"v{n}@example.org").status_code for n in range(4)]
    assert spread == [200, 200, 200, 429]
    assert len(notifier.email_changes) == 1 + 5 + 3
