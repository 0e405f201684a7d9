"""The bearer check of `/auth`: which token, whose, with which groups, or why not.

A valid token's check on repeat asks Redis nothing: the worker remembers the token's owner,
id, scope and expiry (by its digest), and its liveness cache (verifier.sessions.liveness)
vouches that it is still valid, with its owner's groups as the scope narrows them, for as
long as the cache is trusted: while the revocation channel is heard, at most its lifetime,
never past the token's expiry. A revocation (the token, or every session of its owner),
a group change, a removal or a disabling is published and forgotten by every worker at once.

Anything else goes to Redis, with the client address's failure count read in the same round
trip: an address at its limit is refused whatever the token (BearerThrottled), and every
failure counts. A valid token costs two round trips there; a failure always makes the same
Redis calls (count read and token record, owner record, count write), so neither the
answer nor its cost tells a token never issued from one revoked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from verifier.apitokens.bearer import MALFORMED, ApiToken, token_from_header
from verifier.apitokens.scope import Scope
from verifier.apitokens.store import TokenStore
from verifier.apitokens.usage import TokenUsage
from verifier.errors import BearerRefused, BearerThrottled
from verifier.sessions.liveness import LivenessCache, token_entry
from verifier.users.throttle import AddressFailures

Clock = Callable[[], float]

# Tokens a worker remembers the immutable part of (owner, id, scope, expiry), ~200 bytes each.
KNOWN_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A valid token: whose, which, what its scope allows, and the groups it carries now."""

    user: str
    token_id: str
    scope: Scope
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Known:
    user: str
    token_id: str
    scope: Scope
    expires: int
    entry: str


class BearerCheck:
    """Checks `Authorization: Bearer vrf_...` for /auth."""

    def __init__(
        self,
        store: TokenStore,
        failures: AddressFailures,
        usage: TokenUsage,
        liveness: LivenessCache | None = None,
        max_known: int = KNOWN_TOKENS,
    ) -> None:
        self._store = store
        self._failures = failures
        self._usage = usage
        self._liveness = liveness
        self._max_known = max_known
        self._known: dict[str, _Known] = {}

    async def check(self, authorization: str, address: str, now: float) -> TokenGrant:
        """The grant of a valid token; else BearerRefused (BearerThrottled: not even looked at)."""
        try:
            # The shape first: a token this worker checked before is known by its digest,
            # and needs its checksum no more than its Redis record.
            token = token_from_header(authorization, checksum=False)
            digest = token.digest
            cached = self._cached(digest, now)
            if cached is not None:
                self._usage.note(digest, now)
                return cached
            token.check_checksum()
        except BearerRefused:
            await self._refused_unchecked(address)
            await self._failures.count_failure(address)
            raise
        return await self._from_redis(token, address, now)

    def check_from_cache(self, authorization: str, now: float) -> TokenGrant | None:
        """check() when this worker's caches alone vouch for the token, with no I/O (the
        /auth fast path): its grant, or None when check() must decide (a token not known
        here, expired, malformed, or a cache not trusted now). Nothing is counted as a
        failure here: check() counts each."""
        try:
            token = token_from_header(authorization, checksum=False)
        except BearerRefused:
            return None
        digest = token.digest
        cached = self._cached(digest, now)
        if cached is not None:
            self._usage.note(digest, now)
        return cached

    def _cached(self, digest: str, now: float) -> TokenGrant | None:
        known = self._known.get(digest)
        if known is None or known.expires <= now or self._liveness is None:
            return None
        groups = self._liveness.known_groups(known.user, known.entry)
        if groups is None:
            return None
        return TokenGrant(known.user, known.token_id, known.scope, groups)

    async def _from_redis(self, token: ApiToken, address: str, now: float) -> TokenGrant:
        cache = self._liveness
        # Read before Redis is asked: a revocation arriving meanwhile must win (see
        # LivenessCache.epoch).
        epoch = cache.epoch if cache is not None else 0
        digest = token.digest
        # The address's count and the token's record in the same round trip; a throttled
        # address is refused whatever the record says.
        wait, record = await asyncio.gather(
            self._failures.wait_seconds(address), self._store.record(digest)
        )
        if wait:
            raise BearerThrottled(wait)
        try:
            live = await self._store.judge(record, now)
        except BearerRefused:
            await self._failures.count_failure(address)
            raise
        groups = live.scope.groups_for(live.owner_groups)
        entry = token_entry(live.token_id)
        known = _Known(live.user, live.token_id, live.scope, live.expires, entry)
        if cache is not None:
            cache.remember(live.user, known.entry, epoch, groups, not_after=live.expires)
            if len(self._known) >= self._max_known:
                self._known.clear()  # refilled from Redis, one miss per token
            self._known[digest] = known
        self._usage.note(digest, now)
        return TokenGrant(live.user, live.token_id, live.scope, groups)

    async def _refused_unchecked(self, address: str) -> None:
        wait = await self._failures.wait_seconds(address)
        if wait:
            raise BearerThrottled(wait)


__all__ = ["MALFORMED", "BearerCheck", "TokenGrant"]
