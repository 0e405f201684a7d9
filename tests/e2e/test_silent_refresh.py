"""Silent refresh through nginx: rotation, both cookies, the grace window and replay.

The main stack's grace window (60 s) outlasts every test; the replay test ends it by moving
the session's grace deadline into the past in Redis, as if the rotation were long ago.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from e2e_helpers import (
    cookie_header,
    expired_access_token,
    get_page,
    new_user,
    set_cookie_headers,
    set_cookies,
    sign_in,
)

from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack


def test_expired_access_token_is_refreshed_inside_the_request(expiring_stack: Stack) -> None:
    stack = expiring_stack
    name, password = new_user(stack)
    session = stack.login(name, password)
    # At least the access cookie's Max-Age (and the token's life): the jar drops it.
    time.sleep(stack.access_ttl_seconds + 0.5)

    response = session.get(stack.url("/api/whoami"), allow_redirects=False, timeout=10)

    sent = response.request.headers["Cookie"]
    assert stack.refresh_cookie in sent
    assert stack.access_cookie not in sent
    assert response.status_code == 200
    assert response.json()["user"] == name
    lines = set_cookie_headers(response)
    assert len(lines) == 2, lines  # two separate headers, on nginx < 1.23 and >= 1.23 alike
    cookies = set_cookies(response)
    assert set(cookies) == {stack.access_cookie, stack.refresh_cookie}
    assert "no-store" in response.headers["Cache-Control"]
    # The browser (here: requests' jar) keeps browsing on the new pair without a redirect.
    # (Whether its 2 s access token is still good by then depends on the machine; the main
    # stack's rotation test proves a fresh pair is taken as it is.)
    again = session.get(stack.url("/api/whoami"), allow_redirects=False, timeout=10)
    assert again.status_code == 200
    assert (
        f"{stack.refresh_cookie}={cookies[stack.refresh_cookie]}" in again.request.headers["Cookie"]
    )


def test_rotation_replaces_the_refresh_token_and_keeps_the_session(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    expired = expired_access_token(stack, name, signed.session_id)

    response = get_page(stack, cookie=cookie_header(stack, expired, signed.refresh))

    assert response.status_code == 200
    new = set_cookies(response)
    assert new[stack.refresh_cookie] != signed.refresh
    assert new[stack.refresh_cookie].rsplit(".", 2)[1] == signed.session_id
    assert response.json()["session"] == signed.session_id
    # The new pair is taken as it is: its access token passes without another rotation.
    follow_up = get_page(
        stack, cookie=cookie_header(stack, new[stack.access_cookie], new[stack.refresh_cookie])
    )
    assert follow_up.status_code == 200
    assert set_cookie_headers(follow_up) == []


def test_twenty_parallel_requests_with_one_expired_token_all_succeed(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(
        stack, expired_access_token(stack, name, signed.session_id), signed.refresh
    )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: get_page(stack, cookie=cookie), range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    rotated = [r for r in responses if stack.refresh_cookie in set_cookies(r)]
    assert len(rotated) == 1, "exactly one request rotates; the others ride the grace window"
    assert all(stack.access_cookie in set_cookies(r) for r in responses)
    live = stack.redis.zrange(f"{stack.key_prefix}:{{{name}}}:sessions", 0, -1)
    assert live == [signed.session_id]
    # The one new refresh token works; the session was not revoked by the burst.
    new_refresh = set_cookies(rotated[0])[stack.refresh_cookie]
    follow_up = get_page(stack, cookie=cookie_header(stack, refresh=new_refresh))
    assert follow_up.status_code == 200


def test_previous_refresh_token_inside_grace_gets_an_access_token_only(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    first = get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh))
    assert stack.refresh_cookie in set_cookies(first)

    second = get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh))

    assert second.status_code == 200
    assert set(set_cookies(second)) == {stack.access_cookie}


def test_refresh_token_reused_after_grace_window_revokes_the_session(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    rotated = get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh))
    new_refresh = set_cookies(rotated)[stack.refresh_cookie]
    new_access = set_cookies(rotated)[stack.access_cookie]
    # As if the rotation had happened a whole grace window ago.
    session_key = KeySpace(stack.key_prefix).session(name, signed.session_id)
    stack.redis.hset(session_key, "previous_until_ms", int(time.time() * 1000) - 1)

    replay = get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh))

    assert replay.status_code == 401
    assert set_cookie_headers(replay) == []
    # The thief's replay ended the session for everyone holding it, the rightful user too.
    assert get_page(stack, cookie=cookie_header(stack, refresh=new_refresh)).status_code == 401
    assert get_page(stack, cookie=cookie_header(stack, access=new_access)).status_code == 401
    assert not stack.redis.exists(session_key)


def test_refresh_token_two_generations_back_revokes_the_session(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    first = set_cookies(get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh)))
    second = get_page(stack, cookie=cookie_header(stack, refresh=first[stack.refresh_cookie]))
    assert stack.refresh_cookie in set_cookies(second)

    # The original token is now two rotations old: outside any grace, whatever the clock says.
    replay = get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh))

    assert replay.status_code == 401
    assert set_cookie_headers(replay) == []
    latest = set_cookies(second)[stack.refresh_cookie]
    assert get_page(stack, cookie=cookie_header(stack, refresh=latest)).status_code == 401
