"""The provider's JWTs, checked by us: id_tokens (OpenID Connect Core 3.1.3.7) and logout
tokens (Back-Channel Logout 1.0, 2.6).

PyJWT verifies signatures and the registered claims; what it leaves loose is written here:
- the algorithm comes from our sources file, never from the token or the discovery document
  (a provider listing `none`, or a token saying HS256 keyed with the client secret, gets
  nowhere), and the key from the provider's JWKS by `kid`;
- `exp` and `iat` are required (PyJWT checks them only when present), `iat` may not lie in
  the future nor be older than a sign-in may take;
- `aud` must hold our client id, and when it names others too `azp` must be ours;
- the `nonce` must be the one this browser's flow sent (compared in constant time);
- a logout token must carry the back-channel event, `jti`, `sid` or `sub`, and no `nonce`
  (so an id_token can never pass for one, nor one for an id_token).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import jwt

from verifier.errors import VerifierError
from verifier.upstream.config import ASYMMETRIC_ALGORITHMS

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# After an unknown kid made us fetch the JWKS, another unknown kid waits this long: a stream
# of forged tokens cannot turn into a stream of requests to the provider.
JWKS_REFETCH_COOLDOWN_SECONDS = 60.0
MAX_SUB_LENGTH = 255


class TokenRefused(VerifierError):
    """A provider's token failed a check; `reason` names which (for the audit record)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"token refused: {reason}")
        self.reason = reason


class JwksCache:
    """The provider's signing keys by kid, fetched once, refetched on an unknown kid at most
    once per cooldown."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Mapping[str, Any]]],
        clock: Callable[[], float] = time.monotonic,
        cooldown_seconds: float = JWKS_REFETCH_COOLDOWN_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._cooldown = cooldown_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self.fetches = 0

    async def key(self, kid: str) -> jwt.PyJWK:
        """The signing key of that kid; raise TokenRefused("unknown_kid") if the provider
        has none (SourceUnavailable propagates when it cannot be asked)."""
        if kid in self._keys:
            return self._keys[kid]
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._cooldown:
            self._fetched_at = now
            self.fetches += 1
            self._keys = _signing_keys(await self._fetch())
        found = self._keys.get(kid)
        if found is None:
            raise TokenRefused("unknown_kid")
        return found

    def forget(self) -> None:
        """Drop what was fetched (the next key() fetches at once)."""
        self._keys = {}
        self._fetched_at = None


def _signing_keys(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []) if isinstance(document.get("keys"), list) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # a key type we cannot use: never one we would accept a signature from
    return keys


@dataclass(frozen=True)
class TokenRules:
    """Who must have issued a token, for whom, signed how, with how much clock skew."""

    issuer: str
    client_id: str
    algorithms: tuple[str, ...]
    skew_seconds: int
    # The longest a sign-in may take: an id_token issued longer ago than this is stale.
    max_age_seconds: int


async def checked_id_token(
    raw: str, rules: TokenRules, keys: JwksCache, nonce: str | None, now: float
) -> dict[str, Any]:
    """The id_token's claims once every check passed; raise TokenRefused.

    `nonce` None: a refreshed id_token (no nonce is sent with a refresh grant; if the token
    carries one it is not checked, OpenID Connect Core 12.2).
    """
    claims = await _verified(raw, rules, keys, now, ("exp", "iat", "iss", "aud", "sub"))
    if "events" in claims:
        raise TokenRefused("logout_token_as_id_token")
    _check_azp(claims, rules.client_id)
    _check_iat(claims, rules, now)
    _check_sub(claims)
    if nonce is not None:
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise TokenRefused("nonce")
    return claims


async def checked_logout_token(
    raw: str, rules: TokenRules, keys: JwksCache, now: float
) -> dict[str, Any]:
    """A logout token's claims once every check passed; raise TokenRefused."""
    claims = await _verified(raw, rules, keys, now, ("exp", "iat", "iss", "aud", "jti"))
    _check_azp(claims, rules.client_id)
    _check_iat(claims, rules, now)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise TokenRefused("events")
    if "nonce" in claims:
        raise TokenRefused("nonce_in_logout_token")
    sub, sid = claims.get("sub"), claims.get("sid")
    if sub is None and sid is None:
        raise TokenRefused("no_sub_or_sid")
    if sub is not None:
        _check_sub(claims)
    if sid is not None and (not isinstance(sid, str) or not sid or len(sid) > MAX_SUB_LENGTH):
        raise TokenRefused("sid")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise TokenRefused("jti")
    return claims


async def _verified(
    raw: str, rules: TokenRules, keys: JwksCache, now: float, required: tuple[str, ...]
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.InvalidTokenError:
        raise TokenRefused("malformed") from None
    algorithm = header.get("alg")
    # Ours, pinned: never `none`, never an HMAC, never what the token or discovery says.
    if algorithm not in rules.algorithms or algorithm not in ASYMMETRIC_ALGORITHMS:
        raise TokenRefused("algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("no_kid")
    key = await keys.key(kid)
    try:
        # The key object, not the PyJWK: its `alg` must not widen or narrow our list.
        claims: dict[str, Any] = jwt.decode(
            raw,
            key.key,
            algorithms=list(rules.algorithms),
            audience=rules.client_id,
            issuer=rules.issuer,
            leeway=rules.skew_seconds,
            # The times are checked below against our clock (injected; the same in
            # production), not PyJWT's: one clock for every rule.
            options={
                "require": list(required),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused("expired") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused("audience") from None
    except jwt.InvalidIssuerError:
        raise TokenRefused("issuer") from None
    except jwt.InvalidSignatureError:
        raise TokenRefused("signature") from None
    except jwt.ImmatureSignatureError:
        raise TokenRefused("issued_in_future") from None
    except jwt.MissingRequiredClaimError as missing:
        raise TokenRefused(f"missing_{missing.claim}") from None
    except jwt.InvalidTokenError:
        raise TokenRefused("invalid") from None
    except (jwt.InvalidKeyError, TypeError, ValueError):
        raise TokenRefused("key_type") from None  # e.g. an EC token for an RSA key
    _check_lifetime(claims, rules, now)
    return claims


def _check_lifetime(claims: Mapping[str, Any], rules: TokenRules, now: float) -> None:
    expires = claims.get("exp")
    if not _is_number(expires) or expires + rules.skew_seconds <= now:
        raise TokenRefused("expired")
    not_before = claims.get("nbf")
    if not_before is not None and (
        not _is_number(not_before) or not_before - rules.skew_seconds > now
    ):
        raise TokenRefused("not_yet_valid")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_azp(claims: Mapping[str, Any], client_id: str) -> None:
    audience = claims.get("aud")
    azp = claims.get("azp")
    several = isinstance(audience, list) and len(audience) > 1
    if several and azp is None:
        raise TokenRefused("azp")
    if azp is not None and azp != client_id:
        raise TokenRefused("azp")


def _check_iat(claims: Mapping[str, Any], rules: TokenRules, now: float) -> None:
    issued = claims.get("iat")
    if not _is_number(issued):
        raise TokenRefused("iat")
    if issued > now + rules.skew_seconds:
        raise TokenRefused("issued_in_future")
    if issued < now - rules.max_age_seconds - rules.skew_seconds:
        raise TokenRefused("stale")


def _check_sub(claims: Mapping[str, Any]) -> None:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH or not sub.isprintable():
        raise TokenRefused("sub")
