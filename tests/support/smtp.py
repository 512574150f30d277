"""A real SMTP server (aiosmtpd) for tests: records messages, and can defer, refuse or drop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal

from aiosmtpd.controller import Controller

Rule = Literal["defer", "refuse", "drop", "drop_once"]
REPLIES = {"defer": "451 4.3.0 Mailbox busy, try again later", "refuse": "550 5.1.1 No such user"}


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = field(default_factory=time.monotonic)  # when the server accepted it

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    rules: dict[str, Rule] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)  # a refusal's own reply, by address
    delay: float = 0.0  # seconds each message takes to be accepted (a slow relay)
    connections: int = 0
    pipelining: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        if self.pipelining:  # as Postfix and most relays do; aiosmtpd reads commands in order
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        rule = self.rules.get(address.lower())
        if rule in ("drop", "drop_once"):
            if rule == "drop_once":
                del self.rules[address.lower()]
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        if rule == "refuse" and address.lower() in self.replies:
            return self.replies[address.lower()]
        if rule in REPLIES:
            return REPLIES[rule]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 2.0.0 Accepted"


class SMTPServer:
    """Start with start(); tell it what to do with `defer`, `refuse` and `drop`."""

    def __init__(self, pipelining: bool = True) -> None:
        self.handler = RecordingHandler(pipelining=pipelining)
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def recipients(self) -> list[str]:
        return [rcpt for item in self.received for rcpt in item.rcpt_tos]

    def defer(self, *addresses: str) -> None:
        self._set("defer", addresses)

    def refuse(self, *addresses: str, reply: str | None = None) -> None:
        """Refuse at RCPT with 550 5.1.1 (user unknown), or with `reply`."""
        self._set("refuse", addresses)
        for address in addresses:
            if reply is None:
                self.handler.replies.pop(address.lower(), None)
            else:
                self.handler.replies[address.lower()] = reply

    def drop(self, *addresses: str, once: bool = False) -> None:
        self._set("drop_once" if once else "drop", addresses)

    def accept(self, *addresses: str) -> None:
        for address in addresses:
            self.handler.rules.pop(address.lower(), None)

    def _set(self, rule: Rule, addresses: tuple[str, ...]) -> None:
        for address in addresses:
            self.handler.rules[address.lower()] = rule

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
