"""Fetching from private addresses: refused in prod unless allowed, so a feed URL, a redirect or
an editor's "add by URL" cannot make the server read an internal service."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from digest.errors import DigestError
from digest.ingest.fetch import (
    ERROR,
    OK,
    FetchOptions,
    FetchRequest,
    PrivateAddressError,
    fetch_many,
    refuse_non_public,
)
from digest.sending.pages import fetch_page
from digest.settings import load_settings
from tests.support.feeds import Item, rss
from tests.support.http import FeedServer


def feed_at(feed_server: FeedServer) -> str:
    return feed_server.add("local.xml", rss([Item("Library opens", "https://x.example/a")]))


def test_a_feed_on_a_private_address_is_refused_without_a_connection(
    feed_server: FeedServer,
) -> None:
    url = feed_at(feed_server)
    (refused,) = fetch_many([FetchRequest(url)], FetchOptions(allow_private=False))
    assert refused.status == ERROR
    assert refused.error is not None
    assert "not a public address" in refused.error
    assert feed_server.requests == []  # refused before any connection
    (allowed,) = fetch_many([FetchRequest(url)], FetchOptions(allow_private=True))
    assert allowed.status == OK


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://10.1.2.3/feed",
        "http://192.168.0.10/feed",
        "http://100.64.0.1/feed",  # shared address space (CGNAT)
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://[fe80::1]/feed",
        "http://0.0.0.0/feed",
        "http://localhost/feed",
    ],
)
def test_every_kind_of_non_public_host_is_refused(url: str) -> None:
    with pytest.raises(PrivateAddressError):
        asyncio.run(refuse_non_public(httpx.Request("GET", url)))


def test_a_public_host_passes() -> None:
    asyncio.run(refuse_non_public(httpx.Request("GET", "http://93.184.215.14/feed")))


def test_private_fetches_are_allowed_by_default_outside_prod_only() -> None:
    assert load_settings(env="dev").private_fetches_allowed()
    prod = {"env": "prod", "secret_key": "a-long-enough-production-secret-0123456789"}
    assert not load_settings(**prod).private_fetches_allowed()
    assert load_settings(**prod, fetch_private_addresses=True).private_fetches_allowed()


def test_the_desk_cannot_add_a_page_from_an_internal_address_in_prod(
    feed_server: FeedServer,
) -> None:
    settings = load_settings(env="prod", secret_key="a-long-enough-production-secret-0123456789")
    page = feed_server.add("page.html", "<html><head><title>Sign in</title></head></html>")
    with pytest.raises(DigestError, match="not a public address"):
        fetch_page(settings, page)
