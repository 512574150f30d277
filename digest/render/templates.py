"""Where the Jinja2 templates live, and rendering them with errors that name the template.

The templates are kept at the repository's top level (`templates/email`, `templates/web`).
From a source checkout or an editable install (`pip install -e .`) they are read in place;
a normal install puts them under `<prefix>/share/digest/templates` (pyproject's data-files),
found through the installed distribution's file list.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from digest.errors import DigestError
from digest.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    long_date,
    names_list,
    number,
    supported,
    translations,
)

SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
INSTALLED_MARKER = "share/digest/templates/"


class EmailTemplateError(DigestError):
    """A template is missing or broken; the message names it and says what to do."""


def templates_dir() -> Path:
    """The directory holding `email/` and `web/`; raises EmailTemplateError when none is found."""
    if (SOURCE_TEMPLATES / "email").is_dir():
        return SOURCE_TEMPLATES
    installed = _installed_templates()
    if installed is not None:
        return installed
    raise EmailTemplateError(
        f"Digest's templates were not found (looked in {SOURCE_TEMPLATES} and in the installed "
        f"package's {INSTALLED_MARKER}); reinstall digest or run it from a source checkout"
    )


def _installed_templates() -> Path | None:
    try:
        files = metadata.distribution("digest").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        posix = file.as_posix()
        at = posix.find(INSTALLED_MARKER)
        if at >= 0:
            root = Path(str(file.locate())).resolve()
            depth = posix[at + len(INSTALLED_MARKER) :].count("/") + 1
            return root.parents[depth - 1]
    return None


def install_language(environment: Environment, language: str) -> Environment:
    """Give an environment `_`, `gettext`, `ngettext`, `{% trans %}` and the filters
    `long_date`, `number` and `names` (newsletter names in a sentence) in `language`.

    Newstyle gettext: `_("Hi %(name)s", name=x)` escapes `x` in HTML, and a missing
    translation falls back to the English msgid. Whitespace inside `{% trans %}` is collapsed,
    so a sentence can be wrapped over lines in the template and stays one msgid.
    """
    environment.add_extension("jinja2.ext.i18n")
    environment.policies["ext.i18n.trimmed"] = True
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=True
    )
    language = supported(language)
    environment.globals["lang"] = language
    environment.filters["long_date"] = lambda day: long_date(day, language)
    environment.filters["number"] = lambda value: number(value, language)
    environment.filters["names"] = lambda names: names_list(
        [names] if isinstance(names, str) else names, language
    )
    return environment


class Templates:
    """One directory of templates in one language: HTML autoescaped, text not, every
    variable required."""

    def __init__(self, directory: Path, language: str = DEFAULT_LANGUAGE) -> None:
        self.directory = directory
        self.language = supported(language)
        self.environment = install_language(
            Environment(
                loader=FileSystemLoader(directory),
                autoescape=select_autoescape(enabled_extensions=("html",), default=False),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
            ),
            self.language,
        )

    def render(self, name: str, **context: Any) -> str:
        """The rendered template; raises EmailTemplateError naming the template on any failure."""
        try:
            return self.environment.get_template(name).render(**context)
        except TemplateNotFound as exc:
            missing = exc.name or name
            raise EmailTemplateError(
                f"template {missing!r} is missing from {self.directory} "
                f"(needed to render {name!r}); restore the file or reinstall digest"
            ) from None
        except TemplateSyntaxError as exc:
            where = exc.name or name
            raise EmailTemplateError(
                f"template {where!r} has an error on line {exc.lineno}: {exc.message}"
            ) from None
        except TemplateError as exc:
            raise EmailTemplateError(f"template {name!r} failed to render: {exc}") from None


@lru_cache(maxsize=4 * len(LANGUAGES))
def email_templates(directory: Path | None = None, language: str = DEFAULT_LANGUAGE) -> Templates:
    """The email templates (`templates/email`) in a language, loaded once per process."""
    return Templates(directory or templates_dir() / "email", language)
