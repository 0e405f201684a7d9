"""verifier.web.redirects: `safe_next` keeps same-site paths and turns everything else into `/`."""

from __future__ import annotations

import pytest

from verifier.web.redirects import DEFAULT_NEXT, MAX_NEXT_LENGTH, safe_next


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/app",
        "/app/",
        "/app/page.html",
        "/app?x=1",
        "/app?next=https://elsewhere.example",
        "/app#section",
        # Browsers percent-encode spaces and non-ASCII before sending a path, so nginx's
        # $request_uri (X-Original-URI) carries them like this on ordinary pages.
        "/docs/annual%20report.pdf",
        "/app/search?q=a%20b&page=2",
        "/wiki/Caf%C3%A9",
        "/app/%E2%9C%93",
        "/authors",
        "/authentic/page",
        "/auth-help",
        "/a:b",
        "/@user",
        "/~user/x",
        "/app/./x/../y",
    ],
)
def test_same_site_path_is_kept(path: str) -> None:
    assert safe_next(path) == path


@pytest.mark.parametrize("candidate", [None, ""])
def test_missing_next_gives_the_default(candidate: str | None) -> None:
    assert safe_next(candidate) == DEFAULT_NEXT == "/"


@pytest.mark.parametrize(
    "payload",
    [
        # other origins, spelled every way a browser accepts
        "https://evil.example",
        "https://evil.example/path",
        "http://evil.example",
        "HTTPS://evil.example",
        "//evil.example",
        "//evil.example/path",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/\\/evil.example",
        "https:evil.example",
        "https:/evil.example",
        "http://127.0.0.1@evil.example",
        "//127.0.0.1@evil.example",
        "evil.example",
        "app/page",
        "./app",
        "../app",
        "?next=/x",
        "#/x",
        # percent-encoded (once and twice) slashes, backslashes and whitespace
        "/%2F%2Fevil.example",
        "/%2f%2fevil.example",
        "/%2Fevil.example",
        "/%5Cevil.example",
        "/%5cevil.example",
        "/%252F%252Fevil.example",
        "/%252Fevil.example",
        "/%255Cevil.example",
        "%2F%2Fevil.example",
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D/evil.example",
        "/%2509/evil.example",
        "/%00",
        "/%7F",
        # raw whitespace and control characters browsers strip or that would split a header
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "\t//evil.example",
        " //evil.example",
        "/ /evil.example",
        "/app\r\nSet-Cookie: x=1",
        "/app%0D%0ASet-Cookie:%20x=1",
        "/app\x00",
        "/app\x7f",
        "/app\x0b",
        # schemes
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "javascript://%0Aalert(1)",
        "/javascript:alert(1)\n",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        # non-ASCII: a browser would percent-encode it, so a raw one is not a path we built
        "/caf\u00e9",
        "/\u2215\u2215evil.example",
        "/\uff0f\uff0fevil.example",
        "/\u3002evil.example",
    ],
)
def test_open_redirect_payload_falls_back_to_root(payload: str) -> None:
    assert safe_next(payload) == "/"


@pytest.mark.parametrize(
    "loop",
    [
        "/auth",
        "/auth/",
        "/auth/login",
        "/auth/login?next=/app",
        "/auth/logout",
        "/auth/unauthorized",
        # The same paths with an encoded letter: nginx decodes %61 to `a` before matching
        # `location /auth/`, so this is /auth/login too.
        "/%61uth/login",
        "/auth%2Flogin",
        # Dot segments out of the account pages (which are a destination) into the others.
        "/auth/account/../login",
        "/auth/account/..",
        "/auth/account/%2e%2e/login",
        "/auth/account/./../logout",
    ],
)
def test_verifier_own_pages_are_not_a_destination(loop: str) -> None:
    assert safe_next(loop) == "/"


@pytest.mark.parametrize(
    "page",
    [
        "/auth/account",
        "/auth/account?next=/x",
        "/auth/account/totp",
        "/auth/account/recovery-codes",
    ],
)
def test_the_account_pages_are_a_destination(page: str) -> None:
    # They need a session, which the sign-in that sends the user there has just made.
    assert safe_next(page) == page


def test_next_at_the_length_limit_is_kept() -> None:
    path = "/" + "a" * (MAX_NEXT_LENGTH - 1)
    assert safe_next(path) == path


def test_over_long_next_falls_back_to_root() -> None:
    assert safe_next("/" + "a" * MAX_NEXT_LENGTH) == "/"


def test_query_string_is_kept_verbatim() -> None:
    path = "/reports?from=2024-01-01&to=2024-12-31&sort=-date&tag=a%2Fb"
    assert safe_next(path) == path


def test_the_portals_authorize_endpoint_is_a_next_to_return_to() -> None:
    # Single sign-on: a sign-in on the portal goes on to hand the session to the app host.
    authorize = "/auth/sso/authorize?host=wiki.corp.example&challenge=" + "x" * 43
    assert safe_next(authorize) == authorize
    for other in ("/auth/sso/authorize/../../login", "/auth/sso/callback?code=x", "/auth/sso/"):
        assert safe_next(other) == "/"


@pytest.mark.parametrize(
    "page",
    [
        # A second `?` belongs to the query: only what comes before the first is the path.
        "/auth/account?tab=a?b",
        "/auth/sso/authorize?host=wiki.corp.example&state=a?b",
    ],
)
def test_a_question_mark_inside_the_query_leaves_the_page_a_destination(page: str) -> None:
    assert safe_next(page) == page


def test_a_single_dot_segment_under_the_account_pages_is_refused() -> None:
    # Any dot segment makes the path one a browser rewrites; only plain account paths pass.
    assert safe_next("/auth/account/./totp") == "/"
