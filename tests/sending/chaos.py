"""What the chaos tests start and break themselves: a private PostgreSQL, a private Redis, beat.

Never the shared servers: each private one lives in a temporary directory on a port of this
area's range (16110-16199) and is stopped at the end of the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.services import require_program

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGRES_PORT = 16110
REDIS_PORT = 16111


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> float:
    """Poll `condition` until true; returns the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class PrivatePostgres:
    """initdb + pg_ctl as the postgres user, in `root`, on `port`; trust auth on 127.0.0.1."""

    def __init__(self, port: int = POSTGRES_PORT) -> None:
        require_program(str(PG_BIN / "initdb"), "postgresql-15")
        # Under /tmp itself: the postgres user cannot enter pytest's root-only directories.
        self.root, self.port = Path(tempfile.mkdtemp(prefix="digest-chaos-pg-")), port
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)
            initdb = str(PG_BIN / "initdb")
            self._as_postgres(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust")
        options = f"-p {self.port} -k {self.root} -h 127.0.0.1 -c fsync=off"
        pg_ctl = str(PG_BIN / "pg_ctl")
        self._as_postgres(
            pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start"
        )
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            pg_ctl = str(PG_BIN / "pg_ctl")
            self._as_postgres(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server keeping nothing on disk: a restart loses every queued message."""

    def __init__(self, port: int = REDIS_PORT) -> None:
        self.program = require_program("/usr/bin/redis-server", "redis-server")
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [
                self.program,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), "the private Redis", 20)
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)


def _pings(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


class Beat:
    """`celery beat` with the given environment (the sweep every DIGEST_DELIVERY_SWEEP_SECONDS)."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = {**os.environ, **env}
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Beat:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "beat.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.workdir / "beat-schedule"),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
