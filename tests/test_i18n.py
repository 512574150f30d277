"""The catalogs stay complete and well written; languages are chosen and words written right.

The completeness test is what keeps "no English left" true: a message added to the sources
without its French translation fails here (run `make messages`, then translate).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from digest.i18n import (
    FRENCH,
    LANGUAGES,
    LOCALE_DIR,
    PYTHON_KEYWORDS,
    clock,
    long_date,
    names_list,
    negotiate,
    number,
    supported,
    translatable,
    translate,
    translated,
    translated_plural,
    translations,
)
from digest.models import Newsletter
from digest.readers.welcome import first_edition
from digest.render.subjects import breaking_section_title, breaking_subject

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
NBSP = "\u00a0"
FIELD = re.compile(r"\{\w+\}|%\(\w+\)s")
TAG = re.compile(r"<[^>]+>")


def source_messages() -> dict[str | tuple[str, ...], str]:
    """Every message the sources mark, as `make messages` extracts them, with where it is."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords: dict[str, object] = {**TEMPLATE_KEYWORDS, **PYTHON_KEYWORDS}
    found: dict[str | tuple[str, ...], str] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords, strip_comment_tags=True
    ):
        found.setdefault(message, filename)
    return found


def catalog(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def messages(of: Catalog) -> list[Message]:
    return [message for message in of if message.id]


def strings(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string or ""]


def ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


FR_PO = LOCALE_DIR / FRENCH / "LC_MESSAGES" / "messages.po"


def test_the_template_holds_every_message_of_the_sources() -> None:
    extracted = source_messages()
    template = {message.id for message in messages(catalog(LOCALE_DIR / "messages.pot"))}
    missing = {str(key): where for key, where in extracted.items() if key not in template}
    stale = sorted(str(key) for key in template if key not in extracted)
    assert missing == {}, "run `make messages` and translate the new messages"
    assert stale == [], "run `make messages`: the template keeps messages the sources dropped"


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_message_has_a_translation(language: str) -> None:
    po = catalog(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po")
    translated_ids = {m.id for m in messages(po) if all(strings(m)) and not m.fuzzy}
    untranslated = sorted(str(key) for key in source_messages() if key not in translated_ids)
    assert untranslated == []


def test_french_keeps_the_fields_and_the_links_of_each_message() -> None:
    for message in messages(catalog(FR_PO)):
        english = " ".join(ids(message))
        for french in strings(message):
            # A translation may leave out a field (the validator's English detail), never add one.
            assert set(FIELD.findall(french)) <= set(FIELD.findall(english)), message.id
            assert sorted(TAG.findall(french)) == sorted(TAG.findall(ids(message)[0])), message.id


def test_french_typography() -> None:
    """A no-break space before : ; ! ? and a typographic apostrophe, outside tags."""
    for message in messages(catalog(FR_PO)):
        for french in strings(message):
            text = TAG.sub("", french)
            assert not re.search(r"[^\u00a0][:;!?](\s|$)", text), (message.id, french)
            assert "'" not in text, (message.id, french)


def test_a_fuzzy_translation_is_not_used(tmp_path: Path) -> None:
    """As msgfmt does: a translation marked fuzzy (its English changed) shows the English."""
    po = catalog(FR_PO)
    entry = po["Top stories"]
    assert entry is not None
    entry.flags.add("fuzzy")
    from babel.messages.pofile import write_po

    fuzzy = tmp_path / "messages.po"
    with fuzzy.open("wb") as out:
        write_po(out, po)
    import io

    from babel.messages.mofile import write_mo
    from babel.support import Translations

    compiled = io.BytesIO()
    with fuzzy.open("rb") as back:
        write_mo(compiled, read_po(back), use_fuzzy=False)
    compiled.seek(0)
    assert Translations(compiled).gettext("Top stories") == "Top stories"
    assert translations(FRENCH).gettext("Top stories") == "À la une"


# Choosing a language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("en-US,en;q=0.9,fr;q=0.5", "en"),
        ("de-DE,fr-CA;q=0.5", "fr"),
        ("fr;q=0,en", "en"),
        ("FR-ca", "fr"),
        ("de", None),
        ("", None),
        (None, None),
        ("*", None),
        ("fr;q=abc,en;q=0.1", "en"),
    ],
)
def test_the_browser_language_is_negotiated(header: str | None, expected: str | None) -> None:
    assert negotiate(header) == expected


def test_codes_fall_back_to_english() -> None:
    assert supported("fr_CA") == "fr"
    assert supported("es-MX") == "en"
    assert supported(None) == "en"


# Words for a locale


def test_dates_numbers_and_times_are_written_for_the_locale() -> None:
    day = date(2026, 12, 2)
    assert long_date(day, "fr") == "mercredi 2 décembre 2026"
    assert long_date(day, "en") == "Wednesday 2 December 2026"
    assert long_date(day, "fr", year=False) == "mercredi 2 décembre"
    assert number(12345, "fr") == f"12{NBSP}345"
    assert number(12345, "en") == "12,345"
    at = datetime(2026, 12, 2, 17, 5, tzinfo=UTC)
    assert clock(at, "fr") == f"17{NBSP}h{NBSP}05"
    assert clock(at, "en") == "5:05 pm"


def test_names_are_quoted_in_french_sentences() -> None:
    assert (
        names_list(["Le Matin", "Le Soir"], "fr")
        == f"«{NBSP}Le Matin{NBSP}», «{NBSP}Le Soir{NBSP}»"
    )
    assert names_list(["Morning", "Evening"], "en") == "Morning, Evening"


def test_a_translatable_message_is_english_until_shown_in_a_language() -> None:
    message = translatable("No email until {until}.", until=date(2026, 12, 9))
    assert message == "No email until Wednesday 9 December."
    assert translate(message, "fr") == "Aucun courriel jusqu’au mercredi 9 décembre."
    assert translate("Top stories", "fr") == "À la une"
    assert translate("not in the catalog", "fr") == "not in the catalog"


def test_plurals_follow_french_rules() -> None:
    one = ", and {n} more"
    assert translated_plural("fr", one, one, 1) == ", et 1 autre"
    assert translated_plural("fr", one, one, 0) == ", et 0 autre"
    assert translated_plural("fr", one, one, 2) == ", et 2 autres"
    assert translated_plural("en", one, one, 2) == ", and 2 more"
    assert translated("fr", "Hi {name},", name="Ana") == "Bonjour Ana,"


def test_the_welcome_says_when_the_first_edition_comes_in_french() -> None:
    letter = Newsletter(slug="matin", name="Le Matin", schedule="0 6 * * *", kind="digest")
    evening = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 19:00 the day before in Los Angeles
    sentence = first_edition(
        letter, "daily", "America/Los_Angeles", "Rivière", evening, "sunday", "fr"
    )
    assert (
        sentence
        == f"Le Matin{NBSP}: votre première édition arrivera demain matin à 6{NBSP}h{NBSP}00."
    )
    english = first_edition(letter, "daily", "America/Los_Angeles", "Riverton", evening, "sunday")
    assert english == "Le Matin: your first edition arrives tomorrow morning at 06:00."


def test_a_french_alert_says_breaking_news_in_french() -> None:
    letter = Newsletter(slug="alerte", name="Alerte", kind="alert", language="fr")
    assert breaking_subject(letter, "Pont fermé") == f"Dernière heure{NBSP}: Pont fermé"
    assert breaking_section_title(letter) == "Dernière heure"
    assert breaking_subject(Newsletter(language="en"), "Bridge closed") == "Breaking: Bridge closed"
