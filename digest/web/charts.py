"""The admin's charts, drawn server-side: daily signups and unsubscribes as paired bars, and a
campaign's daily impressions as single bars.

Only geometry is computed here; `admin/chart.html` turns it into inline SVG (no script, no
library), and the same numbers are in a table next to it for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from digest.i18n import ENGLISH, locale, supported, translated
from digest.sending.stats import DailySignups

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # shown as the bar's tooltip


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str
    anchor: str  # SVG text-anchor: the first and last labels stay inside the chart


@dataclass(frozen=True)
class SignupChart:
    width: int
    height: int
    left: int
    right_edge: int
    baseline: float
    signups: list[Bar]
    unsubscribes: list[Bar]
    ticks: list[Tick]
    days: list[DayLabel]
    total_signups: int
    total_unsubscribes: int


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... that is at least `value` (at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def day_label(day: date, language: str = ENGLISH) -> str:
    """A chart's day: 'Dec 2' / '2 déc.'."""
    if supported(language) == ENGLISH:
        return f"{day:%b} {day.day}"
    return format_date(day, "d MMM", locale=locale(language))


def signup_chart(days: list[DailySignups], language: str = ENGLISH) -> SignupChart:
    """Paired bars per day (signups, unsubscribes) on a shared scale, oldest day on the left."""
    top = nice_ceiling(max([d.signups for d in days] + [d.unsubscribes for d in days] + [0]))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    slot = plot_width / max(len(days), 1)
    bar = max(slot * 0.38, 1.0)

    def height(count: int) -> float:
        return round(plot_height * count / top, 2)

    signups, unsubscribes, labels = [], [], []
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - 2 * bar) / 2
        when = day_label(day.day, language)
        said = translated(language, "{day}: {count} signups", day=when, count=day.signups)
        signups.append(_bar(x, baseline, bar, height(day.signups), said))
        said = translated(language, "{day}: {count} unsubscribes", day=when, count=day.unsubscribes)
        unsubscribes.append(_bar(x + bar, baseline, bar, height(day.unsubscribes), said))
        if index in (0, len(days) // 2, len(days) - 1):
            anchor = "start" if index == 0 else "end" if index == len(days) - 1 else "middle"
            edge = {"start": x, "middle": x + bar, "end": x + 2 * bar}[anchor]
            labels.append(DayLabel(round(edge, 2), when, anchor))
    ticks = [
        Tick(round(baseline - plot_height * share, 2), str(round(top * share)))
        for share in ((0.0, 0.5, 1.0) if top % 2 == 0 else (0.0, 1.0))
    ]
    return SignupChart(
        WIDTH,
        HEIGHT,
        LEFT,
        WIDTH - RIGHT,
        baseline,
        signups,
        unsubscribes,
        ticks,
        labels,
        sum(d.signups for d in days),
        sum(d.unsubscribes for d in days),
    )


def _bar(x: float, baseline: float, width: float, height: float, title: str) -> Bar:
    return Bar(round(x, 2), round(baseline - height, 2), round(width, 2), height, title)


@dataclass(frozen=True)
class BarChart:
    """One series of bars per day (a campaign's delivered impressions), same geometry."""

    width: int
    height: int
    left: int
    right_edge: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    days: list[DayLabel]


def daily_bar_chart(points: list[tuple[date, int, str]], language: str = ENGLISH) -> BarChart:
    """Bars of (day, value, tooltip), oldest on the left, on a scale of 1, 2, 5, 10..."""
    top = nice_ceiling(max([value for _day, value, _title in points] + [0]))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    slot = plot_width / max(len(points), 1)
    width = max(min(slot * 0.6, 48.0), 1.0)
    bars, labels = [], []
    for index, (day, value, title) in enumerate(points):
        x = LEFT + index * slot + (slot - width) / 2
        bars.append(_bar(x, baseline, width, round(plot_height * value / top, 2), title))
        if index in (0, len(points) // 2, len(points) - 1):
            anchor = "start" if index == 0 else "end" if index == len(points) - 1 else "middle"
            edge = {"start": x, "middle": x + width / 2, "end": x + width}[anchor]
            labels.append(DayLabel(round(edge, 2), day_label(day, language), anchor))
    ticks = [
        Tick(round(baseline - plot_height * share, 2), str(round(top * share)))
        for share in ((0.0, 0.5, 1.0) if top % 2 == 0 else (0.0, 1.0))
    ]
    unique = {label.label: label for label in labels}  # one day shows one label
    return BarChart(
        WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, baseline, bars, ticks, list(unique.values())
    )
