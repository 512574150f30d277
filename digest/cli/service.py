"""`digest demo` and `digest serve`: the whole service on one machine, with no server to install."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Annotated

import typer

from digest.accounts.users import ensure_first_admin
from digest.cli.common import app, claim_port, console, follow_port, local_address
from digest.clock import SYSTEM_CLOCK
from digest.db import make_engine, make_session_factory, upgrade_database
from digest.demo.seed import DemoSummary, is_empty, outbox_path, run_demo
from digest.errors import DigestError
from digest.settings import Settings, get_settings

# How long the web app may take to listen before `digest serve` gives up.
STARTUP_SECONDS = 60
# The account `digest serve` and `digest demo` add in dev when there is none.
FIRST_ADMIN = "admin@example.org"


@app.command("demo")
def demo() -> None:
    """Seed the demo (once), ingest its feeds, and deliver this morning's edition to the outbox.

    Also adds a first admin account when there is none, and prints how to sign in.
    """
    settings = get_settings()
    _print_summary(settings, run_demo(settings, SYSTEM_CLOCK))
    _print_sign_in(settings, "http://127.0.0.1:8000")


def _print_sign_in(settings: Settings, url: str) -> None:
    """In dev: a first admin when there is no account yet, and how to sign in."""
    if not settings.is_dev:
        return
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            password = ensure_first_admin(session, FIRST_ADMIN)
    finally:
        engine.dispose()
    if password:
        console.print(
            f"Editor's pages: {url}/admin (sign in as {FIRST_ADMIN} with the password "
            f"{password}; it is shown only now)",
            markup=False,
            highlight=False,
        )
    else:
        console.print(
            f"Editor's pages: {url}/admin (forgot a password? `digest users reset-password EMAIL`)",
            markup=False,
            highlight=False,
        )


def _print_summary(settings: Settings, summary: DemoSummary) -> None:
    if summary.seeded:
        console.print("Seeded 3 towns, 6 feeds, the Morning Digest and 9 readers.")
    console.print(f"Stories ingested: {summary.stories}")
    for error in summary.feed_errors:
        console.print(f"  feed problem: {error}")
    console.print(f"Edition {summary.edition_id}: {summary.edition_status}")
    console.print(f"Messages written: {summary.messages}")
    path = outbox_path(settings)
    where = f"the Maildir at {path.resolve()}" if path else settings.mail_url
    console.print(f"Look in {where}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address the web app listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the web app listens on.")] = 8000,
) -> None:
    """Run the web app, a Celery worker and the scheduler together; Ctrl-C stops them all.

    On an empty database the demo is seeded and its first edition sent first.
    """
    claim_port(host, port)
    settings = follow_port(host, port)
    engine = make_engine(settings.database_url)
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            empty = is_empty(session)
    finally:
        engine.dispose()
    if empty and settings.is_dev:
        console.print("Empty database: seeding the demo and sending its first edition.")
        _print_summary(settings, run_demo(settings, SYSTEM_CLOCK))
    children = _start(settings, host, port)
    if not _listening(children, host, port):
        _stop(children)
        raise DigestError(
            f"the web app did not start on {host}:{port} (see its output above); nothing is running"
        )
    _announce(settings, host, port)
    _supervise(children)


def _listening(children: dict[str, subprocess.Popen[bytes]], host: str, port: int) -> bool:
    """Wait until the web app accepts connections; False if a child exits first."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            with socket.create_connection((local_address(host), port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)  # uvicorn tells nobody when it listens: ask again shortly
    return False


def _start(settings: Settings, host: str, port: int) -> dict[str, subprocess.Popen[bytes]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "workers.celery_app"]
    commands = {
        "web": [python, "-m", "digest", "web", "--host", host, "--port", str(port)],
        # Two processes: one can send an edition while the other answers signups' emails.
        "worker": [
            *celery,
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
        ],
        "scheduler": [*celery, "beat", "--loglevel", "INFO"],
    }
    # Each child gets its own process group, so Ctrl-C reaches only this supervisor, which then
    # stops the children in order.
    return {
        name: subprocess.Popen(command, env=os.environ.copy(), start_new_session=True)  # noqa: S603
        for name, command in commands.items()
    }


def _announce(settings: Settings, host: str, port: int) -> None:
    url = f"http://{local_address(host)}:{port}"
    console.print(f"\nDigest is running. Sign up at {url}/")
    if settings.is_dev:
        console.print(f"Outbox (every email sent): {url}/dev/outbox/")
        _print_sign_in(settings, url)
    console.print("Press Ctrl-C to stop.\n")


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children.values():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _supervise(children: dict[str, subprocess.Popen[bytes]]) -> None:
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    failed = ""
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                failed = f"{name} exited with status {child.returncode}"
                stopping = True
        time.sleep(0.2)
    _stop(children)
    if failed:
        console.print(f"Stopped: {failed}.", style="red", markup=False)
        raise typer.Exit(1)
    console.print("Stopped.")
