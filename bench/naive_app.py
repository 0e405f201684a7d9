"""The naive baseline of issue 4: what a first attempt at an auth_request backend looks like.

One Falcon WSGI resource under gunicorn's sync workers: decode the access cookie with PyJWT
(HS256) and ask Redis once (EXISTS) whether its session is live. No key ring, no typ check,
no refresh: it exists only to be measured against. Served by
`gunicorn 'bench.naive_app:from_environment()'` with the BENCH_NAIVE_* variables below.
"""

from __future__ import annotations

import os

import falcon
import jwt
import redis

from verifier.store.keyspace import KeySpace

CHECK_PATH = "/_bench/naive-check"


class NaiveCheck:
    """204 when the cookie holds a valid token of a live session, else 401."""

    def __init__(
        self,
        client: redis.Redis,
        secret: bytes,
        cookie_name: str,
        keys: KeySpace,
        issuer: str,
        audience: str,
    ) -> None:
        self._redis = client
        self._secret = secret
        self._cookie_name = cookie_name
        self._keys = keys
        self._issuer = issuer
        self._audience = audience

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Decide one auth_request subrequest from its Cookie header."""
        token = req.cookies.get(self._cookie_name)
        if not token:
            resp.status = falcon.HTTP_401
            return
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iat", "sub", "sid"]},
            )
        except jwt.InvalidTokenError:
            resp.status = falcon.HTTP_401
            return
        # The same key the verifier writes, so the baseline checks real sessions.
        live = self._redis.exists(self._keys.session(claims["sub"], claims["sid"]))
        resp.status = falcon.HTTP_204 if live else falcon.HTTP_401


def create_app(
    redis_url: str, secret: bytes, cookie_name: str, key_prefix: str, issuer: str, audience: str
) -> falcon.App[falcon.Request, falcon.Response]:
    """The baseline app; each gunicorn worker builds its own Redis connection pool."""
    app = falcon.App()
    check = NaiveCheck(
        redis.Redis.from_url(redis_url),
        secret,
        cookie_name,
        KeySpace(key_prefix),
        issuer,
        audience,
    )
    app.add_route(CHECK_PATH, check)
    return app


def from_environment() -> falcon.App[falcon.Request, falcon.Response]:
    """gunicorn entry point: settings from the BENCH_NAIVE_* variables the harness sets."""
    return create_app(
        redis_url=os.environ["BENCH_NAIVE_REDIS_URL"],
        secret=os.environ["BENCH_NAIVE_JWT_SECRET"].encode(),
        cookie_name=os.environ["BENCH_NAIVE_COOKIE_NAME"],
        key_prefix=os.environ["BENCH_NAIVE_KEY_PREFIX"],
        issuer=os.environ["BENCH_NAIVE_ISSUER"],
        audience=os.environ["BENCH_NAIVE_AUDIENCE"],
    )
