"""`digest sponsors` and `digest campaigns`: advertisers, their bookings, and their reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from digest.cli.common import app, console, open_session, plural
from digest.clock import SYSTEM_CLOCK
from digest.errors import DigestError
from digest.sending.swaps import swap_sponsor
from digest.settings import get_settings
from digest.sponsors import reports
from digest.sponsors.campaigns import (
    Booking,
    CreativeSpec,
    add_sponsor,
    book_campaign,
    cancel_campaign,
    get_campaign,
    list_campaigns,
    list_sponsors,
)
from digest.sponsors.slots import AFTER_TOP, POSITIONS

sponsors_app = typer.Typer(help="Sponsors: the advertisers.", no_args_is_help=True)
app.add_typer(sponsors_app, name="sponsors")
campaigns_app = typer.Typer(
    help="Campaigns: a sponsor's ad booked for dates, newsletters, towns and a position.",
    no_args_is_help=True,
)
app.add_typer(campaigns_app, name="campaigns")


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DigestError(f"{option} {value!r} is not a date (write it like 2026-12-01)") from None


@sponsors_app.command("add")
def sponsors_add(
    slug: Annotated[str, typer.Argument(help="Short name, e.g. hardware-store.")],
    name: Annotated[str, typer.Option(help="The name readers see: 'From NAME'.")],
    contact: Annotated[str | None, typer.Option(help="Who to send the report to.")] = None,
) -> None:
    """Add a sponsor."""
    with open_session() as session, session.begin():
        sponsor = add_sponsor(session, slug, name, contact)
    console.print(f"added sponsor {sponsor.slug} ({sponsor.name})", highlight=False)


@sponsors_app.command("list")
def sponsors_list() -> None:
    """List sponsors with how many campaigns each has booked."""
    with open_session() as session, session.begin():
        campaigns = list_campaigns(session, include_cancelled=True)
        table = Table("slug", "name", "contact", "campaigns")
        for sponsor in list_sponsors(session):
            count = sum(1 for campaign in campaigns if campaign.sponsor_id == sponsor.id)
            table.add_row(sponsor.slug, sponsor.name, sponsor.contact or "", str(count))
    console.print(table)


@sponsors_app.command("report")
def sponsors_report(
    campaign: Annotated[str, typer.Argument(help="The campaign's slug.")],
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV: one line per edition and town.")
    ] = False,
) -> None:
    """A campaign's editions, delivered impressions, clicks and unique clicks per town, and the
    advertiser's read-only link (click rate: unique clicks per impression)."""
    settings = get_settings()
    with open_session() as session, session.begin():
        found = get_campaign(session, campaign)
        report = reports.campaign_report(session, found)
        link = reports.report_url(settings, found)
    if as_csv:
        typer.echo(reports.report_csv(report), nl=False)
        return
    clicks = "clicks" if report.clicks_counted else "clicks (not counted yet)"
    columns = ("editions", "impressions", clicks, "unique clicks", "click rate")
    towns = Table("town", *columns, title="Per town")
    for total in [*report.towns, report.total]:
        towns.add_row(total.label, *_figures(report, total))
    days = Table("date", *columns, title="Over time")
    for total in report.days:
        days.add_row(total.label, *_figures(report, total))
    console.print(
        f"{report.slug}: {report.sponsor}, {report.position}, "
        f"{report.starts_on} to {report.ends_on}" + (" (cancelled)" if report.cancelled else ""),
        highlight=False,
    )
    console.print(towns)
    console.print(days)
    if report.estimated:
        console.print("≈: an estimate (more than 256 unique clicks on a link; about 1.6% error)")
    console.print(f"advertiser's link (read-only, valid a year): {link}", highlight=False)


def _figures(report: reports.CampaignReport, total: reports.Total) -> tuple[str, ...]:
    counted = report.clicks_counted
    return (
        str(total.editions),
        str(total.impressions),
        str(total.clicks) if counted else "-",
        ("≈" if total.estimated else "") + str(total.unique_clicks) if counted else "-",
        f"{total.click_rate:.2%}" if counted else "-",
    )


@campaigns_app.command("book")
def campaigns_book(
    slug: Annotated[str, typer.Argument(help="Short name, e.g. hardware-december.")],
    sponsor: Annotated[str, typer.Option(help="The sponsor's slug.")],
    headline: Annotated[str, typer.Option(help="The ad's headline.")],
    link: Annotated[str, typer.Option(help="Where the ad leads (http or https).")],
    starts: Annotated[str, typer.Option("--from", help="First day (the edition's date).")],
    ends: Annotated[str, typer.Option("--to", help="Last day, included.")],
    position: Annotated[
        str, typer.Option(help=f"Where in the digest: {', '.join(POSITIONS)}.")
    ] = AFTER_TOP,
    newsletter: Annotated[
        list[str] | None, typer.Option(help="A newsletter (repeat); none means every one.")
    ] = None,
    town: Annotated[
        list[str] | None, typer.Option(help="A town (repeat); none means every town.")
    ] = None,
    label: Annotated[
        str, typer.Option(help="What marks it as advertising: 'Sponsored', 'Presented by'.")
    ] = "Sponsored",
    text: Annotated[str, typer.Option(help="A sentence or two under the headline.")] = "",
    image: Annotated[str | None, typer.Option(help="Image URL (needs --alt).")] = None,
    alt: Annotated[str, typer.Option(help="The image's alt text.")] = "",
    house: Annotated[
        bool, typer.Option("--house", help="A house ad: fills slots no sponsor has booked.")
    ] = False,
) -> None:
    """Book a campaign; refused when it would share a slot with another sponsor's."""
    creative = CreativeSpec(headline, link, label, text, image, alt)
    booking = Booking(
        position,
        parse_day(starts, "--from"),
        parse_day(ends, "--to"),
        tuple(newsletter or ()),
        tuple(town or ()),
        house,
    )
    with open_session() as session, session.begin():
        campaign = book_campaign(session, sponsor, slug, creative, booking)
        where = ", ".join(town or ()) or "every town"
    console.print(
        f"booked {campaign.slug} ({campaign.position}, {campaign.starts_on} to "
        f"{campaign.ends_on}, {where}){' as a house ad' if house else ''}",
        highlight=False,
    )


@campaigns_app.command("list")
def campaigns_list(
    cancelled: Annotated[bool, typer.Option(help="Include cancelled campaigns.")] = False,
) -> None:
    """List campaigns by start date."""
    with open_session() as session, session.begin():
        table = Table("slug", "sponsor", "position", "from", "to", "towns", "kind", "status")
        items = list_campaigns(session, include_cancelled=cancelled)
        for campaign in items:
            towns = plural(len(campaign.community_ids), "town") if campaign.community_ids else "all"
            table.add_row(
                campaign.slug,
                campaign.sponsor.name,
                campaign.position,
                campaign.starts_on.isoformat(),
                campaign.ends_on.isoformat(),
                towns,
                "house" if campaign.house else "paid",
                "cancelled" if campaign.cancelled_at else "booked",
            )
    console.print(table)


@campaigns_app.command("cancel")
def campaigns_cancel(
    slug: Annotated[str, typer.Argument(help="The campaign's slug.")],
) -> None:
    """Cancel a campaign: editions not yet built no longer carry it; its report stays."""
    with open_session() as session, session.begin():
        cancel_campaign(session, slug, SYSTEM_CLOCK.now())
    console.print(f"cancelled {slug}", highlight=False)


@campaigns_app.command("swap")
def campaigns_swap(
    slug: Annotated[str, typer.Argument(help="The campaign to put in the slot.")],
    newsletter: Annotated[str, typer.Option(help="The newsletter's slug.")],
    town: Annotated[str, typer.Option(help="The town's slug.")],
    day: Annotated[str, typer.Option("--date", help="The edition's date.")],
) -> None:
    """Put a campaign in its position's slot of one edition and town, over the booking (an
    edition built ahead is rendered again; one that has started sending is refused)."""
    with open_session() as session, session.begin():
        swap = swap_sponsor(
            session,
            get_settings(),
            newsletter,
            parse_day(day, "--date"),
            town,
            slug,
            SYSTEM_CLOCK.now(),
        )
        position = swap.position
    console.print(f"{newsletter} {day} {town}: {position} slot now shows {slug}", highlight=False)
