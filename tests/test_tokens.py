"""Signed tokens: the compact kind minted in every digest, and the itsdangerous kind before it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from digest.render import links
from digest.settings import Settings
from digest.tokens import (
    BOUNCE,
    DAY,
    PREFERENCES,
    UNSUBSCRIBE,
    TokenError,
    delivery_id_from_verp,
    make_compact,
    make_token,
    read_token,
    verp_address,
)
from tests.support import digests


@pytest.fixture
def settings() -> Settings:
    return digests.settings()


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_unsubscribe_and_preferences_links_read_back_as_their_payloads(settings: Settings) -> None:
    one_list = token_of(links.unsubscribe_url(settings, 41, 7))
    every_list = token_of(links.unsubscribe_url(settings, 41))
    assert "." not in one_list  # the compact kind
    assert read_token(settings, UNSUBSCRIBE, one_list) == {"s": 41, "n": 7}
    assert read_token(settings, UNSUBSCRIBE, every_list) == {"s": 41}
    preferences = token_of(links.preferences_url(settings, 41))
    assert read_token(settings, PREFERENCES, preferences) == {"s": 41}


def test_a_verp_address_names_its_delivery_even_with_its_case_changed(settings: Settings) -> None:
    address = verp_address(settings, 123456)
    assert address.endswith(f"@{settings.bounce_domain}")
    assert delivery_id_from_verp(settings, address) == 123456
    assert delivery_id_from_verp(settings, address.upper()) == 123456
    assert delivery_id_from_verp(settings, f"<{address}>") == 123456


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token.replace("41-", "42-", 1),  # another reader
        lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),  # the signature
        lambda token: token.rsplit("-", 1)[0],  # no signature
        lambda token: "41-x-" + token.rsplit("-", 1)[1],  # not numbers
        lambda token: "",
    ],
)
def test_a_tampered_compact_token_is_refused(
    settings: Settings, forge: Callable[[str], str]
) -> None:
    token = make_compact(settings, UNSUBSCRIBE, (41, 7))
    with pytest.raises(TokenError):
        read_token(settings, UNSUBSCRIBE, forge(token))


def test_a_compact_token_is_good_for_its_own_purpose_only(settings: Settings) -> None:
    token = make_compact(settings, PREFERENCES, (41,))
    with pytest.raises(TokenError):
        read_token(settings, BOUNCE, token)
    assert delivery_id_from_verp(settings, f"bounces+{token}@{settings.bounce_domain}") is None


def test_compact_tokens_survive_a_key_rotation(settings: Settings) -> None:
    token = make_compact(settings, UNSUBSCRIBE, (41, 0))
    rotated = digests.settings(
        secret_key="a-brand-new-secret-key-for-2027", secret_key_previous=settings.secret_key
    )
    assert read_token(rotated, UNSUBSCRIBE, token) == {"s": 41}
    stranger = digests.settings(secret_key="somebody-elses-secret-key-0123456789")
    with pytest.raises(TokenError):
        read_token(stranger, UNSUBSCRIBE, token)


def test_a_preferences_link_expires_after_a_year_and_an_unsubscribe_link_never(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made_at = time.time() - 400 * DAY
    monkeypatch.setattr(time, "time", lambda: made_at)
    preferences = make_compact(settings, PREFERENCES, (41,))
    unsubscribe = make_compact(settings, UNSUBSCRIBE, (41, 7))
    monkeypatch.undo()
    with pytest.raises(TokenError) as expired:
        read_token(settings, PREFERENCES, preferences)
    assert expired.value.expired
    assert read_token(settings, UNSUBSCRIBE, unsubscribe) == {"s": 41, "n": 7}


def test_links_of_the_older_itsdangerous_kind_keep_working(settings: Settings) -> None:
    assert read_token(settings, UNSUBSCRIBE, make_token(settings, UNSUBSCRIBE, {"s": 3})) == {
        "s": 3
    }
    assert read_token(settings, PREFERENCES, make_token(settings, PREFERENCES, {"s": 3})) == {
        "s": 3
    }
    legacy_verp = f"bounces+{make_token(settings, BOUNCE, 99)}@{settings.bounce_domain}"
    assert delivery_id_from_verp(settings, legacy_verp) == 99
