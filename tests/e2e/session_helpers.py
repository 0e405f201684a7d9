"""Sessions made as the sign-in flow makes them, with a chosen amr and auth_time: for tests of
locations that ask how (`mfa`) or when (`max_age`) the user signed in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from e2e_helpers import cookie_header, get_page, set_cookies

from verifier.factors.methods import PASSWORD, TOTP
from verifier.sessions.store import NewSession, SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack

# The stack's own lifetimes (verifier defaults but for the grace, conftest's 60 s).
STORE_POLICY = SessionPolicy(
    idle_seconds=86_400, absolute_seconds=604_800, grace_seconds=60, max_sessions_per_user=50
)


def store_session(
    stack: Stack, user: str, amr: Iterable[str], auth_time: float | None = None
) -> NewSession:
    """A session created with the real SessionStore on the stack's Redis and key prefix."""

    async def create() -> NewSession:
        client = aioredis.Redis.from_url(stack.redis_server.url)
        try:
            store = SessionStore(client, KeySpace(stack.key_prefix), STORE_POLICY, time.time)
            return await store.create(user, amr=tuple(amr), auth_time=auth_time)
        finally:
            await client.aclose()

    return asyncio.run(create())


def two_factor_cookie(stack: Stack, user: str) -> str:
    """A Cookie header of a fresh pwd+otp session: the verifier's own access token, and the
    refresh token that the first request (a silent refresh) rotated."""
    session = store_session(stack, user, [PASSWORD, TOTP])
    first = get_page(
        stack, "/api/whoami", cookie=cookie_header(stack, refresh=str(session.refresh_token))
    )
    assert first.status_code == 200, first.text
    rotated = set_cookies(first)
    return cookie_header(stack, rotated[stack.access_cookie], rotated[stack.refresh_cookie])
