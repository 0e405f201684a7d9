"""verifier.web.cookies: Set-Cookie attributes, and reading our two cookies from a Cookie header."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from verifier.web.cookies import (
    MAX_COOKIE_HEADER_LENGTH,
    CookiePolicy,
    TokenCookies,
    read_oidc_flow_cookie,
    read_passkey_cookie,
    read_pending_cookie,
    read_sso_state_cookie,
    read_token_cookies,
    without_token_cookies,
)

SECURE = CookiePolicy(secure=True)
PLAIN = CookiePolicy(secure=False)
ACCESS = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
REFRESH = "alice@example.com.AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"


def attributes(set_cookie: str) -> tuple[str, list[str]]:
    """Split a Set-Cookie value into its name=value pair and its attributes."""
    pair, *rest = set_cookie.split("; ")
    return pair, rest


# --- names ----------------------------------------------------------------------------------------


def test_secure_policy_uses_host_prefixed_names() -> None:
    assert SECURE.access_name == "__Host-verifier-access"
    assert SECURE.refresh_name == "__Host-verifier-refresh"


def test_plain_http_policy_drops_the_host_prefix() -> None:
    # Browsers refuse a __Host- cookie without Secure, so plain-http use needs plain names.
    assert PLAIN.access_name == "verifier-access"
    assert PLAIN.refresh_name == "verifier-refresh"


# --- Set-Cookie values ----------------------------------------------------------------------------


def test_secure_access_cookie_has_every_attribute() -> None:
    assert SECURE.set_access(ACCESS, 300) == (
        f"__Host-verifier-access={ACCESS}; Path=/; Max-Age=300; Secure; HttpOnly; SameSite=Lax"
    )


def test_secure_refresh_cookie_has_every_attribute() -> None:
    assert SECURE.set_refresh(REFRESH, 604_800) == (
        f"__Host-verifier-refresh={REFRESH}; Path=/; Max-Age=604800; Secure; HttpOnly; SameSite=Lax"
    )


def test_plain_cookies_are_not_marked_secure() -> None:
    assert PLAIN.set_access(ACCESS, 300) == (
        f"verifier-access={ACCESS}; Path=/; Max-Age=300; HttpOnly; SameSite=Lax"
    )
    assert PLAIN.set_refresh(REFRESH, 60) == (
        f"verifier-refresh={REFRESH}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
    )


@pytest.mark.parametrize("policy", [SECURE, PLAIN], ids=["secure", "plain"])
def test_cookies_never_carry_a_domain_or_expires(policy: CookiePolicy) -> None:
    for value in (
        policy.set_access(ACCESS, 1),
        policy.set_refresh(REFRESH, 1),
        policy.clear_access(),
        policy.clear_refresh(),
    ):
        _, attrs = attributes(value)
        names = [attr.split("=")[0].lower() for attr in attrs]
        assert "domain" not in names
        assert "expires" not in names
        assert names.count("path") == names.count("max-age") == 1
        assert "httponly" in names
        assert "samesite=lax" in [attr.lower() for attr in attrs]


@pytest.mark.parametrize("policy", [SECURE, PLAIN], ids=["secure", "plain"])
def test_clearing_cookies_sets_an_empty_value_and_max_age_zero(policy: CookiePolicy) -> None:
    suffix = "; Secure" if policy.secure else ""
    assert policy.clear_access() == (
        f"{policy.access_name}=; Path=/; Max-Age=0{suffix}; HttpOnly; SameSite=Lax"
    )
    assert policy.clear_refresh() == (
        f"{policy.refresh_name}=; Path=/; Max-Age=0{suffix}; HttpOnly; SameSite=Lax"
    )


def test_negative_max_age_is_clamped_to_zero() -> None:
    _, attrs = attributes(SECURE.set_refresh(REFRESH, -30))
    assert "Max-Age=0" in attrs


def test_host_prefixed_cookies_meet_the_prefix_rules() -> None:
    # RFC 6265bis: __Host- requires Secure, Path=/ and no Domain, or the browser drops it.
    for value in (SECURE.set_access(ACCESS, 1), SECURE.clear_refresh()):
        pair, attrs = attributes(value)
        assert pair.startswith("__Host-")
        assert "Secure" in attrs
        assert "Path=/" in attrs
        assert not any(attr.lower().startswith("domain") for attr in attrs)


# --- reading the Cookie header --------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, ""])
def test_absent_cookie_header_gives_no_tokens(header: str | None) -> None:
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=None)


def test_both_cookies_are_read() -> None:
    header = f"__Host-verifier-access={ACCESS}; __Host-verifier-refresh={REFRESH}"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=REFRESH)


def test_other_cookies_are_ignored() -> None:
    header = (
        f"theme=dark; __Host-verifier-access={ACCESS}; session=legacy-app-value; "
        "verifier-refresh=plain-name-is-not-ours-when-secure; _ga=GA1.2.3"
    )
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=None)


def test_policy_decides_which_names_are_ours() -> None:
    header = f"verifier-access={ACCESS}; verifier-refresh={REFRESH}"
    assert read_token_cookies(header, PLAIN) == TokenCookies(access=ACCESS, refresh=REFRESH)
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=None)


def test_whitespace_around_pairs_and_values_is_ignored() -> None:
    header = f"  __Host-verifier-access= {ACCESS} ;__Host-verifier-refresh={REFRESH};  "
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=REFRESH)


def test_names_are_case_sensitive() -> None:
    header = f"__host-verifier-access={ACCESS}; __HOST-VERIFIER-REFRESH={REFRESH}"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=None)


@pytest.mark.parametrize(
    "header",
    [
        f"__Host-verifier-access={ACCESS}; __Host-verifier-access={ACCESS}",
        f"__Host-verifier-access=planted; __Host-verifier-access={ACCESS}",
        f"__Host-verifier-access={ACCESS}; __Host-verifier-access=planted",
        f"__Host-verifier-access=; __Host-verifier-access={ACCESS}",
        f"__Host-verifier-access={ACCESS}; x=1; __Host-verifier-access=a; __Host-verifier-access=b",
    ],
)
def test_duplicated_cookie_is_treated_as_absent(header: str) -> None:
    # A second copy (planted for a parent path or domain) makes the value ambiguous.
    header += f"; __Host-verifier-refresh={REFRESH}"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=REFRESH)


def test_duplicate_of_one_cookie_does_not_hide_the_other() -> None:
    header = (
        f"__Host-verifier-refresh={REFRESH}; __Host-verifier-access={ACCESS}; "
        "__Host-verifier-refresh=planted"
    )
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=None)


@pytest.mark.parametrize(
    "value",
    [
        '"quoted"',
        "has space",
        "semi%3Bcolon",
        "a,b",
        "a=b",
        "<script>",
        "tab\there",
        "nul\x00",
        "unicodé",
        "back\\slash",
        "",
    ],
)
def test_value_with_characters_we_never_mint_is_ignored(value: str) -> None:
    header = f"__Host-verifier-access={value}; __Host-verifier-refresh={REFRESH}"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=REFRESH)


def test_malformed_pairs_do_not_hide_good_ones() -> None:
    header = f"garbage; =novalue; ;;; __Host-verifier-access={ACCESS}; ==; junk="
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=None)


def test_a_bare_name_without_a_value_is_no_duplicate() -> None:
    # A pair without "=" is malformed and skipped: it cannot hide the real cookie.
    header = f"__Host-verifier-access={ACCESS}; __Host-verifier-access"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=None)


def test_a_duplicate_whose_value_holds_an_equals_sign_is_still_a_duplicate() -> None:
    # The name ends at the first "=": a planted "name=x=y" is the same cookie again.
    header = f"__Host-verifier-access={ACCESS}; __Host-verifier-access=planted=value"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=None)


def test_oversized_cookie_header_gives_no_tokens() -> None:
    header = f"__Host-verifier-access={ACCESS}; __Host-verifier-refresh={REFRESH}; pad="
    header += "p" * (MAX_COOKIE_HEADER_LENGTH + 1 - len(header))
    assert len(header) == MAX_COOKIE_HEADER_LENGTH + 1
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=None)


def test_cookie_header_at_the_size_limit_is_read() -> None:
    header = f"__Host-verifier-access={ACCESS}; __Host-verifier-refresh={REFRESH}; pad="
    header += "p" * (MAX_COOKIE_HEADER_LENGTH - len(header))
    assert len(header) == MAX_COOKIE_HEADER_LENGTH
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=REFRESH)


def test_set_cookie_value_reads_back_as_the_same_token() -> None:
    # What a browser would send back: the name=value pair of each Set-Cookie.
    access_pair, _ = attributes(SECURE.set_access(ACCESS, 300))
    refresh_pair, _ = attributes(SECURE.set_refresh(REFRESH, 300))
    header = f"{access_pair}; {refresh_pair}"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=ACCESS, refresh=REFRESH)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ""),
        ("", ""),
        ("__Host-verifier-access=a; __Host-verifier-refresh=b", ""),
        ("theme=dark; __Host-verifier-access=a; lang=en", "theme=dark; lang=en"),
        ("__Host-verifier-refresh=b;theme=dark", "theme=dark"),
        # Only exact names go: a look-alike cookie is the app's own business.
        ("x__Host-verifier-access=a", "x__Host-verifier-access=a"),
        # The name ends at the first "=": a value holding one is removed all the same.
        ("__Host-verifier-access=a=b; theme=dark", "theme=dark"),
    ],
)
def test_token_cookies_are_removed_from_what_the_app_sees(
    header: str | None, expected: str
) -> None:
    assert without_token_cookies(header, SECURE) == expected


# --- the pending sign-in cookie -------------------------------------------------------------------


def test_pending_cookie_stays_under_auth_strictly_same_site() -> None:
    pair, rest = attributes(SECURE.set_pending("p" * 43, 300))
    assert pair == "__Secure-verifier-pending=" + "p" * 43
    assert rest == ["Path=/auth/", "Max-Age=300", "Secure", "HttpOnly", "SameSite=Strict"]
    plain_pair, plain_rest = attributes(PLAIN.clear_pending())
    assert plain_pair == "verifier-pending="
    assert plain_rest == ["Path=/auth/", "Max-Age=0", "HttpOnly", "SameSite=Strict"]


def test_pending_cookie_is_read_only_when_well_formed_and_unique() -> None:
    name = SECURE.pending_name
    assert read_pending_cookie(f"a=b; {name}=abc_-", SECURE) == "abc_-"
    assert read_pending_cookie(f"{name}=a; {name}=b", SECURE) is None
    assert read_pending_cookie(f"{name}=a b", SECURE) is None
    assert read_pending_cookie("verifier-pending=abc", SECURE) is None
    assert read_pending_cookie(None, SECURE) is None
    assert read_pending_cookie(f"{name}=" + "a" * MAX_COOKIE_HEADER_LENGTH, SECURE) is None


def test_the_pending_cookie_is_no_token_cookie() -> None:
    header = f"{SECURE.pending_name}=abc"
    assert read_token_cookies(header, SECURE) == TokenCookies(access=None, refresh=None)


def test_the_sso_state_cookie_is_host_prefixed_lax_and_hidden_from_the_app() -> None:
    policy = CookiePolicy(secure=True)
    cookie = policy.set_sso_state("v" * 43, 900)
    assert cookie == (
        f"__Host-verifier-sso-state={'v' * 43}; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax"
    )
    header = f"a=1; __Host-verifier-sso-state={'v' * 43}; b=2"
    assert read_sso_state_cookie(header, policy) == "v" * 43
    assert without_token_cookies(header, policy) == "a=1; b=2"


# --- the other cookies: absent, malformed, too long, at the limit --------------------------------


def _at_the_limit(pair: str) -> str:
    header = f"{pair}; pad="
    return header + "p" * (MAX_COOKIE_HEADER_LENGTH - len(header))


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (read_pending_cookie, SECURE.pending_name),
        (read_passkey_cookie, SECURE.passkey_name),
        (read_sso_state_cookie, SECURE.sso_state_name),
        (read_oidc_flow_cookie, SECURE.oidc_flow_name),
    ],
)
def test_each_cookie_is_read_from_a_header_up_to_the_size_limit(
    reader: Callable[[str | None, CookiePolicy], str | None], name: str
) -> None:
    assert reader(f"a=b; {name}=abc_-; c=d", SECURE) == "abc_-"
    assert reader(None, SECURE) is None
    assert reader("", SECURE) is None
    assert reader(f"{name}=a; {name}=b", SECURE) is None
    at_limit = _at_the_limit(f"{name}=abc")
    assert len(at_limit) == MAX_COOKIE_HEADER_LENGTH
    assert reader(at_limit, SECURE) == "abc"
    assert reader(at_limit + "p", SECURE) is None


def test_the_passkey_cookie_carries_its_binding_under_auth_strictly_same_site() -> None:
    pair, rest = attributes(SECURE.set_passkey("b" * 43, 120))
    assert pair == "__Secure-verifier-passkey=" + "b" * 43
    assert rest == ["Path=/auth/", "Max-Age=120", "Secure", "HttpOnly", "SameSite=Strict"]
    assert SECURE.clear_passkey() == (
        "__Secure-verifier-passkey=; Path=/auth/; Max-Age=0; Secure; HttpOnly; SameSite=Strict"
    )
    assert PLAIN.clear_passkey() == (
        "verifier-passkey=; Path=/auth/; Max-Age=0; HttpOnly; SameSite=Strict"
    )


def test_clearing_the_sso_state_cookie_deletes_it_by_its_name() -> None:
    assert SECURE.clear_sso_state() == (
        "__Host-verifier-sso-state=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
    )
    assert PLAIN.clear_sso_state() == (
        "verifier-sso-state=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    )


def test_the_oidc_flow_cookie_is_host_prefixed_lax_and_hidden_from_the_app() -> None:
    policy = CookiePolicy(secure=True)
    cookie = policy.set_oidc_flow("b" * 43, 600)
    assert cookie == (
        f"__Host-verifier-oidc={'b' * 43}; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax"
    )
    header = f"a=1; __Host-verifier-oidc={'b' * 43}; b=2"
    assert read_oidc_flow_cookie(header, policy) == "b" * 43
    assert without_token_cookies(header, policy) == "a=1; b=2"
    assert policy.clear_oidc_flow().startswith("__Host-verifier-oidc=; Path=/; Max-Age=0")
