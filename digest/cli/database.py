"""`digest db`: the schema."""

from __future__ import annotations

import typer

from digest.cli.common import app, console
from digest.db import make_engine, upgrade_database
from digest.settings import get_settings

db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version (safe to run again)."""
    engine = make_engine(get_settings().database_url)
    try:
        before, after = upgrade_database(engine)
    finally:
        engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"Database {url} is up to date (revision {after}).")
    else:
        console.print(f"Database {url} upgraded from {before or 'empty'} to {after}.")
