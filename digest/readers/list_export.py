"""A newsletter's list out, in the shapes the importers read (Mailchimp, Substack, ...).

What Digest exports, `digest.readers.imports` reads back: the same headers, so a list can go
to another service and come back without losing towns, interests or consent dates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError, NotFoundError
from digest.models import (
    Community,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from digest.readers.import_formats import FORMATS

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): an
# imported name such as "=HYPERLINK(...)" would run when the export is opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """The value as a spreadsheet shows it as text: a leading quote before a formula's start."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def spreadsheet_safe_row(row: dict[str, str]) -> dict[str, str]:
    """Every value of a CSV row made safe to open in a spreadsheet (`spreadsheet_safe`)."""
    return {header: spreadsheet_safe(value) for header, value in row.items()}


class _Reader:
    __slots__ = ("confirmed_at", "email", "interests", "name", "source", "town")

    def __init__(self, subscriber: Subscriber, subscription: Subscription, town: str) -> None:
        self.email = subscriber.email or ""
        self.name = subscriber.name or ""
        self.town = town
        self.interests = [str(i) for i in subscription.interests or []]
        self.confirmed_at = subscription.confirmed_at
        self.source = subscription.source


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _names(reader: _Reader) -> tuple[str, str]:
    first, _, last = reader.name.partition(" ")
    return first, last


def _mailchimp(reader: _Reader) -> dict[str, str]:
    first, last = _names(reader)
    return {
        "Email Address": reader.email,
        "First Name": first,
        "Last Name": last,
        "Town": reader.town,
        "Interests": ", ".join(reader.interests),
        "OPTIN_TIME": _date(reader.confirmed_at),
        "CONFIRM_TIME": _date(reader.confirmed_at),
        "TAGS": ",".join(f'"{i}"' for i in reader.interests),
    }


def _substack(reader: _Reader) -> dict[str, str]:
    return {
        "email": reader.email,
        "name": reader.name,
        "town": reader.town,
        "interests": ";".join(reader.interests),
        "active_subscription": "false",
        "plan": "free",
        "email_disabled": "false",
        "created_at": _date(reader.confirmed_at),
    }


def _listmonk(reader: _Reader) -> dict[str, str]:
    attributes = {"town": reader.town, "interests": reader.interests}
    return {
        "email": reader.email,
        "name": reader.name,
        "attributes": json.dumps(attributes, ensure_ascii=False),
        "status": "enabled",
        "created_at": _date(reader.confirmed_at),
    }


def _campaign_monitor(reader: _Reader) -> dict[str, str]:
    return {
        "Email Address": reader.email,
        "Name": reader.name,
        "Date Subscribed": _date(reader.confirmed_at),
        "Town": reader.town,
        "Interests": ";".join(reader.interests),
    }


def _csv(reader: _Reader) -> dict[str, str]:
    return {
        "email": reader.email,
        "name": reader.name,
        "community": reader.town,
        "interests": ";".join(reader.interests),
        "confirmed_at": reader.confirmed_at.isoformat() if reader.confirmed_at else "",
        "source": reader.source,
    }


_SHAPES: dict[str, Callable[[_Reader], dict[str, str]]] = {
    "mailchimp": _mailchimp,
    "substack": _substack,
    "listmonk": _listmonk,
    "campaign-monitor": _campaign_monitor,
    "csv": _csv,
}


def export_list(
    session: Session, newsletter: str, shape: str = "csv"
) -> tuple[list[str], list[dict[str, str]]]:
    """The confirmed, active readers of a newsletter, by address: the headers and the rows.

    Every value is safe to open in a spreadsheet (`spreadsheet_safe`).
    """
    if shape not in _SHAPES:
        raise DigestError(f"unknown list format {shape!r} (use {', '.join(FORMATS)})")
    found = session.scalars(select(Newsletter).where(Newsletter.slug == newsletter)).one_or_none()
    if found is None:
        raise NotFoundError("newsletter", f"no newsletter {newsletter!r}")
    query = (
        select(Subscriber, Subscription, Community.slug)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(Community, Community.id == Subscriber.community_id)
        .where(
            Subscription.newsletter_id == found.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscriber.status == SubscriberStatus.ACTIVE,
        )
        .order_by(Subscriber.email)
    )
    write = _SHAPES[shape]
    rows = [
        spreadsheet_safe_row(write(_Reader(sub, subscription, town)))
        for sub, subscription, town in session.execute(query)
    ]
    headers = list(rows[0]) if rows else list(write(_Reader(Subscriber(), Subscription(), "")))
    return headers, rows
