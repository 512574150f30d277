"""Clean text: bylines without addresses, greetings by first name, words kept apart."""

from __future__ import annotations

import pytest

from digest.ingest.parse import clean_text
from digest.ingest.story_text import byline_name, plain_text
from digest.render.views import greeting


@pytest.mark.parametrize(
    ("author", "shown"),
    [
        ("desk@regional.example.com (Regional Desk)", "Regional Desk"),
        ("Maria Lopez", "Maria Lopez"),
        ("news@springfield.example", ""),
        ("<b>Sam</b> Reed", "Sam Reed"),
        (None, ""),
    ],
)
def test_a_byline_is_the_authors_name_never_an_address(author: str | None, shown: str) -> None:
    assert byline_name(author) == shown


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Ana Maria Souza", "Hi Ana,"),
        ("Smith, John", "Hi John,"),
        ("", ""),
        (None, ""),
        ("reader@example.org", ""),
        ("123", ""),
    ],
)
def test_the_greeting_is_by_first_name_or_none(name: str | None, said: str) -> None:
    assert greeting(name) == said


@pytest.mark.parametrize(
    "markup",
    [
        "<p>byline</p><p>text</p>",
        "byline<br>text",
        "byline<br/>text",
        "<div>byline</div>text",
        "<li>byline</li><li>text</li>",
    ],
)
def test_block_elements_and_line_breaks_become_word_breaks(markup: str) -> None:
    assert plain_text(markup) == "byline text"
    assert clean_text(markup, 100) == "byline text"


def test_inline_elements_do_not_split_words() -> None:
    assert plain_text("un<b>believ</b>able") == "unbelievable"
