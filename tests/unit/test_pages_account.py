"""The account page's HTML: every recorded value escaped, this device marked and first, the
sessions told apart (browser and version, system, address and network, when and how, last
used), an End form only for the others, `next` kept in every form's action; and the
confirmations ending sessions goes through."""

from __future__ import annotations

import ipaddress

from verifier.pages.account import (
    FactorSection,
    account_page,
    account_url,
    end_others_page,
    end_session_page,
)
from verifier.sessions.networks import NetworkNames
from verifier.sessions.store import SessionDetails

NOW = 1_741_788_300.0  # 2025-03-12 14:05 UTC
HOSTILE = SessionDetails(
    session_id="B" * 22,
    device='<img src=x onerror="alert(1)">',
    address="<script>x</script>",
    started=0.0,
    last_used=60.0,
)
MINE = SessionDetails("A" * 22, "Chrome|131|Linux", "127.0.0.1", NOW - 3600, NOW, ("pwd",))
PHONE = SessionDetails(
    "C" * 22, "Safari|17|iOS", "10.8.3.4", NOW - 86_400, NOW - 300, ("pwd", "otp")
)
SECTION = FactorSection("passkeys", "Passkeys <new>", "None yet.", "Add one", "/auth/x?a=1&b=2")
OFFICE = NetworkNames([(ipaddress.ip_network("10.8.0.0/16"), "Office <VPN>")])


def test_recorded_values_are_escaped_and_this_device_comes_first() -> None:
    html = account_page("alice", MINE.session_id, [HOSTILE, MINE], [SECTION], "/app?q=<1>", now=NOW)

    assert "<img" not in html and "<script>x" not in html
    # A device field that is not one of ours is not shown at all, escaped or not.
    assert "onerror" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert html.index("This device") < html.index("Unknown device")
    assert html.count('name="action" value="end_session"') == 1
    assert f'name="session" value="{HOSTILE.session_id}"' in html
    assert f'value="{MINE.session_id}"' not in html
    assert "Passkeys &lt;new&gt;" in html
    assert 'href="/auth/x?a=1&amp;b=2"' in html
    assert '<a class="back-link" href="/app?q=&lt;1&gt;">Back to the app</a>' in html
    assert html.count('action="/auth/account?next=/app%3Fq%3D%3C1%3E"') == 3


def test_sessions_are_told_apart_by_device_version_network_method_and_last_use() -> None:
    html = account_page("alice", MINE.session_id, [PHONE, MINE], [], "/", now=NOW, networks=OFFICE)

    assert '<span translate="no">Safari 17</span> on <span translate="no">iOS</span>' in html
    assert '<span translate="no">Chrome 131</span> on <span translate="no">Linux</span>' in html
    assert '(<span translate="no">Office &lt;VPN&gt;</span>)' in html
    assert "(this server&#x27;s own machine)" in html
    assert "<dd>password and authenticator app</dd>" in html
    assert '<time datetime="2025-03-11T14:05:00Z">Mar 11, 2025, 2:05\u202fPM UTC</time>' in html
    assert ">5 minutes ago</time>" in html
    assert ">just now</time>" in html
    # This device first, then the most recently used.
    assert html.index("Chrome 131") < html.index("Safari 17")
    assert 'aria-label="End the session on Safari 17 on iOS"' in html


def test_password_only_sessions_are_pointed_out_once_a_second_factor_is_on() -> None:
    laptop = SessionDetails("D" * 22, "Firefox|133|Windows", "192.0.2.9", NOW - 99, NOW - 99)
    on = FactorSection("totp", "Authenticator app", "On.", "Reset", "/t", second_factor=True)
    off = FactorSection("totp", "Authenticator app", "Off.", "Set up", "/t")

    with_factor = account_page("alice", MINE.session_id, [MINE, laptop, PHONE], [on], "/", now=NOW)
    without = account_page("alice", MINE.session_id, [MINE, laptop, PHONE], [off], "/", now=NOW)

    assert (
        '<p class="warning" id="password-only">One other session signed in with a password '
        "alone, without your second factor.</p>"
    ) in with_factor
    assert 'id="password-only"' not in without


def test_no_end_all_button_when_this_is_the_only_session() -> None:
    html = account_page("alice", MINE.session_id, [MINE], [], "/", now=NOW)
    assert "End all other sessions" not in html


def test_account_url_keeps_the_way_back_and_the_notice() -> None:
    assert account_url("/") == "/auth/account"
    assert account_url("/", "ended") == "/auth/account?done=ended"
    assert account_url("/app/x", "password") == "/auth/account?done=password&next=/app/x"


def test_ending_a_session_is_confirmed_on_a_page_that_names_it_and_can_cancel() -> None:
    html = end_session_page(PHONE, "/auth/account?next=/x", "/x", now=NOW, networks=OFFICE)

    assert "<h1>End this session?</h1>" in html
    assert '<span translate="no">Safari 17</span>' in html
    assert "signed out at once" in html
    assert '<input type="hidden" name="confirm" value="yes">' in html
    assert f'<input type="hidden" name="session" value="{PHONE.session_id}">' in html
    assert '<a class="button-link" href="/auth/account?next=/x">Cancel</a>' in html
    assert '<a class="back-link" href="/auth/account?next=/x">Your account</a>' in html
    assert "<script" not in html


def test_ending_every_other_session_is_confirmed_with_the_list() -> None:
    html = end_others_page([PHONE, HOSTILE], "/auth/account", "/", now=NOW, networks=OFFICE)

    assert "These 2 sessions are signed out at once; this device stays signed in." in html
    assert html.count("<li>") == 2
    assert '<input type="hidden" name="action" value="end_others">' in html
    assert '<input type="hidden" name="confirm" value="yes">' in html
    assert "<script>x" not in html
