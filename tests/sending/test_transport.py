"""Transports against a real SMTP server (aiosmtpd) and a real Maildir."""

from __future__ import annotations

import mailbox
import socket
import ssl
import subprocess
import warnings
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest.errors import ConfigError
from digest.sending.mail_url import open_transport, transport_for_url
from digest.sending.maildir import MaildirTransport
from digest.sending.smtp import SMTPTransport
from digest.sending.transport import Result, SendResult, SendStatus, TransportError
from digest.settings import load_settings
from tests.support.smtp import RecordingHandler, SMTPServer, free_port

SENDER = "bounces+token@news.example"


def message(to: str, subject: str = "Your Springfield digest") -> bytes:
    mail = EmailMessage()
    mail["From"] = "Springfield Daily <news@news.example>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content("Good morning, Springfield.\n.\nA line that is only a dot, above.\n")
    return mail.as_bytes()


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def smtp_server(request: pytest.FixtureRequest) -> Iterator[SMTPServer]:
    """The test SMTP server, once offering PIPELINING (as Postfix does) and once not."""
    server = SMTPServer(pipelining=request.param).start()
    yield server
    server.stop()


def smtp_transport(server: SMTPServer, **options: Any) -> SMTPTransport:
    transport = transport_for_url(server.url, timeout=5, **options)
    assert isinstance(transport, SMTPTransport)
    return transport


# SMTP


def test_smtp_sends_and_the_server_receives_it(smtp_server: SMTPServer) -> None:
    with smtp_transport(smtp_server) as transport:
        result = transport.send(SENDER, "jane@example.org", message("jane@example.org"))
    assert result.status == SendStatus.SENT
    assert result.code == 250
    assert result.reply.startswith("250")
    [received] = smtp_server.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["jane@example.org"]
    assert received.message["Subject"] == "Your Springfield digest"
    assert "\r\n.\r\nA line" in received.message.get_payload()  # a lone dot survives


def test_smtp_reuses_one_connection_for_many_messages(smtp_server: SMTPServer) -> None:
    with smtp_transport(smtp_server, max_per_connection=0) as transport:
        results = [transport.send(SENDER, f"r{i}@example.org", message("x")) for i in range(20)]
    assert {r.status for r in results} == {SendStatus.SENT}
    assert len(smtp_server.received) == 20
    assert smtp_server.handler.connections == 1


def test_smtp_reconnects_after_max_per_connection(smtp_server: SMTPServer) -> None:
    with smtp_transport(smtp_server, max_per_connection=3) as transport:
        for i in range(7):
            transport.send(SENDER, f"r{i}@example.org", message("x"))
    assert len(smtp_server.received) == 7
    assert smtp_server.handler.connections == 3  # 3 + 3 + 1


def test_smtp_4xx_defers_with_the_reply_and_keeps_the_connection(
    smtp_server: SMTPServer,
) -> None:
    smtp_server.defer("busy@example.org")
    with smtp_transport(smtp_server) as transport:
        deferred = transport.send(SENDER, "busy@example.org", message("busy@example.org"))
        after = transport.send(SENDER, "ok@example.org", message("ok@example.org"))
    assert deferred.status == SendStatus.DEFERRED
    assert deferred.code == 451
    assert deferred.reply == "451 4.3.0 Mailbox busy, try again later"
    assert after.status == SendStatus.SENT
    assert smtp_server.recipients() == ["ok@example.org"]
    assert smtp_server.handler.connections == 1


def test_smtp_5xx_fails_with_the_reply(smtp_server: SMTPServer) -> None:
    smtp_server.refuse("gone@example.org")
    with smtp_transport(smtp_server) as transport:
        failed = transport.send(SENDER, "gone@example.org", message("gone@example.org"))
        after = transport.send(SENDER, "ok@example.org", message("ok@example.org"))
    assert failed.status == SendStatus.FAILED
    assert failed.code == 550
    assert failed.reply == "550 5.1.1 No such user"
    assert after.status == SendStatus.SENT
    assert smtp_server.recipients() == ["ok@example.org"]


def test_smtp_dropped_connection_defers_then_reconnects(smtp_server: SMTPServer) -> None:
    smtp_server.drop("flaky@example.org", once=True)
    with smtp_transport(smtp_server) as transport:
        dropped = transport.send(SENDER, "flaky@example.org", message("flaky@example.org"))
        again = transport.send(SENDER, "flaky@example.org", message("flaky@example.org"))
        next_one = transport.send(SENDER, "ok@example.org", message("ok@example.org"))
    assert dropped.status == SendStatus.DEFERRED
    assert again.status == SendStatus.SENT
    assert next_one.status == SendStatus.SENT
    assert smtp_server.recipients() == ["flaky@example.org", "ok@example.org"]
    assert smtp_server.handler.connections == 2


def submit_all(transport: SMTPTransport, recipients: list[str]) -> dict[int, SendResult]:
    """Submit one message per recipient as a stream (keys are their indexes), then flush."""
    results: list[Result] = []
    for key, to in enumerate(recipients):
        results += transport.submit(key, SENDER, to, message(to))
    results += transport.flush()
    keys = [key for key, _ in results]
    assert sorted(keys) == list(range(len(recipients)))  # one result each, none twice
    return dict(results)


def test_a_stream_gets_each_message_its_own_result(smtp_server: SMTPServer) -> None:
    recipients = [f"r{i}@example.org" for i in range(12)]
    smtp_server.refuse(recipients[4])
    smtp_server.defer(recipients[9])
    with smtp_transport(smtp_server, max_per_connection=5) as transport:
        results = submit_all(transport, recipients)
    assert results[4].code == 550
    assert results[9].status == SendStatus.DEFERRED
    sent = [recipients[key] for key, result in results.items() if result.status == "sent"]
    assert sorted(smtp_server.recipients()) == sorted(sent)
    assert len(sent) == 10
    assert smtp_server.handler.connections == 3  # reconnected after every 5, replies all read


def test_a_drop_mid_stream_defers_only_what_the_server_did_not_take(
    smtp_server: SMTPServer,
) -> None:
    recipients = [f"r{i}@example.org" for i in range(8)]
    smtp_server.drop(recipients[5], once=True)  # after the content of r4 was accepted
    with smtp_transport(smtp_server) as transport:
        results = submit_all(transport, recipients)
        again = transport.send(SENDER, recipients[5], message(recipients[5]))
    assert results[4].status == SendStatus.SENT
    assert results[5].status == SendStatus.DEFERRED
    assert again.status == SendStatus.SENT
    received = smtp_server.recipients()
    assert sorted(received) == sorted(recipients)  # each exactly once
    assert all(results[i].status == SendStatus.SENT for i in (0, 1, 2, 3, 4, 6, 7))


def test_a_pipelined_message_reports_with_the_next_round_trip_or_the_flush(
    smtp_server: SMTPServer,
) -> None:
    with smtp_transport(smtp_server) as transport:
        first = transport.submit(1, SENDER, "a@example.org", message("a@example.org"))
        if not smtp_server.handler.pipelining:
            assert [key for key, _ in first] == [1]
            return
        assert first == []  # its content is out; the reply comes with the next round trip
        with pytest.raises(RuntimeError):  # send() would hand out message 1's result as its own
            transport.send(SENDER, "b@example.org", message("b@example.org"))
        second = transport.submit(2, SENDER, "b@example.org", message("b@example.org"))
        assert [key for key, _ in second] == [1]
        assert [key for key, _ in transport.flush()] == [2]
    assert smtp_server.recipients() == ["a@example.org", "b@example.org"]


def test_smtp_server_down_defers() -> None:
    transport = transport_for_url(f"smtp://127.0.0.1:{free_port()}", timeout=5)
    result = transport.send(SENDER, "jane@example.org", message("jane@example.org"))
    assert result.status == SendStatus.DEFERRED
    assert "cannot connect" in result.reply
    assert "ConnectionRefusedError" in result.reply


def test_smtp_silent_server_times_out_and_defers() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never says hello
        port = listener.getsockname()[1]
        transport = transport_for_url(f"smtp://127.0.0.1:{port}", timeout=0.3)
        result = transport.send(SENDER, "jane@example.org", message("jane@example.org"))
    assert result.status == SendStatus.DEFERRED
    assert "timed out" in result.reply


def test_smtp_lf_only_messages_go_out_with_crlf(smtp_server: SMTPServer) -> None:
    raw = b"From: news@news.example\nTo: jane@example.org\nSubject: LF\n\nline one\nline two\n"
    with smtp_transport(smtp_server) as transport:
        assert transport.send(SENDER, "jane@example.org", raw).status == SendStatus.SENT
    assert smtp_server.received[0].message.get_payload() == "line one\r\nline two\r\n"


# SMTP authentication and TLS


class Credentials:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login == self.user and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_server() -> Iterator[tuple[int, RecordingHandler]]:
    handler = RecordingHandler()
    port = free_port()
    # Plain-text AUTH is what a local relay offers; aiosmtpd warns about it, rightly.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=Credentials("digest", "p@ss:w/rd"),
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    yield port, handler
    controller.stop()


def test_smtp_logs_in_with_the_url_credentials(
    auth_server: tuple[int, RecordingHandler],
) -> None:
    port, handler = auth_server
    url = f"smtp://digest:p%40ss%3Aw%2Frd@127.0.0.1:{port}"
    with transport_for_url(url, timeout=5) as transport:
        result = transport.send(SENDER, "jane@example.org", message("jane@example.org"))
    assert result.status == SendStatus.SENT
    assert [r.rcpt_tos for r in handler.received] == [["jane@example.org"]]


def test_smtp_wrong_password_is_a_configuration_error(
    auth_server: tuple[int, RecordingHandler],
) -> None:
    port, handler = auth_server
    transport = transport_for_url(f"smtp://digest:wrong@127.0.0.1:{port}", timeout=5)
    with pytest.raises(TransportError, match=r"DIGEST_MAIL_URL: .*password was refused \(535"):
        transport.send(SENDER, "jane@example.org", message("jane@example.org"))
    assert handler.received == []


def test_smtp_without_credentials_for_a_server_that_requires_them(
    auth_server: tuple[int, RecordingHandler],
) -> None:
    port, handler = auth_server
    transport = transport_for_url(f"smtp://127.0.0.1:{port}", timeout=5)
    with pytest.raises(TransportError, match=r"requires a login .*\(530"):
        transport.send(SENDER, "jane@example.org", message("jane@example.org"))
    assert handler.received == []


def test_smtp_credentials_for_a_server_without_auth(smtp_server: SMTPServer) -> None:
    url = smtp_server.url.replace("smtp://", "smtp://digest:secret@")
    transport = transport_for_url(url, timeout=5)
    with pytest.raises(TransportError, match="does not offer AUTH"):
        transport.send(SENDER, "jane@example.org", message("jane@example.org"))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_server(certificate: tuple[Path, Path], implicit: bool) -> tuple[Controller, int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    port = free_port()
    options: dict[str, Any] = (
        {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
    )
    controller = Controller(RecordingHandler(), hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, port


@pytest.mark.parametrize(("scheme", "implicit"), [("smtp+starttls", False), ("smtps", True)])
def test_smtp_over_tls(certificate: tuple[Path, Path], scheme: str, implicit: bool) -> None:
    controller, port = tls_server(certificate, implicit)
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    try:
        transport = transport_for_url(f"{scheme}://127.0.0.1:{port}", timeout=5)
        assert isinstance(transport, SMTPTransport)
        transport.ssl_context = trusting
        with transport:
            result = transport.send(SENDER, "jane@example.org", message("jane@example.org"))
        handler = controller.handler
    finally:
        controller.stop()
    assert result.status == SendStatus.SENT
    assert [r.rcpt_tos for r in handler.received] == [["jane@example.org"]]


@pytest.mark.parametrize(("scheme", "implicit"), [("smtp+starttls", False), ("smtps", True)])
def test_smtp_untrusted_certificate_is_a_configuration_error(
    certificate: tuple[Path, Path], scheme: str, implicit: bool
) -> None:
    controller, port = tls_server(certificate, implicit)
    try:
        transport = transport_for_url(f"{scheme}://127.0.0.1:{port}", timeout=5)
        with pytest.raises(TransportError, match="certificate does not verify"):
            transport.send(SENDER, "jane@example.org", message("jane@example.org"))
    finally:
        controller.stop()


def test_starttls_refused_by_a_server_without_it(smtp_server: SMTPServer) -> None:
    url = smtp_server.url.replace("smtp://", "smtp+starttls://")
    with pytest.raises(TransportError, match="does not offer STARTTLS"):
        transport_for_url(url, timeout=5).send(SENDER, "jane@example.org", message("x"))


# Maildir


def test_maildir_keeps_messages_a_mail_client_can_read(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    transport = open_transport(load_settings(mail_url=f"maildir://{outbox}"))
    assert isinstance(transport, MaildirTransport)
    with transport:
        first = transport.send(SENDER, "jane@example.org", message("jane@example.org", "One"))
        second = transport.send(SENDER, "joe@example.org", message("joe@example.org", "Two"))
    assert first.status == second.status == SendStatus.SENT
    box = mailbox.Maildir(outbox, create=False)
    messages = sorted(box, key=lambda m: str(m["Subject"]))
    assert [m["Subject"] for m in messages] == ["One", "Two"]
    assert [m["Return-Path"] for m in messages] == [f"<{SENDER}>"] * 2
    assert [m["Delivered-To"] for m in messages] == ["jane@example.org", "joe@example.org"]
    assert all(m.get_subdir() == "new" for m in messages)
    assert "Good morning, Springfield." in messages[0].get_payload()
    assert not any(b"\r\n" in path.read_bytes() for path in (outbox / "new").iterdir())


def test_maildir_that_cannot_be_written_defers(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the Maildir should be")
    result = MaildirTransport(blocker / "outbox").send(SENDER, "jane@example.org", message("x"))
    assert result.status == SendStatus.DEFERRED


# URLs


def test_open_transport_reads_smtp_settings() -> None:
    settings = load_settings(
        mail_url="smtp+starttls://news%40pub:s3cret@mail.example",
        smtp_timeout=7.5,
        smtp_max_per_connection=42,
    )
    transport = open_transport(settings)
    assert isinstance(transport, SMTPTransport)
    assert (transport.host, transport.port, transport.security) == (
        "mail.example",
        587,
        "starttls",
    )
    assert (transport.username, transport.password) == ("news@pub", "s3cret")
    assert (transport.timeout, transport.max_per_connection) == (7.5, 42)
    assert transport.name == "smtp+starttls://mail.example:587"  # no secret in the name


@pytest.mark.parametrize(
    ("url", "port"), [("smtp://h", 25), ("smtps://h", 465), ("smtp+starttls://h:2525", 2525)]
)
def test_default_ports(url: str, port: int) -> None:
    transport = transport_for_url(url)
    assert isinstance(transport, SMTPTransport)
    assert transport.port == port


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("smtp://", "no host"),
        ("smtp://user:pass@", "no host"),
        ("smtp://mail.example:twentyfive", "port is not a number"),
        ("smtp://:secret@mail.example", "a password without a user name"),
        ("maildir://", "names no directory"),
        ("smpt://mail.example", "unknown scheme 'smpt'"),
    ],
)
def test_bad_mail_urls_say_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"^DIGEST_MAIL_URL: .*{problem}"):
        transport_for_url(url)
