"""`digest communities` and `digest feeds`: towns, the feeds that carry their stories, polling."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from digest.cli.common import app, console, open_session, open_session_factory, plural
from digest.clock import SYSTEM_CLOCK
from digest.curation.communities import add_community, get_community, list_communities
from digest.errors import DigestError
from digest.ingest.feeds import (
    PollResult,
    add_feed,
    check_feed,
    due_feeds,
    get_feed,
    list_feeds,
    new_feed_url,
    poll,
    remove_feed,
)
from digest.ingest.fetch import Fetched, FetchOptions
from digest.models import Community, FeedKind
from digest.settings import get_settings

communities_app = typer.Typer(help="Communities: the towns readers pick.", no_args_is_help=True)
app.add_typer(communities_app, name="communities")
feeds_app = typer.Typer(
    help="Feeds: where stories come from, and their health.", no_args_is_help=True
)
app.add_typer(feeds_app, name="feeds")


@communities_app.command("add")
def communities_add(
    slug: Annotated[str, typer.Argument(help="Short name in URLs and commands, e.g. springfield.")],
    name: Annotated[str, typer.Option(help="The town's name as readers know it.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/Denver.")],
) -> None:
    """Add a town (or region) readers can pick."""
    with open_session() as session, session.begin():
        community = add_community(session, slug, name, timezone)
    console.print(
        f"added community {community.slug} ({community.name}, {community.timezone})",
        highlight=False,
        markup=False,
    )


@communities_app.command("list")
def communities_list() -> None:
    """List the towns with their time zones and feeds."""
    with open_session() as session, session.begin():
        table = Table("slug", "name", "time zone", "feeds")
        for community in list_communities(session):
            table.add_row(
                community.slug, community.name, community.timezone, str(len(community.feeds))
            )
    console.print(table)


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="The feed's http(s):// or file:// URL.")],
    community: Annotated[
        str | None, typer.Option(help="Town slug; leave out for regional and wire feeds.")
    ] = None,
    section: Annotated[str, typer.Option(help="Section of the site, e.g. news, sports.")] = "news",
    most_read: Annotated[
        bool,
        typer.Option(
            "--most-read", help="A most-read list (rank by order) or a JSON/CSV of views."
        ),
    ] = False,
    interval: Annotated[int, typer.Option(help="Seconds between polls.")] = 900,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Register it without fetching it first.")
    ] = False,
) -> None:
    """Register a feed, once it has been fetched and read (unless --no-check)."""
    kind = FeedKind.MOST_READ if most_read else FeedKind.STORIES
    with open_session() as session, session.begin():  # what needs no network, first
        if community:
            get_community(session, community)
        url = new_feed_url(session, url)
    items = None if no_check else _check(url, kind)
    with open_session() as session, session.begin():
        town: Community | None = get_community(session, community) if community else None
        feed = add_feed(session, url, town, section, kind, interval)
    where = town.slug if town else "regional"
    found = "" if items is None else f"; {plural(items, 'item')} in it now"
    console.print(
        f"added feed {feed.id}: {feed.url} ({where}, {section}, {kind.value}){found}",
        highlight=False,
        markup=False,
    )


def _check(url: str, kind: FeedKind) -> int:
    options = FetchOptions.from_settings(get_settings())
    try:
        return check_feed(url, kind, options, SYSTEM_CLOCK.now())
    except DigestError as exc:
        hint = "fix the URL, or add --no-check to register it anyway"
        raise DigestError(f"{str(exc).rstrip('.')} ({hint})") from None


@feeds_app.command("list")
def feeds_list() -> None:
    """List feeds with their health: last success, last error, failures in a row, next poll."""
    with open_session() as session, session.begin():
        feeds = list_feeds(session)
        for feed in feeds:
            town = feed.community.slug if feed.community else "regional"
            failing = feed.consecutive_failures > 0
            console.print(Text(str(feed.id), style="bold") + Text(f" {feed.url}"), highlight=False)
            console.print(
                f"    {town} · {feed.section} · {feed.kind} · "
                f"last success {_when(feed.last_success_at)} · "
                f"{plural(feed.consecutive_failures, 'failure')} in a row · "
                f"next poll {_when(feed.next_poll_at) if feed.next_poll_at else 'now'}",
                highlight=False,
                markup=False,
                style="red" if failing else None,
            )
            if feed.last_error:
                console.print(
                    f"    last error: {feed.last_error}",
                    highlight=False,
                    markup=False,
                    style="red" if failing else "yellow",
                )
    if not feeds:
        console.print("no feeds yet (add one with `digest feeds add URL`)", markup=False)


@feeds_app.command("remove")
def feeds_remove(
    feed: Annotated[str, typer.Argument(help="The feed's id or URL.")],
) -> None:
    """Remove a feed and its stories (editions already built keep theirs)."""
    with open_session() as session, session.begin():
        found = get_feed(session, feed)
        url = found.url
        remove_feed(session, found)
    console.print(f"removed feed {url}", highlight=False, markup=False)


@feeds_app.command("poll")
def feeds_poll(
    all_feeds: Annotated[bool, typer.Option("--all", help="Poll every feed, due or not.")] = False,
) -> None:
    """Poll the feeds that are due now and ingest their stories."""
    options = FetchOptions.from_settings(get_settings())
    now = SYSTEM_CLOCK.now()
    with open_session_factory() as sessions:
        with sessions() as session, session.begin():
            feeds = list_feeds(session) if all_feeds else due_feeds(session, now)
            feed_ids = [feed.id for feed in feeds]
        if not feed_ids:
            console.print("no feed is due (use --all to poll every feed)")
            return
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            fetching = progress.add_task("fetching", total=len(feed_ids))
            reading = progress.add_task("ingesting", total=len(feed_ids))

            def fetched(_result: Fetched) -> None:
                progress.advance(fetching)

            def done(_result: PollResult) -> None:
                progress.advance(reading)

            results = poll(sessions, feed_ids, now, options, on_fetched=fetched, on_done=done)
    _report(results)


def _report(results: list[PollResult]) -> None:
    new = sum(result.new for result in results)
    edited = sum(result.edited for result in results)
    unchanged = sum(1 for result in results if result.status == "not_modified")
    failed = [result for result in results if result.status == "error"]
    console.print(
        f"polled {plural(len(results), 'feed')}: {plural(new, 'new story', 'new stories')}, "
        f"{edited} edited, {plural(unchanged, 'feed')} unchanged, {len(failed)} failed",
        highlight=False,
    )
    for result in results:
        if result.error:
            _problem("red", result, result.error)
        for problem in result.problems:
            _problem("yellow", result, problem)
    if failed and len(failed) == len(results):
        raise DigestError("every feed failed; see the errors above")


def _problem(style: str, result: PollResult, text: str) -> None:
    # The URL and the error are the feed's words, not markup: "[" in them is printed as is.
    line = Text(f"feed {result.feed_id}", style=style)
    line.append(f" {result.url}: {text}")
    console.print(line, highlight=False)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"
