"""Helpers of the key-ring tests: an app that verifies assertions with the JWKS, signing from
the stack's keys directory, worker PIDs, and the verifier's reload log lines."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import requests
from e2e_helpers import worker_pids

from verifier.keyring.assertion import AssertionSigner
from verifier.keyring.files import DirectorySignature, directory_signature
from verifier.keyring.loader import directory_ring, ring_policy
from verifier.keyring.ring import CurrentRing, KeyRing
from verifier.resources.jwks import JWKS_PATH
from verifier.settings import Settings, load_settings

if TYPE_CHECKING:
    from conftest import Stack

TIMEOUT = 10
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age=(\d+)\s*(?:,|$)")


def stack_settings(stack: Stack) -> Settings:
    """The Settings the stack's verifier runs with."""
    return load_settings(stack.env)


def fetch_jwks(stack: Stack) -> requests.Response:
    """GET the JWK set through nginx, without cookies."""
    return requests.get(stack.url(JWKS_PATH), timeout=TIMEOUT)


def jwks_kids(stack: Stack) -> list[str]:
    """The kids the JWKS lists right now."""
    response = fetch_jwks(stack)
    assert response.status_code == 200, response.text
    return [jwk["kid"] for jwk in response.json()["keys"]]


def max_age_seconds(response: requests.Response) -> int:
    """The max-age of a response's Cache-Control; fails if there is none."""
    match = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
    assert match is not None, response.headers
    return int(match.group(1))


class CachingJwksApp:
    """An app that checks assertions with the JWKS as a careful one would.

    It keeps the key set for as long as Cache-Control allows and never refetches early,
    not even for an unknown kid: so it fails if a key signs before every cached copy of
    the JWKS could know it.
    """

    def __init__(self, stack: Stack) -> None:
        settings = stack_settings(stack)
        self._stack = stack
        self._issuer = settings.assertion_issuer
        self._audience = settings.assertion_audience
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fresh_until = -math.inf
        self.fetches = 0

    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims; AssertionError if the kid is not in the cached set."""
        kid = jwt.get_unverified_header(token)["kid"]
        key = self._key_set().get(kid)
        assert key is not None, f"kid {kid} is not in the app's cached JWKS {sorted(self._keys)}"
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[key.algorithm_name],
            audience=self._audience,
            issuer=self._issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid"]},
        )
        return claims

    def _key_set(self) -> dict[str, jwt.PyJWK]:
        asked_at = time.time()
        if asked_at >= self._fresh_until:
            response = fetch_jwks(self._stack)
            assert response.status_code == 200, response.text
            self._keys = {jwk["kid"]: jwt.PyJWK.from_dict(jwk) for jwk in response.json()["keys"]}
            # Counted from before the request: never trusted longer than the server allowed.
            self._fresh_until = asked_at + max_age_seconds(response)
            self.fetches += 1
        return self._keys


class DirectorySigner:
    """An AssertionSigner over the stack's keys directory, re-read whenever it changes."""

    def __init__(self, stack: Stack) -> None:
        settings = stack_settings(stack)
        assert settings.keys_dir is not None
        self._directory: Path = settings.keys_dir
        self._policy = ring_policy(settings)
        self._audience = settings.assertion_audience
        ring, self._signature = self._read()
        self._current = CurrentRing(ring)
        self._signer = AssertionSigner(
            self._current,
            settings.assertion_issuer,
            settings.assertion_audience,
            settings.assertion_ttl_seconds,
        )

    def _read(self) -> tuple[KeyRing, DirectorySignature]:
        return directory_ring(self._directory, self._policy, time.time())

    def assertion(self, user: str, session_id: str, groups: tuple[str, ...] = ()) -> str:
        """An assertion signed with the key the verifiers would sign with now."""
        if directory_signature(self._directory) != self._signature:
            ring, self._signature = self._read()
            self._current.swap(ring)
        token = self._signer.assertion(user, groups, session_id, self._audience, time.time())
        assert token is not None, "the keys directory holds no assertion key that signs now"
        return token


_RELOADED = re.compile(r"key ring reloaded in worker (\d+) from .*: (\S.*)$")


def worker_reloads(stack: Stack) -> dict[int, list[tuple[str, ...]]]:
    """Each worker's reloaded rings, oldest first, as the kids each one listed, by PID.

    A worker that has not reloaded since it started is absent.
    """
    log = stack.processes["verifier"].log_path.read_text(encoding="utf-8", errors="replace")
    reloads: dict[int, list[tuple[str, ...]]] = {}
    for line in log.splitlines():
        found = _RELOADED.search(line)
        if found:
            reloads.setdefault(int(found.group(1)), []).append(tuple(found.group(2).split(", ")))
    return reloads


def every_worker_holds(stack: Stack, *kids: str) -> bool:
    """Whether every worker's latest reloaded ring lists all of `kids`.

    Per worker, because one that read a rotation of two files half-written holds only the
    first key until its next check, while the other worker may already hold both.
    """
    reloads = worker_reloads(stack)
    return all(pid in reloads and set(kids) <= set(reloads[pid][-1]) for pid in worker_pids(stack))


def reload_counts(stack: Stack) -> dict[int, int]:
    """How many rings each worker has reloaded so far, by PID."""
    return {pid: len(rings) for pid, rings in worker_reloads(stack).items()}


def every_worker_reloaded_since(stack: Stack, counts: dict[int, int]) -> bool:
    """Whether every worker has reloaded at least once more than in `counts`."""
    now = reload_counts(stack)
    return all(now.get(pid, 0) > counts.get(pid, 0) for pid in worker_pids(stack))


def token_kid(token: str) -> str:
    """The kid of a JWT's header (unverified)."""
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def token_expiry(token: str) -> int:
    """The exp of a JWT (unverified)."""
    expires_at: int = jwt.decode(token, options={"verify_signature": False})["exp"]
    return expires_at
