"""The account page's HTML: every recorded value escaped, this device marked and first,
an End form only for the others, `next` kept in every form's action."""

from __future__ import annotations

from verifier.pages.account import FactorSection, account_page, account_url, shown_time
from verifier.sessions.store import SessionDetails

HOSTILE = SessionDetails(
    session_id="B" * 22,
    device='<img src=x onerror="alert(1)">',
    address="<script>x</script>",
    started=0.0,
    last_used=60.0,
)
MINE = SessionDetails("A" * 22, "Chrome on Linux", "127.0.0.1", 0.0, 0.0)
SECTION = FactorSection("passkeys", "Passkeys <new>", "None yet.", "Add one", "/auth/x?a=1&b=2")


def test_recorded_values_are_escaped_and_this_device_comes_first() -> None:
    html = account_page("alice", MINE.session_id, [HOSTILE, MINE], [SECTION], "/app?q=<1>")

    assert "<img" not in html and "<script>x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert html.index("This device") < html.index("&lt;img")
    assert html.count('name="action" value="end_session"') == 1
    assert f'name="session" value="{HOSTILE.session_id}"' in html
    assert f'value="{MINE.session_id}"' not in html
    assert "Passkeys &lt;new&gt;" in html
    assert 'href="/auth/x?a=1&amp;b=2"' in html
    assert 'href="/app?q=&lt;1&gt;" id="back-to-app"' in html
    assert html.count('action="/auth/account?next=/app%3Fq%3D%3C1%3E"') == 3


def test_no_end_all_button_when_this_is_the_only_session() -> None:
    assert "End all other sessions" not in account_page("alice", MINE.session_id, [MINE], [], "/")


def test_account_url_keeps_the_way_back_and_the_notice() -> None:
    assert account_url("/") == "/auth/account"
    assert account_url("/", "ended") == "/auth/account?done=ended"
    assert account_url("/app/x", "password") == "/auth/account?done=password&next=/app/x"


def test_times_are_shown_in_utc_to_the_minute() -> None:
    assert shown_time(0) == "1970-01-01 00:00 UTC"
