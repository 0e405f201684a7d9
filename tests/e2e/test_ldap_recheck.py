"""The re-check at rotation, against a real slapd: a user disabled in the directory loses every
session within one refresh interval, groups follow the directory, and an outage logs nobody
out (unless `max_stale_seconds` says how long it may last)."""

from __future__ import annotations

import threading

import pytest
import requests
from conftest import Stack
from e2e_helpers import TIMEOUT, log_records, new_user, set_cookie_headers, wait_until
from upstream_fixtures import (
    LDAP_GROUPS,
    LDAP_RECHECK_SECONDS,
    SourcesStacks,
    audit_records,
    session_keys,
)

from verifier.demo.directory import BASE_DN, DemoDirectory

pytestmark = pytest.mark.one_nginx

# Longer than any re-check waits here, and far shorter than the stacks' 300 s access tokens:
# a session that still answers after it was not re-checked at all.
DEADLINE_SECONDS = 20.0


def api(stack: Stack, session: requests.Session) -> requests.Response:
    """GET /api/whoami as an API client: 200 with the identity, or 401 (no redirect)."""
    return session.get(
        stack.url("/api/whoami"), headers={"Accept": "application/json"}, timeout=TIMEOUT
    )


def access_max_age(response: requests.Response) -> int:
    """The Max-Age of the access cookie a response set."""
    (cookie,) = [c for c in set_cookie_headers(response) if c.startswith("verifier-access=")]
    return int(cookie.split("Max-Age=")[1].split(";")[0])


def test_a_user_locked_in_the_directory_loses_every_session_within_one_refresh_interval(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    password = directory.passwords["dave"]
    first = ldap_stack.new_session()
    signed_in = first.post(
        ldap_stack.url("/auth/login"),
        data={"username": "dave", "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    second = ldap_stack.login("dave", password)
    assert api(ldap_stack, first).status_code == 200
    assert api(ldap_stack, second).status_code == 200
    # The access token lives no longer than the next re-check is due: the refresh that asks
    # the directory comes within one interval, without any call on the valid-token path.
    assert access_max_age(signed_in) <= LDAP_RECHECK_SECONDS

    directory.lock("dave")
    try:
        wait_until(
            lambda: api(ldap_stack, first).status_code == 401,
            "dave's first session refused after the lock",
            DEADLINE_SECONDS,
        )
        # Every session of dave ended at once, not only the one that asked.
        assert session_keys(ldap_stack, "dave") == []
        assert api(ldap_stack, second).status_code == 401
        (ended,) = audit_records(ldap_stack, "upstream.user_ended", user="dave")
        assert ended["source"] == "ldap:corp"
        assert "disabled" in ended["reason"]
        assert audit_records(ldap_stack, "session.revoked", user="dave", cause="upstream")
        # Nor can dave sign in again.
        response = ldap_stack.new_session().post(
            ldap_stack.url("/auth/login"),
            json={"username": "dave", "password": password},
            timeout=TIMEOUT,
        )
        assert response.status_code == 401
    finally:
        directory.unlock("dave")


def test_groups_follow_the_directory_at_the_recheck(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    session = ldap_stack.login("frank", directory.passwords["frank"])
    assert api(ldap_stack, session).json()["groups"] == []

    directory.add_member(f"cn=engineers,ou=groups,{BASE_DN}", "frank")

    # engineers, and Staff through it: replaced at the next re-check, the session kept.
    wait_until(
        lambda: api(ldap_stack, session).json()["groups"] == ["corp-engineers", "staff"],
        "frank's groups to follow the directory",
        DEADLINE_SECONDS,
    )
    record = ldap_stack.redis.hgetall(f"{ldap_stack.key_prefix}:{{frank}}:user")
    assert record["upstream_groups"] == "corp-engineers,staff"


def test_local_groups_of_a_directory_user_are_kept_apart_and_survive_the_recheck(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    session = ldap_stack.login("carol", directory.passwords["carol"])
    assert ldap_stack.cli("users", "groups", "carol", "--add", "auditors").returncode == 0

    shown = api(ldap_stack, session).json()["groups"]

    assert shown == ["auditors", "staff"]
    record = ldap_stack.redis.hgetall(f"{ldap_stack.key_prefix}:{{carol}}:user")
    assert record["groups"] == "auditors"
    assert record["upstream_groups"] == "staff"


def ldap_sources(directory: DemoDirectory, **settings: object) -> str:
    """A sources file for an own directory, re-checked every second, quick to give up."""
    return directory.sources_entry(
        "corp", refresh_interval_seconds=1, timeout_seconds=1, **LDAP_GROUPS, **settings
    )


def test_a_directory_outage_keeps_live_sessions_and_fails_new_sign_ins_closed(
    sources_stack: SourcesStacks, own_directory: DemoDirectory
) -> None:
    stack = sources_stack(ldap_sources(own_directory))
    local_name, local_password = new_user(stack, "local")
    session = stack.login("alice", own_directory.passwords["alice"])

    own_directory.stop()

    # Refreshes keep coming (the token lives 1 s) and their re-checks fail: still signed in.
    def still_in_after_a_failed_recheck() -> bool:
        response = api(stack, session)
        assert response.status_code == 200, response.text
        return _recheck_failed(stack)

    wait_until(still_in_after_a_failed_recheck, "a failed re-check of alice", DEADLINE_SECONDS)
    assert api(stack, session).status_code == 200
    assert audit_records(stack, "upstream.user_ended") == []
    # A new sign-in through the directory fails closed, and says why.
    refused = stack.new_session().post(
        stack.url("/auth/login"),
        json={"username": "bob", "password": own_directory.passwords["bob"]},
        timeout=TIMEOUT,
    )
    assert refused.status_code == 503, refused.text
    assert "directory cannot be reached" in refused.json()["error"]
    assert refused.headers["Retry-After"] == "30"
    assert set_cookie_headers(refused) == []
    assert session_keys(stack, "bob") == []
    # Local users are not affected.
    assert api(stack, stack.login(local_name, local_password)).status_code == 200

    own_directory.start()
    wait_until(
        lambda: (
            stack.new_session()
            .post(
                stack.url("/auth/login"),
                json={"username": "bob", "password": own_directory.passwords["bob"]},
                timeout=TIMEOUT,
            )
            .status_code
            == 200
        ),
        "bob signing in again once the directory is back",
        DEADLINE_SECONDS,
    )


def _recheck_failed(stack: Stack) -> bool:
    return any(
        "re-check of alice through ldap:corp failed" in str(record.get("message", ""))
        for record in log_records(stack)
    )


def test_a_frozen_directory_fails_the_sign_in_in_its_timeout_and_hangs_no_worker(
    sources_stack: SourcesStacks, own_directory: DemoDirectory
) -> None:
    stack = sources_stack(ldap_sources(own_directory))
    local_name, local_password = new_user(stack, "local")

    own_directory.freeze()  # it keeps its ports, and answers nothing
    try:
        answers: list[int] = []
        # Several at once: more than the workers, each stuck on the directory if anything
        # waited for it without a bound.
        threads = [
            threading.Thread(
                target=lambda: answers.append(
                    stack.new_session()
                    .post(
                        stack.url("/auth/login"),
                        json={"username": "bob", "password": own_directory.passwords["bob"]},
                        timeout=TIMEOUT,
                    )
                    .status_code
                )
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        local = stack.login(local_name, local_password)
        for thread in threads:
            thread.join()
        assert answers == [503, 503, 503, 503]
        assert api(stack, local).status_code == 200
    finally:
        own_directory.thaw()


def test_an_outage_longer_than_max_stale_ends_the_session(
    sources_stack: SourcesStacks, own_directory: DemoDirectory
) -> None:
    stack = sources_stack(ldap_sources(own_directory, max_stale_seconds=2))
    session = stack.login("alice", own_directory.passwords["alice"])

    own_directory.stop()

    wait_until(
        lambda: api(stack, session).status_code == 401,
        "alice's session ended past max_stale_seconds",
        DEADLINE_SECONDS,
    )
    assert session_keys(stack, "alice") == []
    (ended,) = audit_records(stack, "upstream.user_ended", user="alice")
    assert "max_stale_seconds" in ended["reason"]
