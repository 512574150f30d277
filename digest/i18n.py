"""Languages: the French and English catalogs, choosing a language, and words for a locale.

The catalogs are kept as text (`digest/locale/LANG/LC_MESSAGES/messages.po`, from the template
`digest/locale/messages.pot`) and compiled in memory the first time a language is used, so
no binary `.mo` file is built or committed. English is the source language: its messages are
the msgids, and it needs no catalog. docs/translations.md says how to add a string or a language.

Who chooses: an email speaks its newsletter's language (`Newsletter.language`); a reader's
page speaks the language of the newsletter it belongs to, else the browser's
(Accept-Language), else English; an editor's page speaks the editor's choice (`?lang=`, kept
in a cookie), else the browser's, else English (digest.web.languages).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from digest.errors import DigestError

ENGLISH = "en"
FRENCH = "fr"
LANGUAGES = (ENGLISH, FRENCH)  # the languages with a complete catalog
DEFAULT_LANGUAGE = ENGLISH
LANGUAGE_NAMES = {ENGLISH: "English", FRENCH: "Français"}
# The locale behind each language's dates and numbers: Digest serves Canadian publishers first.
LOCALES = {ENGLISH: "en_CA", FRENCH: "fr_CA"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
# Babel's keywords for Digest's Python sources (templates use `_`, `gettext`, `ngettext` and
# `{% trans %}`): `translatable` marks reader-facing messages made in the core and
# translated where they are shown.
# Python passes the language first: `translated(language, "Hi {name},", name=...)`.
PYTHON_KEYWORDS = {
    "translated": (2,),
    "translated_plural": (2, 3),
    "translatable": (1,),
}


def check_language(code: str) -> str:
    """A newsletter's language code, lower-cased, when Digest has it; else DigestError."""
    language = code.strip().lower()
    if language not in LANGUAGES:
        known = " or ".join(f"{each} ({LANGUAGE_NAMES[each]})" for each in LANGUAGES)
        raise DigestError(
            f"language {code!r}: Digest writes emails and pages in {known}; use one of these"
        )
    return language


def supported(language: str | None) -> str:
    """The supported language a code names ("fr", "fr-CA", "FR_ca" -> "fr"), else English."""
    base = (language or "").replace("_", "-").split("-")[0].strip().lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def translations(language: str) -> NullTranslations:
    """The catalog of a language, compiled in memory once per process (English: none).

    Fuzzy entries are left out, as `msgfmt` would. Raises FileNotFoundError when a supported
    language has no catalog (a broken install).
    """
    return _compiled(supported(language))


@lru_cache(maxsize=len(LANGUAGES))
def _compiled(language: str) -> NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def translated(language: str, message: str, **params: Any) -> str:
    """`message` in `language`, its `{fields}` filled from `params`."""
    text = translations(language).gettext(message)
    return text.format(**params) if params else text


def translated_plural(language: str, singular: str, plural: str, n: int, **params: Any) -> str:
    """The singular or plural form for `n` in `language` (French: 0 and 1 are singular).

    `{n}` in the message is the number written for the locale.
    """
    text = translations(language).ngettext(singular, plural, n)
    return text.format(n=number(n, language), **params)


class Translatable(str):
    """A reader-facing message made where the reader's language is not known (the core).

    It is its English text (so it logs and compares as before) and keeps its msgid and
    fields, so the shell shows it in the reader's language with `translate`.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Translatable:
        made = super().__new__(cls, _fill(msgid, params, DEFAULT_LANGUAGE))
        made.msgid = msgid
        made.params = params
        return made


def translatable(msgid: str, **params: Any) -> Translatable:
    """Mark a message for the catalog and translate it later (see `Translatable`)."""
    return Translatable(msgid, **params)


def translate(message: str, language: str) -> str:
    """A message in `language`: a Translatable by its msgid, a plain string as a msgid."""
    if isinstance(message, Translatable):
        return _fill(translations(language).gettext(message.msgid), message.params, language)
    return translations(language).gettext(message)


def _fill(text: str, params: dict[str, Any], language: str) -> str:
    """`text` with its fields filled: days, counts and name lists as the language writes them."""
    if not params:
        return text
    return text.format(**{name: _written(value, language) for name, value in params.items()})


def _written(value: Any, language: str) -> Any:
    if isinstance(value, date):
        return long_date(value, language, year=False)
    if isinstance(value, int) and not isinstance(value, bool):
        return number(value, language)
    if isinstance(value, list | tuple):
        return names_list(value, language)
    return value


def translate_all(messages: dict[str, str], language: str) -> dict[str, str]:
    return {key: translate(message, language) for key, message in messages.items()}


def language_of(languages: Iterable[str]) -> str | None:
    """The one language of several newsletters, or None when they differ or there are none."""
    found = {supported(language) for language in languages}
    return found.pop() if len(found) == 1 else None


def negotiate(accept_language: str | None) -> str | None:
    """The supported language a browser prefers most (its Accept-Language header), or None."""
    wanted = _parse_accept_language(accept_language or "")
    found = negotiate_locale(wanted, list(LANGUAGES), sep="-")
    return supported(found) if found else None


def _parse_accept_language(header: str) -> list[str]:
    """The header's language tags, most wanted first ("fr-CA,fr;q=0.9,en;q=0.8")."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, options = part.strip().partition(";")
        quality = 1.0
        name, _, value = options.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            # Babel matches "fr" to "fr" but not "fr-CA" to "fr": offer the base language too.
            ranked.append((-quality, index, tag.strip()))
            ranked.append((-quality, index, tag.strip().split("-")[0]))
    return [tag for _q, _i, tag in sorted(ranked)]


# Words for a locale


def locale(language: str) -> Locale:
    try:
        return Locale.parse(LOCALES[supported(language)])
    except UnknownLocaleError:  # pragma: no cover - Babel ships both locales
        return Locale.parse(DEFAULT_LANGUAGE)


def long_date(day: date | datetime, language: str, *, year: bool = True) -> str:
    """'Wednesday 2 December 2026' / 'mercredi 2 décembre 2026' (no year: the day and month)."""
    return format_date(day, "EEEE d MMMM y" if year else "EEEE d MMMM", locale=locale(language))


def short_date(day: date | datetime, language: str) -> str:
    """'Wed 2 Dec' / 'mer. 2 déc.'."""
    return format_date(day, "EEE d MMM", locale=locale(language))


def weekday(day: date | datetime, language: str) -> str:
    """'Wednesday' / 'mercredi'."""
    return format_date(day, "EEEE", locale=locale(language))


def clock(at: datetime, language: str) -> str:
    """A time of day as each language writes it: '5:30 pm' / '17 h 30'."""
    if supported(language) == FRENCH:
        return f"{at.hour}\u00a0h\u00a0{at.minute:02d}"
    return f"{at.hour % 12 or 12}:{at.minute:02d} {'am' if at.hour < 12 else 'pm'}"


def number(value: int | float, language: str) -> str:
    """A count for the locale: '1,234' / '1 234'."""
    return format_decimal(value, locale=locale(language))


def names_list(names: Sequence[str], language: str) -> str:
    """Newsletter names in a sentence: 'Morning, Evening' / '« Le Matin », « Le Soir »'.

    French quotes a title, so 'à « Le Matin »' reads right where 'à Le Matin' would not.
    """
    if supported(language) == FRENCH:
        return ", ".join(f"«\u00a0{name}\u00a0»" for name in names)
    return ", ".join(names)
