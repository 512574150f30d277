"""`digest newsletters`, `digest stories` and `digest curate`: what an edition will hold.

`digest curate` shows the town's next edition, the same one the admin preview and
`digest preview` show (digest.sending.previews.curate_next).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from digest.cli.common import app, console, open_session, parse_instant
from digest.curation.communities import get_community
from digest.curation.newsletters import (
    add_newsletter,
    get_newsletter,
    list_newsletters,
    parse_sections,
    set_utm_params,
)
from digest.curation.subjects import DEFAULT_PREHEADER, DEFAULT_SUBJECT, check_template
from digest.curation.weights import parse_weights, weights_of
from digest.errors import DigestError
from digest.i18n import DEFAULT_LANGUAGE, check_language
from digest.ingest.cluster_edits import cluster_members, merge_clusters, split_story
from digest.models import Story
from digest.sending.previews import curate_next

newsletters_app = typer.Typer(help="Newsletters: lists readers join.", no_args_is_help=True)
app.add_typer(newsletters_app, name="newsletters")
stories_app = typer.Typer(help="Stories: what the feeds brought in.", no_args_is_help=True)
app.add_typer(stories_app, name="stories")


@newsletters_app.command("add")
def newsletters_add(
    slug: Annotated[str, typer.Argument(help="Short name, e.g. morning.")],
    name: Annotated[str, typer.Option(help="The name readers see.")],
    schedule: Annotated[
        str, typer.Option(help="Cron line or 'daily 06:00', in each town's time zone.")
    ] = "0 6 * * *",
    sections: Annotated[
        str, typer.Option(help="Section caps, e.g. top=5,local=5,most_read=3,just_posted=0.")
    ] = "top=5,local=5",
    window: Annotated[
        int, typer.Option(help="Oldest story considered, in hours before the edition.")
    ] = 48,
    description: Annotated[str, typer.Option(help="One line on the signup form.")] = "",
    kind: Annotated[
        str, typer.Option(help="digest (curated on the schedule) or alert (breaking news).")
    ] = "digest",
    language: Annotated[
        str, typer.Option(help="The language of its emails and pages: en or fr.")
    ] = DEFAULT_LANGUAGE,
) -> None:
    """Add a newsletter."""
    caps = parse_sections(sections)
    chosen = check_language(language)
    with open_session() as session, session.begin():
        newsletter = add_newsletter(session, slug, name, schedule, caps, window, description, kind)
        newsletter.language = chosen
    console.print(
        f"added newsletter {newsletter.slug} ({newsletter.schedule}, {caps}, {chosen})",
        highlight=False,
    )


@newsletters_app.command("utm")
def newsletters_utm(
    slug: Annotated[str, typer.Argument(help="The newsletter, e.g. morning.")],
    params: Annotated[
        str, typer.Argument(help="e.g. utm_source=digest&utm_medium=email; '' for none.")
    ],
) -> None:
    """Set the UTM parameters added to the newsletter's story links (from its next edition)."""
    with open_session() as session, session.begin():
        newsletter = set_utm_params(session, slug, params)
        shown = newsletter.utm_params or "none"
    console.print(f"{slug}: story links get {shown}", highlight=False)


@newsletters_app.command("list")
def newsletters_list() -> None:
    """List newsletters with their schedules and section caps."""
    with open_session() as session, session.begin():
        table = Table("slug", "name", "schedule", "sections", "window", "active")
        for letter in list_newsletters(session):
            caps = ",".join(f"{key}={value}" for key, value in letter.sections.items())
            table.add_row(
                letter.slug,
                letter.name,
                letter.schedule,
                caps,
                f"{letter.window_hours} h",
                "yes" if letter.active else "no",
            )
    console.print(table)


@stories_app.command("list")
def stories_list(
    community: Annotated[str | None, typer.Option(help="Only this town's stories.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 30,
) -> None:
    """List the newest stories with their clusters and popularity."""
    with open_session() as session, session.begin():
        query = select(Story).order_by(Story.published_at.desc(), Story.id.desc()).limit(limit)
        if community:
            query = query.where(Story.community_id == get_community(session, community).id)
        table = Table("id", "published", "title", "cluster", "popularity", "pick")
        for story in session.scalars(query):
            table.add_row(
                str(story.id),
                story.published_at.strftime("%Y-%m-%d %H:%M"),
                story.title,
                story.cluster_key[:8],
                f"{story.popularity:.2f}",
                "yes" if story.editors_pick else "",
            )
    console.print(table)


@stories_app.command("pick")
def stories_pick(
    story_id: Annotated[int, typer.Argument(help="The story's id (see `digest stories list`).")],
    unpick: Annotated[bool, typer.Option("--unpick", help="Take the pick back.")] = False,
) -> None:
    """Mark a story as an editor's pick: it leads the Top stories."""
    with open_session() as session, session.begin():
        story = session.get(Story, story_id)
        if story is None:
            raise DigestError(f"no story {story_id} (see `digest stories list`)")
        story.editors_pick = not unpick
        title = story.title
    console.print(
        f"{'unpicked' if unpick else 'picked'} story {story_id}: {title}", highlight=False
    )


@stories_app.command("merge")
def stories_merge(
    keep: Annotated[int, typer.Argument(help="A story of the cluster to keep.")],
    other: Annotated[int, typer.Argument(help="A story whose whole cluster joins it.")],
) -> None:
    """Merge two clusters: the same story told twice (readers then get it once)."""
    with open_session() as session, session.begin():
        moved = merge_clusters(session, keep, other)
    console.print(f"merged: {moved} stories joined story {keep}'s cluster", highlight=False)


@stories_app.command("split")
def stories_split(
    story_id: Annotated[int, typer.Argument(help="The story to take out of its cluster.")],
) -> None:
    """Take a story out of its cluster: it was a different story after all."""
    with open_session() as session, session.begin():
        key = split_story(session, story_id)
    console.print(f"story {story_id} is now a cluster of its own ({key[:8]})", highlight=False)


@stories_app.command("cluster")
def stories_cluster(
    story_id: Annotated[int, typer.Argument(help="Any story of the cluster.")],
) -> None:
    """List the stories of a story's cluster (its wire copies)."""
    with open_session() as session, session.begin():
        table = Table("id", "published", "feed", "title")
        for story in cluster_members(session, story_id):
            table.add_row(
                str(story.id),
                story.published_at.strftime("%Y-%m-%d %H:%M"),
                str(story.feed_id),
                story.title,
            )
    console.print(table)


@newsletters_app.command("set")
def newsletters_set(
    slug: Annotated[str, typer.Argument(help="The newsletter.")],
    weights: Annotated[
        str | None,
        typer.Option(help="Curation weights, e.g. regional_popularity=0.6 (docs/curation.md)."),
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Subject template, e.g. '{town}: {lead}{and_more}'.")
    ] = None,
    preheader: Annotated[
        str | None, typer.Option(help="Preheader template, e.g. '{next}'.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="The language of its emails and pages: en or fr.")
    ] = None,
) -> None:
    """Change a newsletter's curation weights, subject and preheader templates, or language."""
    with open_session() as session, session.begin():
        letter = get_newsletter(session, slug)
        if language is not None:
            letter.language = check_language(language)
        if weights is not None:
            letter.weights = parse_weights(weights, letter.weights)
        if subject is not None:
            letter.subject_template = check_template(subject, "subject")
        if preheader is not None:
            letter.preheader_template = check_template(preheader, "preheader")
        summary = (
            f"{letter.slug}: weights {weights_of(letter.weights).to_json()}, "
            f"subject {letter.subject_template or DEFAULT_SUBJECT!r}, "
            f"preheader {letter.preheader_template or DEFAULT_PREHEADER!r}, "
            f"language {letter.language}"
        )
    console.print(summary, highlight=False, markup=False)


@app.command("curate")
def curate_command(
    newsletter: Annotated[str, typer.Option(help="Newsletter slug.")],
    community: Annotated[str, typer.Option(help="Community (town) slug.")],
    at: Annotated[
        str | None,
        typer.Option(help="The next edition after this ISO time (default: now)."),
    ] = None,
) -> None:
    """Print the sections a town's next edition would hold; sends nothing."""
    moment = parse_instant(at)
    with open_session() as session, session.begin():
        letter = get_newsletter(session, newsletter)
        town = get_community(session, community)
        upcoming = curate_next(session, letter, town, moment)
    curation = upcoming.curation
    if curation.skip_reason is not None:
        console.print(f"skipped: {curation.skip_reason}", highlight=False)
        return
    when = f"{upcoming.slot:%Y-%m-%d %H:%M} {town.timezone}" if upcoming.slot else "now"
    console.print(f"{letter.name} for {town.name}, edition of {when}", highlight=False)
    for section in curation.sections:
        console.print(f"\n[bold]{section.title}[/]", highlight=False)
        for card in section.stories:
            pick = " [editor's pick]" if card.editors_pick else ""
            console.print(
                f"  {card.rank + 1:>2}. {card.title} ({card.source}, "
                f"{card.published_at:%Y-%m-%d %H:%M} UTC){pick}",
                highlight=False,
                markup=False,
            )
            console.print(f"      {card.url}", highlight=False, markup=False)
