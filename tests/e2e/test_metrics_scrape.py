"""Metrics through the real stack: nginx, gunicorn with 2 workers, redis-server.

A stack of the test's own (its counts start at zero) signs in, checks, refreshes, replays,
logs out and fails a password; the CLI ends sessions (end-all, passwd, remove); then the
master's exposition on VERIFIER_METRICS_BIND must show the sums over both workers. Workers
flush once a second, so every figure is waited for (`eventually`), never assumed after a
sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests
from conftest import Stack, StackFactory
from e2e_helpers import (
    TIMEOUT,
    cookie_header,
    eventually,
    get_page,
    new_user,
    post_logout,
    run_cli,
    set_cookies,
    sign_in,
)
from factor_helpers import enrolled_user, password_step, pending_cookie_name, post_code
from prometheus_client.parser import text_string_to_metric_families

from verifier.demo.processes import LOOPBACK, free_port

pytestmark = pytest.mark.one_nginx

Key = tuple[str, frozenset[tuple[str, str]]]
Samples = dict[Key, float]
ALLOWED_CHECKS = 5


def _scrape(stack: Stack) -> Samples:
    response = requests.get(stack.metrics_url, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _shown(samples: Samples, expected: Mapping[Key, float]) -> dict[Key, float | None]:
    return {key: samples.get(key) for key in expected}


def _key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


def _refresh(stack: Stack, refresh: str) -> requests.Response:
    # The refresh cookie alone, as a browser sends it once the access cookie has expired.
    return get_page(stack, cookie=cookie_header(stack, refresh=refresh))


def test_every_flow_is_counted_once_summed_over_the_workers(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    name, password = new_user(stack)

    first = sign_in(stack, name, password)
    wrong = requests.post(
        stack.url("/auth/login"),
        json={"username": name, "password": password + "-wrong"},
        timeout=TIMEOUT,
    )
    assert wrong.status_code == 401
    # Every worker's cache trusted (its revocation channel confirmed by its own heartbeat),
    # so that the checks below are answered from it once each worker has asked Redis.
    eventually(
        lambda: _scrape(stack),
        lambda found: found.get(_key("verifier_revocation_channel_up")) == 1,
        what="every worker's revocation channel up",
    )
    allowed = [
        get_page(stack, cookie=cookie_header(stack, access=first.access)).status_code
        for _ in range(ALLOWED_CHECKS)
    ]
    assert allowed == [200] * ALLOWED_CHECKS
    assert get_page(stack).status_code == 401  # no cookie at all
    # Signed in, but the central rules close this path to everybody (conftest's E2E_RULES).
    closed = get_page(stack, "/ruled/closed", cookie=cookie_header(stack, access=first.access))
    assert closed.status_code == 403
    # A -> B (rotated), A again inside the grace window (grace), B -> C (rotated), then A,
    # now spent: a replay, which revokes the session.
    rotated = _refresh(stack, first.refresh)
    assert rotated.status_code == 200
    second_refresh = set_cookies(rotated)[stack.refresh_cookie]
    assert _refresh(stack, first.refresh).status_code == 200
    assert _refresh(stack, second_refresh).status_code == 200
    assert _refresh(stack, first.refresh).status_code == 401
    # A second session, signed out; a third, ended by the operator's command.
    second = sign_in(stack, name, password)
    logout = post_logout(stack, cookie_header(stack, second.access, second.refresh))
    assert logout.status_code == 200
    sign_in(stack, name, password)
    assert stack.cli("sessions", "end-all", name).returncode == 0
    # The CLI's other revocations: a password change, then the user's removal.
    sign_in(stack, name, password)
    new_password = password + "-new"
    assert stack.cli("users", "passwd", name, stdin=new_password + "\n").returncode == 0
    sign_in(stack, name, new_password)
    assert stack.cli("users", "remove", name).returncode == 0

    expected = {
        _key("verifier_signins_total", outcome="ok"): 5,
        _key("verifier_signins_total", outcome="bad_credentials"): 1,
        _key("verifier_signins_total", outcome="throttled"): 0,
        _key("verifier_auth_decisions_total", outcome="allowed", reason=""): ALLOWED_CHECKS,
        _key("verifier_auth_decisions_total", outcome="refreshed", reason=""): 2,
        _key("verifier_auth_decisions_total", outcome="grace", reason=""): 1,
        _key("verifier_auth_decisions_total", outcome="denied", reason="no_token"): 1,
        _key("verifier_auth_decisions_total", outcome="denied", reason="refresh_replayed"): 1,
        _key("verifier_auth_decisions_total", outcome="forbidden", reason=""): 1,
        _key("verifier_auth_decisions_total", outcome="store_error", reason=""): 0,
        _key("verifier_refreshes_total", outcome="rotated"): 2,
        _key("verifier_refreshes_total", outcome="grace"): 1,
        _key("verifier_refresh_replays_total"): 1,
        _key("verifier_sessions_revoked_total", cause="replay"): 1,
        _key("verifier_sessions_revoked_total", cause="logout"): 1,
        _key("verifier_sessions_revoked_total", cause="admin"): 1,
        _key("verifier_sessions_revoked_total", cause="password_change"): 1,
        _key("verifier_sessions_revoked_total", cause="removal"): 1,
        _key("verifier_sessions_revoked_total", cause="logout_everywhere"): 0,
        # Every /auth answer is timed: 5 allowed, 1 without a cookie, 1 forbidden, 4 refresh
        # attempts.
        _key("verifier_auth_duration_seconds_count"): ALLOWED_CHECKS + 1 + 1 + 4,
        _key("verifier_redis_errors_total", store="sessions"): 0,
        _key("verifier_redis_errors_total", store="users"): 0,
        # Both workers subscribed (livemin over the live workers).
        _key("verifier_revocation_channel_up"): 1,
    }
    samples = eventually(
        lambda: _scrape(stack),
        lambda found: _shown(found, expected) == expected,
        what=f"the scrape to show {expected}",
    )

    # Each check with an access token (the allowed ones and the forbidden one) asks the
    # worker's cache once: a hit, or a miss that went to Redis. Which worker served which
    # check is up to nginx, but each worker misses only the first time it sees the session
    # (the checks are one after another): the rest are hits.
    hits = _value(samples, "verifier_liveness_cache_lookups_total", result="hit")
    misses = _value(samples, "verifier_liveness_cache_lookups_total", result="miss")
    assert hits is not None and misses is not None
    assert hits + misses == ALLOWED_CHECKS + 1
    assert 1 <= misses <= stack.workers
    assert hits >= ALLOWED_CHECKS + 1 - stack.workers
    # Each miss and refresh is a sessions call; each sign-in reads the user.
    session_calls = _value(samples, "verifier_redis_call_duration_seconds_count", store="sessions")
    user_calls = _value(samples, "verifier_redis_call_duration_seconds_count", store="users")
    assert session_calls is not None and session_calls >= misses + 4
    assert user_calls is not None and user_calls >= 5
    (build,) = [key for key in samples if key[0] == "verifier_build_info"]
    assert samples[build] == 1
    # No user name in any label, anywhere.
    assert all(name not in value for _, labels in samples for _, value in labels)


def test_the_second_step_of_a_sign_in_is_counted_by_outcome(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    user = enrolled_user(stack, "metrics-totp")  # one ordinary sign-in, to enrol

    waiting = password_step(stack, user.name, user.password)
    assert post_code(waiting, stack, code=user.app.wrong_code()).status_code == 401
    assert post_code(waiting, stack, code="").status_code == 400
    assert post_code(waiting, stack, code=user.app.code()).status_code == 303
    expired = stack.new_session()
    expired.cookies.set(pending_cookie_name(stack), "0" * 43)
    assert post_code(expired, stack, code=user.app.code()).status_code == 303

    expected = {
        _key("verifier_signins_total", outcome="ok"): 2,
        _key("verifier_signins_total", outcome="second_factor_required"): 1,
        _key("verifier_signins_total", outcome="second_factor_bad_code"): 1,
        _key("verifier_signins_total", outcome="second_factor_bad_input"): 1,
        _key("verifier_signins_total", outcome="second_factor_expired"): 1,
        _key("verifier_signins_total", outcome="other"): 0,
    }
    eventually(
        lambda: _scrape(stack),
        lambda found: _shown(found, expected) == expected,
        what=f"the scrape to show {expected}",
    )


def test_the_metrics_are_served_on_their_own_port_and_never_through_nginx(
    stack: Stack,
) -> None:
    assert stack.metrics_url.startswith(f"http://{LOOPBACK}:")
    assert "verifier_auth_decisions_total" in requests.get(stack.metrics_url, timeout=10).text

    anonymous = get_page(stack, "/metrics")
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    signed_in = get_page(stack, "/metrics", cookie=cookie_header(stack, access=signed.access))

    # nginx's /metrics is the protected app's path like any other: a sign-in is asked for,
    # and once signed in the app has no such page.
    assert (anonymous.status_code, signed_in.status_code) == (401, 404)
    assert "verifier_" not in anonymous.text + signed_in.text


def test_with_metrics_off_the_master_listens_on_the_service_port_alone(
    fresh_stack: StackFactory,
) -> None:
    on = fresh_stack()
    off = fresh_stack(VERIFIER_METRICS_BIND="off")

    metrics_port = int(on.env["VERIFIER_METRICS_BIND"].rsplit(":", 1)[1])
    assert _listening_ports(on) == {_service_port(on), metrics_port}
    assert _listening_ports(off) == {_service_port(off)}


def _service_port(stack: Stack) -> int:
    return int(stack.verifier_url.rsplit(":", 1)[1])


def _listening_ports(stack: Stack) -> set[int]:
    """TCP ports the gunicorn master (the `verifier serve` process) listens on."""
    pid = stack.processes["verifier"].pid
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def test_a_redis_outage_counts_store_errors_and_the_channel_going_down(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack()
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    up = _key("verifier_revocation_channel_up")
    eventually(lambda: _scrape(stack), lambda found: found.get(up) == 1, what="the channel up")
    stack.redis.save()  # the restarted server reloads this: other stacks' data survives

    stack.stop_redis()
    try:
        # The refresh cookie alone: this check must ask Redis, whatever a cache knows.
        answer = _refresh(stack, signed.refresh)
        eventually(
            lambda: _scrape(stack), lambda found: found.get(up) == 0, what="the channel down"
        )
    finally:
        stack.start_redis()

    assert (answer.status_code, answer.headers.get("Retry-After")) == (503, "5")
    store_error = _key("verifier_auth_decisions_total", outcome="store_error", reason="")
    after = eventually(
        lambda: _scrape(stack),
        lambda found: found.get(store_error) == 1 and found.get(up) == 1,
        what="one store error counted and the channel up again",
    )
    assert (after.get(store_error), after.get(up)) == (1, 1)
    errors = _value(after, "verifier_redis_errors_total", store="sessions")
    assert errors is not None and errors >= 1


def test_a_replaced_worker_keeps_its_counts_and_drops_its_live_gauge(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack()
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, access=signed.access)
    assert {get_page(stack, cookie=cookie).status_code for _ in range(10)} == {200}
    allowed = _key("verifier_auth_decisions_total", outcome="allowed", reason="")
    up = _key("verifier_revocation_channel_up")
    eventually(
        lambda: _scrape(stack), lambda found: found.get(allowed) == 10, what="10 allowed checks"
    )
    workers = _workers(stack)
    assert len(workers) == stack.workers
    metrics_dir = Path(stack.env["VERIFIER_METRICS_DIR"])
    victim = workers[0]
    assert (metrics_dir / f"gauge_livemin_{victim}.db").exists()

    # A worker killed outright (as by the OOM killer): no shutdown, no last flush. The
    # master reaps it (child_exit) and starts another.
    os.kill(victim, signal.SIGKILL)
    replaced = eventually(
        lambda: _workers(stack),
        lambda now: len(now) == stack.workers and victim not in now,
        what=f"the master to replace worker {victim}",
    )
    assert len(replaced) == stack.workers and victim not in replaced
    after = eventually(
        lambda: _scrape(stack), lambda found: found.get(up) == 1, what="the channel up again"
    )

    assert not (metrics_dir / f"gauge_livemin_{victim}.db").exists()
    assert (metrics_dir / f"counter_{victim}.db").exists()
    # Its counts stay in the sum: the scrape before the kill had all 10, so they were flushed.
    assert (after.get(allowed), after.get(up)) == (10, 1)


def test_serve_refuses_a_metrics_address_in_use_by_name(stack: Stack) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        held = f"{LOOPBACK}:{holder.getsockname()[1]}"
        result = run_cli(
            {**stack.env, "VERIFIER_METRICS_BIND": held},
            "serve",
            "--bind",
            f"{LOOPBACK}:{free_port()}",
            expect=2,
        )

    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        f"verifier: configuration error: VERIFIER_METRICS_BIND: cannot listen on {held}: "
    )


def _workers(stack: Stack) -> list[int]:
    """The gunicorn master's children (its workers), by PID."""
    master = stack.processes["verifier"].pid
    found: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        with contextlib.suppress(OSError):
            found.update(int(pid) for pid in (task / "children").read_text().split())
    return sorted(found)
