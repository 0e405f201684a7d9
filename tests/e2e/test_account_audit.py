"""The account page's actions in the audit trail, the metrics and the logs (JSON, DEBUG):
each action and each revocation recorded with its cause, counted once, and no password or
cookie value in any line. And with Redis down the page fails closed, touching no cookie."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from conftest import StackFactory
from e2e_helpers import (
    PAGE_HEADERS,
    TIMEOUT,
    eventually,
    log_records,
    new_user,
    set_cookie_headers,
    wait_until_every_worker_listens,
)
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.one_nginx

ACCOUNT = "/auth/account"
JSON = {"Accept": "application/json"}


def _browser(stack: Stack, name: str, password: str) -> requests.Session:
    session = stack.new_session()
    answer = session.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 303, answer.text
    return session


def _sid(stack: Stack, session: requests.Session) -> str:
    return str(session.cookies.get(stack.refresh_cookie)).rsplit(".", 2)[1]


def _post(stack: Stack, browser: requests.Session, **fields: str) -> requests.Response:
    return browser.post(
        stack.url(ACCOUNT), data=fields, headers=JSON, allow_redirects=False, timeout=TIMEOUT
    )


def _events(stack: Stack, user: str) -> list[dict[str, Any]]:
    return [r for r in log_records(stack) if r.get("user") == user and "event" in r]


def _revoked(stack: Stack, cause: str) -> float | None:
    response = requests.get(stack.metrics_url, timeout=TIMEOUT)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "verifier_sessions_revoked_total" and sample.labels == {
                "cause": cause
            }:
                return sample.value
    return None


def test_account_actions_are_audited_counted_and_leave_no_secret_in_a_log(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack(VERIFIER_LOG_FORMAT="json", VERIFIER_LOG_LEVEL="DEBUG")
    name, password = new_user(stack, "acct-audit")
    new_password = "the new password, typed twice"
    mine = _browser(stack, name, password)
    one, two = _browser(stack, name, password), _browser(stack, name, password)

    assert _post(stack, mine, action="end_session", session=_sid(stack, one)).status_code == 200
    assert _post(stack, mine, action="end_others").status_code == 200  # ends `two`
    wrong = _post(
        stack,
        mine,
        action="change_password",
        current_password="wrong " + password,
        new_password=new_password,
        new_password_again=new_password,
    )
    three = _browser(stack, name, password)  # signed in after "end others"
    cookie_values = [c.value for s in (mine, one, two, three) for c in s.cookies if c.value]
    changed = _post(
        stack,
        mine,
        action="change_password",
        current_password=password,
        new_password=new_password,
        new_password_again=new_password,
    )

    assert wrong.status_code == 403
    assert changed.json() == {"password_changed": True, "sessions_ended": 1}
    mine_id = _sid(stack, mine)
    expected = [
        ("account.session_ended", {"session": mine_id, "sessions_ended": 1}),
        ("session.revoked", {"cause": "admin", "sessions": _sid(stack, one), "count": 1}),
        ("account.sessions_ended", {"session": mine_id, "sessions_ended": 1}),
        ("session.revoked", {"cause": "admin", "sessions": _sid(stack, two), "count": 1}),
        ("account.password_change_failed", {"reason": "bad_credentials"}),
        ("account.password_changed", {"session": mine_id}),
        (
            "session.revoked",
            {"cause": "password_change", "sessions": _sid(stack, three), "count": 1},
        ),
    ]

    def seen() -> list[dict[str, Any]]:
        return [
            r
            for r in _events(stack, name)
            if r["event"].startswith(("account.", "session.revoked"))
        ]

    records = eventually(
        seen, lambda found: len(found) >= len(expected), what=f"{len(expected)} audit records"
    )
    assert [r["event"] for r in records] == [event for event, _ in expected]
    for record, (event, fields) in zip(records, expected, strict=True):
        assert {k: record.get(k) for k in fields} == fields, event
    counts = eventually(
        lambda: (_revoked(stack, "admin"), _revoked(stack, "password_change")),
        lambda found: found == (2, 1),
        what="2 admin and 1 password-change revocations counted",
    )
    assert counts == (2, 1)

    lines = stack.processes["verifier"].log_path.read_text(encoding="utf-8")
    error_log = stack.workdir / "error.log"
    if error_log.exists():
        lines += error_log.read_text(errors="replace")
    for secret in [password, new_password, "wrong " + password, *cookie_values]:
        assert secret not in lines


def test_with_redis_down_the_account_page_fails_closed_and_keeps_the_cookies(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "acct-outage")
    mine = _browser(stack, name, password)
    other = _browser(stack, name, password)
    stack.redis.save()  # the restarted server reloads this snapshot: the sessions survive

    def answers() -> list[requests.Response]:
        return [
            mine.get(stack.url(ACCOUNT), headers=PAGE_HEADERS, allow_redirects=False),
            mine.get(stack.url(ACCOUNT), headers=JSON, allow_redirects=False),
            _post(stack, mine, action="end_others"),
            _post(
                stack,
                mine,
                action="change_password",
                current_password=password,
                new_password="x" * 12,
                new_password_again="x" * 12,
            ),
        ]

    stack.stop_redis()
    try:
        outage = eventually(
            answers,
            lambda found: all(r.status_code == 503 for r in found),
            what="every account page 503 while Redis is down",
        )
    finally:
        stack.start_redis()

    for response in outage:
        assert response.status_code == 503, response.request.method
        assert set_cookie_headers(response) == []
    wait_until_every_worker_listens(stack)
    listed = mine.get(stack.url(ACCOUNT), headers=JSON, timeout=TIMEOUT)
    assert listed.status_code == 200
    assert {s["session"] for s in listed.json()["sessions"]} == {
        _sid(stack, mine),
        _sid(stack, other),
    }
