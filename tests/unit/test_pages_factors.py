"""verifier.pages.factors: labels, a live error region, no script, every value escaped."""

from __future__ import annotations

import re

from verifier.pages.factors import (
    enrolment_page,
    message_page,
    recovery_code_used_page,
    recovery_codes_page,
    regenerate_page,
    second_factor_page,
    totp_status_page,
)

HOSTILE = '"><script>alert(1)</script>'


def _fields_have_labels(page: str) -> None:
    ids = set(re.findall(r'<input id="([^"]+)"', page))
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert ids <= labelled, ids - labelled


def test_every_form_page_labels_its_fields_and_announces_errors() -> None:
    pages = [
        second_factor_page("/auth/login/factor", error="Wrong."),
        enrolment_page("/auth/account/totp", "ABCDEFGH", "<svg></svg>", error="Wrong."),
        totp_status_page("/auth/account/totp", "/auth/account/recovery-codes", 3, "Wrong."),
        regenerate_page("/auth/account/recovery-codes", 3, "Wrong."),
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
        message_page("t", HOSTILE, HOSTILE),
    ]
    for page in pages:
        assert "<script>" not in page


def test_the_secret_is_shown_in_groups_of_four() -> None:
    page = enrolment_page("/a", "ABCDEFGHIJKLMNOP", "<svg></svg>")
    assert '<code class="secret" id="totp-secret">ABCD EFGH IJKL MNOP</code>' in page


def test_few_recovery_codes_left_suggests_a_new_set() -> None:
    assert "Make a new set" in recovery_code_used_page("/", 1)
    assert "1 recovery\ncode left" in recovery_code_used_page("/", 1)
    assert "Make a new set" not in recovery_code_used_page("/", 9)
