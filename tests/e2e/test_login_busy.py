"""Login under a hashing backlog: a check that queued too long is dropped with a 503.

The app runs in the Falcon test client against the real redis-server; the password hasher is
a real one whose queue limit is zero, on a clock that is a second later at every reading, so
every check has waited too long whatever the machine.
"""

from __future__ import annotations

import itertools
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import falcon.testing
import pytest
import redis
import redis.asyncio as aioredis
from falcon.util import async_to_sync

from verifier.app import create_app
from verifier.resources.login import BUSY, BUSY_RETRY_AFTER_SECONDS
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore

if TYPE_CHECKING:
    from conftest import RedisServer


class SecondByReading:
    """A clock that reads one second later each time it is read."""

    def __init__(self) -> None:
        self._readings = itertools.count()

    def __call__(self) -> float:
        return float(next(self._readings))


@pytest.fixture
def saturated(redis_server: RedisServer) -> tuple[falcon.testing.TestClient, str, str]:
    """A test client whose hasher drops every check; (client, key prefix, user password)."""
    settings = Settings(
        redis_url=redis_server.url,
        signing_keys=(SigningKey("busy", b"login-busy-secret-".ljust(48, b"x")),),
        key_prefix=f"busy-{secrets.token_hex(4)}",
        cookie_secure=False,
    )
    client = aioredis.Redis.from_url(redis_server.url)
    password = secrets.token_urlsafe(16)
    async_to_sync(
        UserStore(client, KeySpace(settings.key_prefix), PasswordHasher()).add, "carol", password
    )
    hasher = PasswordHasher(max_queue_seconds=0, clock=SecondByReading())
    app = create_app(settings, client, hasher=hasher)
    return falcon.testing.TestClient(app), settings.key_prefix, password


def test_dropped_check_answers_503_with_retry_after_and_sets_nothing(
    saturated: tuple[falcon.testing.TestClient, str, str],
) -> None:
    client, _, password = saturated

    result = client.simulate_post("/auth/login", json={"username": "carol", "password": password})

    assert result.status_code == 503
    assert result.json == {"error": BUSY}
    assert result.headers["retry-after"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert "set-cookie" not in result.headers


def test_dropped_check_from_the_form_shows_the_page_with_the_busy_message(
    saturated: tuple[falcon.testing.TestClient, str, str],
) -> None:
    client, _, password = saturated

    result = client.simulate_post(
        "/auth/login",
        body=urlencode({"username": "carol", "password": password}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert result.status_code == 503
    assert BUSY in result.text
    assert "set-cookie" not in result.headers


def test_dropped_checks_do_not_count_against_the_throttle(
    saturated: tuple[falcon.testing.TestClient, str, str], redis_server: RedisServer
) -> None:
    client, prefix, password = saturated

    for _ in range(20):  # far past the per-account limit of 5
        client.simulate_post("/auth/login", json={"username": "carol", "password": password})

    store = redis.Redis.from_url(redis_server.url)
    counters = store.keys(f"{prefix}:throttle:*")
    assert len(counters) == 2  # the account's and the address's, both given back
    assert [int(store.get(key) or 0) for key in counters] == [0, 0]
