"""API tokens through real nginx (both builds) and the verifier: a script with
`Authorization: Bearer vrf_...` and no cookie reaches a protected API as the token's owner,
narrowed by its scope; the app never sees the token; every refusal has its exact status and
sets nothing.

Tokens and service accounts are made with the real `verifier` command, as an operator would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import jwt
import pytest
import requests
from e2e_helpers import (
    TIMEOUT,
    Burst,
    all_log_lines,
    burst,
    cookie_header,
    eventually,
    get_page,
    new_user,
    set_cookie_headers,
    sign_in,
    wait_until_every_worker_listens,
    watching_redis,
)
from prometheus_client.parser import text_string_to_metric_families
from token_helpers import (
    ECHO,
    assert_refused_alone,
    bearer,
    echoed,
    failures_key,
    make_token,
    service_account,
)

from verifier.apitokens import ApiToken
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Stack


def _refused_as_invalid(response: requests.Response) -> None:
    assert_refused_alone(response, 401)
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="verifier", error="invalid_token"'


# --- the way in -------------------------------------------------------------------------


def test_a_cron_style_script_reaches_a_protected_api_with_a_token_and_no_cookie(
    stack: Stack, tmp_path: Path
) -> None:
    owner = service_account(stack, "deployers")
    made = make_token(stack, owner, "path:/api/")
    # What a crontab line runs: a shell script, the token from its environment, curl.
    script = tmp_path / "nightly-report.sh"
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            set -eu
            curl --silent --show-error --fail \\
                 --header "Authorization: Bearer $VERIFIER_TOKEN" \\
                 --cookie-jar /dev/null \\
                 "$API_URL/api/headers"
            """
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        ["sh", str(script)],
        env={"PATH": os.environ["PATH"], "VERIFIER_TOKEN": made.token, "API_URL": stack.base_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    received = json.loads(result.stdout)
    assert received["x-auth-user"] == owner
    assert received["x-auth-groups"] == "deployers"
    assert received["x-auth-token-id"] == made.token_id
    assert "x-auth-session" not in received
    assert "authorization" not in received
    assert made.token not in result.stdout


def test_the_app_gets_the_owners_identity_and_a_signed_assertion_naming_the_token(
    stack: Stack,
) -> None:
    owner = service_account(stack, "deployers", "ops")
    made = make_token(stack, owner)
    answer = bearer(stack, ECHO, made.token)
    received = echoed(answer)
    assert set_cookie_headers(answer) == []
    assert received["x-auth-user"] == owner
    assert received["x-auth-groups"] == "deployers,ops"
    assert received["x-auth-token-id"] == made.token_id
    assert "x-auth-session" not in received
    assert "cookie" not in received
    claims = jwt.decode(received["x-auth-assertion"], options={"verify_signature": False})
    assert claims["sub"] == owner
    assert claims["token_id"] == made.token_id
    assert "sid" not in claims and "amr" not in claims
    # The demo app verifies the assertion against the JWKS, as an app should.
    whoami = bearer(stack, "/api/whoami", made.token, Accept="application/json")
    assert whoami.status_code == 200
    assert whoami.json()["token"] == made.token_id
    assert whoami.json()["session"] is None


def test_a_group_scope_narrows_the_groups_the_app_and_the_rules_see(stack: Stack) -> None:
    owner = service_account(stack, "deployers", "admins")
    made = make_token(stack, owner, "group:deployers")
    received = echoed(bearer(stack, ECHO, made.token))
    assert received["x-auth-groups"] == "deployers"
    # /admin/ admits the group admins (with mfa): the token no longer carries it.
    assert_refused_alone(bearer(stack, "/admin/", made.token), 403)


def test_a_token_scoped_to_api_is_refused_on_admin_with_403(stack: Stack) -> None:
    owner = service_account(stack, "admins")
    made = make_token(stack, owner, "path:/api/")
    assert bearer(stack, ECHO, made.token).status_code == 200
    refused = bearer(stack, "/admin/", made.token)
    assert_refused_alone(refused, 403)
    assert refused.json() == {"error": "forbidden", "user": owner}
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer realm="verifier", error="insufficient_scope"'
    )
    # Outside its path by a trick of spelling: nginx normalizes first.
    assert_refused_alone(bearer(stack, "/api/../admin/", made.token), 403)
    assert_refused_alone(bearer(stack, "/%61dmin/", made.token), 403)


def test_a_location_that_asks_a_session_for_a_second_factor_refuses_a_token(
    stack: Stack,
) -> None:
    # Nobody is there to step up: 403, never a 401 sending a script to a sign-in page.
    made = make_token(stack, service_account(stack))
    assert_refused_alone(bearer(stack, "/step-up/mfa", made.token), 403)
    assert_refused_alone(bearer(stack, "/step-up/recent", made.token), 403)


def test_central_rules_apply_to_tokens(stack: Stack) -> None:
    made = make_token(stack, service_account(stack, "staff"))
    assert bearer(stack, "/ruled/staff", made.token).status_code == 404  # allowed: the app's 404
    assert_refused_alone(bearer(stack, "/ruled/closed", made.token), 403)


# --- what the app never sees, and what it keeps ------------------------------------------


def test_the_app_never_sees_the_token_however_the_header_is_spelt(stack: Stack) -> None:
    made = make_token(stack, service_account(stack))
    for scheme in ("Bearer", "bearer", "BEARER"):
        session = stack.new_session()
        answer = session.get(
            stack.url(ECHO), headers={"Authorization": f"{scheme}   {made.token}"}, timeout=TIMEOUT
        )
        received = echoed(answer)
        assert "authorization" not in received
        assert made.token not in answer.text


def test_an_apps_own_authorization_header_still_reaches_the_app(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, access=signed.access)
    for own in ("Basic YXBwOmFwcC1zZWNyZXQ=", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"):
        answer = get_page(stack, ECHO, cookie=cookie, Authorization=own)
        received = echoed(answer)
        # The session decided (a header that is not ours is not the verifier's business)...
        assert received["x-auth-user"] == name
        # ...and the app got its own header, unchanged.
        assert received["authorization"] == own


def test_an_apps_own_authorization_header_without_a_session_is_still_a_sign_in(
    stack: Stack,
) -> None:
    answer = get_page(stack, ECHO, Authorization="Basic YXBwOmFwcC1zZWNyZXQ=")
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"


def test_a_token_decides_alone_even_beside_a_valid_session_cookie(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, signed.access, signed.refresh)
    owner = service_account(stack)
    made = make_token(stack, owner)
    good = get_page(stack, ECHO, cookie=cookie, Authorization=f"Bearer {made.token}")
    assert echoed(good)["x-auth-user"] == owner
    assert set_cookie_headers(good) == []
    # A bad token is refused, not rescued by the cookie: it was meant for the verifier.
    bad = get_page(stack, ECHO, cookie=cookie, Authorization=f"Bearer {ApiToken.mint()}")
    _refused_as_invalid(bad)


# --- every refusal: the exact status, nothing set ----------------------------------------


def test_an_unknown_token_is_401_and_sets_nothing(stack: Stack) -> None:
    _refused_as_invalid(bearer(stack, ECHO, str(ApiToken.mint())))


def test_an_expired_token_is_401_and_sets_nothing(stack: Stack) -> None:
    made = make_token(stack, service_account(stack))
    # Its end moved 3 s ahead, as if it had been made 90 days back: the record's expiry and
    # Redis's own deletion of it, as the store writes both.
    record = _record_key(stack, made.token)
    ends = int(stack.redis.time()[0]) + 3
    stack.redis.hset(record, "expires", ends)
    stack.redis.expireat(record, ends)
    # Valid until then, and cached by the workers that answer: never past its end.
    assert set(_burst(stack, made.token)) == {200}
    refused = eventually(
        lambda: bearer(stack, ECHO, made.token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    _refused_as_invalid(refused)
    assert set(_burst(stack, made.token)) == {401}


def test_a_revoked_token_is_401_and_sets_nothing(stack: Stack) -> None:
    made = make_token(stack, service_account(stack))
    assert bearer(stack, ECHO, made.token).status_code == 200
    revoked = stack.cli("tokens", "revoke", "--user", made.owner, made.token_id)
    assert revoked.returncode == 0, revoked.stderr
    refused = eventually(
        lambda: bearer(stack, ECHO, made.token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    _refused_as_invalid(refused)


def test_a_removed_owners_token_is_401_and_sets_nothing(stack: Stack) -> None:
    made = make_token(stack, service_account(stack))
    assert bearer(stack, ECHO, made.token).status_code == 200
    assert stack.cli("users", "remove", made.owner).returncode == 0
    refused = eventually(
        lambda: bearer(stack, ECHO, made.token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    _refused_as_invalid(refused)
    assert not stack.redis.exists(_record_key(stack, made.token))


def test_a_disabled_owners_token_is_401_and_sets_nothing(stack: Stack) -> None:
    made = make_token(stack, service_account(stack))
    assert bearer(stack, ECHO, made.token).status_code == 200
    assert stack.cli("users", "disable", made.owner).returncode == 0
    refused = eventually(
        lambda: bearer(stack, ECHO, made.token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    _refused_as_invalid(refused)


def test_logging_the_owner_out_everywhere_voids_their_tokens(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    made = make_token(stack, name)
    assert bearer(stack, ECHO, made.token).status_code == 200
    logout = requests.post(
        stack.url("/auth/logout?all=1"),
        headers={"Cookie": cookie_header(stack, signed.access, signed.refresh)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert logout.status_code == 303
    refused = eventually(
        lambda: bearer(stack, ECHO, made.token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    _refused_as_invalid(refused)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer vrf_",
        "Bearer vrf_tooshort",
        "Token {token}",
        "{token}",
        "Bearer {token} {token}",
        "Bearer {token}x",
        "Bearer {broken}",
        "Basic dnJmXw== vrf_",
    ],
)
def test_a_malformed_header_is_401_never_a_500_and_sets_nothing(stack: Stack, header: str) -> None:
    token = str(ApiToken.mint())
    broken = token[:-1] + ("A" if token[-1] != "A" else "B")  # its checksum fails
    answer = requests.get(
        stack.url(ECHO),
        headers={"Authorization": header.format(token=token, broken=broken)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    _refused_as_invalid(answer)


@pytest.mark.parametrize("control", ["\x01", "\x0b", "\x1f", "\x7f"])
def test_a_header_with_a_control_character_is_401_from_nginx_and_sets_nothing(
    stack: Stack, control: str
) -> None:
    raw = f"Bearer vrf_{control}{'a' * 48}".encode("latin-1")
    answer = requests.get(
        stack.url(ECHO), headers={"Authorization": raw}, allow_redirects=False, timeout=TIMEOUT
    )
    _refused_as_invalid(answer)


def test_a_throttled_address_is_429_with_retry_after_and_sets_nothing(stack: Stack) -> None:
    made = make_token(stack, service_account(stack))
    key = failures_key(stack)
    limit = int(stack.env["VERIFIER_LOGIN_MAX_FAILURES_PER_ADDRESS"])
    try:
        # One failure short of the limit, as if this address had been failing a while.
        stack.redis.set(key, limit - 1, ex=60)
        _refused_as_invalid(bearer(stack, ECHO, str(ApiToken.mint())))
        throttled = bearer(stack, ECHO, str(ApiToken.mint()))
        assert_refused_alone(throttled, 429)
        assert throttled.json()["error"] == "too_many_requests"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        # A valid token no worker has checked yet is refused unchecked too.
        assert_refused_alone(bearer(stack, ECHO, made.token), 429)
        # Nothing counted while refused: the window ends when it said.
        assert int(stack.redis.get(key) or 0) == limit
    finally:
        stack.redis.delete(key)
    assert bearer(stack, ECHO, made.token).status_code == 200


# --- revocation on every worker, and the cost on repeat -----------------------------------


def _burst(stack: Stack, token: str, count: int = 40) -> list[int]:
    with ThreadPoolExecutor(max_workers=12) as pool:
        return list(pool.map(lambda _: bearer(stack, ECHO, token).status_code, range(count)))


def _every_worker_vouches_for(stack: Stack, token: str) -> Burst:
    """Send bursts with the token until one is answered 204 by every worker without a single
    Redis command naming the token's digest: each worker vouched for it from its cache."""
    digest = ApiToken.parse(token).digest
    auth = {"Authorization": f"Bearer {token}"}

    def probe() -> tuple[Burst, list[str]]:
        with watching_redis(stack) as seen:
            answered = burst(stack, "", headers=auth)
        return answered, [command for command in seen if digest in command]

    answered, _ = eventually(
        probe,
        lambda found: found[0].every_worker(stack, 204) and not found[1],
        what="a burst every worker answered from its cache, no Redis command on the token",
    )
    assert set(answered.statuses) == {200}, answered.statuses
    return answered


def test_a_valid_token_on_repeat_costs_no_redis_round_trip(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    made = make_token(stack, service_account(stack))
    # Each worker reads the token once; after that, every worker admits a whole burst of it
    # without asking Redis anything about it (Redis's MONITOR feed, every command).
    _every_worker_vouches_for(stack, made.token)


def test_a_revoked_token_is_refused_on_every_worker_at_once(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    made = make_token(stack, service_account(stack))
    _every_worker_vouches_for(stack, made.token)
    stack.cli("tokens", "revoke", "--user", made.owner, made.token_id)
    # Each worker, which vouched for the token from its cache (for up to 60 s here), now
    # refuses it: it heard the revocation. Well inside that minute, or the test fails.
    auth = {"Authorization": f"Bearer {made.token}"}
    denied = eventually(
        lambda: burst(stack, "", headers=auth),
        lambda answered: answered.every_worker(stack, 401),
        what="every worker to refuse the revoked token",
    )
    assert set(denied.statuses) == {401}, denied.statuses
    assert all(set_cookie_headers(response) == [] for response in denied.responses)


def _record_key(stack: Stack, token: str) -> str:
    return KeySpace(stack.key_prefix).api_token(ApiToken.parse(token).digest)


# --- the header, as nginx parses it ------------------------------------------------------


def test_two_authorization_headers_never_smuggle_a_token_to_the_app(stack: Stack) -> None:
    made = make_token(stack, service_account(stack))
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    raw = (
        f"GET {ECHO} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: {cookie_header(stack, access=signed.access)}\r\n"
        "Authorization: Basic YXBwOmFwcC1zZWNyZXQ=\r\n"
        f"Authorization: Bearer {made.token}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", stack.listen_port), timeout=TIMEOUT) as sock:
        sock.sendall(raw.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    # nginx refuses a repeated Authorization header outright (400), on both builds.
    assert status == 400, answer[:300]
    assert made.token.encode() not in answer


# --- what is counted, and what is recorded -----------------------------------------------

USES = 6


# Longer than a worker's flush interval (about a second): two scrapes this far apart that
# agree hold every count the earlier tests' requests made.
_SETTLE_GAP_SECONDS = 2.5


def _settled_counts(stack: Stack) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The scraped counts once the workers have flushed what earlier tests' requests made."""

    def two_scrapes() -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], float], ...]:
        first = _scraped(stack)
        time.sleep(_SETTLE_GAP_SECONDS)
        return first, _scraped(stack)

    first, _ = eventually(
        two_scrapes, lambda pair: pair[0] == pair[1], what="the counts of earlier requests"
    )
    return first


def _scraped(stack: Stack) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(stack.metrics_url, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_uses_are_counted_not_recorded_and_every_refusal_is_counted_by_reason(
    stack: Stack,
) -> None:
    made = make_token(stack, service_account(stack), "path:/api/")
    expected = {
        _key("verifier_auth_decisions_total", outcome="token", reason=""): USES,
        _key("verifier_auth_decisions_total", outcome="denied", reason="bearer_refused"): 1,
        _key("verifier_auth_decisions_total", outcome="forbidden", reason=""): 1,
        _key("verifier_api_token_refusals_total", reason="unknown"): 1,
        _key("verifier_api_token_refusals_total", reason="out_of_scope"): 1,
    }
    before = _settled_counts(stack)
    for _ in range(USES):
        assert bearer(stack, ECHO, made.token).status_code == 200
    _refused_as_invalid(bearer(stack, ECHO, str(ApiToken.mint())))
    assert_refused_alone(bearer(stack, "/admin/", made.token), 403)

    def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        after = _scraped(stack)
        return {key: after.get(key, 0.0) - before.get(key, 0.0) for key in expected}

    # Workers flush their counts about once a second: wait for them, then compare exactly.
    assert (
        eventually(
            counted, lambda found: found == expected, what=f"the counts to grow by {expected}"
        )
        == expected
    )
    # Each use is counted only: the token's id is in the log for its refusal alone.
    named = [line for line in all_log_lines(stack) if made.token_id in line]
    assert len([line for line in named if "token.refused" in line]) == 1, named
    assert not [line for line in named if "token.refused" not in line and "forbidden" not in line]
    assert not any(made.token in line for line in all_log_lines(stack))
