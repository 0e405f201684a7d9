"""Choosing a request's language: Accept-Language read as RFC 9110 says (weights, order,
q=0, wildcards, garbage), the best shipped match with English as the fallback, and the
language an operator forces."""

from __future__ import annotations

from datetime import UTC

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.i18n import Languages, load_catalogs, preferred_languages

LANGUAGES = Languages(load_catalogs(), UTC)


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", ["de-DE", "de", "en-US", "en"]),
        ("en;q=0.5, fr", ["fr", "en"]),
        ("fr-CA, de;q=0", ["fr-CA"]),
        ("*", ["*"]),
        ("", []),
        (None, []),
        ("de;q=2, <script>, en", ["en"]),
        ("a, b;q=0.5, c", ["a", "c", "b"]),
    ],
)
def test_accept_language_is_read_by_weight_then_order(
    header: str | None, ranges: list[str]
) -> None:
    assert preferred_languages(header) == ranges


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("de-CH", "de"),
        ("fr-CA,fr;q=0.9", "fr"),
        ("FR", "fr"),
        ("pt-BR, fr;q=0.5", "fr"),
        ("pt-BR, ja", "en"),
        ("en-GB, de", "en"),
        ("de;q=0, fr;q=0.1", "fr"),
        ("*", "en"),
        (None, "en"),
        ("x" * 10_000, "en"),
    ],
)
def test_the_best_shipped_match_is_chosen_and_english_otherwise(
    header: str | None, language: str
) -> None:
    chosen = LANGUAGES.for_request(header)
    assert chosen.tag == language
    assert str(chosen.locale) == language


def test_a_forced_language_answers_every_request() -> None:
    forced = Languages(load_catalogs(), UTC, forced="fr")

    assert forced.forced
    assert not LANGUAGES.forced
    assert forced.for_request("de-DE").tag == "fr"
    assert forced.for_request(None).tag == "fr"


def test_each_language_brings_its_translations_and_the_time_zone() -> None:
    german = LANGUAGES.for_request("de")
    assert german.translations.gettext("Sign in") == "Anmelden"
    assert german.translations.ngettext("{count} left.", "{count} left.", 3) == "{count} übrig."
    assert german.time_zone is UTC
    assert LANGUAGES.for_request("en").translations.gettext("Sign in") == "Sign in"


@given(st.text(max_size=600))
def test_any_header_gives_a_shipped_language(header: str) -> None:
    assert LANGUAGES.for_request(header).tag in load_catalogs().languages
