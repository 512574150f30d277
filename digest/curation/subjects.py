"""A newsletter's subject and preheader templates: each town's own lead and headlines.

Templates are Python format strings over a fixed set of fields (no attribute or index access):

| field | meaning |
| --- | --- |
| `{town}` | the town's name |
| `{newsletter}` | the newsletter's name |
| `{date}` | the edition's day, like "Tuesday 24 November" |
| `{lead}` | the lead headline: the town's own best story when it has one, else the top story |
| `{count}` | how many stories the edition holds |
| `{more}` | how many besides the lead |
| `{and_more}` | ", and 8 more" (empty when the lead is the only story) |
| `{next}` | the next three headlines after the lead, joined by " · " |
"""

from __future__ import annotations

from string import Formatter

from digest.errors import DigestError

DEFAULT_SUBJECT = "{town}: {lead}{and_more}"
DEFAULT_PREHEADER = "{next}"
FIELDS = ("town", "newsletter", "date", "lead", "count", "more", "and_more", "next")


def check_template(template: str, what: str = "subject") -> str:
    """The template if it only names known fields; raises DigestError naming the bad part."""
    try:
        parts = list(Formatter().parse(template))
    except ValueError as exc:
        raise DigestError(
            f"{what} template {template!r}: {exc} (write fields like {{town}})"
        ) from None
    for _text, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in FIELDS or spec or conversion:
            raise DigestError(
                f"{what} template {template!r}: unknown field {{{name}}} "
                f"(use {', '.join('{' + f + '}' for f in FIELDS)})"
            )
    if not template.strip():
        raise DigestError(f"{what} template is empty (the default is {DEFAULT_SUBJECT!r})")
    return template


def fill(template: str, values: dict[str, str]) -> str:
    """The template with its fields filled; a stored template that went bad gives the default."""
    try:
        return check_template(template).format_map(values)
    except DigestError:
        return DEFAULT_SUBJECT.format_map(values)
