"""verifier.settings: the WebAuthn relying party (VERIFIER_WEBAUTHN_*), off unless set."""

from __future__ import annotations

import pytest

from verifier.errors import SettingsInvalid
from verifier.settings import load_settings

BASE = {
    "VERIFIER_REDIS_URL": "redis://127.0.0.1:6379/0",
    "VERIFIER_JWT_KEYS": "k1:" + "s" * 40,
}


def _problems(**extra: str) -> str:
    with pytest.raises(SettingsInvalid) as invalid:
        load_settings({**BASE, **extra})
    return str(invalid.value)


def test_passkeys_are_off_when_no_relying_party_is_set() -> None:
    settings = load_settings(BASE)
    assert not settings.passkeys_enabled
    assert settings.webauthn_origins == ()
    assert settings.webauthn_rp_name == "verifier"


def test_a_relying_party_and_its_origins_are_read() -> None:
    settings = load_settings(
        {
            **BASE,
            "VERIFIER_WEBAUTHN_RP_ID": "Example.COM",
            "VERIFIER_WEBAUTHN_ORIGINS": "https://login.example.com/, https://example.com:8443",
            "VERIFIER_WEBAUTHN_RP_NAME": "Intranet",
        }
    )
    assert settings.passkeys_enabled
    assert settings.webauthn_rp_id == "example.com"
    assert settings.webauthn_origins == ("https://login.example.com", "https://example.com:8443")
    assert settings.webauthn_rp_name == "Intranet"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "::1", "[::1]"])
def test_an_ip_address_as_relying_party_is_refused_with_a_clear_message(address: str) -> None:
    problems = _problems(
        VERIFIER_WEBAUTHN_RP_ID=address, VERIFIER_WEBAUTHN_ORIGINS="http://localhost:8080"
    )
    assert "VERIFIER_WEBAUTHN_RP_ID" in problems
    assert "IP address" in problems
    assert "localhost" in problems


@pytest.mark.parametrize(
    "rp_id", ["https://example.com", "example.com:8080", "exa mple.com", "a/b"]
)
def test_a_relying_party_that_is_not_a_domain_is_refused(rp_id: str) -> None:
    problems = _problems(VERIFIER_WEBAUTHN_RP_ID=rp_id, VERIFIER_WEBAUTHN_ORIGINS="https://a.b")
    assert "VERIFIER_WEBAUTHN_RP_ID" in problems
    assert "not a domain name" in problems


@pytest.mark.parametrize(
    "origins",
    [
        "https://evil.example.net",
        "https://notexample.com",
        "ftp://example.com",
        "https://example.com/path",
        "example.com",
        "https://example.com:port",
    ],
)
def test_an_origin_outside_the_relying_party_is_refused(origins: str) -> None:
    problems = _problems(VERIFIER_WEBAUTHN_RP_ID="example.com", VERIFIER_WEBAUTHN_ORIGINS=origins)
    assert "VERIFIER_WEBAUTHN_ORIGINS" in problems


@pytest.mark.parametrize(
    "setting",
    [
        {"VERIFIER_WEBAUTHN_RP_ID": "example.com"},
        {"VERIFIER_WEBAUTHN_ORIGINS": "https://example.com"},
    ],
)
def test_the_relying_party_and_its_origins_come_together(setting: dict[str, str]) -> None:
    assert "VERIFIER_WEBAUTHN_RP_ID and VERIFIER_WEBAUTHN_ORIGINS together" in _problems(**setting)


def test_a_bad_relying_party_is_reported_beside_other_problems() -> None:
    problems = _problems(
        VERIFIER_WEBAUTHN_RP_ID="192.168.0.1",
        VERIFIER_WEBAUTHN_ORIGINS="http://localhost:8080",
        VERIFIER_ACCESS_TTL_SECONDS="zero",
    )
    assert "VERIFIER_ACCESS_TTL_SECONDS" in problems
    assert "IP address" in problems
