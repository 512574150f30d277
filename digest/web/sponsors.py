"""Sponsor reports in the browser: the editor's pages under /admin/sponsors (behind the admin
password) and the advertiser's read-only page at /sponsor-report/TOKEN (a signed link, no login).

Both show the same report (`digest.sponsors.reports`): editions, delivered impressions and
clicks per town, a chart of impressions over time, and a CSV of the figures.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.accounts.audit import record
from digest.accounts.users import NotAllowedError, require_town
from digest.curation.communities import get_community
from digest.curation.newsletters import get_newsletter
from digest.errors import DigestError, NotFoundError
from digest.i18n import ENGLISH, translatable, translated
from digest.models import Campaign, Newsletter
from digest.sending.swaps import swap_sponsor
from digest.sponsors import reports
from digest.sponsors.campaigns import get_campaign, list_campaigns
from digest.sponsors.choose import choose_slots
from digest.tokens import TokenError
from digest.web.admin import _page, editor
from digest.web.auth import CheckedForm
from digest.web.charts import BarChart, daily_bar_chart
from digest.web.context import WebContext, context
from digest.web.languages import editor_language, reader_language
from digest.web.security import PostedForm

admin_router = APIRouter(
    prefix="/admin/sponsors", dependencies=[Depends(editor)], include_in_schema=False
)
public_router = APIRouter(include_in_schema=False)
Web = Annotated[WebContext, Depends(context)]
CampaignSlug = Annotated[str, Path(max_length=64)]
Slug = Annotated[str, Query(max_length=64)]
Day = Annotated[str, Query(max_length=10)]
ReportToken = Annotated[str, Path(max_length=1000, description="The signed report token.")]
# The advertiser's page: never cached by a proxy, never indexed, never sending a referrer.
PUBLIC_HEADERS = {"cache-control": "no-store", "x-robots-tag": "noindex"}


def impressions_chart(report: reports.CampaignReport, language: str = ENGLISH) -> BarChart:
    """Delivered impressions per edition day, with clicks in each bar's tooltip when counted."""
    points = []
    for total in report.days:
        title = (
            translated(
                language,
                "{day}: {impressions} impressions, {clicks} clicks, {unique} unique",
                day=total.label,
                impressions=total.impressions,
                clicks=total.clicks,
                unique=total.unique_clicks,
            )
            if report.clicks_counted
            else translated(
                language,
                "{day}: {impressions} impressions",
                day=total.label,
                impressions=total.impressions,
            )
        )
        points.append((date.fromisoformat(total.label), total.impressions, title))
    return daily_bar_chart(points, language)


def _campaign(session: Session, slug: str) -> Campaign:
    try:
        return get_campaign(session, slug)
    except NotFoundError:
        raise HTTPException(404, f"There is no campaign {slug!r}.") from None


def _csv(report: reports.CampaignReport, headers: dict[str, str] | None = None) -> Response:
    disposition = f'attachment; filename="{report.slug}-report.csv"'
    return Response(
        reports.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": disposition, **(headers or {})},
    )


def _values(report: reports.CampaignReport, language: str) -> dict[str, Any]:
    return {"report": report, "chart": impressions_chart(report, language)}


@admin_router.get("/", response_class=Response)
def campaigns_page(request: Request, web: Web) -> Response:
    """Every campaign with its delivered impressions so far."""
    with web.transaction() as session:
        rows = [
            reports.campaign_report(session, campaign)
            for campaign in list_campaigns(session, include_cancelled=True)
        ]
    return _page(
        web,
        request,
        "admin/sponsors.html",
        title=translatable("Sponsors"),
        section="sponsors",
        reports=rows,
    )


@admin_router.get("/swap", response_class=Response)
def swap_page(
    request: Request, web: Web, newsletter: Slug = "", town: Slug = "", day: Day = ""
) -> Response:
    """One edition's slots in one town, and a form to put another campaign in one of them."""
    edition_date = _day(day)
    with web.transaction() as session:
        try:
            letter = get_newsletter(session, newsletter)
            community = get_community(session, town)
        except NotFoundError as exc:
            raise HTTPException(404, f"{exc}.") from None
        slots = choose_slots(session, letter, community, edition_date)
        choices = [
            (campaign.slug, campaign.sponsor.name, campaign.position)
            for campaign in list_campaigns(session)
            if campaign.starts_on <= edition_date <= campaign.ends_on
        ]
        names = (letter.name, community.name)
    return _page(
        web,
        request,
        "admin/sponsor_swap.html",
        title=translatable("Swap a sponsor"),
        section="sponsors",
        newsletter=newsletter,
        town=town,
        day=edition_date,
        names=names,
        slots=list(slots.values()),
        choices=choices,
    )


@admin_router.post("/swap", response_class=Response)
def swap(request: Request, web: Web, form: PostedForm, user: CheckedForm) -> Response:
    """Record the swap (an edition built ahead is rendered again), then back to the preview.
    An editor limited to some towns swaps in those only; the audit log keeps each swap."""
    newsletter, town = str(form.get("newsletter") or ""), str(form.get("town") or "")
    edition_date = _day(str(form.get("day") or ""))
    campaign = str(form.get("campaign") or "")
    try:
        with web.transaction() as session:
            require_town(user, get_community(session, town).id)
            swap_sponsor(
                session, web.settings, newsletter, edition_date, town, campaign, web.clock.now()
            )
            detail = {
                "newsletter": newsletter,
                "day": edition_date.isoformat(),
                "campaign": campaign,
            }
            record(session, user, "sponsor.swap", town, detail, web.clock.now())
    except NotAllowedError:
        raise  # 403, as for every town an editor may not touch
    except DigestError as exc:
        where = {"newsletter": newsletter, "town": town, "day": edition_date.isoformat()}
        back = f"/admin/sponsors/swap?{urlencode(where)}"
        return _page(
            web, request, "message.html", 409, title="Not possible", message=str(exc), back=back
        )
    query = urlencode({"newsletter": newsletter, "town": town})
    return RedirectResponse(f"/admin/preview?{query}", status_code=303)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{value!r} is not a date (like 2026-12-01).") from None


@admin_router.get("/{slug}", response_class=Response)
def report_page(slug: CampaignSlug, request: Request, web: Web) -> Response:
    """One campaign's report, the CSV link and the advertiser's read-only link."""
    with web.transaction() as session:
        campaign = _campaign(session, slug)
        report = reports.campaign_report(session, campaign)
        link = reports.report_url(web.settings, campaign)
    return _page(
        web,
        request,
        "admin/sponsor_report.html",
        title=translatable("Campaign {slug}", slug=report.slug),
        section="sponsors",
        advertiser_link=link,
        **_values(report, editor_language(request)),
    )


@admin_router.get("/{slug}/report.csv", response_class=Response)
def report_csv(slug: CampaignSlug, web: Web) -> Response:
    with web.transaction() as session:
        report = reports.campaign_report(session, _campaign(session, slug))
    return _csv(report)


def _report_of_token(web: WebContext, token: str) -> tuple[reports.CampaignReport, list[str]]:
    """The campaign's report and the languages of the newsletters it runs in."""
    with web.transaction() as session:
        try:
            campaign = reports.campaign_of_token(session, web.settings, token)
        except TokenError as exc:
            # The same answer for a forged, tampered or expired link: it shows nothing.
            raise HTTPException(404, f"This report link cannot be used: {exc}.") from None
        languages = select(Newsletter.language)
        if campaign.newsletter_ids:
            languages = languages.where(Newsletter.id.in_(campaign.newsletter_ids))
        return reports.campaign_report(session, campaign), list(session.scalars(languages))


@public_router.get("/sponsor-report/{token}", response_class=Response)
def advertiser_page(token: ReportToken, request: Request, web: Web) -> Response:
    """The advertiser's read-only report: no login, the signed link is the key.

    In the campaign's newsletters' language when they share one, else the browser's.
    """
    report, languages = _report_of_token(web, token)
    language = reader_language(request, languages)
    response = web.page(
        "sponsor_report.html",
        lang=language,
        title=translated(language, "Campaign report: {sponsor}", sponsor=report.sponsor),
        token=token,
        **_values(report, language),
    )
    response.headers.update(PUBLIC_HEADERS)
    return response


@public_router.get("/sponsor-report/{token}/report.csv", response_class=Response)
def advertiser_csv(token: ReportToken, web: Web) -> Response:
    return _csv(_report_of_token(web, token)[0], PUBLIC_HEADERS)
