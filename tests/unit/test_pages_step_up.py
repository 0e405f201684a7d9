"""The step-up page's HTML: only the fields the step needs, every value escaped."""

from __future__ import annotations

from verifier.pages.step_up import no_second_factor_page, step_up_page

XSS = '"><script>alert(1)</script>'


def test_the_mfa_form_asks_only_for_a_code() -> None:
    html = step_up_page("/auth/login?step_up=mfa", "/x", "alice", "Why.", password=False, code=True)

    assert 'name="code"' in html
    assert 'name="password"' not in html
    assert '<input type="hidden" name="next" value="/x">' in html
    assert 'action="/auth/login?step_up=mfa"' in html


def test_the_max_age_form_asks_for_the_password_and_a_code_only_when_there_is_a_factor() -> None:
    without = step_up_page("/a", "/", "alice", "Why.", password=True, code=False)
    with_factor = step_up_page("/a", "/", "alice", "Why.", password=True, code=True)

    assert 'name="password"' in without
    assert 'name="code"' not in without
    assert 'name="password"' in with_factor
    assert 'name="code"' in with_factor


def test_every_value_on_the_step_up_pages_is_escaped() -> None:
    form = step_up_page(XSS, XSS, XSS, XSS, password=True, code=True, error=XSS)
    enrol = no_second_factor_page(XSS, XSS)

    for html in (form, enrol):
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


def test_both_step_up_pages_lead_back_to_the_app_and_the_form_can_be_cancelled() -> None:
    form = step_up_page("/a", "/admin/", "alice", "Why.", password=False, code=True)
    enrol = no_second_factor_page("alice", "/auth/account/totp?next=/admin/")

    for html in (form, enrol):
        assert '<a class="back-link" href="/">Back to the app</a>' in html
    assert '<a class="button-link" href="/">Cancel</a>' in form


def test_an_error_is_announced_and_tied_to_the_form() -> None:
    html = step_up_page("/a", "/", "alice", "Why.", password=False, code=True, error="Wrong.")

    assert '<p class="error" role="alert">Wrong.</p>' in html
    assert 'aria-describedby="form-error"' in html
