"""Profile: where a signup's server CPU goes, per library, under yappi's CPU clock.

Runs `digest.web.server:app` in uvicorn in this process against a scratch SQLite database,
drives --requests sequential signups from a client subprocess (after 50 not counted), and
prints one JSON object: CPU milliseconds per signup for the whole process and per library
(site-packages folder, `digest`, or the standard library), with the library versions. The
profiler roughly triples the cost; compare runs of this script with each other, not with
bench_signup.py. The broker is DIGEST_BROKER_URL (default: Redis db 9 on localhost).

    .venv/bin/python bench/profile_signup.py --requests 400
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yappi
from bench_signup import free_port, prepare_database
from environment import environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENT = """
import http.client, json, sys
port, prefix, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
connection = http.client.HTTPConnection("127.0.0.1", port)
for i in range(count):
    body = json.dumps({"email": f"{prefix}-{i}@example.org", "community": "springfield",
                       "newsletters": ["morning"], "consent": True})
    connection.request("POST", "/api/subscriptions", body=body,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 202, response.status
"""


def library(module_path: str) -> str:
    if "site-packages/" in module_path:
        return module_path.split("site-packages/")[1].split("/")[0]
    if str(ROOT) in module_path:
        return "digest"
    return "python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="digest-profile-signup-"))
    database_url = f"sqlite:///{scratch / 'profile.db'}"
    os.environ.update(
        {
            "DIGEST_ENV": "test",
            "DIGEST_VAR_DIR": str(scratch / "var"),
            "DIGEST_DATABASE_URL": database_url,
            "DIGEST_SECRET_KEY": "bench-secret-key-not-for-production",
            "DIGEST_SIGNUP_LIMIT_PER_IP": "1000000/second",
            "DIGEST_SIGNUP_LIMIT_PER_ADDRESS": "1000000/second",
        }
    )
    os.environ.setdefault("DIGEST_BROKER_URL", "redis://127.0.0.1:6379/9")
    prepare_database(database_url)

    import uvicorn

    from digest.web.server import app

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    measured: dict[str, float] = {}

    def drive() -> None:
        while not server.started:
            time.sleep(0.05)
        client = [sys.executable, "-c", CLIENT, str(port)]
        subprocess.check_call([*client, "warm", "50"])
        yappi.set_clock_type("cpu")
        yappi.start(builtins=True)
        started = time.process_time()
        subprocess.check_call([*client, "measured", str(args.requests)])
        measured["cpu"] = time.process_time() - started
        yappi.stop()
        server.should_exit = True

    threading.Thread(target=drive, daemon=True).start()
    server.run()

    by_library: collections.Counter[str] = collections.Counter()
    for stat in yappi.get_func_stats():
        by_library[library(stat.module)] += stat.tsub
    per_request = 1000 / args.requests
    print(
        json.dumps(
            {
                "benchmark": "signup_cpu_profile",
                "requests": args.requests,
                "process_cpu_ms_per_signup": round(measured["cpu"] * per_request, 2),
                "cpu_ms_per_signup_by_library": {
                    name: round(seconds * per_request, 3)
                    for name, seconds in by_library.most_common(15)
                },
                **environment(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
