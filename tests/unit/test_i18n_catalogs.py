"""The message catalogs: the template holds every string the source marks, every shipped
language translates every one of them (none empty, none fuzzy, none left over), keeps its
placeholders, and is written as its readers write: formal address, the typography of the
language (French spaces before : ; ! ?, typographic apostrophes and quotes)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from verifier.i18n import DOMAIN, LOCALES_DIR, SOURCE_LANGUAGE, load_catalogs

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "verifier"
SHIPPED = sorted(path.name for path in LOCALES_DIR.iterdir() if path.is_dir())
RUN_MAKE_MESSAGES = "run `make messages`, then translate what it added (docs/translations.md)"
# French typography: a no-break space before : and a narrow one before ; ! ? (either is
# accepted before each), and none of the plain kind.
_FRENCH_SPACES = "\u00a0\u202f"


def _template() -> Catalog:
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("rb") as source:
        return read_po(source)


def _catalog(language: str) -> Catalog:
    with (LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        return read_po(source, locale=language)


def _key(message: Message) -> str | tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, list | tuple) else message.id


def _forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, list | tuple) else [message.string]


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_template_holds_every_string_the_source_marks() -> None:
    method_map = [("**.py", "verifier.i18n.extraction:extract")]
    marked = {
        tuple(found[2]) if isinstance(found[2], tuple) else found[2]
        for found in extract_from_dir(
            str(PACKAGE), method_map, keywords=DEFAULT_KEYWORDS, comment_tags=("TRANSLATORS:",)
        )
    }
    in_template = {_key(message) for message in _template() if message.id}

    assert marked - in_template == set(), f"strings missing from the template: {RUN_MAKE_MESSAGES}"
    assert in_template - marked == set(), f"strings the source no longer has: {RUN_MAKE_MESSAGES}"


def test_english_and_at_least_two_more_languages_ship() -> None:
    assert {"de", "fr"} <= set(SHIPPED)
    assert load_catalogs().languages == (SOURCE_LANGUAGE, *SHIPPED)


@pytest.mark.parametrize("language", SHIPPED)
def test_every_catalog_translates_every_message_and_no_other(language: str) -> None:
    template = {_key(message) for message in _template() if message.id}
    catalog = _catalog(language)
    translated = {_key(message): message for message in catalog if message.id}

    missing = template - set(translated)
    untranslated = [key for key, m in translated.items() if not all(_forms(m))]
    fuzzy = [key for key, m in translated.items() if m.fuzzy]
    assert missing == set(), f"{language}: {RUN_MAKE_MESSAGES}: {missing}"
    assert untranslated == [], f"{language}: messages without a translation: {untranslated}"
    assert fuzzy == [], f"{language}: fuzzy (unconfirmed) translations: {fuzzy}"
    assert set(translated) - template == set(), f"{language}: {RUN_MAKE_MESSAGES}"
    assert list(catalog.obsolete) == [], f"{language}: obsolete messages: {RUN_MAKE_MESSAGES}"
    for message in translated.values():
        if isinstance(message.id, list | tuple):
            assert len(_forms(message)) == catalog.num_plurals, (language, message.id)


@pytest.mark.parametrize("language", SHIPPED)
def test_translations_keep_the_placeholders_of_their_message(language: str) -> None:
    for message in _catalog(language):
        if not message.id:
            continue
        ids = list(message.id) if isinstance(message.id, list | tuple) else [message.id]
        names = set().union(*(_placeholders(text) for text in ids))
        for form in _forms(message):
            # Every form formats with the message's values: no name lost, none invented,
            # no stray brace.
            assert _placeholders(form) <= names, (language, message.id, form)
            form.format(**dict.fromkeys(names, "x"))
            if not isinstance(message.id, list | tuple):
                assert _placeholders(form) == names, (language, message.id, form)


@pytest.mark.parametrize("language", SHIPPED)
def test_translations_use_typographic_apostrophes_and_quotes(language: str) -> None:
    for message in _catalog(language):
        for form in _forms(message) if message.id else []:
            assert "'" not in form, (language, form)
            assert '"' not in form, (language, form)


def test_german_says_sie_and_signs_in_and_out_as_german_interfaces_do() -> None:
    catalog = {_key(m): _forms(m)[0] for m in _catalog("de") if m.id}
    informal = re.compile(r"\b(du|dich|dir|dein\w*|euch|euer)\b", re.IGNORECASE)

    for text in catalog.values():
        assert not informal.search(text), text
    assert catalog["Sign in"] == "Anmelden"
    assert catalog["Sign out"] == "Abmelden"
    assert catalog["Cancel"] == "Abbrechen"


def test_french_says_vous_and_spaces_its_punctuation_as_french_does() -> None:
    catalog = {_key(m): _forms(m) for m in _catalog("fr") if m.id}
    informal = re.compile(r"\b(tu|toi|ton|ta|tes|te|t\u2019)\b", re.IGNORECASE)

    for forms in catalog.values():
        for text in forms:
            assert not informal.search(text), text
            # No plain space before a high punctuation mark, and one of the no-break kind.
            assert not re.search(r" [:;!?»]|« ", text), text
            for mark in re.finditer(r"[:;!?]", text):
                before = text[mark.start() - 1] if mark.start() else ""
                assert before in _FRENCH_SPACES, (text, mark.group())
    assert catalog["Sign in"] == ["Se connecter"]
    assert catalog["Sign out"] == ["Se déconnecter"]
    assert catalog["End this session?"] == ["Fermer cette session\u202f?"]
