"""Benchmark: rendering once per town, and each reader's message bytes.

Measures, in one run on the same sample edition (tests/support/digests.py, 10 stories; and a
30-story edition):
- one segment's render + premailer (`render_segment`), paid once per town;
- per reader, `personalize` (tokens, headers, spliced quoted-printable bodies) to bytes;
- the naive way per reader: fill the reader's values into the rendered (not inlined) HTML,
  run premailer, build a fresh EmailMessage and take its bytes;
and prints one JSON object with the figures in milliseconds and the ratio. Nothing is sent.

    .venv/bin/python bench/bench_render.py --readers 5000 --naive-readers 200
    .venv/bin/python bench/bench_render.py --language fr   # the same edition in French
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from environment import environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock milliseconds of each of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 4),
        "mean_ms": round(statistics.fmean(ordered), 4),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--naive-readers", type=int, default=200)
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--language", choices=["en", "fr"], default="en")
    args = parser.parse_args()

    from digest.curation.sections import Section
    from digest.render import links
    from digest.render.mime import Reader, personalize, segment_template
    from digest.render.placeholders import (
        EMAIL,
        GREETING,
        PREFERENCES_URL,
        UNSUBSCRIBE_URL,
        email_html,
    )
    from digest.render.render import digest_context, inline_css, render_segment
    from digest.render.templates import email_templates
    from digest.tokens import verp_address
    from tests.support import digests

    settings = digests.settings()
    letter = digests.newsletter()
    letter.language = args.language
    town = digests.community()
    sections = digests.sample_sections()
    every_card = [card for section in sections for card in section.stories]
    big = [  # 32 stories: the sample's cards again, with their photos, under new ranks
        Section(
            section.key,
            section.title,
            tuple(
                replace(every_card[(8 * i + n) % len(every_card)], rank=8 * i + n) for n in range(8)
            ),
        )
        for i, section in enumerate(sections)
    ]

    def render(chosen: list[Section]) -> Any:
        return render_segment(settings, letter, town, chosen, digests.EDITION_DATE, edition_id=7)

    render(sections)  # warm up: templates compiled, CSS parsed once
    segment_times = timed(lambda: render(sections), args.segments)
    big_times = timed(lambda: render(big), args.segments)
    rendered = render(sections)
    template = segment_template(
        settings,
        letter,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_key="e7.s1",
        date=digests.EDITION_AT,
    )
    readers = [
        Reader(i, 100_000 + i, f"reader{i}@example.org", f"Reader {i}") for i in range(args.readers)
    ]
    size = len(personalize(template, readers[0]))
    start = time.perf_counter()
    for reader in readers:
        personalize(template, reader)
    fast_ms = (time.perf_counter() - start) * 1000 / len(readers)

    # The naive way: premailer and a new EmailMessage for every reader.
    context = digest_context(settings, letter, town, sections, digests.EDITION_DATE, 7)
    raw_html = email_html(email_templates(language=args.language).render("digest.html", **context))
    text = rendered.text

    def naive(reader: Reader) -> bytes:
        values = {
            GREETING: f"Hi {reader.name},",
            EMAIL: reader.email,
            UNSUBSCRIBE_URL: links.unsubscribe_url(settings, reader.subscriber_id, letter.id),
            PREFERENCES_URL: links.preferences_url(settings, reader.subscriber_id),
        }
        html, body = raw_html, text
        for placeholder, value in values.items():
            html, body = html.replace(placeholder, value), body.replace(placeholder, value)
        message = EmailMessage()
        message["From"] = Address("Springfield Times", addr_spec="news@springfield-times.example")
        message["To"] = Address(reader.name or "", addr_spec=reader.email)
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(digests.EDITION_AT)
        message["Message-ID"] = f"<e7.s1.{reader.delivery_id}@springfield-times.example>"
        message["List-Id"] = "The Morning Digest <morning.springfield-times.example>"
        message["List-Unsubscribe"] = f"<{values[UNSUBSCRIBE_URL]}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(body)
        message.add_alternative(inline_css(html), subtype="html")
        verp_address(settings, reader.delivery_id or 0)
        return message.as_bytes()

    naive(readers[0])
    start = time.perf_counter()
    for reader in readers[: args.naive_readers]:
        naive(reader)
    naive_ms = (time.perf_counter() - start) * 1000 / min(args.naive_readers, len(readers))

    print(
        json.dumps(
            {
                "machine": {"cpu": platform.processor(), **environment()},
                "language": args.language,
                "segment_render_and_premailer": {
                    "stories": sum(len(s.stories) for s in sections),
                    "html_bytes": rendered.html_bytes,
                    **summary(segment_times),
                },
                "segment_render_and_premailer_32_stories": {
                    "html_bytes": render(big).html_bytes,
                    **summary(big_times),
                },
                "per_reader_personalize_bytes": {
                    "readers": len(readers),
                    "message_bytes": size,
                    "mean_ms": round(fast_ms, 4),
                    "readers_per_second": round(1000 / fast_ms),
                },
                "per_reader_premailer_and_new_email_message": {
                    "readers": min(args.naive_readers, len(readers)),
                    "mean_ms": round(naive_ms, 3),
                },
                "speedup": round(naive_ms / fast_ms, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
