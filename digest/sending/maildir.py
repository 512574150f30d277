"""MaildirTransport: each message written atomically (tmp/ then new/) into a real Maildir."""

from __future__ import annotations

import mailbox
from pathlib import Path

from digest.sending.transport import ContextManaged, Result, SendResult, SendStatus


class MaildirTransport(ContextManaged):
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
