"""verifier.pages.factors: labels, a live error region, no script, every value escaped."""

from __future__ import annotations

import re

from verifier.pages.common import WayBack
from verifier.pages.factors import (
    RECOVERY_FIELD,
    enrolment_page,
    message_page,
    no_factor_page,
    recovery_code_used_page,
    recovery_codes_page,
    regenerate_page,
    second_factor_page,
    totp_reset_page,
    totp_status_page,
)
from verifier.pages.sessions import OtherSessions
from verifier.sessions.networks import NetworkNames
from verifier.sessions.store import SessionDetails

HOSTILE = '"><script>alert(1)</script>'
BACK = WayBack("/auth/account", "Your account")


def _fields_have_labels(page: str) -> None:
    ids = set(re.findall(r'<input id="([^"]+)"', page))
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert ids <= labelled, ids - labelled


def test_every_form_page_labels_its_fields_and_announces_errors() -> None:
    pages = [
        second_factor_page("/auth/login/factor", error="Wrong."),
        enrolment_page("/auth/account/totp", "ABCDEFGH", "<svg></svg>", "Wrong.", back=BACK),
        totp_reset_page("/auth/account/totp", "Wrong.", back=BACK),
        regenerate_page("/auth/account/recovery-codes", 3, "Wrong.", back=BACK),
    ]
    for page in pages:
        _fields_have_labels(page)
        assert '<div id="form-error" aria-live="assertive"><p class="error" role="alert">' in page
        assert 'aria-describedby="form-error"' in page
        assert "<script" not in page


def test_values_are_escaped() -> None:
    pages = [
        second_factor_page(HOSTILE, error=HOSTILE),
        recovery_codes_page([HOSTILE], HOSTILE, HOSTILE),
        recovery_code_used_page(HOSTILE, 2),
        message_page("t", HOSTILE, WayBack(HOSTILE, HOSTILE)),
    ]
    for page in pages:
        assert "<script>" not in page


def test_the_secret_is_shown_in_groups_of_four() -> None:
    page = enrolment_page("/a", "ABCDEFGHIJKLMNOP", "<svg></svg>", back=BACK)
    key = '<code class="secret" id="totp-secret" translate="no">ABCD EFGH IJKL MNOP</code>'
    assert f"Or type this key into the app: {key}" in page


def test_few_recovery_codes_left_suggests_a_new_set() -> None:
    assert "Make a new set" in recovery_code_used_page("/", 1)
    assert "You have 1 recovery code left." in recovery_code_used_page("/", 1)
    assert "You have 9 recovery codes left." in recovery_code_used_page("/", 9)
    assert "Make a new set" not in recovery_code_used_page("/", 9)


def test_a_wrong_recovery_code_comes_back_open_at_the_recovery_field() -> None:
    page = second_factor_page("/f", error="Wrong.", failed=RECOVERY_FIELD)

    assert "<details open>" in page
    # The message above the recovery field, in a live region, tied to it; the cursor there.
    region = '<div id="recovery-error" aria-live="assertive"><p class="error" role="alert">Wrong.'
    assert page.index(region) < page.index('<label for="recovery_code">')
    assert page.index("<summary>") < page.index(region)
    assert '<div id="form-error" aria-live="assertive"></div>' in page
    recovery_input = page[page.index('<input id="recovery_code"') :].split(">", 1)[0]
    assert "autofocus" in recovery_input
    assert 'aria-describedby="recovery-error"' in recovery_input
    code_input = page[page.index('<input id="code"') :].split(">", 1)[0]
    assert "autofocus" not in code_input


def test_a_wrong_app_code_comes_back_at_the_code_field_with_the_fold_closed() -> None:
    page = second_factor_page("/f", error="Wrong.")

    assert "<details>" in page
    assert '<div id="form-error" aria-live="assertive"><p class="error"' in page
    assert '<div id="recovery-error" aria-live="assertive"></div>' in page
    code_input = page[page.index('<input id="code"') :].split(">", 1)[0]
    assert "autofocus" in code_input


def test_every_factor_page_has_a_way_back() -> None:
    pages = [
        second_factor_page("/f", cancel_url="/auth/login?next=/x"),
        enrolment_page("/a", "ABCD", "<svg></svg>", back=BACK),
        totp_status_page("/t", "/r", 3, back=BACK),
        totp_reset_page("/t", back=BACK),
        regenerate_page("/r", 3, back=BACK),
        no_factor_page("/t", back=BACK),
        message_page("Authenticator app", "Unknown action.", BACK),
    ]
    for page in pages:
        assert re.search(r'<a class="back-link" href="[^"]+">[^<]+</a>\n<h1>', page), page
    assert '<a class="back-link" href="/auth/login?next=/x">Cancel sign-in</a>' in pages[0]
    assert 'class="continue"' not in pages[0]
    codes = recovery_codes_page(["a"], "/next", "Done.")
    assert '<a class="button-link continue" href="/next">Continue</a>' in codes


def test_resetting_the_authenticator_app_is_confirmed_with_a_current_code() -> None:
    status = totp_status_page("/t", "/r", 3, back=BACK)
    assert 'name="current_code"' not in status  # the code goes with the confirmation
    assert '<input type="hidden" name="action" value="reset">' in status

    confirm = totp_reset_page("/t", back=BACK)
    assert "<h1>Reset your authenticator app?</h1>" in confirm
    assert "you get new recovery codes" in confirm
    assert '<input type="hidden" name="confirm" value="yes">' in confirm
    assert 'name="current_code"' in confirm
    assert '<a class="button-link" href="/auth/account">Cancel</a>' in confirm


def test_the_new_codes_page_names_the_password_only_sessions_and_offers_to_end_them() -> None:
    other = SessionDetails("C" * 22, "Safari|17|iOS", "192.0.2.9", 0.0, 60.0, ("pwd",))
    others = OtherSessions([other], NetworkNames(), 120.0, "/auth/account?next=/x")

    page = recovery_codes_page(["aaaa-bbbb"], "/x", "Done.", others)
    none = OtherSessions([], NetworkNames(), 0, "/")
    alone = recovery_codes_page(["aaaa-bbbb"], "/x", "Done.", none)

    assert '<h2 id="others-heading">Your other sessions</h2>' in page
    assert "This session signed in with a password alone and stays signed in" in page
    assert '<span translate="no">Safari 17</span>' in page
    assert "Save your recovery codes first" in page
    assert page.index('id="recovery-codes"') < page.index("others-heading")
    assert '<form method="post" action="/auth/account?next=/x">' in page
    assert '<input type="hidden" name="action" value="end_others">' in page
    assert '<input type="hidden" name="confirm" value="yes">' in page
    assert "others-heading" not in alone
