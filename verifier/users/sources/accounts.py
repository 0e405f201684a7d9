"""Upstream users in our user store: identity is (source, immutable id), never a name.

A user an upstream source vouches for gets (or has) an ordinary user record, named by the
source's name attribute or claim, which also says `source` and `source_id`. Their upstream
groups sit apart in `upstream_groups`, replaced at each sign-in and re-check (local groups,
`groups`, are the administrator's and never touched). An index from (source, id) to the name
lets `verifier users link` give an upstream identity an existing name.

A name belongs to one source. A second source (or a second identity of the same source, such
as a directory entry deleted and re-created with the same uid) that presents a name already
held is refused, NameTaken, and the caller records it: never linked by email, never merged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from verifier.errors import VerifierError
from verifier.factors.methods import LOCAL_SOURCE
from verifier.store import RedisClient
from verifier.store.keyspace import USER_CHANGED, KeySpace
from verifier.store.outages import as_text, guard_for
from verifier.users.sources.interface import VouchedUser
from verifier.users.store import (
    CREATED_FIELD,
    MAX_GROUPS_LENGTH,
    SOURCE_FIELD,
    LocalRevocations,
)

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("upstream_accounts")

SOURCE_ID_FIELD = "source_id"


def _load_script(name: str) -> str:
    return (Path(__file__).parents[1] / "lua" / name).read_text(encoding="utf-8")


class NameTaken(VerifierError):
    """An upstream identity presented a name that another source (or identity) holds;
    `source` and `upstream_id` say which identity, for the record an administrator reads."""

    def __init__(self, name: str, owner: str, source: str, upstream_id: str) -> None:
        super().__init__(f"the name {name} belongs to {owner}")
        self.name = name
        self.owner = owner
        self.source = source
        self.upstream_id = upstream_id


def upstream_id_hash(upstream_id: str) -> str:
    """SHA-256 of an upstream id: what key names carry (ids may hold any character)."""
    return hashlib.sha256(upstream_id.encode()).hexdigest()


def joined_groups(groups: tuple[str, ...]) -> str:
    """Groups as stored: comma-joined, cut to what fits one header (whole names only)."""
    kept: list[str] = []
    length = 0
    for group in sorted(set(groups)):
        length += len(group) + (1 if kept else 0)
        if length > MAX_GROUPS_LENGTH:
            break  # fail closed: a group left out can only deny, never allow
        kept.append(group)
    return ",".join(kept)


class UpstreamAccounts:
    """The records of upstream users: admit at sign-in, update at re-check, link by hand."""

    def __init__(
        self,
        client: RedisClient,
        keys: KeySpace,
        liveness: LocalRevocations | None = None,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._liveness = liveness
        self._channel = keys.revocations()
        self._admit = client.register_script(_load_script("admit_upstream_user.lua"))
        self._link = client.register_script(_load_script("link_upstream_user.lua"))

    async def owner(self, name: str) -> str | None:
        """Who holds a name: `local`, a source's name, or None when there is no such user."""
        created, source = await _guard(
            self._redis.hmget(self._keys.user(name), [CREATED_FIELD, SOURCE_FIELD])
        )
        if created is None:
            return None
        return as_text(source) if source else LOCAL_SOURCE

    async def identity(self, name: str) -> tuple[str, str] | None:
        """(source, upstream id) of an upstream user; None for a local or unknown one."""
        source, source_id = await _guard(
            self._redis.hmget(self._keys.user(name), [SOURCE_FIELD, SOURCE_ID_FIELD])
        )
        if not source or not source_id:
            return None
        return as_text(source), as_text(source_id)

    async def user_of(self, source: str, upstream_id: str) -> str | None:
        """The user an upstream identity signs in as, or None (never signed in, unlinked)."""
        linked = await _guard(
            self._redis.get(self._keys.identity(source, upstream_id_hash(upstream_id)))
        )
        if linked is None:
            return None
        name = as_text(linked)
        # The index is a pointer; the record says whose the name is now.
        return name if await self.identity(name) == (source, upstream_id) else None

    async def admit(self, user: VouchedUser, now: float) -> str:
        """The name the vouched-for user signs in as, their record made or brought up to date.

        Raise NameTaken when their name belongs to someone else.
        """
        index = self._keys.identity(user.source, upstream_id_hash(user.upstream_id))
        linked = await _guard(self._redis.get(index))
        if linked is not None:
            linked_name = as_text(linked)
            outcome, _ = await self._write(linked_name, user, now, create=False)
            if outcome == "ok":
                return linked_name
        outcome, owner = await self._write(user.name, user, now, create=True)
        if outcome == "taken":
            raise NameTaken(user.name, owner, user.source, user.upstream_id)
        if outcome == "created":
            await _guard(self._redis.sadd(self._keys.all_users(), user.name))
        if linked is None or as_text(linked) != user.name:
            await _guard(self._redis.set(index, user.name))
        self._forget_locally(user.name)
        return user.name

    async def update_groups(
        self, name: str, source: str, upstream_id: str, groups: tuple[str, ...], now: float
    ) -> bool:
        """Replace a user's upstream groups (at a re-check); False if the record is no longer
        this identity's (removed, or linked elsewhere): its sessions must end."""
        user = VouchedUser(source=source, name=name, upstream_id=upstream_id, groups=groups)
        outcome, _ = await self._write(name, user, now, create=False)
        if outcome == "ok":
            self._forget_locally(name)
        return outcome == "ok"

    async def link(self, name: str, source: str, upstream_id: str, now: float) -> str:
        """Give `name` to an upstream identity (an admin's act); return the former owner
        (`local`, a source's name, or "" for a new record). The caller ends its sessions."""
        former = await _guard(
            self._link(
                keys=[self._keys.user(name)],
                args=[source, upstream_id, int(now), self._channel, name],
            )
        )
        await _guard(
            self._redis.set(self._keys.identity(source, upstream_id_hash(upstream_id)), name)
        )
        await _guard(self._redis.sadd(self._keys.all_users(), name))
        # Whatever password it had is gone: it no longer counts for the bcrypt ceiling.
        await _guard(self._redis.zrem(self._keys.imported_bcrypt(), name))
        self._forget_locally(name)
        return as_text(former)

    async def _write(
        self, name: str, user: VouchedUser, now: float, *, create: bool
    ) -> tuple[str, str]:
        reply = await _guard(
            self._admit(
                keys=[self._keys.user(name)],
                args=[
                    user.source,
                    user.upstream_id,
                    joined_groups(user.groups),
                    int(now),
                    self._channel,
                    name,
                    "1" if create else "0",
                ],
            )
        )
        outcome = as_text(reply[0])
        return outcome, as_text(reply[1]) if len(reply) > 1 else ""

    def _forget_locally(self, name: str) -> None:
        # This worker forgets at once what it cached of the user; the others hear the
        # script's PUBLISH.
        if self._liveness is not None:
            self._liveness.apply(f"{USER_CHANGED} {name}")
