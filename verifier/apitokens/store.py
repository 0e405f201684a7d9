"""API tokens in Redis: make, find (for /auth), list, revoke one, revoke all of a user.

Each token is a hash named by its digest (`KeySpace.api_token`), which Redis deletes at the
token's expiry, listed in its owner's index (`KeySpace.api_tokens`: id -> digest). A token
records its owner's *token epoch* (`KeySpace.api_token_epoch`) from when it was made, and
is valid only while the owner still has that epoch: deleting it voids every token of the
owner in one atomic step (every session's end does it, in the same script), though the
tokens' own records sit in other Redis Cluster slots.

Every Redis call that revokes publishes on the revocation channel in the same script, so
every worker forgets the token at once (verifier.sessions.liveness).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.apitokens.bearer import ApiToken, is_token_id, new_token_id
from verifier.apitokens.inputs import BadTokenInput
from verifier.apitokens.scope import Scope
from verifier.errors import BearerRefused, VerifierError
from verifier.store import RedisClient
from verifier.store.keyspace import TOKEN_REVOKED, USER_CHANGED, KeySpace, normalize_user_name
from verifier.store.outages import as_text, guard_for
from verifier.users.store import (
    CREATED_FIELD,
    DISABLED_FIELD,
    GROUPS_FIELD,
    LocalRevocations,
    UnknownUser,
    parse_groups,
)

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("api_tokens")

Clock = Callable[[], float]

MAX_TOKENS_PER_USER = 50
# Read for /auth: who owns it, which it is, what it may do, until when, and under which epoch.
_CHECKED_FIELDS = ["user", "id", "scope", "expires", "epoch"]
_LISTED_FIELDS = ["user", "id", "name", "scope", "created", "expires", "used", "epoch"]
# Read in place of an owner when the token is unknown: a name no user can have (`~` is not
# allowed in names), so a miss makes the same reads as a hit and costs the same.
_NO_OWNER = "~"

# Why a token was refused (BearerRefused.reason): audit records and metrics only. Every one
# answers the client the same way.
UNKNOWN = "unknown"  # never issued, revoked one by one (deleted), or expired and deleted
EXPIRED = "expired"  # past its expiry, not yet deleted by Redis
OWNER_REMOVED = "owner_removed"
OWNER_DISABLED = "owner_disabled"
VOIDED = "voided"  # made before every session of its owner ended (the epoch is gone)


def _load_script(name: str) -> str:
    return (Path(__file__).parent / "lua" / name).read_text(encoding="utf-8")


class TooManyTokens(VerifierError):
    """The owner has MAX_TOKENS_PER_USER live tokens already."""

    def __init__(self, user: str) -> None:
        super().__init__(
            f"{user} has {MAX_TOKENS_PER_USER} tokens already: revoke one before making another"
        )


class OwnerDisabled(VerifierError):
    """Tokens are not made for a disabled account."""

    def __init__(self, user: str) -> None:
        super().__init__(f"{user} is disabled: enable the account first (users enable)")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a token's owner (and an administrator) sees of it; never its secret."""

    user: str
    token_id: str
    name: str
    scope: Scope
    created: int
    expires: int
    last_used: int | None


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: the secret, shown once, and what is kept of it."""

    token: ApiToken
    info: TokenInfo


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token's record as Redis answered it, raw (each field None when absent)."""

    user: Any
    token_id: Any
    scope: Any
    expires: Any
    epoch: Any


@dataclass(frozen=True, slots=True)
class LiveToken:
    """A valid token as /auth reads it: its owner's groups, now, and its own limits."""

    user: str
    token_id: str
    scope: Scope
    expires: int
    owner_groups: tuple[str, ...]


class TokenStore:
    """API tokens of every user, in Redis."""

    def __init__(
        self,
        client: RedisClient,
        keys: KeySpace,
        clock: Clock,
        liveness: LocalRevocations | None = None,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._clock = clock
        self._liveness = liveness
        self._channel = keys.revocations()
        self._create = client.register_script(_load_script("create_token.lua"))
        self._write = client.register_script(_load_script("write_token.lua"))
        self._revoke = client.register_script(_load_script("revoke_token.lua"))
        self._void = client.register_script(_load_script("void_tokens.lua"))
        self._touch = client.register_script(_load_script("touch_token.lua"))

    async def create(self, user: str, name: str, scope: Scope, lifetime_seconds: int) -> NewToken:
        """Make a token for `user` (canonical name); its secret is in the answer only.

        Raise UnknownUser, OwnerDisabled, TooManyTokens, or BadTokenInput for a group scope
        the owner is not in (a scope narrows, it never grants).
        """
        owner_groups = await _guard(self._redis.hget(self._keys.user(user), GROUPS_FIELD))
        missing = sorted(set(scope.groups) - set(parse_groups(owner_groups)))
        if missing:
            raise BadTokenInput(
                f"{user} is not in {', '.join(missing)}: a token's scope can only narrow "
                "what its owner may do"
            )
        await self.owned_by(user)  # drops expired and revoked ones, so the limit counts live ones
        token, token_id = ApiToken.mint(), new_token_id()
        digest = token.digest
        outcome, raw_epoch = await _guard(
            self._create(
                keys=[
                    self._keys.user(user),
                    self._keys.api_tokens(user),
                    self._keys.api_token_epoch(user),
                ],
                args=[token_id, digest, secrets.token_hex(16), MAX_TOKENS_PER_USER],
            )
        )
        if int(outcome) == 0:
            raise UnknownUser(user)
        if int(outcome) == -1:
            raise TooManyTokens(user)
        if int(outcome) == -2:
            raise OwnerDisabled(user)
        created = int(self._clock())
        expires = created + lifetime_seconds
        fields = {
            "user": user,
            "id": token_id,
            "name": name,
            "scope": str(scope),
            "created": created,
            "expires": expires,
            "epoch": as_text(raw_epoch),
        }
        flat: list[Any] = [expires * 1000]
        for field_name, value in fields.items():
            flat += [field_name, value]
        await _guard(self._write(keys=[self._keys.api_token(digest)], args=flat))
        return NewToken(token, TokenInfo(user, token_id, name, scope, created, expires, None))

    async def find(self, digest: str, now: float) -> LiveToken:
        """The valid token of this digest, with its owner's groups; else BearerRefused.

        Always the same two round trips, whatever the token: its record (`record`), then
        its owner's record and token epoch (`judge`; a name no user can have when there is
        no record). A token never issued, one revoked, one expired and one whose owner is
        gone cost the same Redis work and take the same code to the end, so how long the
        refusal took does not tell them apart.
        """
        return await self.judge(await self.record(digest), now)

    async def record(self, digest: str) -> StoredToken:
        """What Redis holds of the token of this digest (all None when nothing): one call."""
        fields = await _guard(self._redis.hmget(self._keys.api_token(digest), _CHECKED_FIELDS))
        return StoredToken(*fields)

    async def judge(self, record: StoredToken, now: float) -> LiveToken:
        """The valid token `record` is, read with its owner; else BearerRefused. One call."""
        raw_user, raw_id, raw_scope, raw_expires, raw_epoch = (
            record.user,
            record.token_id,
            record.scope,
            record.expires,
            record.epoch,
        )
        user = normalize_user_name(as_text(raw_user)) if raw_user is not None else None
        owner = user or _NO_OWNER
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.hmget(self._keys.user(owner), [CREATED_FIELD, GROUPS_FIELD, DISABLED_FIELD])
        pipeline.get(self._keys.api_token_epoch(owner))
        (created, raw_groups, disabled), epoch = await _guard(pipeline.execute())
        token_id = as_text(raw_id) if raw_id is not None else ""
        expires = _whole(raw_expires)
        scope = _stored_scope(raw_scope)
        if user is None or not is_token_id(token_id) or expires is None or scope is None:
            raise BearerRefused(UNKNOWN)
        if expires <= now:
            raise BearerRefused(EXPIRED, user, token_id)
        if created is None:
            raise BearerRefused(OWNER_REMOVED, user, token_id)
        if disabled is not None and as_text(disabled) == "1":
            raise BearerRefused(OWNER_DISABLED, user, token_id)
        if epoch is None or raw_epoch is None or as_text(epoch) != as_text(raw_epoch):
            raise BearerRefused(VOIDED, user, token_id)
        return LiveToken(user, token_id, scope, expires, parse_groups(raw_groups))

    async def owned_by(self, user: str) -> list[TokenInfo]:
        """The user's live tokens, oldest first; expired, revoked and voided ones are dropped
        from the index (and a voided one's record deleted) on the way."""
        index: dict[Any, Any] = await _guard(self._redis.hgetall(self._keys.api_tokens(user)))
        if not index:
            return []
        entries = [(as_text(token_id), as_text(digest)) for token_id, digest in index.items()]
        pipeline = self._redis.pipeline(transaction=False)
        for _, digest in entries:
            pipeline.hmget(self._keys.api_token(digest), _LISTED_FIELDS)
        pipeline.get(self._keys.api_token_epoch(user))
        *records, raw_epoch = await _guard(pipeline.execute())
        epoch = as_text(raw_epoch) if raw_epoch is not None else None
        now = self._clock()
        listed: list[TokenInfo] = []
        dropped: list[tuple[str, str]] = []
        for (token_id, digest), record in zip(entries, records, strict=True):
            info = _listed(user, token_id, record, epoch, now)
            if info is None:
                dropped.append((token_id, digest))
            else:
                listed.append(info)
        if dropped:
            await self._drop(user, dropped)
        return sorted(listed, key=lambda info: (info.created, info.token_id))

    async def revoke(self, user: str, token_id: str) -> bool:
        """Revoke one of the user's tokens; True if it was live. Another user's id is simply
        not found: only the user's own index is read."""
        raw_digest = await _guard(self._redis.hget(self._keys.api_tokens(user), token_id))
        if raw_digest is None:
            return False
        revoked = await _guard(
            self._revoke(
                keys=[self._keys.api_token(as_text(raw_digest))],
                args=[user, token_id, self._channel],
            )
        )
        await _guard(self._redis.hdel(self._keys.api_tokens(user), token_id))
        # This worker forgets at once; the others hear the script's PUBLISH.
        self._forget_locally(f"{TOKEN_REVOKED} {user} {token_id}")
        return bool(revoked)

    async def revoke_all(self, user: str) -> list[str]:
        """Void every token of the user at once (one script), then delete their records;
        return the ids of those that were live."""
        live = [info.token_id for info in await self.owned_by(user)]
        await _guard(
            self._void(keys=[self._keys.api_token_epoch(user)], args=[self._channel, user])
        )
        self._forget_locally(f"{USER_CHANGED} {user}")
        for token_id in live:
            await self.revoke(user, token_id)
        return live

    async def touch(self, digest: str, when: int) -> None:
        """Record that the token was used at `when` (unless a later use is recorded)."""
        await _guard(self._touch(keys=[self._keys.api_token(digest)], args=[when]))

    async def _drop(self, user: str, dropped: list[tuple[str, str]]) -> None:
        # Index entries of tokens gone by themselves, and records of voided ones (no message:
        # a voided token fails its check on every worker already).
        await _guard(
            self._redis.hdel(self._keys.api_tokens(user), *[token_id for token_id, _ in dropped])
        )
        for _, digest in dropped:
            await _guard(self._redis.delete(self._keys.api_token(digest)))

    def _forget_locally(self, message: str) -> None:
        if self._liveness is not None:
            self._liveness.apply(message)


def _listed(
    user: str, token_id: str, record: list[Any], epoch: str | None, now: float
) -> TokenInfo | None:
    """A listed token, or None when it is expired, revoked, voided or unreadable."""
    raw_user, raw_id, raw_name, raw_scope, raw_created, raw_expires, raw_used, raw_epoch = record
    created, expires, scope = _whole(raw_created), _whole(raw_expires), _stored_scope(raw_scope)
    if (
        raw_user is None
        or as_text(raw_user) != user
        or raw_id is None
        or as_text(raw_id) != token_id
        or created is None
        or expires is None
        or expires <= now
        or scope is None
        or epoch is None
        or raw_epoch is None
        or as_text(raw_epoch) != epoch
    ):
        return None
    name = as_text(raw_name) if raw_name is not None else ""
    return TokenInfo(user, token_id, name, scope, created, expires, _whole(raw_used))


def _stored_scope(raw: Any) -> Scope | None:
    if raw is None:
        return None
    try:
        return Scope.stored(as_text(raw))
    except BadTokenInput:
        return None


def _whole(raw: Any) -> int | None:
    if raw is None:
        return None
    text = as_text(raw)
    return int(text) if text.isdigit() else None
