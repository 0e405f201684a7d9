"""The host binding on /auth (single sign-on): a token made for another host is refused
before any Redis call.

The app runs in the Falcon test client with its Redis client pointed at a loopback port
where nothing listens, so any Redis call fails and /auth answers 503 (Redis down fails
closed). A token bound to wiki, presented on grafana, still gets a plain 401: the binding
was checked first. The same token on wiki gets the 503, which proves that the check on its
own host does go on to Redis, and that this harness would have shown a Redis call.
"""

from __future__ import annotations

import secrets
import socket
import time

import falcon.testing
import pytest
import redis.asyncio as aioredis

from verifier.app import create_app
from verifier.sessions.tokens import AccessTokenCodec
from verifier.settings import Settings, SigningKey
from verifier.sso.config import SsoConfig, parse_host_list, parse_portal_url
from verifier.web.cookies import CookiePolicy

PORTAL = "auth.corp.example"
WIKI = "wiki.corp.example"
GRAFANA = "grafana.corp.example"
POLICY = CookiePolicy(secure=True)


def _closed_port() -> int:
    # A port the kernel just handed out and took back: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def without_redis() -> tuple[falcon.testing.TestClient, AccessTokenCodec]:
    """The app with single sign-on and no Redis behind it; the codec of its key."""
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
        signing_keys=(SigningKey("binding", b"host-binding-secret-".ljust(48, b"x")),),
        key_prefix=f"binding-{secrets.token_hex(4)}",
        sso=SsoConfig(
            portal=parse_portal_url(f"https://{PORTAL}"),
            hosts=parse_host_list(f"{WIKI} {GRAFANA}", allow_wildcard=False),
        ),
    )
    app = create_app(settings, aioredis.Redis.from_url(settings.redis_url))
    return falcon.testing.TestClient(app), AccessTokenCodec(settings)


def _auth(client: falcon.testing.TestClient, host: str, token: str) -> falcon.testing.Result:
    return client.simulate_get(
        "/auth",
        host=host,
        headers={
            "Cookie": f"{POLICY.access_name}={token}",
            "X-Original-URI": "/",
            "X-Original-Method": "GET",
        },
    )


def test_a_token_bound_to_another_host_is_refused_before_any_redis_call(
    without_redis: tuple[falcon.testing.TestClient, AccessTokenCodec],
) -> None:
    client, codec = without_redis
    token = codec.issue("alice", secrets.token_urlsafe(32), time.time(), host=WIKI)

    elsewhere = _auth(client, GRAFANA, token)

    assert elsewhere.status_code == 401
    assert [h for h in elsewhere.headers if h.lower().startswith("x-verifier-set-")] == []
    # On its own host the same token is checked against Redis, which is down here.
    assert _auth(client, WIKI, token).status_code == 503


@pytest.mark.parametrize("host", ["", PORTAL, "a.example", f"{WIKI}.", WIKI.upper()])
def test_a_token_bound_to_no_host_or_an_unlisted_one_is_refused_everywhere_without_redis(
    without_redis: tuple[falcon.testing.TestClient, AccessTokenCodec], host: str
) -> None:
    # "": a token from before single sign-on; the others name what no request comes from.
    client, codec = without_redis
    token = codec.issue("alice", secrets.token_urlsafe(32), time.time(), host=host)
    for request_host in (WIKI, GRAFANA):
        assert _auth(client, request_host, token).status_code == 401
