"""What the admin's settings pages share: a posted form as text fields, errors in sentences."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from digest.errors import DigestError, NotFoundError


def text_fields(form: Any) -> dict[str, str]:
    """The posted form's text fields (files and repeated keys aside)."""
    return {key: value for key, value in form.items() if isinstance(value, str)}


def sentence(message: str) -> str:
    """A core error's message as a sentence for a page: capital first, full stop last."""
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")


def not_found(exc: NotFoundError) -> HTTPException:
    """The 404 page for a named thing that does not exist."""
    return HTTPException(404, sentence(str(exc)))


def problem(exc: DigestError) -> str:
    return sentence(str(exc))
