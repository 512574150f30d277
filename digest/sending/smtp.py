"""SMTPTransport: one connection reused across messages, pipelined when the relay offers it.

- It holds at most one connection, opened on the first send and reused by the next ones; it
  is closed after `max_per_connection` messages and after any error that may have left it in
  doubt (a drop, a timeout, a 421), and opened again on the next send.
- `submit` pipelines a stream of messages (RFC 2920, when the server offers PIPELINING): a
  message's content goes out in one write with the next message's MAIL, RCPT and DATA, and
  the replies to all four are read together, so each message costs one round trip instead of
  two. Every submitted message gets exactly one result, from a later `submit` or from `flush`;
  a message whose reply a dropped connection took away is `deferred`, as a drop mid-message
  always was. `send` is `submit` then `flush`.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from typing import Literal

from digest.sending.transport import ContextManaged, Result, SendResult, TransportError

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


class SMTPTransport(ContextManaged):
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
