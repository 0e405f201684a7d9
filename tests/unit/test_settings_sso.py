"""Single sign-on settings: parsed once, every bad value a named error at start-up."""

from __future__ import annotations

import pytest
from test_settings import env

from verifier.app import startup_warnings
from verifier.errors import SettingsInvalid
from verifier.settings import load_settings
from verifier.sso.config import PortalUrl


def problems(**overrides: str) -> str:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(env(**overrides))
    return "\n".join(caught.value.problems)


def test_without_a_portal_there_is_no_single_sign_on() -> None:
    assert load_settings(env()).sso is None


def test_a_portal_and_its_hosts() -> None:
    settings = load_settings(
        env(
            SSO_PORTAL_URL="https://auth.corp.example",
            SSO_HOSTS="wiki.corp.example,app.example.org",
        )
    )
    assert settings.sso is not None
    assert settings.sso.portal == PortalUrl("https", "auth.corp.example")
    assert settings.sso.hosts.names == frozenset({"wiki.corp.example", "app.example.org"})


@pytest.mark.parametrize(
    ("hosts", "said"),
    [
        ("10.0.0.5", "IP address"),
        ("wiki.corp.example.", "ends with a dot"),
        ("wiki.corp.example:8443", "port"),
        ("wïki.corp.example", "not ASCII"),
        ("Wiki.corp.example", "upper-case"),
        ("*.corp.example", "VERIFIER_SSO_ALLOW_WILDCARD"),
        ("", "list the app hosts"),
    ],
)
def test_bad_hosts_stop_start_up_naming_the_variable(hosts: str, said: str) -> None:
    found = problems(SSO_PORTAL_URL="https://auth.corp.example", SSO_HOSTS=hosts)
    assert "VERIFIER_SSO_HOSTS" in found and said in found


def test_a_wildcard_with_the_opt_in() -> None:
    settings = load_settings(
        env(
            SSO_PORTAL_URL="https://auth.corp.example",
            SSO_HOSTS="*.corp.example",
            SSO_ALLOW_WILDCARD="true",
        )
    )
    assert settings.sso is not None and settings.sso.hosts.wildcard_parents == ("corp.example",)
    # Allowed, and said out loud as the service starts.
    (warning,) = startup_warnings(settings)
    assert warning.startswith("VERIFIER_SSO_ALLOW_WILDCARD") and "corp.example" in warning


def test_exact_names_start_without_a_warning() -> None:
    settings = load_settings(
        env(SSO_PORTAL_URL="https://auth.corp.example", SSO_HOSTS="wiki.corp.example")
    )
    assert startup_warnings(settings) == []


def test_hosts_without_a_portal_stop_start_up() -> None:
    assert "VERIFIER_SSO_PORTAL_URL" in problems(SSO_HOSTS="wiki.corp.example")


def test_a_bad_portal_url_stops_start_up() -> None:
    found = problems(SSO_PORTAL_URL="http://auth.corp.example", SSO_HOSTS="wiki.corp.example")
    assert "VERIFIER_SSO_PORTAL_URL" in found and "localhost" in found


def test_the_portals_own_host_may_not_be_listed() -> None:
    found = problems(SSO_PORTAL_URL="https://auth.corp.example", SSO_HOSTS="auth.corp.example")
    assert "VERIFIER_SSO_HOSTS" in found and "portal" in found


def test_single_sign_on_keeps_cookies_secure() -> None:
    found = problems(
        SSO_PORTAL_URL="https://auth.corp.example",
        SSO_HOSTS="wiki.corp.example",
        COOKIE_SECURE="false",
    )
    assert "VERIFIER_SSO_PORTAL_URL" in found and "__Host-" in found
