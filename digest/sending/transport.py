"""Transports: where a finished message goes, behind one small protocol.

The delivery engine sees only `Transport`: open, send (or submit a stream, then flush), close
(or `with`). Guarantees:
- `send` returns a `SendResult` for everything that concerns one message or the connection:
  `sent` (the server accepted the message: 2xx after DATA), `deferred` (try again later:
  connection refused or dropped, timeout, any 4xx reply) or `failed` (a 5xx reply: do not
  retry). Each carries the server's reply, or the error, as text.
- It raises `TransportError` (a DigestError naming DIGEST_MAIL_URL) only for what no retry
  fixes: credentials refused or missing (530), AUTH or STARTTLS not offered, a TLS
  certificate that does not verify.
- `submit` may report a message's result later (with a later `submit`, or `flush`), but every
  submitted message gets exactly one.
The transports: `digest.sending.smtp` (an SMTP relay) and `digest.sending.maildir` (a folder);
`digest.sending.mail_url` picks one from DIGEST_MAIL_URL. A transport is used by one thread at
a time; every worker opens its own.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from digest.errors import ConfigError

log = logging.getLogger(__name__)


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


class ContextManaged(ABC):
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
