"""How fast the transport and the send-rate limiter are, against Postfix's smtp-sink.

Prints JSON: messages per second for a bare smtplib loop on one connection (the ceiling), for
SMTPTransport (reusing its connection, and reconnecting every 100 messages; one message at a
time with `send`, and as a pipelined stream with `submit`), for the Maildir transport, and
slots per second granted by an unlimited-in-practice limiter (memory, Redis).

    .venv/bin/python bench/bench_transport.py [--messages 5000] [--redis redis://127.0.0.1:6379/13]
    .venv/bin/python bench/bench_transport.py --messages 1000 --latency-ms 0.5

`--latency-ms` puts `latency_proxy.py` between the client and smtp-sink, delaying each
direction by that much: a relay across a network, where round trips cost what they cost.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from limits.storage import MemoryStorage, storage_from_string

from digest.sending.maildir import MaildirTransport
from digest.sending.send_rate import SendRateLimiter, limits_storage_uri
from digest.sending.smtp import SMTPTransport
from digest.sending.transport import SendStatus

SENDER = "bounces+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@news.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sample_message(size: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Springfield Daily <news@news.example>"
    mail["To"] = "reader@example.org"
    mail["Subject"] = "Your Springfield digest"
    line = "Springfield council votes on the new library budget; residents speak.\n"
    mail.set_content(line * (size // len(line)))
    return mail.as_bytes().replace(b"\n", b"\r\n")


def rate(count: int, run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return round(count / (time.perf_counter() - started), 1)


def smtplib_loop(port: int, data: bytes, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            smtp.sendmail(SENDER, [f"r{i}@example.org"], data)


def transport_loop(transport: SMTPTransport | MaildirTransport, data: bytes, count: int) -> None:
    with transport:
        for i in range(count):
            result = transport.send(SENDER, f"r{i}@example.org", data)
            assert result.status == SendStatus.SENT, result


def stream_loop(transport: SMTPTransport, data: bytes, count: int) -> None:
    with transport:
        results = []
        for i in range(count):
            results += transport.submit(i, SENDER, f"r{i}@example.org", data)
        results += transport.flush()
    assert len(results) == count
    assert all(r.status == SendStatus.SENT for _, r in results)


def limiter_loop(limiter: SendRateLimiter, count: int) -> None:
    for _ in range(count):
        limiter.acquire()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--size", type=int, default=20_000, help="message size in bytes")
    parser.add_argument("--redis", default=None, help="Redis URL for the limiter figure")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="one-way, via a proxy")
    args = parser.parse_args()
    count, data = args.messages, sample_message(args.size)
    sink_port = free_port()
    # smtp-sink refuses to run as root without dropping privileges (-u).
    privileges = ["-u", "nobody"] if os.geteuid() == 0 else []
    servers = [
        subprocess.Popen(["/usr/sbin/smtp-sink", *privileges, f"127.0.0.1:{sink_port}", "256"])
    ]
    port = sink_port
    if args.latency_ms:
        port = free_port()
        proxy = Path(__file__).with_name("latency_proxy.py")
        delay = str(args.latency_ms / 1000)
        servers.append(
            subprocess.Popen([sys.executable, str(proxy), str(port), str(sink_port), delay])
        )
    try:
        time.sleep(1)  # let smtp-sink (and the proxy) bind before the first connection
        figures = {
            "messages": count,
            "message_bytes": len(data),
            "one_way_latency_ms": args.latency_ms,
            "smtplib_loop_per_s": rate(count, lambda: smtplib_loop(port, data, count)),
            "smtp_transport_reused_per_s": rate(
                count,
                lambda: transport_loop(
                    SMTPTransport("127.0.0.1", port, max_per_connection=0), data, count
                ),
            ),
            "smtp_transport_pipelined_stream_per_s": rate(
                count,
                lambda: stream_loop(
                    SMTPTransport("127.0.0.1", port, max_per_connection=0), data, count
                ),
            ),
            "smtp_transport_reconnect_every_100_per_s": rate(
                count,
                lambda: transport_loop(
                    SMTPTransport("127.0.0.1", port, max_per_connection=100), data, count
                ),
            ),
        }
    finally:
        for server in servers:
            server.terminate()
            server.wait()
    with tempfile.TemporaryDirectory() as folder:
        maildir = MaildirTransport(Path(folder) / "outbox")
        figures["maildir_per_s"] = rate(count, lambda: transport_loop(maildir, data, count))
    big = 10_000_000  # a limit never reached: measures the cost of asking
    memory = SendRateLimiter(big, MemoryStorage(), "bench")
    figures["limiter_memory_slots_per_s"] = rate(count, lambda: limiter_loop(memory, count))
    if args.redis:
        storage = storage_from_string(limits_storage_uri(args.redis))
        shared = SendRateLimiter(big, storage, f"bench-{time.time_ns()}")  # type: ignore[arg-type]
        figures["limiter_redis_slots_per_s"] = rate(count, lambda: limiter_loop(shared, count))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
