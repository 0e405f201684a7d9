"""Access JWTs: sign with the ring's current key, verify under one pinned set of rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from verifier.errors import (
    AccessKeyRetired,
    AccessTokenExpired,
    AccessTokenOutdated,
    SettingsError,
    TokenRejected,
)
from verifier.factors.methods import KNOWN_METHODS, PASSWORD, SignIn, checked_amr
from verifier.keyring.loader import static_ring
from verifier.keyring.material import ACCESS
from verifier.keyring.ring import CurrentRing, KeyRing
from verifier.settings import Settings

# One algorithm, pinned: never read from the token (RFC 8725 section 3.1).
ALGORITHM = "HS256"
# RFC 9068: access tokens carry typ "at+jwt" so that no other JWT can pass for one.
TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "sid")
# How and when the user signed in (RFC 8176 `amr`, OIDC `auth_time`): required too, but
# checked by hand, because a genuine token minted before they existed is outdated (the
# refresh token takes over), not forged.
SIGN_IN_CLAIMS = ("amr", "auth_time")
# A token larger than this was not minted here; refuse it before any parsing work.
MAX_TOKEN_LENGTH = 2048
# Verified tokens remembered per worker. A browser sends the same access token with every
# request for its whole lifetime, so re-checking the HMAC and re-parsing the JSON each time
# is wasted work; ~200 bytes an entry.
VERIFIED_CACHE_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified identity an access token carries."""

    user: str
    session_id: str
    expires_at: int
    # How the user signed in (amr) and when (auth_time): built once per token, since the
    # verified-token cache hands the same claims to every request that carries it.
    sign_in: SignIn
    # The host the token was issued for (its `aud` names it, with single sign-on), or "".
    host: str = ""


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: AccessClaims
    # When the signing key stops verifying, per the ring the token was checked against.
    key_verifies_until: float


class AccessTokenCodec:
    """Signs and verifies access tokens with the access keys of a key ring.

    `keys` is the worker's CurrentRing (swapped on reload); without it, the static ring of
    VERIFIER_JWT_KEYS in `settings`.
    """

    def __init__(self, settings: Settings, keys: CurrentRing | None = None) -> None:
        if keys is None:
            if settings.keys_dir is not None:
                raise SettingsError("VERIFIER_KEYS_DIR is set: pass the ring loaded from it")
            keys = CurrentRing(static_ring(settings.signing_keys))
        self._keys = keys
        self._issuer = settings.issuer
        self._audience = settings.audience
        self._ttl_seconds = settings.access_ttl_seconds
        self._leeway_seconds = settings.jwt_leeway_seconds
        self._jwt = jwt.PyJWT(options={"require": list(REQUIRED_CLAIMS)})
        # Only tokens that passed every check go in; expiry is checked again on each hit,
        # and the whole cache is dropped when the ring changes (a key may have been
        # withdrawn), so a cached token is never trusted past what its key allows.
        self._verified: dict[str, _Verified] = {}
        self._verified_ring: KeyRing = keys.ring

    @property
    def ttl_seconds(self) -> int:
        """Lifetime of the tokens this codec issues."""
        return self._ttl_seconds

    def issue(
        self,
        user: str,
        session_id: str,
        now: float,
        not_after: float | None = None,
        *,
        amr: Sequence[str] = (PASSWORD,),
        auth_time: float | None = None,
        host: str = "",
    ) -> str:
        """Return a signed access token for a session, valid from `now`.

        `not_after` caps its expiry (the session's absolute end): no access token outlives
        its session, so a session can only end early by an announced revocation. `amr` and
        `auth_time` say how and when the user signed in (the session's, on a refresh: a
        refresh is not a sign-in); `auth_time` defaults to `now`. `host` binds the token to
        one host (single sign-on): `aud` then names it beside the configured audience.
        """
        issued_at = int(now)
        expires_at = issued_at + self._ttl_seconds
        if not_after is not None:
            expires_at = min(expires_at, int(not_after))
        methods = list(checked_amr(amr))
        signed_in_at = issued_at if auth_time is None else min(int(auth_time), issued_at)
        claims = {
            "iss": self._issuer,
            "aud": [self._audience, host] if host else self._audience,
            "sub": user,
            "sid": session_id,
            "iat": issued_at,
            "exp": expires_at,
            "amr": methods,
            "auth_time": signed_in_at,
        }
        key = self._keys.ring.signing_key(ACCESS, now)
        if key is None or key.secret is None:
            # Rings are checked for an access signer when loaded, and one stays: unreachable.
            raise SettingsError("the key ring has no access key that signs now")
        headers = {"kid": key.kid, "typ": TOKEN_TYPE}
        return jwt.encode(claims, key.secret, algorithm=key.alg, headers=headers)

    def verify(self, token: str, now: float, *, allow_expired: bool = False) -> AccessClaims:
        """Return the claims of a valid token; raise AccessTokenExpired or TokenRejected.

        `allow_expired` is for logout only: an expired but genuine token still names the
        session to end.
        """
        ring = self._keys.ring
        if ring is not self._verified_ring:
            self._verified.clear()
            self._verified_ring = ring
        cached = self._verified.get(token)
        if cached is not None and now < cached.key_verifies_until:
            if cached.claims.expires_at <= now - self._leeway_seconds and not allow_expired:
                raise AccessTokenExpired()
            return cached.claims
        verified = self._verify_uncached(token, ring, now, allow_expired)
        if len(self._verified) >= VERIFIED_CACHE_ENTRIES:
            self._verified.clear()  # simple and bounded; the next requests refill it
        self._verified[token] = verified
        return verified.claims

    def _verify_uncached(
        self, token: str, ring: KeyRing, now: float, allow_expired: bool
    ) -> _Verified:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenRejected("oversized")
        if not token.isascii():
            raise TokenRejected("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed") from None
        # The header is untrusted until the signature checks out: only look keys up by it.
        if header.get("typ") != TOKEN_TYPE:
            raise TokenRejected("wrong typ")
        if header.get("alg") != ALGORITHM:
            raise TokenRejected("wrong alg")
        kid = header.get("kid")
        entry = ring.lookup(ACCESS, kid) if isinstance(kid, str) else None
        if entry is None:
            raise TokenRejected("unknown kid")
        if not entry.verifies(now) or entry.key.secret is None:
            # A key past its window or withdrawn: nothing in the token is trusted, but the
            # refresh token may take over (no key signs it), so nobody is logged out.
            if allow_expired:
                raise TokenRejected("key retired")
            raise AccessKeyRetired()
        if header["alg"] != entry.key.alg:
            raise TokenRejected("wrong alg")  # pinned per key, should a ring ever mix them
        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                entry.key.secret,
                algorithms=[entry.key.alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_seconds,
                # Times are checked in _check_claims against the injected clock, not PyJWT's.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError as error:
            raise TokenRejected(type(error).__name__) from None
        return _Verified(self._check_claims(claims, now, allow_expired), entry.verifies_until)

    def _check_claims(
        self, claims: dict[str, Any], now: float, allow_expired: bool
    ) -> AccessClaims:
        # PyJWT checked the signature, iss, aud and the presence of every required claim.
        # Expiry is checked here against our own clock, so that tests and the cache share it.
        user, session_id, expires_at = claims["sub"], claims["sid"], claims["exp"]
        issued_at = claims["iat"]
        if not (isinstance(user, str) and user and isinstance(session_id, str) and session_id):
            raise TokenRejected("bad sub/sid")
        if not (_is_int(expires_at) and _is_int(issued_at)):
            raise TokenRejected("bad exp/iat")
        if issued_at > now + self._leeway_seconds:
            raise TokenRejected("issued in the future")
        not_before = claims.get("nbf")
        if not_before is not None:
            if not _is_int(not_before):
                raise TokenRejected("bad nbf")
            if not_before > now + self._leeway_seconds:
                raise TokenRejected("not yet valid")
        # Before expiry: a token with malformed claims is refused as not ours even when
        # expired, never handed to the refresh token as if it were.
        sign_in = self._sign_in(claims, issued_at, now)
        if expires_at <= now - self._leeway_seconds and not allow_expired:
            raise AccessTokenExpired()
        return AccessClaims(
            user=user,
            session_id=session_id,
            expires_at=expires_at,
            sign_in=sign_in,
            host=self._bound_host(claims["aud"]),
        )

    def _bound_host(self, audience: Any) -> str:
        # PyJWT checked that `aud` holds our audience. A host-bound token (single sign-on)
        # has exactly one other entry, the host's name; anything else binds to no host, and
        # a gate that binds hosts refuses it (no request comes from host "").
        if isinstance(audience, list):
            others = [entry for entry in audience if entry != self._audience]
            if len(others) == 1 and isinstance(others[0], str):
                return others[0]
        return ""

    def _sign_in(self, claims: dict[str, Any], issued_at: int, now: float) -> SignIn:
        # Signed by us, so a missing pair can only be a token from before they existed:
        # outdated, and the session's refresh token issues one that has them.
        if not any(name in claims for name in SIGN_IN_CLAIMS):
            raise AccessTokenOutdated()
        amr: Any = claims.get("amr")
        auth_time: Any = claims.get("auth_time")
        if (
            not isinstance(amr, list)
            or not amr
            or len(amr) > len(KNOWN_METHODS)
            or not all(isinstance(method, str) and method in KNOWN_METHODS for method in amr)
            or len(set(amr)) != len(amr)
        ):
            raise TokenRejected("bad amr")
        if not _is_int(auth_time) or auth_time <= 0:
            raise TokenRejected("bad auth_time")
        # Nobody signs in after the token that says so was issued, nor in the future.
        if auth_time > issued_at or auth_time > now + self._leeway_seconds:
            raise TokenRejected("auth_time in the future")
        return SignIn(tuple(amr), auth_time)


def _is_int(value: object) -> bool:
    # bool is an int subclass; `"exp": true` is not a time.
    return isinstance(value, int) and not isinstance(value, bool)
