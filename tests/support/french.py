"""Checking a French page or email: no English message of the catalog left in it.

"No English left" is checked against the catalog: no English message (or a piece of one
between its fields and tags) that French writes differently may appear in the visible text of
a page or an email's HTML, nor in its text part.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from babel.messages.pofile import read_po

from digest.i18n import FRENCH, LOCALE_DIR

FIELDS_AND_TAGS = re.compile(r"\{\w+\}|%\(\w+\)s|<[^>]+>")
NBSP = "\u00a0"


def english_left_in(text: str) -> list[str]:
    """The catalog's English pieces (of messages French writes otherwise) found in `text`."""
    return sorted(
        {piece for piece in ENGLISH_PIECES if re.search(rf"\b{re.escape(piece)}\b", text)}
    )


def _english_pieces() -> set[str]:
    with (LOCALE_DIR / FRENCH / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    pieces: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        french = " ".join(message.string if isinstance(message.string, tuple) else [message.string])
        for text in english:
            for piece in FIELDS_AND_TAGS.split(text):
                piece = piece.strip(" .,:;!?()")
                # Words French shares (Sports, Arts) and short scraps prove nothing.
                if len(piece) >= 5 and piece not in french:
                    pieces.add(piece)
    return pieces


ENGLISH_PIECES = _english_pieces()


# What a screen reader says besides the text: the title, labels, role descriptions, alt text.
SAID_TO_SCREEN_READERS = """() => [document.title, ...Array.from(
  document.querySelectorAll("[aria-label], [aria-roledescription], [alt], [title], [placeholder]"),
  (e) => ["aria-label", "aria-roledescription", "alt", "title", "placeholder"]
    .map((name) => e.getAttribute(name) || "").join(" "),
)].join("\\n")"""


def french_page(page: Any, syntax: Collection[str] = ()) -> str:
    """The page's visible text, once its <html lang> is checked to be French and neither its
    visible text nor its raw text (before CSS capitals; hidden text too) has English left.

    `syntax`: English words the page must show as they are (a schedule's `daily 06:00`).
    """
    assert page.evaluate("document.documentElement.lang") == "fr"
    text: str = page.evaluate("document.body.innerText")
    raw: str = page.evaluate("document.body.textContent")
    said: str = page.evaluate(SAID_TO_SCREEN_READERS)
    for shown in (text, raw, said):
        left = [piece for piece in english_left_in(shown) if piece not in syntax]
        assert left == [], (left, shown)
    return text
