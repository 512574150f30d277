"""Find a reader in the admin: their subscriptions, consent history and deliveries.

Admins see every reader; an editor limited to some towns sees only their towns' readers
(anyone else is "not allowed", not "not found", so nobody is misled about an address).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.accounts.users import require_town
from digest.i18n import translatable
from digest.models import Delivery, Edition, Subscriber
from digest.readers.consent import consent_events, event_dict
from digest.readers.subscribers import find_subscriber
from digest.readers.suppressions import is_suppressed
from digest.web.admin import admin_page
from digest.web.auth import CurrentUser
from digest.web.context import WebContext, context

router = APIRouter(prefix="/admin/readers", include_in_schema=False)
Web = Annotated[WebContext, Depends(context)]
Email = Annotated[str, Query(max_length=320)]
DELIVERIES_SHOWN = 50


def _reader(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    deliveries = session.execute(
        select(Delivery, Edition)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(DELIVERIES_SHOWN)
    ).all()
    return {
        "email": subscriber.email,
        "name": subscriber.name or "",
        "status": str(subscriber.status),
        "town": subscriber.community.name,
        "since": subscriber.created_at,
        "suppressed": bool(subscriber.email) and is_suppressed(session, subscriber.email or ""),
        "subscriptions": [
            {
                "newsletter": sub.newsletter.name,
                "status": str(sub.status),
                "source": sub.source,
                "confirmed_at": sub.confirmed_at,
                "unsubscribed_at": sub.unsubscribed_at,
            }
            for sub in sorted(subscriber.subscriptions, key=lambda s: s.newsletter.name)
        ],
        "consent": [event_dict(session, event) for event in consent_events(session, subscriber.id)],
        "deliveries": [
            {
                "edition": edition.id,
                "newsletter": edition.newsletter.name,
                "slot": edition.slot,
                "status": str(row.status),
                "sent_at": row.sent_at,
                "reply": (row.last_reply or "")[:200],
            }
            for row, edition in deliveries
        ],
    }


@router.get("/", response_class=Response)
def readers_page(request: Request, web: Web, user: CurrentUser, email: Email = "") -> Response:
    """Find a reader by address; shows what Digest knows and did for them."""
    email = email.strip()
    reader = None
    with web.transaction() as session:
        found = find_subscriber(session, email) if email else None
        if found is not None:
            require_town(user, found.community_id)
            reader = _reader(session, found)
    return admin_page(
        web,
        request,
        "admin/readers.html",
        404 if email and reader is None else 200,
        title=translatable("Find a reader"),
        section="readers",
        email=email,
        reader=reader,
        shown=DELIVERIES_SHOWN,
    )
