"""The message catalogs: the shipped `.po` files, and an operator's directory of more.

Catalogs are read from their `.po` source with Babel and compiled in memory (nothing
compiled is kept in the repository, so two branches that add strings never conflict over a
binary file). Fuzzy entries are left out, as `msgfmt` leaves them out: a message whose
translation nobody confirmed shows in English rather than in a guess.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import Translations

DOMAIN = "verifier"
# The language the strings are written in: it needs no catalog of its own.
SOURCE_LANGUAGE = "en"
LOCALES_DIR = Path(__file__).parent / "locales"


class CatalogError(ValueError):
    """A catalog cannot be used; `path` names the file or directory."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Catalogs:
    """Every language the pages can speak: its BCP 47 tag, its locale and translations."""

    translations: Mapping[str, gettext.NullTranslations]
    locales: Mapping[str, Locale]

    @property
    def languages(self) -> tuple[str, ...]:
        """The tags, English first, then in alphabetical order."""
        others = sorted(tag for tag in self.translations if tag != SOURCE_LANGUAGE)
        return (SOURCE_LANGUAGE, *others)


def load_catalogs(extra_dir: Path | None = None) -> Catalogs:
    """The shipped catalogs, each preceded by the same language's in `extra_dir`, if any.

    A message missing from an operator's catalog falls back to the shipped translation,
    then to English. Read once per process and directory (the files do not change while
    the service runs: a new wording takes a restart).
    """
    return _load(LOCALES_DIR, extra_dir)


@functools.cache
def _load(shipped_dir: Path, extra_dir: Path | None) -> Catalogs:
    shipped = _read_dir(shipped_dir)
    extra = _read_dir(extra_dir) if extra_dir is not None else {}
    translations: dict[str, gettext.NullTranslations] = {}
    locales: dict[str, Locale] = {}
    for tag in {SOURCE_LANGUAGE, *shipped, *extra}:
        chain: gettext.NullTranslations = gettext.NullTranslations()
        for source in (shipped, extra):
            if tag in source:
                found = source[tag][1]
                found.add_fallback(chain)
                chain = found
        translations[tag] = chain
        known = extra.get(tag) or shipped.get(tag)
        locales[tag] = known[0] if known is not None else Locale.parse(tag)
    return Catalogs(translations=translations, locales=locales)


def _read_dir(directory: Path) -> dict[str, tuple[Locale, Translations]]:
    """`<dir>/<language>/LC_MESSAGES/verifier.po` for every language found."""
    if not directory.is_dir():
        raise CatalogError(directory, "is not a directory")
    found: dict[str, tuple[Locale, Translations]] = {}
    for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        name = path.parent.parent.name
        try:
            locale = Locale.parse(name)
        except (ValueError, UnknownLocaleError):
            raise CatalogError(path, f"{name!r} is not a language Babel knows") from None
        found[_tag(locale)] = (locale, _compiled(path, locale))
    return found


def _compiled(path: Path, locale: Locale) -> Translations:
    try:
        with path.open("rb") as source:
            catalog = read_po(source, locale=locale, domain=DOMAIN, abort_invalid=True)
    except OSError as error:
        raise CatalogError(path, f"cannot be read: {error.strerror}") from None
    except (PoFileError, UnicodeDecodeError, ValueError) as error:
        raise CatalogError(path, f"is not a valid catalog: {error}") from None
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _tag(locale: Locale) -> str:
    """A locale's BCP 47 tag, as `lang` attributes and Accept-Language write it: pt-BR."""
    return str(locale).replace("_", "-")
