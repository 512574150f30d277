"""Benchmark: import a Mailchimp audience export of 100,000 rows (file to committed rows).

The file is generated in Mailchimp's documented columns: 20 towns as a group column, tags
for interests, one row in fifty unsubscribed (suppressed), one in a hundred with a bad
address (reported and skipped). Measured: decoding, reading the CSV, the import and the
commit, as `digest subscribers import` does them. The database is SQLite in a temporary
folder unless --database-url names one (its tables are dropped and created). Prints JSON.

    .venv/bin/python bench/bench_import.py
    .venv/bin/python bench/bench_import.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/digest_bench
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench.environment import environment  # noqa: E402
from digest.db import make_engine, make_session_factory  # noqa: E402
from digest.models import Base, Community, Newsletter, Subscription, Suppression  # noqa: E402
from digest.readers.import_formats import decode, read_csv  # noqa: E402
from digest.readers.imports import import_subscribers  # noqa: E402

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HEADER = (
    "Email Address,First Name,Last Name,Town,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,"
    "LAST_CHANGED,LEID,EUID,UNSUB_TIME,TAGS\n"
)


def mailchimp_file(rows: int, towns: int) -> bytes:
    out = io.StringIO()
    out.write(HEADER)
    for n in range(rows):
        email = f"reader{n}@example.org" if n % 100 != 99 else f"reader{n} at example.org"
        unsub = "2026-06-01 10:00:00" if n % 50 == 7 else ""
        tags = '"""sports"",""news"""' if n % 3 == 0 else ""
        out.write(
            f"{email},Reader,Number {n},Town {n % towns},2,2025-01-01 08:00:00,"
            f"2025-01-01 08:05:00,2025-01-01 08:05:00,{n},e{n},{unsub},{tags}\n"
        )
    return out.getvalue().encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--towns", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="digest-bench-import-"))
    url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        session.add_all(
            Community(slug=f"town-{i}", name=f"Town {i}", timezone="America/Chicago")
            for i in range(args.towns)
        )
        session.add(Newsletter(slug="morning", name="Morning"))
    data = mailchimp_file(args.rows, args.towns)

    started = time.perf_counter()
    text_, _ = decode(data)
    _, rows = read_csv(text_)
    parsed = time.perf_counter()
    with factory() as session, session.begin():
        report = import_subscribers(
            session,
            rows,
            source="benchmark: Mailchimp audience export",
            community=None,
            newsletters=["morning"],
            now=NOW,
        )
    total = time.perf_counter() - started
    with factory() as session:
        subscriptions = session.scalar(select(func.count()).select_from(Subscription))
        suppressions = session.scalar(select(func.count()).select_from(Suppression))
    engine.dispose()
    print(
        json.dumps(
            {
                "benchmark": "import",
                "database": engine.dialect.name,
                "rows": args.rows,
                "file_mb": round(len(data) / 1e6, 1),
                "read_seconds": round(parsed - started, 3),
                "total_seconds": round(total, 3),
                "rows_per_second": round(args.rows / total),
                "added": report.added,
                "subscriptions": subscriptions,
                "suppressed": suppressions,
                "skipped": len(report.skipped),
                "environment": environment(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
