"""What an OpenID Provider's checked claims make of a user (verifier.users.sources.oidc_source):
our name from the configured claim, an e-mail only when verified, mapped groups, and the amr
the session records. No provider is asked: these are the rules applied to claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from verifier.upstream.config import parse_sources
from verifier.upstream.mapping import NameRefused
from verifier.users.sources.oidc_source import OidcSource
from verifier.users.sources.oidc_tokens import TokenRefused


def source(tmp_path: Path, extra: str = "") -> OidcSource:
    (tmp_path / "client-secret").write_text("secret\n", encoding="utf-8")
    text = (
        '[[oidc]]\nid = "kc"\nissuer = "https://sso.example.com/realms/corp"\n'
        'client_id = "verifier"\nclient_secret_file = "client-secret"\n'
        'redirect_uri = "https://app.example.com/auth/oidc/kc/callback"\n'
        'groups_claim = "groups"\ngroup_map = { "Staff" = "staff" }\n'
        'trusted_amr = ["hwk"]\ntrusted_acr = ["gold"]\n' + extra
    )
    (config,) = parse_sources(text, "sources.toml", tmp_path).oidc
    return OidcSource(config)


def claims(**overrides: Any) -> dict[str, Any]:
    return {"sub": "s-1", "preferred_username": "Alice", "groups": ["Staff", "Other"], **overrides}


def test_the_name_claim_becomes_our_name_and_only_mapped_groups_ours(tmp_path: Path) -> None:
    user = source(tmp_path)._vouched(claims())
    assert (user.name, user.upstream_id, user.groups) == ("alice", "s-1", ("staff",))
    assert user.source == "oidc:kc"


def test_a_name_that_does_not_fit_is_refused_not_bent(tmp_path: Path) -> None:
    with pytest.raises(NameRefused):
        source(tmp_path)._vouched(claims(preferred_username="jürgen"))


def test_a_missing_name_claim_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenRefused) as caught:
        source(tmp_path)._vouched(claims(preferred_username=None))
    assert caught.value.reason == "no_preferred_username"


@pytest.mark.parametrize("verified", [False, None, "true"])
def test_an_email_is_a_name_only_when_the_provider_verified_it(
    tmp_path: Path, verified: object
) -> None:
    provider = source(tmp_path, 'name_claim = "email"\n')
    with pytest.raises(TokenRefused) as caught:
        provider._vouched(claims(email="a@example.org", email_verified=verified))
    assert caught.value.reason == "email_verified"
    assert provider._vouched(claims(email="a@example.org", email_verified=True)).name == (
        "a@example.org"
    )


@pytest.mark.parametrize(
    ("said", "amr"),
    [
        ({"amr": ["pwd", "hwk"]}, ("fed", "mfa")),
        ({"acr": "gold"}, ("fed", "mfa")),
        ({"amr": ["pwd", "otp"]}, ("fed",)),
        ({"acr": "silver", "amr": "hwk"}, ("fed",)),  # amr must be a list
        ({}, ("fed",)),
    ],
)
def test_only_trusted_amr_or_acr_values_count_as_two_factors(
    tmp_path: Path, said: dict[str, Any], amr: tuple[str, ...]
) -> None:
    assert source(tmp_path)._amr(claims(**said)) == amr
