"""The single sign-on pages in the reader's language: each run in a context of its own, so
the language chosen here never leaks into another test."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import UTC

from verifier.i18n import Languages, load_catalogs, use_language
from verifier.pages.common import WayBack
from verifier.pages.sso import (
    BACK_TO_APP,
    TO_PORTAL,
    YOUR_ACCOUNT,
    handoff_failed_page,
    not_here_page,
    refused_page,
)

LANGUAGES = Languages(load_catalogs(), UTC)


def _render(language: str, make: Callable[[], str]) -> str:
    def run() -> str:
        use_language(LANGUAGES.for_request(language))
        return make()

    return contextvars.copy_context().run(run)


PORTAL = "https://auth.corp.example"
TO_THE_PORTAL = WayBack(PORTAL + "/auth/account", TO_PORTAL)


def _refused() -> str:
    return refused_page(TO_THE_PORTAL)


def test_a_refused_host_is_told_in_german_and_in_french() -> None:
    german = _render("de", _refused)
    french = _render("fr", _refused)
    english = _render("en", _refused)

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
    assert 'href="/auth/login?restarted=1">Continuer</a>' in french


def test_a_refused_host_leads_back_to_the_portal_in_the_readers_language() -> None:
    german = _render("de", _refused)

    assert f'<a class="back-link" href="{PORTAL}/auth/account">Zum Anmeldeportal</a>' in german


def test_a_refused_sign_in_request_leads_back_to_the_account() -> None:
    french = _render("fr", lambda: refused_page(WayBack("/auth/account", YOUR_ACCOUNT)))

    assert '<a class="back-link" href="/auth/account">Votre compte</a>' in french


def test_a_spent_hand_off_link_and_its_restart_each_lead_on_to_this_hosts_sign_in() -> None:
    spent = _render("en", lambda: handoff_failed_page(None, "/auth/login?next=/x"))
    restart = _render("en", lambda: handoff_failed_page("/auth/login?sso_restart=1", "/a"))

    assert '<a class="button-link continue" href="/auth/login?next=/x">Sign in again</a>' in spent
    assert 'class="button-link continue" href="/auth/login?sso_restart=1">Continue</a>' in restart


def test_a_page_not_on_this_host_names_the_portal_as_a_link_and_leads_back_to_the_app() -> None:
    german = _render("de", lambda: not_here_page(PORTAL, WayBack("/", BACK_TO_APP)))

    assert "<h1>Auf dieser Website nicht verfügbar</h1>" in german
    assert '<a class="back-link" href="/">Zurück zur Anwendung</a>' in german
    # The address is the page's own value: a link, never sent to a translator.
    link = f'<a href="{PORTAL}" translate="no">{PORTAL}</a>'
    assert f"Die Anmeldung erfolgt über das Portal: {link}" in german
