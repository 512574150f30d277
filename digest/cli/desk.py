"""`digest newsletters hold`, `digest edition approve` and `digest edition test-send`: the
editor's desk from the command line (docs/desk.md; the browser has the rest)."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import console, open_session
from digest.cli.curation import newsletters_app
from digest.cli.editions import edition_app
from digest.clock import SYSTEM_CLOCK
from digest.curation.communities import get_community
from digest.curation.newsletters import get_newsletter
from digest.sending import approval, proofs
from digest.sending.editions import get_edition
from digest.settings import get_settings


@newsletters_app.command("hold")
def newsletters_hold(
    slug: Annotated[str, typer.Argument(help="Newsletter slug.")],
    off: Annotated[bool, typer.Option("--off", help="Stop holding: send at the slot.")] = False,
    if_unapproved: Annotated[
        str, typer.Option(help="Not approved by the slot: 'send' after the grace, or 'skip'.")
    ] = "send",
    grace: Annotated[int, typer.Option(help="Minutes after the slot before 'send'.")] = 30,
) -> None:
    """Hold the newsletter's editions for an editor's approval (built ahead of the slot)."""
    with open_session() as session, session.begin():
        letter = get_newsletter(session, slug)
        approval.set_hold(letter, not off, if_unapproved, grace)
    state = "not held" if off else f"held; if unapproved: {if_unapproved} (grace {grace} min)"
    console.print(f"{slug}: {state}", highlight=False)


@edition_app.command("approve")
def approve(edition_id: int, by: Annotated[str, typer.Option(help="Who approves.")]) -> None:
    """Approve an edition awaiting approval: each town goes at its slot."""
    with open_session() as session, session.begin():
        approval.approve(session, get_edition(session, edition_id), by, SYSTEM_CLOCK.now())
    console.print(f"Edition {edition_id} approved.")


@edition_app.command("test-send")
def test_send(
    edition_id: int,
    town: Annotated[str, typer.Option(help="Town slug.")],
    to: Annotated[str, typer.Option(help="The address to send the test to.")],
) -> None:
    """Send one town's edition, marked [TEST], to an address (no delivery, not counted)."""
    with open_session() as session, session.begin():
        edition = get_edition(session, edition_id)
        proof = proofs.prepare_proof(session, edition, get_community(session, town))
    proofs.send_proof(get_settings(), proof, to, SYSTEM_CLOCK.now())
    console.print(f"Test of edition {edition_id} for {town} sent to {to}.")
