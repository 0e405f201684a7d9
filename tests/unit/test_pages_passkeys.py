"""The passkey parts of our pages: the script only where a passkey button is, never inline,
the buttons hidden until the script shows them, every value escaped."""

from __future__ import annotations

import re
import time

from verifier.factors.passkey_store import Passkey
from verifier.factors.user_factors import FactorStatus
from verifier.pages.common import (
    PAGE_SECURITY_HEADERS,
    SCRIPT_PAGE_SECURITY_HEADERS,
    SCRIPT_PATH,
    login_page,
)
from verifier.pages.factors import second_factor_page
from verifier.pages.passkeys import passkeys_page

HOSTILE = '"><script>alert(1)</script>'
SCRIPT_TAG = f'<script src="{SCRIPT_PATH}" defer>'


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>", html)


def test_the_sign_in_page_loads_the_script_only_with_passkeys() -> None:
    assert _scripts(login_page("/auth/login", "/")) == []
    with_passkey = login_page("/auth/login", HOSTILE, passkey=True)
    assert _scripts(with_passkey) == [SCRIPT_TAG]
    assert '<button type="button" hidden>Sign in with a passkey</button>' in with_passkey
    assert 'data-verify="/auth/login/passkey"' in with_passkey


def test_the_second_step_offers_a_passkey_and_leaves_out_the_code_for_passkeys_only() -> None:
    both = second_factor_page("/auth/login/factor", passkey_paths=("/o", "/v"))
    assert _scripts(both) == [SCRIPT_TAG]
    assert "Use a passkey" in both
    assert 'name="code"' in both
    only = second_factor_page("/auth/login/factor", totp=False, passkey_paths=("/o", "/v"))
    assert 'name="code"' not in only
    assert 'name="recovery_code"' in only
    assert _scripts(second_factor_page("/auth/login/factor")) == []


def test_the_passkeys_page_escapes_names_and_offers_a_remove_form_each() -> None:
    passkey = Passkey(b"\x01" * 16, b"key", 3, ("internal",), HOSTILE, time.time(), None)
    page = passkeys_page("/auth/account/passkeys", "/o", "/r", [passkey])
    assert HOSTILE not in page
    assert _scripts(page) == [SCRIPT_TAG]
    assert f'name="passkey" value="{passkey.credential_hash}"' in page
    assert "last used\nnever" in page
    assert "You have no passkeys yet." in passkeys_page("/a", "/o", "/r", [])


def test_script_pages_keep_every_other_directive_and_the_anti_framing_headers() -> None:
    csp = SCRIPT_PAGE_SECURITY_HEADERS["Content-Security-Policy"]
    directives = {part.split()[0]: part for part in (p.strip() for p in csp.split(";"))}
    assert directives["script-src"] == "script-src 'self'"
    assert directives["connect-src"] == "connect-src 'self'"
    for name, value in (
        (p.strip().split()[0], p.strip())
        for p in PAGE_SECURITY_HEADERS["Content-Security-Policy"].split(";")
    ):
        assert directives[name] == value
    assert "unsafe-inline" not in directives["script-src"]
    for header in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"):
        assert SCRIPT_PAGE_SECURITY_HEADERS[header] == PAGE_SECURITY_HEADERS[header]


def test_a_passkey_counts_as_a_second_factor() -> None:
    assert FactorStatus(totp=False, recovery_codes_left=0, passkeys=1).any
    assert not FactorStatus(totp=False, recovery_codes_left=10, passkeys=0).any
