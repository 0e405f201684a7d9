"""The language of the request being answered, and the three ways to mark a string.

The app sets the language for each request (verifier.app), as it sets the app's name: the
pages are rendered deep inside resources that need nothing else of it. Outside a request
(the CLI, a unit test) it is English.
"""

from __future__ import annotations

import contextvars
import gettext
from dataclasses import dataclass
from datetime import UTC, tzinfo

from babel import Locale


@dataclass(frozen=True, slots=True)
class Language:
    """One request's language: its BCP 47 tag, Babel locale, translations and time zone."""

    tag: str
    locale: Locale
    translations: gettext.NullTranslations
    # Where the pages' dates and times are told (VERIFIER_TIME_ZONE): the pages run no
    # script that could read the reader's own.
    time_zone: tzinfo = UTC


ENGLISH = Language("en", Locale.parse("en"), gettext.NullTranslations())
_CURRENT: contextvars.ContextVar[Language] = contextvars.ContextVar(
    "verifier_language", default=ENGLISH
)


def use_language(language: Language) -> None:
    """Speak `language` for the rest of this request (this context)."""
    _CURRENT.set(language)


def current_language() -> Language:
    """The language this request is answered in."""
    return _CURRENT.get()


def _(message: str) -> str:
    """`message` in the request's language (itself when the catalog lacks it)."""
    return _CURRENT.get().translations.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message for `count`, in the request's language (its own plural rules)."""
    return _CURRENT.get().translations.ngettext(singular, plural, count)


def N_(message: str) -> str:  # noqa: N802 (gettext's own name for it)
    """Mark a constant for extraction; it is translated where it is shown, with `_()`."""
    return message
