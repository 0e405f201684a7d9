"""verifier.sso.config: host names judged exactly, the portal's URL, the host list, wildcards."""

from __future__ import annotations

import pytest

from verifier.errors import SettingsError
from verifier.sso.config import (
    HostList,
    PortalUrl,
    SsoConfig,
    host_name_problem,
    parse_host_list,
    parse_portal_url,
)

FULL_WIDTH_DOT = "\uff0e"
IDEOGRAPHIC_DOT = "\u3002"


@pytest.mark.parametrize(
    "name",
    ["wiki.corp.example", "a.b", "localhost", "xn--bcher-kva.example", "a-b.c0.example"],
)
def test_plain_lower_case_ascii_names_are_accepted(name: str) -> None:
    assert host_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("", "empty"),
        ("wiki.corp.example.", "ends with a dot"),
        ("wiki.corp.example:443", "port"),
        ("[::1]", "port or is an IPv6"),
        ("127.0.0.1", "IP address"),
        ("10.1", "IP address"),
        ("wiki.0x7f", "IP address"),
        ("Wiki.corp.example", "upper-case"),
        (f"wiki{FULL_WIDTH_DOT}corp.example", "not ASCII"),
        (f"wiki{IDEOGRAPHIC_DOT}corp.example", "not ASCII"),
        ("bücher.example", "not ASCII"),
        ("wiki_corp.example", "not a host name"),
        ("user@wiki.example", "not a host name"),
        ("wiki\\evil.example", "not a host name"),
        ("wiki%2ecorp.example", "not a host name"),
        ("-wiki.example", "not a host name"),
        ("wiki..example", "not a host name"),
        ("a" * 64 + ".example", "not a host name"),
        ("*.corp.example", "not a host name"),
    ],
)
def test_every_other_spelling_is_refused_with_a_reason(name: str, said: str) -> None:
    problem = host_name_problem(name)
    assert problem is not None and said in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://auth.corp.example", PortalUrl("https", "auth.corp.example")),
        ("https://auth.corp.example/", PortalUrl("https", "auth.corp.example")),
        ("https://auth.corp.example:8443", PortalUrl("https", "auth.corp.example", 8443)),
        ("http://auth.corp.localhost:8080", PortalUrl("http", "auth.corp.localhost", 8080)),
    ],
)
def test_portal_urls(text: str, expected: PortalUrl) -> None:
    assert parse_portal_url(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "auth.corp.example",
        "ftp://auth.corp.example",
        "http://auth.corp.example",  # plain http off *.localhost
        "https://auth.corp.example/auth",
        "https://auth.corp.example?x=1",
        "https://user@auth.corp.example",
        "https://auth.corp.example:0",
        "https://auth.corp.example:99999",
        "https://auth.corp.example:https",
        "https://127.0.0.1",
        "https://AUTH.corp.example",
        "https://auth.corp.example.",
    ],
)
def test_bad_portal_urls_are_refused(text: str) -> None:
    with pytest.raises(SettingsError):
        parse_portal_url(text)


def test_a_portal_url_builds_origins_with_its_scheme_and_port() -> None:
    portal = PortalUrl("https", "auth.corp.example", 8443)
    assert portal.origin == "https://auth.corp.example:8443"
    assert portal.origin_of("wiki.corp.example") == "https://wiki.corp.example:8443"
    assert PortalUrl("https", "auth.corp.example").origin == "https://auth.corp.example"


def test_host_lists_take_commas_and_spaces() -> None:
    hosts = parse_host_list(
        " wiki.corp.example,grafana.corp.example  app.example.org ", allow_wildcard=False
    )
    assert hosts.names == frozenset(
        {"wiki.corp.example", "grafana.corp.example", "app.example.org"}
    )


def test_a_wildcard_needs_the_opt_in() -> None:
    with pytest.raises(SettingsError, match="VERIFIER_SSO_ALLOW_WILDCARD"):
        parse_host_list("*.corp.example", allow_wildcard=False)


@pytest.mark.parametrize("entry", ["*.example", "*.localhost", "*.Corp.example", "*.corp.example."])
def test_a_wildcard_over_a_top_level_domain_or_a_bad_parent_is_refused(entry: str) -> None:
    with pytest.raises(SettingsError):
        parse_host_list(entry, allow_wildcard=True)


def test_a_wildcard_matches_one_label_never_the_parent_nor_deeper_names() -> None:
    hosts = parse_host_list("*.corp.example", allow_wildcard=True)
    assert hosts.listed("wiki.corp.example") == "wiki.corp.example"
    for other in (
        "corp.example",
        "a.b.corp.example",
        "wiki.corp.example.",
        "wiki.corp.example.evil.example",
        "evilcorp.example",
        "-x.corp.example",
        "WIKI.corp.example",
        f"wiki{FULL_WIDTH_DOT}corp.example",
        ".corp.example",
    ):
        assert hosts.listed(other) is None, other


def test_an_exact_entry_answers_with_the_configured_string() -> None:
    hosts = HostList(frozenset({"wiki.corp.example"}))
    candidate = "".join(["wiki", ".corp", ".example"])
    listed = hosts.listed(candidate)
    assert listed == candidate
    assert listed is next(iter(hosts.names))


def test_the_portal_is_never_an_app_host_even_under_a_wildcard() -> None:
    sso = SsoConfig(
        PortalUrl("https", "auth.corp.example"),
        parse_host_list("*.corp.example", allow_wildcard=True),
    )
    assert sso.app_host("auth.corp.example") is None
    assert sso.app_host("wiki.corp.example") == "wiki.corp.example"


def test_urls_are_built_from_configuration() -> None:
    sso = SsoConfig(
        PortalUrl("https", "auth.corp.example"), HostList(frozenset({"wiki.corp.example"}))
    )
    assert sso.callback_url("wiki.corp.example", "CODE") == (
        "https://wiki.corp.example/auth/sso/callback?code=CODE"
    )
    assert sso.authorize_url("wiki.corp.example", "CH", "step_up=mfa") == (
        "https://auth.corp.example/auth/sso/authorize?host=wiki.corp.example&challenge=CH"
        "&step_up=mfa"
    )
    assert sso.portal_page("/auth/account") == "https://auth.corp.example/auth/account"
