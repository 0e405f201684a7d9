"""Brute force, enumeration and timing against the login, through nginx.

The contract (verifier/users/throttle.py, settings VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT,
VERIFIER_LOGIN_MAX_FAILURES_PER_ADDRESS, VERIFIER_LOGIN_THROTTLE_WINDOW_SECONDS):
- after N failed logins for one account within the window (N = 5 by default), every further
  attempt for that account, from any address and even with the right password, gets a 429
  with Retry-After until the window has passed; a successful login clears the account's
  counter;
- after M failed logins from one client address (nginx's X-Forwarded-For, set from
  $remote_addr), every attempt from that address gets a 429 likewise;
- the lockout lasts one window at most, so an attacker cannot lock a real user out for long;
- an unknown user name and a wrong password are indistinguishable: status, body, headers
  and (roughly) time; so are a throttled unknown name and a throttled real one, whose waits
  differ only as the times their own windows opened do.

The e2e stack runs with a 60 s window, far longer than any test here takes, and M = 1000,
because every test of the session logs in from 127.0.0.1. The address limit is reached by
setting the address counter to M - 1; the end of a window by moving it near in Redis, as if
the window had opened long ago.
"""

from __future__ import annotations

import math
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import requests
from attack_helpers import assert_refused, fresh_user
from e2e_helpers import TIMEOUT, set_cookie_headers

from verifier.resources.login import THROTTLED
from verifier.store.keyspace import KeySpace
from verifier.users.throttle import account_counter_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import Stack

TIMING_ATTEMPTS = 15
# What is left of a window once a test has moved its end near.
WINDOW_LEFT_MS = 1500


def _account_limit(stack: Stack) -> int:
    return int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))


def _address_limit(stack: Stack) -> int:
    return int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ADDRESS", "50"))


def _window(stack: Stack) -> int:
    return int(stack.env.get("VERIFIER_LOGIN_THROTTLE_WINDOW_SECONDS", "60"))


def _json_login(stack: Stack, name: str, password: str, **headers: str) -> requests.Response:
    return requests.post(
        stack.url("/auth/login"),
        json={"username": name, "password": password},
        headers=headers,
        timeout=TIMEOUT,
    )


def _form_login(stack: Stack, name: str, password: str) -> requests.Response:
    return requests.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def _fail_until_the_limit(stack: Stack, name: str, **headers: str) -> None:
    for _ in range(_account_limit(stack)):
        assert_refused(_json_login(stack, name, "wrong-password", **headers), 401)


def _assert_throttled(stack: Stack, response: requests.Response) -> int:
    """A 429 with a Retry-After of at most one window and no cookie; return Retry-After."""
    assert_refused(response, 429)
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= _window(stack)
    return retry_after


def _account_counter(stack: Stack, name: str) -> str:
    return account_counter_key(KeySpace(stack.key_prefix), name)


def _spoofed_address() -> str:
    return f"203.0.113.{secrets.randbelow(250) + 1}"


# --- per account ----------------------------------------------------------------------------


def test_account_is_throttled_after_the_limit_even_with_the_right_password(stack: Stack) -> None:
    name, password = fresh_user(stack, "target")
    _fail_until_the_limit(stack, name)

    response = _json_login(stack, name, password)

    _assert_throttled(stack, response)
    assert isinstance(response.json()["error"], str)
    assert response.headers["Content-Type"].startswith("application/json")


def test_throttled_form_login_answers_an_html_page(stack: Stack) -> None:
    name, password = fresh_user(stack, "target")
    _fail_until_the_limit(stack, name)

    response = _form_login(stack, name, password)

    _assert_throttled(stack, response)
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<form" in response.text


def test_forged_forwarded_for_does_not_escape_the_account_limit(stack: Stack) -> None:
    name, password = fresh_user(stack, "target")
    for _ in range(_account_limit(stack)):
        response = _json_login(
            stack, name, "wrong-password", **{"X-Forwarded-For": _spoofed_address()}
        )
        assert_refused(response, 401)

    response = _json_login(stack, name, password, **{"X-Forwarded-For": _spoofed_address()})

    _assert_throttled(stack, response)


@pytest.mark.parametrize("spelling", ["upper", "title", "padded"])
def test_account_counter_is_shared_by_every_spelling_of_the_name(
    stack: Stack, spelling: str
) -> None:
    name, password = fresh_user(stack, "target")
    variant = {"upper": name.upper(), "title": name.title(), "padded": f"  {name} "}[spelling]
    _fail_until_the_limit(stack, variant)

    _assert_throttled(stack, _json_login(stack, name, password))


def test_lockout_lasts_one_window_and_ends_when_retry_after_says(stack: Stack) -> None:
    name, password = fresh_user(stack, "target")
    _fail_until_the_limit(stack, name)
    counter = _account_counter(stack, name)
    assert 0 < stack.redis.pttl(counter) <= _window(stack) * 1000  # opened by the failures
    # As if the window had opened long ago: WINDOW_LEFT_MS of it are left.
    stack.redis.pexpire(counter, WINDOW_LEFT_MS)
    retry_after = _assert_throttled(stack, _json_login(stack, name, password))
    assert retry_after <= math.ceil(WINDOW_LEFT_MS / 1000)  # refusals do not stretch it

    time.sleep(retry_after)  # exactly what a client obeying Retry-After does

    response = _json_login(stack, name, password)
    assert response.status_code == 200
    assert len(set_cookie_headers(response)) == 2


def test_successful_login_clears_the_account_counter(stack: Stack) -> None:
    name, password = fresh_user(stack, "target")
    almost = _account_limit(stack) - 1

    for _ in range(2):
        for _ in range(almost):
            assert_refused(_json_login(stack, name, "wrong-password"), 401)
        assert _json_login(stack, name, password).status_code == 200


def test_concurrent_guesses_get_no_more_password_checks_than_the_limit(stack: Stack) -> None:
    # A burst of parallel guesses must not all slip past the counter before it is
    # incremented: the limit bounds password checks, not only sequential ones.
    name, _ = fresh_user(stack, "target")
    guesses = [f"guess-{i}-{secrets.token_hex(4)}" for i in range(20)]

    with ThreadPoolExecutor(max_workers=len(guesses)) as pool:
        responses = list(pool.map(lambda guess: _json_login(stack, name, guess), guesses))

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= _account_limit(stack), statuses
    assert all(set_cookie_headers(r) == [] for r in responses)


# --- per address ----------------------------------------------------------------------------


@pytest.fixture
def address_at_its_limit(stack: Stack) -> Iterator[None]:
    """The counter of 127.0.0.1 one failure short of the limit, then one real failure."""
    name, _ = fresh_user(stack, "sprayed")
    assert_refused(_json_login(stack, name, "wrong-password"), 401)
    pattern = f"{stack.key_prefix}:throttle:address:*"
    keys = list(stack.redis.scan_iter(pattern))
    assert len(keys) == 1, f"expected one address counter (127.0.0.1), found {keys}"
    (key,) = keys
    try:
        stack.redis.set(key, _address_limit(stack) - 1, ex=_window(stack))
        other, _ = fresh_user(stack, "sprayed")
        assert_refused(_json_login(stack, other, "wrong-password"), 401)
        yield
    finally:
        stack.redis.delete(key)  # the rest of the session logs in from 127.0.0.1 too


@pytest.mark.usefixtures("address_at_its_limit")
def test_address_over_its_limit_is_throttled_for_every_account(stack: Stack) -> None:
    name, password = fresh_user(stack, "bystander")

    right_password = _json_login(stack, name, password)
    forged_address = _json_login(stack, name, password, **{"X-Forwarded-For": _spoofed_address()})

    _assert_throttled(stack, right_password)
    _assert_throttled(stack, forged_address)


# --- enumeration and timing -------------------------------------------------------------------


def _same_length_unknown_name(name: str) -> str:
    return f"ghost-{secrets.token_hex(len(name))}"[: len(name)]


def _comparable_headers(response: requests.Response, *left_out: str) -> dict[str, str]:
    skipped = {"date", *left_out}
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in skipped}


def test_unknown_user_and_wrong_password_json_answers_are_identical(stack: Stack) -> None:
    name, _ = fresh_user(stack, "known")

    wrong_password = _json_login(stack, name, "wrong-password")
    unknown_user = _json_login(stack, _same_length_unknown_name(name), "wrong-password")
    malformed_name = _json_login(stack, "Not A Valid Name!"[: len(name)], "wrong-password")

    for response in (wrong_password, unknown_user, malformed_name):
        assert_refused(response, 401)
        assert response.json() == wrong_password.json()
        assert _comparable_headers(response) == _comparable_headers(wrong_password)


def _throttled_sign_in(stack: Stack, name: str, password: str) -> tuple[requests.Response, int]:
    """Trip the account limit, sign in; the answer, and its Retry-After checked against Redis.

    The wait must be what is left of this account's own window, rounded up: between what
    the counter's TTL was just before the answer and what it is just after.
    """
    _fail_until_the_limit(stack, name)
    counter = _account_counter(stack, name)
    left_before_ms = stack.redis.pttl(counter)
    response = _json_login(stack, name, password)
    left_after_ms = stack.redis.pttl(counter)
    retry_after = _assert_throttled(stack, response)
    assert math.ceil(left_after_ms / 1000) <= retry_after <= math.ceil(left_before_ms / 1000)
    return response, retry_after


def test_throttled_unknown_user_looks_like_a_throttled_real_one(stack: Stack) -> None:
    # The two waits differ only as the times the two windows opened do, which are the
    # attacker's own first failures: the wait tells nothing the attacker does not know.
    # Everything else must be the same, and each body the same function of its own wait.
    name, password = fresh_user(stack, "known")
    ghost = _same_length_unknown_name(name)

    real, real_wait = _throttled_sign_in(stack, name, password)
    unknown, unknown_wait = _throttled_sign_in(stack, ghost, password)

    assert real.json() == {"error": THROTTLED.format(seconds=real_wait)}
    assert unknown.json() == {"error": THROTTLED.format(seconds=unknown_wait)}
    for response in (real, unknown):
        assert int(response.headers["Content-Length"]) == len(response.content)
    # Retry-After and the body's length follow the wait; every other header is the same.
    assert set(_comparable_headers(real)) == set(_comparable_headers(unknown))
    assert _comparable_headers(real, "retry-after", "content-length") == _comparable_headers(
        unknown, "retry-after", "content-length"
    )


def test_unknown_user_and_wrong_password_take_similar_time(stack: Stack) -> None:
    # Several real accounts, so that none reaches its failure limit; interleaved, taking turns
    # at going first, so that both series meet the same machine. Each series' fastest answer
    # stands for its cost: a busy machine only ever adds time, so the minimum of a series
    # stays put where its median moves with whatever else runs. Skipping the hash for an
    # unknown name would make its answers some 30x faster than a wrong password's (about
    # 1 ms instead of 35 ms here).
    limit = _account_limit(stack)
    accounts = [fresh_user(stack, "timed")[0] for _ in range(-(-TIMING_ATTEMPTS // (limit - 1)))]
    timings: dict[str, list[float]] = {"wrong password": [], "unknown user": []}

    for attempt in range(TIMING_ATTEMPTS):
        real = accounts[attempt % len(accounts)]
        turns = [("wrong password", real), ("unknown user", _same_length_unknown_name(real))]
        for label, name in turns[:: 1 if attempt % 2 else -1]:
            started = time.perf_counter()
            response = _json_login(stack, name, "wrong-password")
            timings[label].append(time.perf_counter() - started)
            assert_refused(response, 401)

    fastest = {label: min(series) for label, series in timings.items()}
    assert max(fastest.values()) < 2 * min(fastest.values()), fastest
