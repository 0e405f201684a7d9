"""Cross-site POSTs to login, logout and logout-everywhere, through nginx: 403, no cookie,
and the session survives.

Already proven in test_login.py / test_logout.py and not repeated: `Sec-Fetch-Site:
cross-site`, a foreign `Origin` and a foreign `Referer` on login, and a foreign Origin on
logout. These are the subtler ones: a sibling subdomain, an opaque origin, look-alike hosts,
another port, and a forged X-Forwarded-Host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests
from attack_helpers import assert_refused, fresh_user, genuine_token
from e2e_helpers import TIMEOUT, cookie_header, get_page, sign_in

if TYPE_CHECKING:
    from conftest import Stack

Headers = Callable[[str], dict[str, str]]

# Each gets the stack's own origin ("http://127.0.0.1:PORT") to build look-alikes from.
CROSS_SITE: dict[str, Headers] = {
    "fetch-site-same-site": lambda origin: {"Sec-Fetch-Site": "same-site"},
    "fetch-site-cross-site-with-our-origin": lambda origin: {
        "Sec-Fetch-Site": "cross-site",
        "Origin": origin,
    },
    "fetch-site-in-mixed-case": lambda origin: {"Sec-Fetch-Site": "Cross-Site"},
    "origin-null": lambda origin: {"Origin": "null"},
    "origin-other-port": lambda origin: {"Origin": origin.rsplit(":", 1)[0] + ":1"},
    "origin-other-host-name-same-machine": lambda origin: {
        "Origin": origin.replace("127.0.0.1", "localhost")
    },
    "origin-our-host-over-the-other-scheme": lambda origin: {
        "Origin": origin.replace("http://", "https://", 1)
    },
    "referer-our-host-over-the-other-scheme": lambda origin: {
        "Referer": origin.replace("http://", "https://", 1) + "/form"
    },
    "origin-other-scheme-with-forged-forwarded-proto": lambda origin: {
        "Origin": origin.replace("http://", "https://", 1),
        "X-Forwarded-Proto": "https",
    },
    "origin-ours-as-subdomain-of-evil": lambda origin: {"Origin": origin + ".evil.example"},
    "origin-ours-as-userinfo": lambda origin: {
        "Origin": "http://" + urlsplit(origin).netloc + "@evil.example"
    },
    "origin-evil-with-forged-forwarded-host": lambda origin: {
        "Origin": "http://evil.example",
        "X-Forwarded-Host": "evil.example",
    },
    "referer-ours-as-subdomain-of-evil": lambda origin: {"Referer": origin + ".evil.example/form"},
    "referer-naming-us-in-its-query": lambda origin: {
        "Referer": f"https://evil.example/?next={origin}/"
    },
    "referer-with-a-non-http-scheme": lambda origin: {
        "Referer": "file://" + urlsplit(origin).netloc + "/form"
    },
}

ENDPOINTS = {"login": "/auth/login", "logout": "/auth/logout", "logout-all": "/auth/logout?all=1"}


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_cross_site_post_is_refused_and_changes_nothing(
    stack: Stack, headers: Headers, endpoint: str
) -> None:
    name, password = fresh_user(stack, "victim")
    signed = sign_in(stack, name, password)

    response = requests.post(
        stack.url(endpoint),
        data={"username": name, "password": password},
        headers={
            "Cookie": cookie_header(stack, signed.access, signed.refresh),
            **headers(stack.base_url),
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert_refused(response, 403)
    token = genuine_token(stack, name, signed.session_id)
    assert get_page(stack, cookie=cookie_header(stack, access=token)).status_code == 200
