"""`digest preview`: a town's next edition as HTML, text and a complete .eml, for an editor."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import app, console, open_session, parse_instant
from digest.curation.communities import get_community
from digest.curation.newsletters import get_newsletter
from digest.errors import DigestError
from digest.render.mime import Reader, compose, segment_template
from digest.render.placeholders import web_version_html
from digest.sending.previews import preview_next_edition
from digest.settings import get_settings

SAMPLE_READER = Reader(
    delivery_id=0, subscriber_id=0, email="sample.reader@example.com", name="Sample Reader"
)


@app.command("preview")
def preview(
    newsletter: Annotated[str, typer.Option(help="Newsletter slug.")],
    community: Annotated[str, typer.Option(help="Community (town) slug.")],
    out: Annotated[Path, typer.Option(help="Directory to write the files into.")],
    at: Annotated[
        str | None,
        typer.Option(help="Preview the next edition after this ISO time (default: now)."),
    ] = None,
) -> None:
    """Write a town's next edition as a sample reader gets it: HTML, text, .eml and web version.

    The same edition as the admin preview shows: the town's next slot, in its own time zone.
    """
    settings = get_settings()
    moment = parse_instant(at)
    with open_session() as session, session.begin():
        letter = get_newsletter(session, newsletter)
        town = get_community(session, community)
        preview = preview_next_edition(session, settings, letter, town, moment)
        if preview.rendered is None:
            raise DigestError(f"nothing to preview for {town.slug}: {preview.skip_reason}")
        rendered = preview.rendered
        slot = f"{preview.slot:%Y-%m-%d %H:%M} {town.timezone}" if preview.slot else "now"
        template = segment_template(
            settings,
            letter,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            message_key=f"preview.{letter.slug}.{town.slug}",
            date=preview.send_at,
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
    console.print(f"Next edition for {community}: {slot}", highlight=False)
    console.print(f"Subject: {rendered.subject}", highlight=False)
    console.print(
        f"{stories} stories, HTML {rendered.html_bytes / 1024:.1f} KB, "
        f"<style> {rendered.style_bytes / 1024:.1f} KB"
        + (f", {rendered.dropped_stories} dropped to fit" if rendered.dropped_stories else ""),
        highlight=False,
    )
    for name in [*files, "digest.eml"]:
        console.print(f"  wrote {out / name}", highlight=False)
