"""The single sign-on pages in the reader's language: each run in a context of its own, so
the language chosen here never leaks into another test."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import UTC

from verifier.i18n import Languages, load_catalogs, use_language
from verifier.pages.sso import handoff_failed_page, refused_page

LANGUAGES = Languages(load_catalogs(), UTC)


def _render(language: str, make: Callable[[], str]) -> str:
    def run() -> str:
        use_language(LANGUAGES.for_request(language))
        return make()

    return contextvars.copy_context().run(run)


def test_a_refused_host_is_told_in_german_and_in_french() -> None:
    german = _render("de", refused_page)
    french = _render("fr", refused_page)
    english = _render("en", refused_page)

    assert '<html lang="de">' in german and "<h1>Unbekannte Website</h1>" in german
    assert "Prüfen Sie die Adresse." in german
    assert "<h1>Site inconnu</h1>" in french
    assert "Sign-in is not offered for this site. Check the address." in english


def test_a_spent_hand_off_link_is_explained_in_the_readers_language() -> None:
    german = _render("de", lambda: handoff_failed_page(None, "/auth/login"))
    french = _render("fr", lambda: handoff_failed_page("/auth/login?restarted=1", "/auth/login"))

    assert "Dieser Anmeldelink ist abgelaufen" in german
    assert ">Erneut anmelden</a>" in german
    assert "Reconnexion en cours…" in french
    assert '<a href="/auth/login?restarted=1">Continuer</a>' in french
