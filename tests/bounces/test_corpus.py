"""Digest's own bounce corpus, read whole: the targets of issue 12, and every miss named.

tests/bounces/corpus/ holds messages written from the documented formats of 25+ MTAs and
providers (make_corpus.py writes them) and a manifest of what each one means. The targets:
at most 2% of messages lead to a wrong suppression, at least 95% of hard bounces recognised,
a recipient found for at least 97% of the failures, every abuse complaint recognised, and
no message makes the reader crash.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from digest.bounces.reports import BounceReport, read_report
from digest.models import BounceKind
from digest.readers.suppressions import normal_address
from digest.settings import Settings, load_settings

CORPUS = Path(__file__).parent / "corpus"
SUPPRESSING = (BounceKind.HARD, BounceKind.COMPLAINT)


@dataclass
class Row:
    file: str
    sender: str
    recipient: str
    reason: str
    kind: str


@dataclass
class Score:
    messages: int = 0
    crashes: list[str] = field(default_factory=list)
    wrong_suppressions: list[str] = field(default_factory=list)
    hard: int = 0
    hard_missed: list[str] = field(default_factory=list)
    failures: int = 0
    recipient_missed: list[str] = field(default_factory=list)
    complaints: int = 0
    complaints_missed: list[str] = field(default_factory=list)
    reasons: int = 0
    reason_wrong: list[str] = field(default_factory=list)
    strangers: list[str] = field(default_factory=list)  # addresses named that did not fail


def manifest() -> dict[str, list[Row]]:
    by_file: dict[str, list[Row]] = defaultdict(list)
    with (CORPUS / "manifest.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            by_file[row["file"]].append(Row(**row))
    return by_file


def score(settings: Settings) -> Score:
    result = Score()
    for file, expected in sorted(manifest().items()):
        result.messages += 1
        raw = (CORPUS / "messages" / file).read_bytes()
        try:
            reports = read_report(settings, raw, file)
        except Exception as error:  # a crash is what this counts
            result.crashes.append(f"{file}: {error!r}")
            continue
        judge(result, file, expected, reports)
    return result


def judge(result: Score, file: str, expected: list[Row], reports: list[BounceReport]) -> None:
    found = {normal_address(r.recipient): r for r in reports if r.recipient}
    allowed = {normal_address(e.recipient) for e in expected if e.kind in ("hard", "complaint")}
    named = {normal_address(e.recipient) for e in expected if e.recipient}
    for report in reports:
        key = normal_address(report.recipient) if report.recipient else "-"
        if report.kind in SUPPRESSING and key not in allowed:
            result.wrong_suppressions.append(f"{file}: {report.kind} {report.recipient}")
        if report.recipient and key not in named:
            result.strangers.append(f"{file}: {report.recipient}")
    for row in expected:
        if not row.recipient:
            continue
        got = found.get(normal_address(row.recipient))
        result.failures += 1
        if got is None:
            result.recipient_missed.append(
                f"{file}: {row.recipient} ({[r.recipient for r in reports]})"
            )
        if row.kind == "hard":
            result.hard += 1
            if got is None or got.kind != BounceKind.HARD:
                result.hard_missed.append(
                    f"{file}: {got.kind if got else None} {got and got.reason}"
                )
        if row.kind == "complaint":
            result.complaints += 1
            if got is None or got.kind != BounceKind.COMPLAINT:
                result.complaints_missed.append(file)
        result.reasons += 1
        if got is None or got.reason != row.reason:
            result.reason_wrong.append(f"{file}: want {row.reason}, got {got and got.reason}")


@pytest.fixture(scope="module")
def result() -> Score:
    return score(
        load_settings(bounce_domain="news.example", sender="news@springfield-times.example")
    )


def test_the_corpus_is_big_and_varied_enough() -> None:
    rows = [row for rows in manifest().values() for row in rows]
    assert len(manifest()) >= 100
    assert len({row.sender for row in rows}) >= 25


def test_no_message_crashes_the_reader(result: Score) -> None:
    assert result.crashes == []


def test_at_most_2_percent_of_messages_suppress_wrongly(result: Score) -> None:
    assert len(result.wrong_suppressions) <= 0.02 * result.messages, result.wrong_suppressions


def test_at_least_95_percent_of_hard_bounces_are_recognised(result: Score) -> None:
    assert len(result.hard_missed) <= 0.05 * result.hard, result.hard_missed


def test_a_recipient_is_found_for_at_least_97_percent(result: Score) -> None:
    assert len(result.recipient_missed) <= 0.03 * result.failures, result.recipient_missed


def test_no_address_that_did_not_fail_is_named(result: Score) -> None:
    # Administrators' addresses, our own, message ids: never a failed recipient
    assert result.strangers == []


def test_every_abuse_complaint_is_recognised(result: Score) -> None:
    assert result.complaints >= 4
    assert result.complaints_missed == []


def test_the_reason_agrees_for_at_least_90_percent(result: Score) -> None:
    assert len(result.reason_wrong) <= 0.10 * result.reasons, result.reason_wrong


def summary(result: Score) -> dict[str, object]:
    """The figures, as the issue states its targets."""
    return {
        "messages": result.messages,
        "crashes": len(result.crashes),
        "wrong_suppressions": len(result.wrong_suppressions),
        "wrong_suppression_rate": round(len(result.wrong_suppressions) / result.messages, 4),
        "hard_bounces": result.hard,
        "hard_recognised": result.hard - len(result.hard_missed),
        "failures": result.failures,
        "recipient_found": result.failures - len(result.recipient_missed),
        "complaints": result.complaints,
        "complaints_recognised": result.complaints - len(result.complaints_missed),
        "reason_agrees": result.reasons - len(result.reason_wrong),
    }


if __name__ == "__main__":  # python -m tests.bounces.test_corpus: the figures as JSON
    settings = load_settings(bounce_domain="news.example", sender="news@springfield-times.example")
    print(json.dumps(summary(score(settings)), indent=2))


def test_broken_and_garbled_reports_never_crash_the_reader() -> None:
    # Every corpus message cut short at five places and with bytes flipped: each still gives
    # at least one report (unknown at worst), and no exception escapes.
    settings = load_settings(bounce_domain="news.example")
    chaos = random.Random(12)
    for path in sorted((CORPUS / "messages").glob("*.eml")):
        raw = path.read_bytes()
        for _ in range(5):
            cut = raw[: chaos.randrange(1, len(raw))]
            garbled = bytearray(raw)
            for _ in range(20):
                garbled[chaos.randrange(len(garbled))] = chaos.randrange(256)
            for variant in (cut, bytes(garbled)):
                assert read_report(settings, variant, path.name)
