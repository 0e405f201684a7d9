"""Helpers of the API token tests: service accounts and tokens, bearer requests through
nginx, and what a refused one must not carry.

Accounts and tokens are made in this process, with the same stores as `verifier users add
--service` and `verifier tokens create` (a Python process per token would cost seconds on a
busy machine); the commands themselves are tested in test_tokens_cli.py.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import requests
from e2e_helpers import TIMEOUT, set_cookie_headers

from verifier.apitokens import Scope, TokenStore
from verifier.settings import load_settings
from verifier.store import RedisClient, client_for
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore
from verifier.users.throttle import address_counter_key

if TYPE_CHECKING:
    from conftest import Stack

# The demo app's header echo: every header it received, with lower-case names.
ECHO = "/api/headers"


@dataclass(frozen=True)
class Made:
    """A token the CLI made: its owner, its secret (as printed once) and its id."""

    owner: str
    token: str
    token_id: str


T = TypeVar("T")
DAY = 86_400


def _with_redis(stack: Stack, work: Callable[[RedisClient, KeySpace], Awaitable[T]]) -> T:
    """Run `work` on the stack's own Redis (whichever kind), in a thread of its own."""

    async def main() -> T:
        client = client_for(load_settings(stack.env))
        try:
            return await work(client, KeySpace(stack.key_prefix))
        finally:
            await client.aclose()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def service_account(stack: Stack, *groups: str, label: str = "bot") -> str:
    """A service account, as `verifier users add --service` makes one; its name."""
    name = f"{label}-{secrets.token_hex(4)}"

    async def add(client: RedisClient, keys: KeySpace) -> None:
        hasher = PasswordHasher()  # no password is hashed for a service account
        try:
            await UserStore(client, keys, hasher).add_service(name, groups)
        finally:
            hasher.close()

    _with_redis(stack, add)
    return name


def make_token(
    stack: Stack, owner: str, *scopes: str, name: str = "ci-deploy", days: int = 90
) -> Made:
    """A token for `owner`, as `verifier tokens create` makes one."""

    async def create(client: RedisClient, keys: KeySpace) -> Made:
        store = TokenStore(client, keys, time.time)
        made = await store.create(owner, name, Scope.parse(scopes), days * DAY)
        return Made(owner, str(made.token), made.info.token_id)

    return _with_redis(stack, create)


def bearer(stack: Stack, path: str, token: str, **headers: str) -> requests.Response:
    """GET `path` through nginx with `Authorization: Bearer TOKEN`, no cookie, as a script."""
    session = stack.new_session()
    return session.get(
        stack.url(path),
        headers={"Authorization": f"Bearer {token}", **headers},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def echoed(response: requests.Response) -> dict[str, str]:
    """The headers the app received (the body of the header echo)."""
    assert response.status_code == 200, response.text[:300]
    received: dict[str, str] = json.loads(response.text)
    return received


def assert_refused_alone(response: requests.Response, status: int) -> None:
    """A refusal with `status` that sets nothing: no cookie, no redirect, JSON for a script,
    and nothing of the app (it never saw the request)."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert set_cookie_headers(response) == []
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("application/json")
    assert not any(name.lower().startswith("x-auth-") for name in response.headers)
    assert response.headers.get("Cache-Control") == "no-store"


def failures_key(stack: Stack, address: str = "127.0.0.1") -> str:
    """The Redis key counting failed bearer attempts of `address` on this stack."""
    return address_counter_key(KeySpace(stack.key_prefix), address)
