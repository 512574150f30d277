"""`digest preview`: a town's next edition as HTML, text and a complete .eml, for an editor."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.cli.common import app, console, open_session
from digest.clock import SYSTEM_CLOCK
from digest.errors import DigestError
from digest.mime import Reader, compose, segment_template
from digest.models import Community, Newsletter
from digest.render import render_segment, web_version_html
from digest.settings import get_settings

SAMPLE_READER = Reader(
    delivery_id=0, subscriber_id=0, email="sample.reader@example.com", name="Sample Reader"
)


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return SYSTEM_CLOCK.now()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DigestError(
            f"--at {value!r} is not an ISO time (write it like 2026-11-24T06:00+00:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _lookup(session: Session, newsletter: str, community: str) -> tuple[Newsletter, Community]:
    letter = session.scalar(select(Newsletter).where(Newsletter.slug == newsletter))
    if letter is None:
        raise DigestError(f"no newsletter {newsletter!r} (check the slug with the admin)")
    town = session.scalar(select(Community).where(Community.slug == community))
    if town is None:
        raise DigestError(f"no community {community!r} (check the town's slug)")
    return letter, town


@app.command("preview")
def preview(
    newsletter: Annotated[str, typer.Option(help="Newsletter slug.")],
    community: Annotated[str, typer.Option(help="Community (town) slug.")],
    out: Annotated[Path, typer.Option(help="Directory to write the files into.")],
    at: Annotated[
        str | None, typer.Option(help="Curate as of this ISO time (default: now).")
    ] = None,
) -> None:
    """Write a town's edition as a sample reader gets it: HTML, text, .eml and web version."""
    from digest.curate import curate  # curation is a layer above rendering; load it on use

    settings = get_settings()
    moment = _parse_at(at)
    with open_session() as session, session.begin():
        letter, town = _lookup(session, newsletter, community)
        curation = curate(session, letter, town, moment)
        if curation.skip_reason is not None:
            raise DigestError(f"nothing to preview for {town.slug}: {curation.skip_reason}")
        edition_date = moment.astimezone(ZoneInfo(town.timezone)).date()
        rendered = render_segment(settings, letter, town, curation.sections, edition_date)
        template = segment_template(
            settings,
            letter,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            message_key=f"preview.{letter.slug}.{town.slug}",
            date=moment,
        )
    message = compose(template, SAMPLE_READER)
    parsed = message_from_bytes(message.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    html_part, text_part = parsed.get_body(("html",)), parsed.get_body(("plain",))
    if html_part is None or text_part is None:
        raise DigestError("the composed message lost a part; this is a bug, please report it")
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "digest.html": html_part.get_content(),
        "digest.txt": text_part.get_content(),
        "web.html": web_version_html(rendered.html),
    }
    for name, content in files.items():
        (out / name).write_text(content, encoding="utf-8")
    (out / "digest.eml").write_bytes(message.data)
    stories = sum(len(section.stories) for section in rendered.sections)
    console.print(f"Subject: {rendered.subject}", highlight=False)
    console.print(
        f"{stories} stories, HTML {rendered.html_bytes / 1024:.1f} KB, "
        f"<style> {rendered.style_bytes / 1024:.1f} KB"
        + (f", {rendered.dropped_stories} dropped to fit" if rendered.dropped_stories else ""),
        highlight=False,
    )
    for name in [*files, "digest.eml"]:
        console.print(f"  wrote {out / name}", highlight=False)
