"""The re-check of an OpenID Provider's user through its userinfo endpoint, against a real
provider whose client has no refresh grant (so no refresh token is issued and the re-check asks
userinfo with the session's access token): a user deleted at the provider loses every session
within one refresh interval; the provider down keeps live sessions and logs nobody out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from conftest import RedisServer, Stack
from e2e_helpers import TIMEOUT, all_log_lines, wait_until
from oidc_fixtures import OIDC_RECHECK_SECONDS, PROVIDER_ID, OidcWorld, oidc_world, sign_in
from upstream_fixtures import audit_records, session_keys

pytestmark = pytest.mark.one_nginx

# Longer than any re-check waits here: a session that still answers was not re-checked.
DEADLINE_SECONDS = 20.0


@pytest.fixture
def userinfo_oidc(redis_server: RedisServer) -> Iterator[OidcWorld]:
    """A provider whose client may not use the refresh grant, and a stack of its own."""
    with oidc_world(
        redis_server,
        label="oidc-userinfo",
        refresh_grant=False,
        refresh_interval_seconds=OIDC_RECHECK_SECONDS,
    ) as world:
        yield world


def api(stack: Stack, session: requests.Session) -> requests.Response:
    """GET /api/whoami as an API client: 200 with the identity, or 401."""
    return session.get(
        stack.url("/api/whoami"), headers={"Accept": "application/json"}, timeout=TIMEOUT
    )


def signed_in(world: OidcWorld, sub: str) -> requests.Session:
    """A browser signed in through the provider."""
    browser = world.stack.new_session()
    answer = sign_in(browser, world.stack, sub)
    assert answer.status_code == 303, answer.text[:300]
    return browser


def upstream_tokens(stack: Stack, user: str) -> list[tuple[str, str]]:
    """(refresh token, access token) kept in Redis for each of the user's sessions."""
    kept = []
    for key in session_keys(stack, user):
        refresh, access = stack.redis.hmget(  # type: ignore[misc]
            key, "upstream_refresh_token", "upstream_access_token"
        )
        kept.append((refresh or "", access or ""))
    return kept


def checked_ms(stack: Stack, user: str) -> int:
    """The oldest last-check moment (ms) among the user's sessions."""
    moments = [int(stack.redis.hget(key, "checked_ms") or 0) for key in session_keys(stack, user)]  # type: ignore[arg-type]
    return min(moments)


def test_without_a_refresh_token_the_session_keeps_only_an_access_token_for_userinfo(
    userinfo_oidc: OidcWorld,
) -> None:
    signed_in(userinfo_oidc, "sub-ophelia")
    ((refresh, access),) = upstream_tokens(userinfo_oidc.stack, "ophelia")
    assert refresh == ""
    assert access != ""


def test_a_user_deleted_at_the_provider_loses_every_session_at_the_userinfo_recheck(
    userinfo_oidc: OidcWorld,
) -> None:
    stack = userinfo_oidc.stack
    first = signed_in(userinfo_oidc, "sub-otto")
    second = signed_in(userinfo_oidc, "sub-otto")
    assert all(refresh == "" for refresh, _ in upstream_tokens(stack, "otto"))
    # A re-check that the provider's userinfo still vouches for keeps the session and
    # moves its last check on.
    signed_in_ms = checked_ms(stack, "otto")

    def rechecked_and_kept() -> bool:
        kept = api(stack, first).status_code == 200
        return kept and checked_ms(stack, "otto") > signed_in_ms

    wait_until(rechecked_and_kept, "a userinfo re-check that keeps otto", DEADLINE_SECONDS)

    userinfo_oidc.provider.delete_account("sub-otto")

    wait_until(
        lambda: api(stack, first).status_code == 401,
        "otto's session refused after the provider deleted him (userinfo 401)",
        DEADLINE_SECONDS,
    )
    assert api(stack, second).status_code == 401
    assert session_keys(stack, "otto") == []
    (ended,) = audit_records(stack, "upstream.user_ended", user="otto")
    assert ended["source"] == f"oidc:{PROVIDER_ID}"
    assert audit_records(stack, "session.revoked", user="otto", cause="upstream")


def test_a_provider_outage_keeps_sessions_rechecked_through_userinfo(
    userinfo_oidc: OidcWorld,
) -> None:
    stack = userinfo_oidc.stack
    live = signed_in(userinfo_oidc, "sub-oscar")
    assert upstream_tokens(stack, "oscar")[0][0] == ""

    userinfo_oidc.provider.stop()

    def rechecked_and_kept() -> bool:
        kept = api(stack, live).status_code == 200
        lines = all_log_lines(stack)
        return kept and any("re-check of oscar through oidc:op failed" in line for line in lines)

    wait_until(
        rechecked_and_kept, "a failed userinfo re-check of oscar's session", DEADLINE_SECONDS
    )
    assert api(stack, live).status_code == 200
    assert session_keys(stack, "oscar")
    assert audit_records(stack, "upstream.user_ended", user="oscar") == []
