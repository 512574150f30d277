"""Suppressions in the admin (admins only): list and search, add, lift, each with a reason.

Uses the readers' core (digest.readers.suppressions): the reader's consent history keeps each
change, and the audit log says which account made it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from digest.accounts.audit import record
from digest.errors import DigestError
from digest.i18n import translatable
from digest.readers.suppressions import add_suppression, lift_suppression, list_suppressions
from digest.web.admin import admin_page
from digest.web.admin_forms import problem, text_fields
from digest.web.auth import CheckedAdminForm, admin_user
from digest.web.context import WebContext, context
from digest.web.security import PostedForm

router = APIRouter(
    prefix="/admin/suppressions", dependencies=[Depends(admin_user)], include_in_schema=False
)
Web = Annotated[WebContext, Depends(context)]
Search = Annotated[str, Query(max_length=320)]
LABELS = {
    "email": translatable("Address"),
    "why": translatable("Reason"),
    "lift_why": translatable("Reason for lifting"),
}
SHOWN = 100
DONE = {
    "added": translatable("Suppressed: nothing more is sent to it."),
    "lifted": translatable("Lifted."),
}


def _page(
    web: WebContext,
    request: Request,
    q: str,
    values: dict[str, str],
    errors: dict[str, str],
    done: str = "",
) -> Response:
    with web.transaction() as session:
        rows = [
            {
                "email": row.email,
                "reason": str(row.reason),
                "detail": row.detail or "",
                "since": row.created_at,
            }
            for row in list_suppressions(session, q or None, limit=SHOWN)
        ]
    return admin_page(
        web,
        request,
        "admin/suppressions.html",
        400 if errors else 200,
        title=translatable("Suppressions"),
        section="suppressions",
        rows=rows,
        q=q,
        shown=SHOWN,
        values=values,
        errors=errors,
        labels=LABELS,
        notice=DONE.get(done),
    )


@router.get("/", response_class=Response)
def suppressions_page(request: Request, web: Web, q: Search = "", done: str = "") -> Response:
    """The newest suppressions, or those matching a search; forms to add and lift."""
    return _page(web, request, q.strip(), {}, {}, done)


def _source(user_email: str) -> str:
    return f"admin:{user_email}"


@router.post("/", response_class=Response)
def add(request: Request, web: Web, form: PostedForm, user: CheckedAdminForm) -> Response:
    """Suppress an address, with the reason why."""
    values = text_fields(form)
    email, why = values.get("email", "").strip(), values.get("why", "").strip()
    errors: dict[str, str] = {}
    if not why:
        errors["why"] = translatable(
            "Say why the address is suppressed (kept in the reader's history)."
        )
    if not errors:
        try:
            with web.transaction() as session:
                row, new = add_suppression(
                    session, email, why, web.clock.now(), _source(user.email)
                )
                if new:
                    detail = {"why": why}
                    record(
                        session,
                        user,
                        "suppression.add",
                        row.email or email,
                        detail,
                        web.clock.now(),
                    )
        except DigestError as exc:
            errors["email"] = problem(exc)
    if errors:
        return _page(web, request, "", values, errors)
    return RedirectResponse("/admin/suppressions/?done=added", status_code=303)


@router.post("/lift", response_class=Response)
def lift(request: Request, web: Web, form: PostedForm, user: CheckedAdminForm) -> Response:
    """Take an address off the list, with the reason why."""
    values = text_fields(form)
    email, why = values.get("email", "").strip(), values.get("lift_why", "").strip()
    try:
        with web.transaction() as session:
            lift_suppression(session, email, why, web.clock.now(), _source(user.email))
            record(session, user, "suppression.lift", email, {"why": why}, web.clock.now())
    except DigestError as exc:
        return _page(web, request, email, values, {"lift_why": problem(exc)})
    return RedirectResponse("/admin/suppressions/?done=lifted", status_code=303)
