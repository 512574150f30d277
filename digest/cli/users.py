"""`digest users`: the accounts that sign in to the admin (add, list, disable, reset-password).

Passwords are read from a hidden prompt (asked twice), never from the command line's history;
every change goes to the audit log as done by "cli".
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from digest.accounts.audit import record
from digest.accounts.sessions import end_sessions_of
from digest.accounts.users import (
    add_user,
    count_admins,
    disable_user,
    get_user,
    list_users,
    set_password,
)
from digest.cli.common import app, console, open_session
from digest.clock import SYSTEM_CLOCK
from digest.curation.communities import get_community
from digest.errors import DigestError
from digest.models import Role

users_app = typer.Typer(help="Accounts that sign in to the admin.", no_args_is_help=True)
app.add_typer(users_app, name="users")

Password = Annotated[
    str,
    typer.Option(
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Asked for (hidden, twice) when not given; at least 10 characters.",
    ),
]


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The address the person signs in with.")],
    password: Password,
    role: Annotated[Role, typer.Option(help="admin: everything; editor: editorial work.")] = (
        Role.EDITOR
    ),
    name: Annotated[str, typer.Option(help="The name shown in the admin.")] = "",
    town: Annotated[
        list[str] | None,
        typer.Option(help="Limit an editor to this town's slug (repeat for several)."),
    ] = None,
) -> None:
    """Add an account."""
    with open_session() as session, session.begin():
        towns = [get_community(session, slug) for slug in town or []]
        if towns and role == Role.ADMIN:
            raise DigestError("an admin acts on every town: drop --town, or use --role editor")
        user = add_user(session, email, password, role, name, towns)
        detail = {"role": str(role), "towns": [t.slug for t in towns]}
        record(session, "cli", "user.add", user.email, detail, SYSTEM_CLOCK.now())
        where = f" for {', '.join(t.name for t in towns)}" if towns else ""
    console.print(f"added {role} {user.email}{where}", markup=False, highlight=False)


@users_app.command("list")
def users_list() -> None:
    """List the accounts."""
    with open_session() as session:
        users = list_users(session)
        table = Table("email", "name", "role", "towns", "active", "last sign-in")
        for user in users:
            table.add_row(
                user.email,
                user.name,
                str(user.role),
                ", ".join(sorted(t.slug for t in user.towns)) or "all",
                "yes" if user.active else "no",
                user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never",
            )
    if not users:
        console.print("no accounts yet (add one with `digest users add EMAIL --role admin`)")
        return
    console.print(table)


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Argument(help="The account's address.")],
) -> None:
    """Disable an account: it cannot sign in, and its open sessions end now."""
    with open_session() as session, session.begin():
        user = get_user(session, email)
        if user.role == Role.ADMIN and user.active and count_admins(session) <= 1:
            raise DigestError(f"{user.email} is the last active admin: add another admin first")
        disable_user(session, user)
        end_sessions_of(session, user)
        record(session, "cli", "user.disable", user.email, None, SYSTEM_CLOCK.now())
    console.print(f"disabled {user.email}", markup=False, highlight=False)


@users_app.command("reset-password")
def users_reset_password(
    email: Annotated[str, typer.Argument(help="The account's address.")],
    password: Password,
) -> None:
    """Set a new password (and enable the account); its open sessions end now."""
    with open_session() as session, session.begin():
        user = get_user(session, email)
        set_password(user, password)
        user.active = True
        end_sessions_of(session, user)
        record(session, "cli", "user.reset-password", user.email, None, SYSTEM_CLOCK.now())
    console.print(f"new password set for {user.email}", markup=False, highlight=False)
