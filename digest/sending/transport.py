"""Transports: where a finished message goes, behind one small protocol (SMTP or a Maildir).

The delivery engine sees only `Transport`: open, send, close (or `with`). Guarantees:
- `send` returns a `SendResult` for everything that concerns one message or the connection:
  `sent` (the server accepted the message: 2xx after DATA), `deferred` (try again later:
  connection refused or dropped, timeout, any 4xx reply) or `failed` (a 5xx reply: do not
  retry). Each carries the server's reply, or the error, as text.
- It raises `TransportError` (a DigestError naming DIGEST_MAIL_URL) only for what no retry
  fixes: credentials refused or missing (530), AUTH or STARTTLS not offered, a TLS
  certificate that does not verify.
- An SMTPTransport holds at most one connection, opened on the first send and reused by the
  next ones; it is closed after `max_per_connection` messages and after any error that may
  have left it in doubt (a drop, a timeout, a 421), and opened again on the next send.
- `submit` pipelines a stream of messages (RFC 2920, when the server offers PIPELINING): the
  reply to a message's content is read together with the replies to the next message's MAIL,
  RCPT and DATA, so each message costs one round trip instead of two. Every submitted message
  gets exactly one result, from a later `submit` or from `flush`; a message whose reply a
  dropped connection took away is `deferred`, as a drop mid-message always was. `send` is
  `submit` then `flush`.
- A MaildirTransport writes each message atomically (tmp/ then new/) into a real Maildir.
A transport is used by one thread at a time; every worker opens its own.
"""

from __future__ import annotations

import logging
import mailbox
import re
import smtplib
import socket
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self
from urllib.parse import unquote, urlsplit

from digest.errors import ConfigError
from digest.settings import Settings

log = logging.getLogger(__name__)

AUTH_REQUIRED = 530
OK_OR_354 = (*range(200, 300), 354)
BARE_LF = re.compile(rb"(?<!\r)\n")
PLAIN_ADDRESS = re.compile(r"[!-;=?-~]+@[!-;=?-~]+")  # printable ASCII but < and >

Security = Literal["plain", "starttls", "tls"]
SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
SCHEME_OF: dict[Security, str] = {security: scheme for scheme, (security, _) in SCHEMES.items()}
URL_HELP = "write it like smtp+starttls://user:password@mail.example:587 or maildir:///var/outbox"


class TransportError(ConfigError):
    """The mail server cannot be used as configured; retrying will not help."""


class SendStatus(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"  # try again later
    FAILED = "failed"  # refused for good


@dataclass(frozen=True)
class SendResult:
    """What became of one message: its status, the server's reply and its SMTP code."""

    status: SendStatus
    reply: str
    code: int | None = None

    @classmethod
    def from_reply(cls, code: int, text: bytes | str) -> SendResult:
        """Classify an SMTP reply: 2xx sent, 5xx failed, anything else deferred."""
        message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        reply = f"{code} {' '.join(message.split())}".strip()
        if 200 <= code < 300:
            return cls(SendStatus.SENT, reply, code)
        if 500 <= code < 600:
            return cls(SendStatus.FAILED, reply, code)
        return cls(SendStatus.DEFERRED, reply, code)

    @classmethod
    def deferred(cls, reason: str) -> SendResult:
        return cls(SendStatus.DEFERRED, reason)


# A submitted message's result, under the key its sender gave it (a delivery's id).
Result = tuple[int, SendResult]


class Transport(Protocol):
    """Where messages go. `name` identifies it without secrets (logs, rate-limit keys)."""

    name: str

    def open(self) -> None: ...

    def send(self, mail_from: str, rcpt_to: str, message: bytes) -> SendResult: ...

    def submit(self, key: int, mail_from: str, rcpt_to: str, message: bytes) -> list[Result]: ...

    def flush(self) -> list[Result]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class _ContextManager(ABC):
    """`with transport:` opens it and always closes it."""

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SMTPTransport(_ContextManager):
    """Sends over SMTP with one connection reused across messages (see the module's rules)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "plain",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        max_per_connection: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.timeout = timeout
        self.max_per_connection = max_per_connection
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self.name = f"{SCHEME_OF[security]}://{host}:{port}"
        self.connections_opened = 0
        self._smtp: smtplib.SMTP | None = None
        self._on_connection = 0
        self._pending: int | None = None  # the message whose content awaits its reply
        self._unsent = b""  # that content, until it goes out with the next envelope
        self._done: list[Result] = []  # results known and not yet handed out

    def open(self) -> None:
        """Connect now (a send connects by itself when needed); raises OSError when down."""
        if self._smtp is None:
            self._smtp = self._connect()
            self._on_connection = 0
            self.connections_opened += 1

    def close(self) -> None:
        """Read the last content's reply (for `flush`), say QUIT and close; never raises."""
        self._settle()
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def send(self, mail_from: str, rcpt_to: str, message: bytes) -> SendResult:
        """Send one message to one recipient and wait for its outcome (see the module)."""
        if self._pending is not None:
            raise RuntimeError("flush() the submitted messages before send()")
        (_key, result), *_ = self.submit(0, mail_from, rcpt_to, message) + self.flush()
        return result

    def submit(self, key: int, mail_from: str, rcpt_to: str, message: bytes) -> list[Result]:
        """Send one message behind the one submitted before; returns the results now known
        (that one's, and this one's when it was refused before its content)."""
        if self.max_per_connection and self._on_connection >= self.max_per_connection:
            self.close()
        try:
            self.open()
        except (smtplib.SMTPException, OSError) as exc:  # down, refusing us, or timing out
            self._discard()
            reason = f"{self.name}: cannot connect: {_describe(exc)}"
            return [*self._drain(), (key, SendResult.deferred(reason))]
        assert self._smtp is not None
        try:
            self._transaction(self._smtp, key, mail_from, rcpt_to, message)
        except smtplib.SMTPResponseException as exc:  # DATA refused before the content
            self._done.append((key, SendResult.from_reply(exc.smtp_code, exc.smtp_error)))
            self._reset(self._smtp)
        except (smtplib.SMTPException, OSError) as exc:  # dropped or timed out mid-message
            reason = f"{self.name}: {_describe(exc)}"
            self._discard(reason)
            self._done.append((key, SendResult.deferred(reason)))
        if any(result.code == 421 for _, result in self._done):  # the server is closing
            self._discard()
        return self._drain()

    def flush(self) -> list[Result]:
        """Wait for the reply to the last submitted content; returns the results not yet
        handed out."""
        self._settle()
        return self._drain()

    def _drain(self) -> list[Result]:
        done, self._done = self._done, []
        return done

    def _settle(self) -> None:
        """Read the reply to the content sent last, if it is still owed."""
        if self._pending is None or self._smtp is None:
            return
        try:
            self._read_pending(self._smtp)
        except (smtplib.SMTPException, OSError) as exc:
            self._discard(f"{self.name}: {_describe(exc)}")
            return
        if self._done and self._done[-1][1].code == 421:
            self._discard()

    def _read_pending(self, smtp: smtplib.SMTP) -> None:
        if self._pending is not None:
            key = self._pending
            if self._unsent:
                smtp.send(self._unsent)
                self._unsent = b""
            reply = smtp.getreply()
            self._pending = None
            self._done.append((key, SendResult.from_reply(*reply)))

    def _transaction(
        self, smtp: smtplib.SMTP, key: int, mail_from: str, rcpt_to: str, message: bytes
    ) -> None:
        self._on_connection += 1
        options = self._mail_options(smtp, mail_from, rcpt_to, message)
        if smtp.has_extn("pipelining") and _plain_address(mail_from) and _plain_address(rcpt_to):
            self._pipelined(smtp, key, mail_from, rcpt_to, message, options)
            return
        self._read_pending(smtp)
        self._done.append((key, self._one_by_one(smtp, mail_from, rcpt_to, message, options)))

    def _one_by_one(
        self, smtp: smtplib.SMTP, mail_from: str, rcpt_to: str, message: bytes, options: list[str]
    ) -> SendResult:
        code, text = smtp.mail(mail_from, options)
        if code == AUTH_REQUIRED:
            self._reset(smtp)
            reply = SendResult.from_reply(code, text).reply
            raise self._error(f"the server requires a login (add user:password) ({reply})")
        if 200 <= code < 300:
            code, text = smtp.rcpt(rcpt_to)
        if not 200 <= code < 300:
            self._reset(smtp)
            return SendResult.from_reply(code, text)
        code, text = smtp.data(_crlf(message))
        return SendResult.from_reply(code, text)

    def _pipelined(
        self,
        smtp: smtplib.SMTP,
        key: int,
        mail_from: str,
        rcpt_to: str,
        message: bytes,
        options: list[str],
    ) -> None:
        """The previous message's content, then this one's MAIL, RCPT and DATA, in one write;
        the replies to all four come back together. This message's content waits for the next
        message's write (or `flush`): one write and one round trip a message."""
        extra = "".join(" " + option for option in options)
        envelope = f"MAIL FROM:<{mail_from}>{extra}\r\nRCPT TO:<{rcpt_to}>\r\nDATA\r\n"
        smtp.send(self._unsent + envelope.encode("ascii"))
        self._unsent = b""
        self._read_pending(smtp)
        mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if data[0] == 354:
            if 200 <= mail[0] < 300 and 200 <= rcpt[0] < 300:
                self._unsent = _dot_stuffed(_crlf(message)) + b".\r\n"
                self._pending = key
                return
            smtp.send(b".\r\n")  # DATA was accepted although a command failed: end it empty
            smtp.getreply()
        if mail[0] == AUTH_REQUIRED:
            self._reset(smtp)
            reply = SendResult.from_reply(*mail).reply
            raise self._error(f"the server requires a login (add user:password) ({reply})")
        self._reset(smtp)
        refused = [(code, text) for code, text in (mail, rcpt, data) if code not in OK_OR_354]
        self._done.append((key, SendResult.from_reply(*(refused or [data])[0])))

    @staticmethod
    def _mail_options(
        smtp: smtplib.SMTP, mail_from: str, rcpt_to: str, message: bytes
    ) -> list[str]:
        options = []
        if not message.isascii() and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not (mail_from + rcpt_to).isascii() and smtp.has_extn("smtputf8"):
            options.append("SMTPUTF8")
        return options

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._discard()

    def _discard(self, reason: str = "") -> None:
        """Drop the connection; a content whose reply it owed us is deferred (in doubt)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()
        if self._pending is not None:
            doubt = reason or f"{self.name}: the connection closed before the reply to DATA"
            self._done.append((self._pending, SendResult.deferred(doubt)))
            self._pending = None
            self._unsent = b""

    def _context(self) -> ssl.SSLContext:
        # Made once: loading the system's CA certificates takes milliseconds per connection.
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp = (
                smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    self.local_hostname,
                    timeout=self.timeout,
                    context=self._context(),
                )
                if self.security == "tls"
                else smtplib.SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
            )
        except ssl.SSLCertVerificationError as exc:
            raise self._error(
                f"the TLS certificate does not verify ({exc.verify_message})"
            ) from None
        # Pipelining writes a message's content and then the next envelope without a reply
        # between them; with Nagle's algorithm the second write waited for an ACK.
        if smtp.sock is not None:
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._greet(smtp)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _greet(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo_or_helo_if_needed()
        if self.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise self._error("the server does not offer STARTTLS (use smtp:// or smtps://)")
            try:
                smtp.starttls(context=self._context())
            except ssl.SSLCertVerificationError as exc:
                raise self._error(
                    f"the TLS certificate does not verify ({exc.verify_message})"
                ) from None
            smtp.ehlo()
        if self.username is not None:
            self._login(smtp)

    def _login(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.login(self.username or "", self.password or "")
        except smtplib.SMTPNotSupportedError:
            raise self._error("the server does not offer AUTH (remove user:password)") from None
        except smtplib.SMTPAuthenticationError as exc:
            if exc.smtp_code >= 500:
                reply = SendResult.from_reply(exc.smtp_code, exc.smtp_error).reply
                raise self._error(f"the user name or password was refused ({reply})") from None
            raise

    def _error(self, problem: str) -> TransportError:
        return TransportError(f"DIGEST_MAIL_URL: {self.name}: {problem}")


class MaildirTransport(_ContextManager):
    """Writes each message into a Maildir (new/) that mail clients can open.

    The envelope is kept the way a local delivery agent keeps it: the sender as
    `Return-Path:` and the recipient as `Delivered-To:`, prepended to the message.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"maildir://{path}"
        self._mailbox: mailbox.Maildir | None = None

    def open(self) -> None:
        if self._mailbox is None:
            self._mailbox = mailbox.Maildir(self.path, factory=None, create=True)

    def close(self) -> None:
        self._mailbox = None

    def submit(self, key: int, mail_from: str, rcpt_to: str, message: bytes) -> list[Result]:
        return [(key, self.send(mail_from, rcpt_to, message))]

    def flush(self) -> list[Result]:
        return []

    def send(self, mail_from: str, rcpt_to: str, message: bytes) -> SendResult:
        """Add the message to new/; a disk error defers it."""
        envelope = f"Return-Path: <{mail_from}>\nDelivered-To: {rcpt_to}\n".encode()
        try:
            self.open()
            assert self._mailbox is not None
            key = self._mailbox.add(envelope + message.replace(b"\r\n", b"\n"))
        except OSError as exc:
            return SendResult.deferred(f"{self.name}: {exc}")
        return SendResult(SendStatus.SENT, f"delivered to {self.name} as {key}")


def _crlf(message: bytes) -> bytes:
    # smtplib sends bytes as given; SMTP wants CRLF line ends (bare LF is refused by some).
    if message.count(b"\n") == message.count(b"\r\n"):
        return message
    return BARE_LF.sub(b"\r\n", message)


def _plain_address(address: str) -> bool:
    # An address written as is inside <...>: no spaces, brackets or line breaks to quote.
    return PLAIN_ADDRESS.fullmatch(address) is not None


def _dot_stuffed(message: bytes) -> bytes:
    # RFC 5321 4.5.2: a line that starts with "." gets one more; the content ends in CRLF.
    # A plain replace, not a multiline regex: a third of the time on a digest's 35 KB.
    stuffed = message.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendResult.from_reply(exc.smtp_code, exc.smtp_error).reply
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def open_transport(settings: Settings) -> Transport:
    """The transport DIGEST_MAIL_URL names (not yet connected); raises ConfigError."""
    return transport_for_url(
        settings.mail_url,
        timeout=settings.smtp_timeout,
        max_per_connection=settings.smtp_max_per_connection,
    )


def transport_for_url(
    url: str, *, timeout: float = 30.0, max_per_connection: int = 100
) -> Transport:
    """A transport for a mail URL; raises ConfigError naming what is wrong with it."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "maildir":
        path = url[len("maildir://") :]
        if not url.lower().startswith("maildir://") or not path:
            raise ConfigError(f"DIGEST_MAIL_URL: {url!r} names no directory ({URL_HELP})")
        return MaildirTransport(Path(path))
    if scheme not in SCHEMES:
        raise ConfigError(
            f"DIGEST_MAIL_URL: unknown scheme {scheme!r} "
            "(use smtp, smtp+starttls, smtps or maildir)"
        )
    return _smtp_from_url(url, scheme, timeout, max_per_connection)


def _smtp_from_url(url: str, scheme: str, timeout: float, max_per_connection: int) -> SMTPTransport:
    security, default_port = SCHEMES[scheme]
    parts = urlsplit(url)
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError(f"DIGEST_MAIL_URL: the port is not a number ({URL_HELP})") from None
    if not parts.hostname:
        raise ConfigError(
            f"DIGEST_MAIL_URL: no host in {scheme}:// URL ({URL_HELP}; "
            "a password containing @, : or / must be percent-encoded)"
        )
    if parts.password is not None and not parts.username:
        raise ConfigError(f"DIGEST_MAIL_URL: a password without a user name ({URL_HELP})")
    return SMTPTransport(
        parts.hostname,
        port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout,
        max_per_connection=max_per_connection,
    )
