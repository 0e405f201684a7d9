"""Gate.admit_from_caches: what the worker's protocol may answer without the ASGI route
(verifier/service/fast_auth.py). It decides only from the verified token and a trusted
liveness cache, and leaves everything else (None) to admit(), which refuses and refreshes.

Redis here is a loopback port where nothing listens: a call to it would raise, so every
answer below was made from the caches alone.
"""

from __future__ import annotations

import secrets
import socket

import pytest
import redis.asyncio as aioredis

from verifier.access import AccessRequest
from verifier.gate import Forbidden, Gate
from verifier.sessions.liveness import LivenessCache
from verifier.sessions.store import SessionPolicy, SessionStore
from verifier.sessions.tokens import AccessTokenCodec
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import KeySpace
from verifier.web.cookies import CookiePolicy, TokenCookies

WIKI = "wiki.corp.example"
GRAFANA = "grafana.corp.example"
NOW = 1_900_000_000.0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Harness:
    def __init__(self, *, bind_hosts: bool) -> None:
        settings = Settings(
            redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
            signing_keys=(SigningKey("caches", b"from-the-caches-secret-".ljust(48, b"x")),),
        )
        self.codec = AccessTokenCodec(settings)
        self.cache = LivenessCache(lambda: NOW, 60)
        sessions = SessionStore(
            aioredis.Redis.from_url(settings.redis_url),
            KeySpace("caches"),
            SessionPolicy(3600, 86400, 30, 10),
            lambda: NOW,
            liveness=self.cache,
        )
        self.gate = Gate(
            self.codec, sessions, CookiePolicy(secure=True), lambda: NOW, bind_hosts=bind_hosts
        )
        self.session_id = secrets.token_urlsafe(16)

    def cached(self) -> None:
        """Redis said live (and the groups) while the revocation channel was heard."""
        self.cache.trust()
        self.cache.remember("alice", self.session_id, self.cache.epoch, ("staff",))

    def token(self, host: str = "", issued: float = NOW) -> str:
        return self.codec.issue("alice", self.session_id, issued, host=host)


def _request(host: str = "", declaration: str = "") -> AccessRequest:
    return AccessRequest(host=host, path="/", method="GET", declaration=declaration)


def test_a_valid_token_of_a_cached_session_is_admitted_with_the_cached_groups() -> None:
    harness = Harness(bind_hosts=False)
    harness.cached()

    admitted = harness.gate.admit_from_caches(TokenCookies(harness.token(), None), _request())

    assert admitted is not None
    assert (admitted.user, admitted.session_id, admitted.groups) == (
        "alice",
        harness.session_id,
        ("staff",),
    )
    assert admitted.set_access_cookie is None and admitted.set_refresh_cookie is None


def test_a_cached_session_may_still_be_refused_by_the_location() -> None:
    harness = Harness(bind_hosts=False)
    harness.cached()

    with pytest.raises(Forbidden):
        harness.gate.admit_from_caches(
            TokenCookies(harness.token(), None), _request(declaration="group:admins")
        )


def test_what_the_caches_cannot_decide_is_left_to_admit() -> None:
    harness = Harness(bind_hosts=False)
    valid = harness.token()
    left = [
        ("no access token", TokenCookies(None, "a.refresh.token")),
        ("a forged token", TokenCookies(valid[:-2] + "xx", None)),
        ("an expired token", TokenCookies(harness.token(issued=NOW - 86400), "r")),
        ("a session not cached", TokenCookies(valid, None)),
    ]
    for what, cookies in left:
        assert harness.gate.admit_from_caches(cookies, _request()) is None, what

    harness.cached()
    harness.cache.distrust()  # the revocation channel went quiet: the cache is not believed
    assert harness.gate.admit_from_caches(TokenCookies(valid, None), _request()) is None


def test_with_single_sign_on_a_token_made_for_another_host_is_left_to_admit() -> None:
    harness = Harness(bind_hosts=True)
    harness.cached()
    cookies = TokenCookies(harness.token(host=WIKI), None)

    assert harness.gate.admit_from_caches(cookies, _request(host=GRAFANA)) is None
    assert harness.gate.admit_from_caches(cookies, _request(host=WIKI)) is not None
