"""What in an HTML document could run: script-like elements, event handlers, javascript: URLs."""

from __future__ import annotations

from html.parser import HTMLParser

RUNNABLE_ELEMENTS = frozenset({"script", "iframe", "object", "embed", "applet", "frame", "base"})


class _Runnable(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in RUNNABLE_ELEMENTS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            if "".join((value or "").split()).lower().startswith(("javascript:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value}>")


def runnable_markup(html: str) -> list[str]:
    """The elements and attributes of `html` a browser would run (as the parser reads it)."""
    finder = _Runnable()
    finder.feed(html)
    finder.close()
    return finder.found
