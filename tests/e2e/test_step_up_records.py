"""The step-up flow's records and its failure mode: each step-up leaves its audit record (and
each refusal its reason) with no code or password in any log line; with Redis down the
step-up fails closed (503) and touches no cookie, and works with the same cookies after."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from e2e_helpers import (
    PAGE_HEADERS,
    TIMEOUT,
    all_log_lines,
    eventually,
    log_records,
    new_user,
    set_cookie_headers,
)
from factor_helpers import enrol

if TYPE_CHECKING:
    from conftest import Stack, StackFactory

STEP_UP = "/auth/login?step_up=mfa&next=/step-up/mfa"


def _post(browser: requests.Session, stack: Stack, fields: dict[str, str]) -> requests.Response:
    return browser.post(
        stack.url(STEP_UP),
        data=fields,
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def test_step_ups_are_audited_with_reasons_and_no_secret_reaches_a_log(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack(VERIFIER_LOG_FORMAT="json", VERIFIER_LOG_LEVEL="DEBUG")
    name, password = new_user(stack, "audit-stepup")
    browser = stack.login(name, password)
    app, recovery_codes = enrol(stack, browser)
    wrong, right = app.wrong_code(), app.code()

    assert _post(browser, stack, {"code": wrong}).status_code == 401
    assert _post(browser, stack, {"code": ""}).status_code == 400
    assert _post(browser, stack, {"code": right}).status_code == 303

    mine = [record for record in log_records(stack) if record.get("user") == name]
    failed = [r for r in mine if r["event"] == "signin.step_up_failed"]
    stepped = [r for r in mine if r["event"] == "signin.stepped_up"]
    assert [(r["step"], r["reason"]) for r in failed] == [("mfa", "bad_code"), ("mfa", "bad_input")]
    assert len(stepped) == 1
    assert (stepped[0]["step"], stepped[0]["methods"], stepped[0]["amr"]) == (
        "mfa",
        "otp",
        "pwd,otp",
    )
    assert stepped[0]["session"] == failed[0]["session"]
    for line in all_log_lines(stack):
        for secret in (password, app.secret, wrong, right, *recovery_codes):
            assert secret not in line, f"a secret in a log line: {line[:200]}"


def test_with_redis_down_a_step_up_fails_closed_and_keeps_the_cookies(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack()
    name, password = new_user(stack, "outage-stepup")
    browser = stack.login(name, password)
    app, _codes = enrol(stack, browser)
    stack.redis.save()  # the restarted server reloads this snapshot: users and sessions survive

    stack.stop_redis()
    try:
        # Any code: nothing is checked while Redis is away.
        refused = eventually(
            lambda: _post(browser, stack, {"code": "000000"}),
            lambda response: response.status_code == 503,
            what="a 503 while Redis is down",
        )
    finally:
        stack.start_redis()

    assert refused.status_code == 503
    assert set_cookie_headers(refused) == []
    assert "Set-Cookie" not in refused.headers
    # One right code, posted until Redis answers: a 503 spends nothing.
    code = app.code()
    back = eventually(
        lambda: _post(browser, stack, {"code": code}),
        lambda response: response.status_code != 503,
        what="an answer once Redis is back",
    )
    assert back.status_code == 303
    assert back.headers["Location"] == "/step-up/mfa"
