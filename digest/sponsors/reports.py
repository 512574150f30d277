"""Per-campaign reports: editions, delivered impressions, clicks and unique clicks per town,
over time.

An impression is a delivered message (status sent) of a segment that carries the campaign;
the segment's placements say which. Clicks come from the first-party click counts of the
sponsor's link; where those are not recorded the report says so instead of claiming zero.
Reads only. The advertiser's copy is reached by a signed, read-only link (`report_token`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from digest.ingest.click_links import SPONSOR
from digest.ingest.clicks import clicks_by_item
from digest.models import (
    Campaign,
    Community,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionSegment,
    SponsorPlacement,
)
from digest.settings import Settings
from digest.tokens import SPONSOR_REPORT, TokenError, make_token, read_token


@dataclass(frozen=True)
class Clicks:
    """Clicks on a campaign's link in one edition and town."""

    clicks: int = 0
    unique_clicks: int = 0  # readers who clicked (per edition: see digest.ingest.click_uniques)
    estimated: bool = False  # unique_clicks is an estimate (about 1.6% standard error)


# Clicks on a campaign's link per (edition id, town id); None when clicks are not counted.
ClickCounts = Callable[[Session, Campaign], dict[tuple[int, int], Clicks] | None]


@dataclass(frozen=True)
class ReportRow:
    """One edition in one town that carried the campaign."""

    day: date
    edition_id: int
    town: str
    town_slug: str
    community_id: int
    impressions: int
    clicks: int
    unique_clicks: int = 0
    estimated: bool = False

    @property
    def click_rate(self) -> float:
        """Unique clicks per delivered impression."""
        return rate(self.unique_clicks, self.impressions)


@dataclass(frozen=True)
class Total:
    """Figures summed over a town, a day or the whole campaign.

    Unique clicks add up per edition: a reader who clicked in two editions counts in each
    (pseudonyms differ between editions by design).
    """

    label: str
    impressions: int
    clicks: int
    editions: int
    unique_clicks: int = 0
    estimated: bool = False

    @property
    def click_rate(self) -> float:
        """Unique clicks per delivered impression."""
        return rate(self.unique_clicks, self.impressions)


@dataclass(frozen=True)
class CampaignReport:
    slug: str
    sponsor: str
    headline: str
    position: str
    starts_on: date
    ends_on: date
    house: bool
    cancelled: bool
    clicks_counted: bool  # False until the click counts exist: clicks then read 0
    rows: list[ReportRow]

    @property
    def estimated(self) -> bool:
        """True when some unique clicks are HyperLogLog estimates (links with 256+ clickers)."""
        return any(row.estimated for row in self.rows)

    @property
    def total(self) -> Total:
        return _sum("all", self.rows)

    @property
    def towns(self) -> list[Total]:
        names = sorted({row.town for row in self.rows})
        return [_sum(name, [row for row in self.rows if row.town == name]) for name in names]

    @property
    def days(self) -> list[Total]:
        days = sorted({row.day for row in self.rows})
        return [_sum(day.isoformat(), [row for row in self.rows if row.day == day]) for day in days]


def rate(clicks: int, impressions: int) -> float:
    """(Unique) clicks per delivered impression, 0 when nothing was delivered."""
    return clicks / impressions if impressions else 0.0


def _sum(label: str, rows: list[ReportRow]) -> Total:
    return Total(
        label,
        sum(row.impressions for row in rows),
        sum(row.clicks for row in rows),
        len({row.edition_id for row in rows}),
        sum(row.unique_clicks for row in rows),
        any(row.estimated for row in rows),
    )


def sponsor_clicks(session: Session, campaign: Campaign) -> dict[tuple[int, int], Clicks] | None:
    """Counted and unique clicks on the campaign's creative per (edition, town), scanners left
    out.

    Unique clicks count the delivery pseudonyms of the email's links, no reader identity
    (digest.ingest.click_uniques); clicks from the web version carry none and are in `clicks`
    only.
    """
    return {
        (row.edition_id, row.community_id): Clicks(row.clicks, row.unique_clicks, row.estimated)
        for row in clicks_by_item(session, SPONSOR, [campaign.creative_id])
    }


def campaign_report(
    session: Session, campaign: Campaign, clicks: ClickCounts = sponsor_clicks
) -> CampaignReport:
    """The campaign's figures per edition and town, oldest first."""
    sent = and_(Delivery.segment_id == EditionSegment.id, Delivery.status == DeliveryStatus.SENT)
    query = (
        select(
            Edition.slot,
            Edition.id,
            Community.name,
            Community.slug,
            Community.id,
            func.count(Delivery.id),
        )
        .select_from(SponsorPlacement)
        .join(EditionSegment, EditionSegment.id == SponsorPlacement.segment_id)
        .join(Edition, Edition.id == EditionSegment.edition_id)
        .join(Community, Community.id == EditionSegment.community_id)
        .outerjoin(Delivery, sent)
        .where(SponsorPlacement.campaign_id == campaign.id)
        .group_by(Edition.slot, Edition.id, Community.name, Community.slug, Community.id)
        .order_by(Edition.slot, Community.name)
    )
    counted = clicks(session, campaign)
    rows = []
    for slot, edition_id, name, slug, community_id, impressions in session.execute(query):
        found = (counted or {}).get((edition_id, community_id), Clicks())
        rows.append(
            ReportRow(
                day=slot.date(),
                edition_id=edition_id,
                town=name,
                town_slug=slug,
                community_id=community_id,
                impressions=impressions,
                clicks=found.clicks,
                unique_clicks=found.unique_clicks,
                estimated=found.estimated,
            )
        )
    creative = campaign.creative
    return CampaignReport(
        slug=campaign.slug,
        sponsor=campaign.sponsor.name,
        headline=creative.headline,
        position=campaign.position,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        house=campaign.house,
        cancelled=campaign.cancelled_at is not None,
        clicks_counted=counted is not None,
        rows=rows,
    )


CSV_COLUMNS = (
    "date",
    "edition",
    "town",
    "impressions",
    "clicks",
    "unique_clicks",
    "unique_estimated",
    "click_rate",
)


def report_csv(report: CampaignReport) -> str:
    """One line per edition and town; clicks are empty (not 0) when they are not counted.

    click_rate is unique clicks per impression; unique_estimated is 1 where the unique count is
    a HyperLogLog estimate (more than 256 clickers on the link in that town's edition).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow(
            [
                row.day.isoformat(),
                row.edition_id,
                row.town_slug,
                row.impressions,
                row.clicks if report.clicks_counted else "",
                row.unique_clicks if report.clicks_counted else "",
                int(row.estimated) if report.clicks_counted else "",
                f"{row.click_rate:.4f}" if report.clicks_counted else "",
            ]
        )
    return out.getvalue()


def report_token(settings: Settings, campaign: Campaign) -> str:
    """The signed token of the advertiser's read-only report link (valid for a year)."""
    return make_token(settings, SPONSOR_REPORT, {"c": campaign.id})


def campaign_of_token(session: Session, settings: Settings, token: str) -> Campaign:
    """The campaign a report token names; raises TokenError when tampered with or expired."""
    payload = read_token(settings, SPONSOR_REPORT, token)
    campaign_id = payload.get("c") if isinstance(payload, dict) else None
    campaign = session.get(Campaign, campaign_id) if isinstance(campaign_id, int) else None
    if campaign is None:
        raise TokenError("this link is not valid")
    return campaign


def report_url(settings: Settings, campaign: Campaign) -> str:
    """`{base_url}/sponsor-report/{token}`: the report without login, for the advertiser."""
    return f"{settings.base_url}/sponsor-report/{report_token(settings, campaign)}"
