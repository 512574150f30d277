"""The test servers behave as the delivery and feed tests need: defer, refuse, drop, 304."""

from __future__ import annotations

import smtplib

import httpx
import pytest

from tests.support.http import FeedServer, Route
from tests.support.smtp import SMTPServer

MESSAGE = b"Subject: hello\r\n\r\nbody\r\n"


def send(server: SMTPServer, rcpt: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.sendmail("sender@example.com", [rcpt], MESSAGE)


def test_smtp_server_records_what_it_accepts(smtp_server: SMTPServer) -> None:
    send(smtp_server, "reader@example.com")
    assert smtp_server.recipients() == ["reader@example.com"]
    assert smtp_server.received[0].message["Subject"] == "hello"


def test_smtp_server_defers_and_refuses_chosen_recipients(smtp_server: SMTPServer) -> None:
    smtp_server.defer("later@example.com")
    smtp_server.refuse("never@example.com")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as deferred:
        send(smtp_server, "later@example.com")
    assert deferred.value.recipients["later@example.com"][0] == 451
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp_server, "never@example.com")
    assert refused.value.recipients["never@example.com"][0] == 550
    assert smtp_server.received == []


def test_smtp_server_drops_the_connection_once(smtp_server: SMTPServer) -> None:
    smtp_server.drop("flaky@example.com", once=True)
    with pytest.raises(smtplib.SMTPException):
        send(smtp_server, "flaky@example.com")
    send(smtp_server, "flaky@example.com")
    assert smtp_server.recipients() == ["flaky@example.com"]


def test_feed_server_answers_304_to_a_matching_etag(feed_server: FeedServer) -> None:
    url = feed_server.add("town.xml", "<rss version='2.0'><channel/></rss>")
    first = httpx.get(url)
    assert first.status_code == 200
    second = httpx.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304
    assert second.content == b""


def test_feed_server_serves_set_behaviours(feed_server: FeedServer) -> None:
    url = feed_server.route("broken", Route(status=500, body=b"oops"))
    assert httpx.get(url).status_code == 500
    assert httpx.get(feed_server.url("missing.xml")).status_code == 404
