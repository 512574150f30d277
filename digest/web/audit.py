"""The audit log in the admin (admins only): who did what to what, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from digest.accounts.audit import recent
from digest.i18n import translatable
from digest.web.admin import admin_page
from digest.web.auth import admin_user
from digest.web.context import WebContext, context

router = APIRouter(
    prefix="/admin/audit", dependencies=[Depends(admin_user)], include_in_schema=False
)
Web = Annotated[WebContext, Depends(context)]
SHOWN = 200


@router.get("/", response_class=Response)
def audit_page(
    request: Request,
    web: Web,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """The newest entries, optionally of one kind of action or one account."""
    with web.transaction() as session:
        entries = [
            {
                "at": entry.occurred_at,
                "actor": entry.actor,
                "action": entry.action,
                "target": entry.target,
                "detail": ", ".join(f"{k}: {v}" for k, v in (entry.detail or {}).items()),
            }
            for entry in recent(session, SHOWN, action.strip(), actor.strip().lower())
        ]
    return admin_page(
        web,
        request,
        "admin/audit.html",
        title=translatable("Audit log"),
        section="audit",
        entries=entries,
        action=action,
        actor=actor,
        shown=SHOWN,
    )
