"""The Active Directory preset against a real slapd carrying AD's attributes with AD's OIDs
(verifier.demo.directory's `ou=ad` corner): the preset's user filter, its disabled bit (the
bitwise-AND matching rule, which slapd evaluates) and its accountExpires test decide for real.
slapd has no in-chain rule, so the group filter is overridden with a plain member test, as the
sources file allows. Every refusal answers 401 and sets nothing."""

from __future__ import annotations

import pytest
import requests
from conftest import Stack
from e2e_helpers import TIMEOUT, set_cookie_headers
from upstream_fixtures import SourcesStacks, session_keys

from verifier.demo.directory import BASE_DN, DemoDirectory

pytestmark = pytest.mark.one_nginx


def ad_sources(directory: DemoDirectory) -> str:
    """An [[ldap]] table with the AD preset, over the directory's AD-shaped entries."""
    return directory.sources_entry(
        "ad",
        preset="active_directory",
        base_dn=f"ou=ad,{BASE_DN}",
        groups_filter="(&(objectClass=group)(member={dn}))",
        group_map={"VPN Users": "staff"},
        password_change="off",
    )


def post_login(stack: Stack, name: str, password: str) -> requests.Response:
    """The JSON sign-in through nginx, with a client that keeps no cookie of its own."""
    return stack.new_session().post(
        stack.url("/auth/login"),
        json={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def refused_with_nothing_set(stack: Stack, name: str, password: str) -> None:
    answer = post_login(stack, name, password)
    assert answer.status_code == 401, answer.text
    assert set_cookie_headers(answer) == []
    assert session_keys(stack, name) == []
    assert not stack.redis.exists(f"{stack.key_prefix}:{{{name}}}:user")


def test_an_enabled_never_expiring_ad_user_signs_in_by_sam_account_name(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    stack = sources_stack(ad_sources(directory))

    answer = post_login(stack, "ann", directory.passwords["ann"])

    assert answer.status_code == 200, answer.text
    (session,) = session_keys(stack, "ann")
    assert stack.redis.hget(f"{stack.key_prefix}:{{ann}}:user", "source") == "ldap:ad"
    # The identity is the objectGUID (read as AD writes it, little-endian), never the name.
    assert stack.redis.hget(session, "upstream_id") == directory.guids["ann"]


def test_an_ad_user_with_the_disabled_bit_is_refused_with_the_right_password(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    stack = sources_stack(ad_sources(directory))
    refused_with_nothing_set(stack, "dan", directory.passwords["dan"])


def test_an_ad_user_whose_account_expired_is_refused_with_the_right_password(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    stack = sources_stack(ad_sources(directory))
    refused_with_nothing_set(stack, "ed", directory.passwords["ed"])


def test_a_wildcard_name_matches_no_ad_user(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    stack = sources_stack(ad_sources(directory))
    answer = post_login(stack, "an*", directory.passwords["ann"])
    assert answer.status_code == 401, answer.text
    assert set_cookie_headers(answer) == []
    assert session_keys(stack, "ann") == []
