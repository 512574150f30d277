"""Benchmark: reading bounces (parse, find recipients, classify), and the whole mailbox loop.

Takes the messages of Digest's own corpus (tests/bounces/corpus/messages: 25+ MTAs and
providers, DSN, ARF, plain text, SES JSON) round-robin up to --messages and measures:
- `read`: `read_report` on each raw message (what the target "1,000 bounces read in under
  5 s" is about), wall clock, single process;
- `maildir`: with --maildir, `process_maildir` on a Maildir of the same messages against a
  fresh SQLite database with a reader for every recipient (one transaction per report,
  suppressions and consent records written), i.e. what `digest bounces process` does.
Prints one JSON object.

    .venv/bin/python bench/bench_bounces.py --messages 1000 --maildir
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "tests" / "bounces" / "corpus" / "messages"


def sample(count: int) -> list[bytes]:
    messages = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    # Each copy differs by one header so that none is a duplicate of another report.
    return [b"X-Bench-Copy: %d\n" % n + messages[n % len(messages)] for n in range(count)]


def bench_read(raws: list[bytes]) -> dict[str, object]:
    from digest.bounces.reports import read_report
    from digest.settings import load_settings

    settings = load_settings(bounce_domain="news.example")
    kinds: Counter[str] = Counter()
    start = time.perf_counter()
    for n, raw in enumerate(raws):
        kinds.update(report.kind.value for report in read_report(settings, raw, f"bench-{n}"))
    seconds = time.perf_counter() - start
    return {
        "messages": len(raws),
        "seconds": round(seconds, 3),
        "messages_per_second": round(len(raws) / seconds, 1),
        "ms_per_message": round(seconds * 1000 / len(raws), 3),
        "reports_by_kind": dict(sorted(kinds.items())),
    }


def bench_maildir(raws: list[bytes]) -> dict[str, object]:
    from digest.bounces.mailbox import process_maildir
    from digest.bounces.reports import read_report
    from digest.clock import SYSTEM_CLOCK
    from digest.db import make_engine, make_session_factory, upgrade_database
    from digest.models import Community, Subscriber
    from digest.settings import load_settings

    settings = load_settings(bounce_domain="news.example")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade_database(engine)
        factory = make_session_factory(engine)
        recipients = {
            report.recipient.lower()
            for raw in raws[: len(list(CORPUS.glob("*.eml")))]
            for report in read_report(settings, raw, "seed")
            if report.recipient
        }
        with factory() as session, session.begin():
            town = Community(slug="springfield", name="Springfield", timezone="UTC")
            session.add(town)
            session.flush()
            session.add_all(Subscriber(email=r, community_id=town.id) for r in recipients)
        maildir = Path(tmp) / "bounces"
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True)
        for n, raw in enumerate(raws):
            (maildir / "new" / f"{n:06d}.bench").write_bytes(raw)
        start = time.perf_counter()
        counts = process_maildir(factory, settings, maildir, SYSTEM_CLOCK)
        seconds = time.perf_counter() - start
        engine.dispose()
    return {
        "messages": len(raws),
        "seconds": round(seconds, 3),
        "messages_per_second": round(len(raws) / seconds, 1),
        "counts": dict(sorted(counts.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--maildir", action="store_true", help="also run the mailbox loop")
    args = parser.parse_args()
    raws = sample(args.messages)
    result: dict[str, object] = {
        "benchmark": "bounces",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "corpus_messages": len(list(CORPUS.glob("*.eml"))),
        "read": bench_read(raws),
    }
    if args.maildir:
        result["maildir"] = bench_maildir(raws)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
