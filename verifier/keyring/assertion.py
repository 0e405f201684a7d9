"""The signed identity assertion (`X-Auth-Assertion`): a short JWT apps verify with the JWKS.

Signing costs tens of microseconds (EdDSA, ES256), and every protected request would pay
it: an assertion is cached per session, audience, groups and key, and reused while more
than half of its lifetime remains, so an app never receives one about to expire.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from verifier.factors.methods import SignIn
from verifier.keyring.material import ASSERTION
from verifier.keyring.ring import CurrentRing, KeyRing

# A plain JWT, not an access token (typ "at+jwt"): an assertion can never pass for one,
# and the keys differ anyway.
ASSERTION_TYPE = "JWT"
MAX_ASSERTION_TTL_SECONDS = 60
# Cached assertions per worker, ~600 bytes each.
ASSERTION_CACHE_ENTRIES = 10_000

_CacheKey = tuple[str, str, str, tuple[str, ...], str, tuple[str, ...], int, str]


@dataclass(frozen=True, slots=True)
class _Signed:
    token: str
    issued_at: int
    expires_at: int


class AssertionSigner:
    """Signs (and caches) assertions with the ring's current assertion key."""

    def __init__(
        self,
        keys: CurrentRing,
        issuer: str,
        default_audience: str,
        ttl_seconds: int,
        max_entries: int = ASSERTION_CACHE_ENTRIES,
    ) -> None:
        if not 1 <= ttl_seconds <= MAX_ASSERTION_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be 1..{MAX_ASSERTION_TTL_SECONDS}")
        self._keys = keys
        self._issuer = issuer
        self.default_audience = default_audience
        self._ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        self._ring: KeyRing | None = None
        self._cache: dict[_CacheKey, _Signed] = {}

    @property
    def ttl_seconds(self) -> int:
        """Lifetime of the assertions this signer issues."""
        return self._ttl_seconds

    def assertion(
        self,
        user: str,
        groups: tuple[str, ...],
        session_id: str,
        audience: str,
        now: float,
        sign_in: SignIn | None = None,
        token_id: str | None = None,
    ) -> str | None:
        """A signed assertion of who the request is, for `audience`; None without a key.

        An empty `audience` (a location that asks for none) means the default audience.
        Claims: iss, aud, sub, groups, sid, iat, exp (iat + ttl), and with `sign_in` amr,
        auth_time and source (how, when and through which source the user signed in:
        `local`, `ldap:ID`, `oidc:ID`); header kid, alg, typ JWT. With `token_id` (a request
        that carried an API token): `token_id` in place of `sid`, and no amr, auth_time or
        source (nobody signed in).
        """
        audience = audience or self.default_audience
        ring = self._keys.ring
        if ring is not self._ring:
            # A reload may have withdrawn a key: nothing signed under the old ring is reused.
            self._ring = ring
            self._cache.clear()
        key = ring.signing_key(ASSERTION, now)
        if key is None or key.private_key is None:
            return None
        # The sign-in is part of the key: after a step-up the app must see the new amr. Its
        # fields, not the SignIn: a tuple hashes in C, a dataclass through Python code.
        amr, auth_time, source = (
            (sign_in.amr, sign_in.auth_time, sign_in.source) if sign_in is not None else ((), 0, "")
        )
        # A token's id cannot pass for a session id (those never hold a ':').
        held = session_id if token_id is None else "k:" + token_id
        cache_key = (held, user, audience, groups, key.kid, amr, auth_time, source)
        cached = self._cache.get(cache_key)
        if cached is not None and self._reusable(cached, now):
            return cached.token
        issued_at = int(now)
        expires_at = issued_at + self._ttl_seconds
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": audience,
            "sub": user,
            "groups": list(groups),
            "iat": issued_at,
            "exp": expires_at,
        }
        if token_id is None:
            claims["sid"] = session_id
        else:
            claims["token_id"] = token_id
        if sign_in is not None:
            claims["amr"] = list(sign_in.amr)
            claims["auth_time"] = sign_in.auth_time
            claims["source"] = sign_in.source
        token = jwt.encode(
            claims,
            key.private_key,
            algorithm=key.alg,
            headers={"kid": key.kid, "typ": ASSERTION_TYPE},
        )
        self._remember(cache_key, _Signed(token, issued_at, expires_at))
        return token

    def _reusable(self, cached: _Signed, now: float) -> bool:
        # More than half its lifetime left; and never one "issued" after `now` (a clock
        # that stepped back would otherwise hand out an assertion from the future).
        return cached.issued_at <= now and cached.expires_at - now > self._ttl_seconds / 2

    def _remember(self, cache_key: _CacheKey, signed: _Signed) -> None:
        self._cache.pop(cache_key, None)  # re-inserted last: the dict stays oldest-first
        if len(self._cache) >= self._max_entries:
            # Evict the oldest entry: a dict iterates in insertion order.
            del self._cache[next(iter(self._cache))]
        self._cache[cache_key] = signed
