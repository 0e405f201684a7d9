"""verifier.web.csrf: state-changing requests must provably come from this site."""

from __future__ import annotations

import falcon.testing
import pytest

from verifier.errors import CrossSiteRequest
from verifier.web.csrf import check_request_origin, check_same_origin

HOST = "app.example:8443"


def refused(
    host: str | None = HOST,
    sec_fetch_site: str | None = None,
    origin: str | None = None,
    referer: str | None = None,
    scheme: str | None = None,
) -> str:
    """The reason check_same_origin refuses these headers with (fails if it allows them)."""
    with pytest.raises(CrossSiteRequest) as caught:
        check_same_origin(host, sec_fetch_site, origin, referer, scheme=scheme)
    return caught.value.reason


# --- Sec-Fetch-Site -------------------------------------------------------------------------------


@pytest.mark.parametrize("site", ["cross-site", "same-site", "Cross-Site", "", "bogus"])
def test_fetch_site_other_than_same_origin_or_none_is_refused(site: str) -> None:
    assert refused(sec_fetch_site=site) == f"Sec-Fetch-Site: {site}"


def test_same_site_is_refused_because_a_sibling_subdomain_is_not_us() -> None:
    assert refused(sec_fetch_site="same-site", origin="https://app.example:8443") == (
        "Sec-Fetch-Site: same-site"
    )


@pytest.mark.parametrize("site", ["same-origin", "none", "Same-Origin", " none "])
def test_same_origin_or_user_initiated_fetch_is_allowed(site: str) -> None:
    check_same_origin(HOST, site, None, None)


def test_fetch_site_decides_before_origin() -> None:
    # A browser that sends Sec-Fetch-Site is trusted on it; Origin is not consulted.
    check_same_origin(HOST, "same-origin", "https://other.example", None)
    assert refused(sec_fetch_site="cross-site", origin=f"https://{HOST}").startswith(
        "Sec-Fetch-Site"
    )


def test_long_fetch_site_value_is_truncated_in_the_reason() -> None:
    assert refused(sec_fetch_site="x" * 100) == "Sec-Fetch-Site: " + "x" * 32


# --- Origin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [f"https://{HOST}", f"http://{HOST}", "https://APP.EXAMPLE:8443", f" https://{HOST} "],
)
def test_matching_origin_is_allowed(origin: str) -> None:
    check_same_origin(HOST, None, origin, None)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://app.example",
        "https://app.example:8444",
        "https://evil.app.example:8443",
        "https://app.example:8443.evil.example",
        f"https://user@{HOST}",
        "null",
        "",
        "app.example:8443",
        f"ftp://{HOST}",
        f"javascript://{HOST}",
        "https://[::1",
    ],
)
def test_mismatched_or_null_origin_is_refused(origin: str) -> None:
    assert refused(origin=origin) == "Origin does not match Host"


def test_origin_is_refused_when_host_is_unknown() -> None:
    assert refused(host=None, origin=f"https://{HOST}") == "Origin does not match Host"
    assert refused(host="", origin=f"https://{HOST}") == "Origin does not match Host"


def test_host_is_compared_case_and_space_insensitively() -> None:
    check_same_origin(" App.Example:8443 ", None, f"https://{HOST}", None)


def test_matching_origin_is_not_overruled_by_a_foreign_referer() -> None:
    # Origin is the stronger signal; the Referer may be a page the user came from.
    check_same_origin(HOST, None, f"https://{HOST}", "https://search.example/?q=app")


def test_mismatched_origin_is_not_rescued_by_a_matching_referer() -> None:
    assert refused(origin="https://evil.example", referer=f"https://{HOST}/login") == (
        "Origin does not match Host"
    )


# --- Referer fallback -----------------------------------------------------------------------------


def test_matching_referer_is_allowed_when_origin_is_absent() -> None:
    check_same_origin(HOST, None, None, f"https://{HOST}/auth/login?next=/app")


@pytest.mark.parametrize(
    "referer",
    [
        "https://evil.example/page",
        f"https://evil.example/{HOST}",
        f"https://{HOST}.evil.example/",
        f"https://{HOST}@evil.example/",
        "/auth/login",
        "about:blank",
        "null",
    ],
)
def test_mismatched_referer_is_refused(referer: str) -> None:
    assert refused(referer=referer) == "Referer does not match Host"


# --- no browser headers at all --------------------------------------------------------------------


def test_request_without_any_browser_header_is_allowed() -> None:
    # curl and scripts: they cannot carry a victim's cookies by accident.
    check_same_origin(HOST, None, None, None)
    check_same_origin(None, None, None, None)


# --- reading the headers off a Falcon request -----------------------------------------------------


def test_request_origin_uses_the_forwarded_host_when_present() -> None:
    req = falcon.testing.create_asgi_req(
        headers={
            "Host": "verifier:8000",
            "X-Forwarded-Host": HOST,
            "Origin": f"https://{HOST}",
        }
    )
    check_request_origin(req)


def test_request_origin_falls_back_to_host() -> None:
    req = falcon.testing.create_asgi_req(
        host="app.example", port=8443, headers={"Origin": f"https://{HOST}"}
    )
    check_request_origin(req)


def test_cross_site_request_is_refused_from_its_headers() -> None:
    req = falcon.testing.create_asgi_req(
        headers={"X-Forwarded-Host": HOST, "Sec-Fetch-Site": "cross-site"}
    )
    with pytest.raises(CrossSiteRequest) as caught:
        check_request_origin(req)
    assert caught.value.reason == "Sec-Fetch-Site: cross-site"


def test_foreign_origin_is_refused_from_its_headers() -> None:
    req = falcon.testing.create_asgi_req(
        headers={"X-Forwarded-Host": HOST, "Origin": "https://evil.example"}
    )
    with pytest.raises(CrossSiteRequest) as caught:
        check_request_origin(req)
    assert caught.value.reason == "Origin does not match Host"


def test_an_old_browsers_foreign_referer_is_refused_from_its_headers() -> None:
    # No Sec-Fetch-Site, no Origin: the Referer is all there is to judge by.
    req = falcon.testing.create_asgi_req(
        headers={"X-Forwarded-Host": HOST, "Referer": "https://evil.example/form"}
    )
    with pytest.raises(CrossSiteRequest):
        check_request_origin(req)


# --- scheme (X-Forwarded-Proto) -------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["https", "HTTPS", " https "])
def test_origin_with_the_scheme_nginx_was_reached_over_is_allowed(scheme: str) -> None:
    check_same_origin(HOST, None, f"https://{HOST}", None, scheme=scheme)


def test_plain_http_origin_posting_to_the_https_site_is_refused() -> None:
    # Same host and port, but a page served over http can be rewritten by anyone on the path.
    assert refused(origin=f"http://{HOST}", scheme="https") == "Origin scheme does not match"


def test_https_referer_posting_to_the_plain_http_site_is_refused() -> None:
    assert refused(referer=f"https://{HOST}/form", scheme="http") == (
        "Referer scheme does not match"
    )


def test_request_origin_compares_the_forwarded_scheme() -> None:
    req = falcon.testing.create_asgi_req(
        headers={
            "X-Forwarded-Host": HOST,
            "X-Forwarded-Proto": "https",
            "Origin": f"http://{HOST}",
        }
    )
    with pytest.raises(CrossSiteRequest) as caught:
        check_request_origin(req)
    assert caught.value.reason == "Origin scheme does not match"
