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
    WayBack,
    login_page,
)
from verifier.pages.factors import second_factor_page
from verifier.pages.passkeys import passkey_removal_page, passkeys_page

HOSTILE = '"><script>alert(1)</script>'
SCRIPT_TAG = f'<script src="{SCRIPT_PATH}" defer>'
BACK = WayBack("/auth/account", "Your account")


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
    page = passkeys_page("/auth/account/passkeys", "/o", "/r", [passkey], back=BACK)
    assert HOSTILE not in page
    assert _scripts(page) == [SCRIPT_TAG]
    assert f'name="passkey" value="{passkey.credential_hash}"' in page
    assert "last used never" in page
    assert "You have no passkeys yet." in passkeys_page("/a", "/o", "/r", [], back=BACK)


def test_each_passkey_keeps_its_remove_button_in_its_row_and_adding_has_no_divider() -> None:
    passkey = Passkey(b"\x01" * 16, b"key", 3, ("internal",), "Laptop", 0.0, 60.0)
    page = passkeys_page("/p", "/o", "/r", [passkey], back=BACK)

    # The entry is a row: its text and its form side by side (verifier.css, ul.items).
    assert '<ul id="passkeys" class="items">' in page
    assert '<span class="item-text"><strong><span translate="no">Laptop</span></strong>' in page
    assert '<form class="item-action" method="post" action="/p">' in page
    # The add block is not a `.passkey` block (whose top border sets the sign-in page's
    # passkey button apart): nothing between "Add a passkey" and its name field.
    assert 'class="passkey-create"' in page
    assert 'class="passkey"' not in page
    assert '<a class="back-link" href="/auth/account">Your account</a>' in page


def test_removing_a_passkey_is_confirmed_and_warns_when_it_is_the_last_factor() -> None:
    passkey = Passkey(b"\x01" * 16, b"key", 3, ("internal",), HOSTILE, 0.0, None)
    last = passkey_removal_page("/p", passkey, last_factor=True, back=BACK)
    not_last = passkey_removal_page("/p", passkey, last_factor=False, back=BACK)

    assert "<h1>Remove this passkey?</h1>" in last
    assert HOSTILE not in last
    assert "your password alone signs you in" in last
    assert "your password alone signs you in" not in not_last
    assert '<input type="hidden" name="confirm" value="yes">' in last
    assert f'name="passkey" value="{passkey.credential_hash}"' in last
    assert '<a class="button-link" href="/auth/account">Cancel</a>' in last
    assert _scripts(last) == []


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
