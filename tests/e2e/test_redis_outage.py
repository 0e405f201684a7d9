"""Redis down: everything that needs it fails closed, no cookie is touched, service resumes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from e2e_helpers import (
    PAGE_HEADERS,
    burst,
    cookie_header,
    eventually,
    expired_access_token,
    get_page,
    new_user,
    set_cookie_headers,
    sign_in,
    wait_until_every_worker_listens,
)

if TYPE_CHECKING:
    from conftest import Stack


def _outage_answers(
    stack: Stack, name: str, password: str, valid: str, needs_refresh: str
) -> dict[str, list[requests.Response]]:
    return {
        "valid access token, on every worker": burst(stack, valid).responses,
        "silent refresh": [get_page(stack, cookie=needs_refresh)],
        "page navigation": [get_page(stack, "/", cookie=valid, **PAGE_HEADERS)],
        "login": [
            requests.post(
                stack.url("/auth/login"), json={"username": name, "password": password}, timeout=10
            )
        ],
        "logout": [
            requests.post(
                stack.url("/auth/logout"),
                headers={"Cookie": valid, "Accept": "application/json"},
                timeout=10,
            )
        ],
    }


def _all_unavailable(answers: dict[str, list[requests.Response]]) -> bool:
    return all(r.status_code == 503 for responses in answers.values() for r in responses)


def test_redis_outage_fails_closed_and_service_resumes_by_itself(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    valid = cookie_header(stack, signed.access, signed.refresh)
    needs_refresh = cookie_header(
        stack, expired_access_token(stack, name, signed.session_id), signed.refresh
    )
    # Cached as live by every worker.
    cached = burst(stack, valid)
    assert cached.every_worker(stack, 204), cached.answers
    stack.redis.save()  # the restarted server reloads this snapshot: users and sessions survive
    verifier_pid = stack.processes["verifier"].pid

    stack.stop_redis()
    try:
        # A worker stops trusting its cache when it reads that Redis closed its revocation
        # channel, a moment after Redis goes: wait for every worker to have read it. (Its
        # cache would otherwise vouch for the session for 60 s.)
        outage = eventually(
            lambda: _outage_answers(stack, name, password, valid, needs_refresh),
            _all_unavailable,
            what="every answer 503 while Redis is down",
        )
    finally:
        stack.start_redis()

    for label, responses in outage.items():
        for response in responses:
            assert response.status_code == 503, label
            assert set_cookie_headers(response) == [], f"{label} touched cookies"
            assert response.headers.get("Retry-After") == "5", label
    # Back without restarting the verifier: the same cookies work, nobody was logged out,
    # and every worker listens for revocations again.
    assert stack.processes["verifier"].pid == verifier_pid
    assert stack.processes["verifier"].is_running()
    wait_until_every_worker_listens(stack)
    assert get_page(stack, cookie=valid).status_code == 200
    refreshed = get_page(stack, cookie=needs_refresh)
    assert refreshed.status_code == 200
    assert len(set_cookie_headers(refreshed)) == 2
