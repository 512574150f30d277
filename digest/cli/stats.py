"""`digest stats`: the editor's counts (the same as /admin) in the terminal."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from digest.cli.common import app, console, open_session
from digest.clock import SYSTEM_CLOCK
from digest.sending import stats


@app.command("stats")
def show_stats(
    days: Annotated[int, typer.Option(help="Days of signups and unsubscribes to show.")] = 14,
) -> None:
    """Editions with their progress, readers per town and newsletter, signups, feed health."""
    with open_session() as session, session.begin():
        editions = Table(
            "edition",
            "newsletter",
            "slot",
            "status",
            "recipients",
            "done",
            "sent",
            "failed",
            title="Editions",
        )
        for item in stats.recent_editions(session):
            editions.add_row(
                str(item.id),
                item.newsletter,
                f"{item.slot:%Y-%m-%d %H:%M}",
                item.status,
                str(item.recipients),
                f"{item.percent:.0f}%",
                str(item.counts.get("sent", 0)),
                str(item.counts.get("failed", 0)),
            )
        readers = Table(
            "newsletter", "town", "confirmed", "pending", "unsubscribed", title="Readers"
        )
        for row in stats.readers_by_town(session):
            readers.add_row(
                row.newsletter,
                row.town,
                str(row.confirmed),
                str(row.pending),
                str(row.unsubscribed),
            )
        daily = Table("day", "signups", "confirmed", "unsubscribed", title="Signups")
        for day in stats.daily_signups(session, SYSTEM_CLOCK.now().date(), days):
            daily.add_row(
                day.day.isoformat(), str(day.signups), str(day.confirmations), str(day.unsubscribes)
            )
        feeds = Table("feed", "last success", "failures", "last error", title="Feeds")
        for feed in stats.feed_health(session):
            success = f"{feed.last_success_at:%Y-%m-%d %H:%M}" if feed.last_success_at else "never"
            feeds.add_row(feed.url, success, str(feed.consecutive_failures), feed.last_error or "")
    for table in (editions, readers, daily, feeds):
        console.print(table)
