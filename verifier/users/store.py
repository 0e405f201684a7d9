"""The user store: names, password hashes (argon2id, or imported until first use) and groups.

A user's record is the hash `KeySpace.user(name)`: `password_hash`, `created` and `groups`
(comma-joined, sorted, unique, normalized group names; absent or empty means none). Every
write of a user's groups publishes `g <user>` on the revocation channel in the same Lua
script, so every worker forgets what it cached for that user before its next request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from verifier.errors import InvalidCredentials, VerifierError
from verifier.store import RedisClient
from verifier.store.keyspace import USER_CHANGED, USER_NAME_RULE, KeySpace, normalize_user_name
from verifier.store.outages import as_text, guard_for
from verifier.users.legacy_hashes import (
    MAX_BCRYPT_COST,
    MIN_BCRYPT_COST,
    LegacyScheme,
    bcrypt_cost,
    legacy_scheme,
)
from verifier.users.passwords import MAX_PASSWORD_LENGTH, PasswordHasher, is_native_hash

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("users")

GROUPS_FIELD = "groups"
# Upstream users (verifier.users.sources): their source's groups, mapped, kept apart from the
# local `groups` and replaced at each sign-in and re-check; and the source they belong to.
UPSTREAM_GROUPS_FIELD = "upstream_groups"
SOURCE_FIELD = "source"
CREATED_FIELD = "created"
PASSWORD_HASH_FIELD = "password_hash"  # noqa: S105 (a field name, not a secret)
NATIVE_SCHEME = "argon2id"
# A service account's password field: a value no scheme accepts, so that no password ever
# matches, as `*` in /etc/shadow. Its only way in is an API token (verifier.apitokens).
SERVICE_ACCOUNT_HASH = "!service"
SERVICE_SCHEME = "service"
# "1": the account may not sign in, and none of its API tokens is accepted (`users disable`).
DISABLED_FIELD = "disabled"
# A user's groups travel to the app in one header line (X-Auth-Groups): nginx refuses an
# upstream header block larger than its proxy buffer (4 KiB by default), so keep them short.
MAX_GROUPS_LENGTH = 1024
# Compare-and-set attempts of a groups change before giving up (only a concurrent writer of
# the same user's groups makes one fail).
_GROUP_WRITE_ATTEMPTS = 10


def _load_script(name: str) -> str:
    return (Path(__file__).parent / "lua" / name).read_text(encoding="utf-8")


class UserExists(VerifierError):
    """`users add` for a name that is taken."""

    def __init__(self, name: str) -> None:
        super().__init__(f"user {name} already exists")
        self.name = name


class UnknownUser(VerifierError):
    """An admin command named a user that does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no user {name}")
        self.name = name


class BadUserInput(VerifierError):
    """A user name, group name or password that can never be valid (wrong characters, too long)."""


def normalize_group_name(raw: str) -> str | None:
    """Return the canonical form of a group name (the user-name rules), or None if not allowed."""
    # Same characters as user names: no ',' (the field's separator), no spaces or controls
    # (they travel in a header), no braces.
    return normalize_user_name(raw)


def parse_groups(raw: bytes | str | None, upstream: bytes | str | None = None) -> tuple[str, ...]:
    """The groups in a stored `groups` field (and `upstream_groups`, if given): sorted,
    unique; anything malformed is dropped."""
    if not raw and not upstream:
        return ()
    names: set[str | None] = set()
    for field in (raw, upstream):
        if field:
            text = field.decode("utf-8", "replace") if isinstance(field, bytes) else field
            names.update(normalize_group_name(part) for part in text.split(","))
    return tuple(sorted(name for name in names if name is not None))


def _format_groups(groups: Iterable[str]) -> str:
    joined = ",".join(sorted(set(groups)))
    if len(joined) > MAX_GROUPS_LENGTH:
        raise BadUserInput(
            f"a user's groups are at most {MAX_GROUPS_LENGTH} characters in all, commas "
            "included (they travel in one header)"
        )
    return joined


def password_scheme(password_hash: str) -> str | None:
    """The scheme of a hash a user may hold ("argon2id", "bcrypt", "apr1", "sha1", or
    "service" for a service account), else None."""
    if password_hash == SERVICE_ACCOUNT_HASH:
        return SERVICE_SCHEME
    if is_native_hash(password_hash):
        return NATIVE_SCHEME
    scheme = legacy_scheme(password_hash)
    return scheme.value if scheme is not None else None


@dataclass(frozen=True)
class UserRecord:
    """Everything that makes an account: what `verifier users export` writes, and no session."""

    name: str
    groups: tuple[str, ...]
    created: int  # unix seconds
    password_hash: str
    disabled: bool = False


@dataclass(frozen=True)
class UserSummary:
    """One line of `verifier users list`."""

    name: str
    groups: tuple[str, ...]
    password_scheme: str  # "argon2id", or the imported scheme until the first sign-in
    disabled: bool = False


class LocalRevocations(Protocol):
    """This worker's cache of what Redis said (verifier.sessions.liveness.LivenessCache)."""

    def apply(self, message: str) -> None:
        """Forget what a revocation-channel message ends, as if it had arrived."""


class UserStore:
    """Users kept in Redis; passwords as argon2id hashes, or imported ones until first use."""

    def __init__(
        self,
        client: RedisClient,
        keys: KeySpace,
        hasher: PasswordHasher,
        liveness: LocalRevocations | None = None,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._hasher = hasher
        self._liveness = liveness
        self._channel = keys.revocations()
        self._create = client.register_script(_load_script("create_user.lua"))
        self._write_groups = client.register_script(_load_script("write_groups.lua"))
        self._replace_hash = client.register_script(_load_script("replace_password_hash.lua"))
        self._set_disabled = client.register_script(_load_script("set_disabled.lua"))
        self._remove = client.register_script(_load_script("remove_user.lua"))

    async def add(self, raw_name: str, password: str, groups: Iterable[str] = ()) -> str:
        """Create a user; return the canonical name. Raise UserExists if it is taken."""
        name = _checked_name(raw_name)
        _check_new_password(password)
        joined = _format_groups(checked_groups(groups))
        password_hash = await self._hasher.hash(password)
        if not await self._create_record(name, password_hash, joined):
            raise UserExists(name)
        return name

    async def add_service(self, raw_name: str, groups: Iterable[str] = ()) -> str:
        """Create a service account (no password, no sign-in: API tokens only); return the
        canonical name. Raise UserExists if it is taken."""
        name = _checked_name(raw_name)
        joined = _format_groups(checked_groups(groups))
        if not await self._create_record(name, SERVICE_ACCOUNT_HASH, joined):
            raise UserExists(name)
        return name

    async def import_hashed(
        self,
        raw_name: str,
        password_hash: str,
        groups: Iterable[str] = (),
        created: int | None = None,
        *,
        disabled: bool = False,
    ) -> bool:
        """Create a user with a hash made elsewhere (htpasswd, an export); False if taken.

        `created` (unix seconds) keeps an exported account's creation time; default now.
        Nothing is written for a name that is taken.
        """
        name = _checked_name(raw_name)
        _check_importable(password_hash)
        joined = _format_groups(checked_groups(groups))
        # Only if not listed already: the name may be taken, and then nothing may change.
        listed = await self._list_bcrypt(name, password_hash, only_new=True)
        made = await self._create_record(name, password_hash, joined, created, disabled)
        if listed and not made:
            await _guard(self._redis.zrem(self._keys.imported_bcrypt(), name))
        return made

    async def replace_hash(self, raw_name: str, password_hash: str) -> bool:
        """Give a user a hash made elsewhere; True if it differs from theirs (caller ends sessions).

        Raise UnknownUser if there is no such user.
        """
        name = _checked_name(raw_name)
        _check_importable(password_hash)
        key = self._keys.user(name)
        current = await _guard(self._redis.hget(key, PASSWORD_HASH_FIELD))
        if current is None:
            raise UnknownUser(name)
        if as_text(current) == password_hash:
            return False
        await self._list_bcrypt(name, password_hash, only_new=False)
        # Compare-and-set against the hash just read: if a sign-in upgraded it meanwhile,
        # refuse rather than let one of the two writes silently win.
        if not await _guard(self._replace_hash(keys=[key], args=[current, password_hash])):
            raise VerifierError(f"the password of {name} changed under this command; try again")
        if bcrypt_cost(password_hash) is None:
            await _guard(self._redis.zrem(self._keys.imported_bcrypt(), name))
        return True

    async def records(self) -> list[UserRecord]:
        """Every user's record, sorted by name (for `verifier users export`)."""
        names = await self.names()
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.hmget(
                self._keys.user(name),
                [PASSWORD_HASH_FIELD, GROUPS_FIELD, CREATED_FIELD, DISABLED_FIELD],
            )
        replies = await _guard(pipe.execute()) if names else []
        records = []
        for name, (raw_hash, raw_groups, raw_created, raw_disabled) in zip(
            names, replies, strict=True
        ):
            if raw_hash is None:
                continue  # removed while we read
            created = as_text(raw_created) if raw_created is not None else ""
            records.append(
                UserRecord(
                    name=name,
                    groups=parse_groups(raw_groups),
                    created=int(created) if created.isdigit() else 0,
                    password_hash=as_text(raw_hash),
                    disabled=_is_set(raw_disabled),
                )
            )
        return records

    async def set_password(self, raw_name: str, password: str) -> str:
        """Replace a user's password; return the canonical name."""
        name = _checked_name(raw_name)
        _check_new_password(password)
        created, source, current = await _guard(
            self._redis.hmget(
                self._keys.user(name), [CREATED_FIELD, SOURCE_FIELD, PASSWORD_HASH_FIELD]
            )
        )
        if created is None and not await _guard(self._redis.exists(self._keys.user(name))):
            raise UnknownUser(name)
        if source:
            # A name belongs to one source: a password here would be a second way in.
            raise BadUserInput(
                f"{name} signs in through {as_text(source)}: change the password there"
            )
        if current is not None and as_text(current) == SERVICE_ACCOUNT_HASH:
            raise BadUserInput(f"{name} is a service account: it has no password, only tokens")
        password_hash = await self._hasher.hash(password)
        await _guard(self._redis.hset(self._keys.user(name), PASSWORD_HASH_FIELD, password_hash))
        await _guard(self._redis.zrem(self._keys.imported_bcrypt(), name))
        return name

    async def remove(self, raw_name: str) -> str:
        """Delete a user record, voiding their API tokens in the same step; the caller ends
        the user's sessions (and deletes the tokens' records)."""
        name = _checked_name(raw_name)
        removed = await _guard(
            self._remove(
                keys=[self._keys.user(name), self._keys.api_token_epoch(name)],
                args=[self._channel, name],
            )
        )
        await _guard(self._redis.srem(self._keys.all_users(), name))
        await _guard(self._redis.zrem(self._keys.imported_bcrypt(), name))
        if not removed:
            raise UnknownUser(name)
        return name

    async def names(self) -> list[str]:
        """Every user name, sorted."""
        members = await _guard(self._redis.smembers(self._keys.all_users()))
        return sorted(as_text(member) for member in members)

    async def summaries(self) -> list[UserSummary]:
        """Every user with their groups and password scheme, sorted by name."""
        names = await self.names()
        pipe = self._redis.pipeline(transaction=False)
        fields = [PASSWORD_HASH_FIELD, GROUPS_FIELD, UPSTREAM_GROUPS_FIELD, SOURCE_FIELD]
        for name in names:
            pipe.hmget(self._keys.user(name), [*fields, DISABLED_FIELD])
        records = await _guard(pipe.execute()) if names else []
        summaries = []
        for name, (raw_hash, raw_groups, upstream, source, raw_disabled) in zip(
            names, records, strict=True
        ):
            groups = parse_groups(raw_groups, upstream)
            if source:
                # An upstream user: no password here; the scheme column names the source.
                summaries.append(UserSummary(name, groups, as_text(source), _is_set(raw_disabled)))
                continue
            if raw_hash is None:
                continue  # removed while we listed
            scheme = password_scheme(as_text(raw_hash)) or NATIVE_SCHEME
            summaries.append(UserSummary(name, groups, scheme, _is_set(raw_disabled)))
        return summaries

    async def exists(self, name: str) -> bool:
        """True if the user (canonical name) exists."""
        return bool(await _guard(self._redis.exists(self._keys.user(name))))

    async def may_sign_in(self, name: str) -> bool:
        """True if the user (canonical name) exists, is a person and is not disabled (a local
        user with a password, or an upstream user: one with a source).

            Every sign-in path asks this (the password check does, in the same round trip): a
            service account or a disabled one never gets a session, however it tries.
        """
        raw_hash, raw_disabled, source = await _guard(
            self._redis.hmget(
                self._keys.user(name), [PASSWORD_HASH_FIELD, DISABLED_FIELD, SOURCE_FIELD]
            )
        )
        if source and not _is_set(raw_disabled):
            return True  # an upstream user: no password here, and their source vouched
        return _may_sign_in(raw_hash, raw_disabled)

    async def set_disabled(self, raw_name: str, disabled: bool) -> bool:
        """Disable (or enable again) a user; True if that changed anything.

        Published in the same script, so every worker forgets what it cached for the user;
        the caller ends the user's sessions and tokens when disabling.
        """
        name = _checked_name(raw_name)
        changed = int(
            await _guard(
                self._set_disabled(
                    keys=[self._keys.user(name)],
                    args=["1" if disabled else "", self._channel, name],
                )
            )
        )
        if changed == -1:
            raise UnknownUser(name)
        if changed:
            self._forget_locally(name)
        return changed == 1

    async def groups(self, raw_name: str) -> tuple[str, ...]:
        """A user's groups, local and upstream, sorted; raise UnknownUser if there is no such
        user."""
        name = _checked_name(raw_name)
        raw_hash, created, raw_groups, upstream = await _guard(
            self._redis.hmget(
                self._keys.user(name),
                [PASSWORD_HASH_FIELD, CREATED_FIELD, GROUPS_FIELD, UPSTREAM_GROUPS_FIELD],
            )
        )
        if raw_hash is None and created is None:
            raise UnknownUser(name)
        return parse_groups(raw_groups, upstream)

    async def set_groups(self, raw_name: str, groups: Iterable[str]) -> tuple[str, ...]:
        """Replace a user's groups; return them as stored."""
        wanted = checked_groups(groups)
        return await self._update_groups(raw_name, lambda _: wanted)

    async def change_groups(
        self, raw_name: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> tuple[str, ...]:
        """Add some groups to a user and remove others, in one write; return the result."""
        added, removed = checked_groups(add), set(checked_groups(remove))
        return await self._update_groups(
            raw_name, lambda current: [g for g in (*current, *added) if g not in removed]
        )

    async def authenticate(self, raw_name: str, password: str) -> str:
        """Return the canonical name if the password is right; else raise InvalidCredentials.

        Unknown names, malformed names, wrong passwords and accounts on any imported scheme
        all make the same checks (PasswordHasher.plan), so neither the answer nor its timing
        tells whether an account exists or where its password came from. An imported hash
        that matched is replaced by argon2id.
        """
        name = normalize_user_name(raw_name)
        stored, bcrypt_ceiling = await self._credentials(name)
        # A service account's marker or a disabled account: checked like an unknown name,
        # against the dummies, so the answer and its cost are a wrong password's.
        if (
            not await self._hasher.verify(stored, password, bcrypt_ceiling)
            or name is None
            or stored is None
        ):
            raise InvalidCredentials()
        if self._hasher.needs_rehash(stored):
            upgraded = await self._hasher.hash(password)
            await _guard(self._replace_hash(keys=[self._keys.user(name)], args=[stored, upgraded]))
            if legacy_scheme(stored) is LegacyScheme.BCRYPT:
                await _guard(self._redis.zrem(self._keys.imported_bcrypt(), name))
        return name

    async def _credentials(self, name: str | None) -> tuple[str | None, int | None]:
        """The hash to check the password against (None when no password can be right:
        unknown, service or disabled account) and the bcrypt ceiling, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        if name is not None:
            pipe.hmget(self._keys.user(name), [PASSWORD_HASH_FIELD, DISABLED_FIELD])
        pipe.zrange(self._keys.imported_bcrypt(), 0, 0, desc=True, withscores=True)
        replies = await _guard(pipe.execute())
        raw_hash, raw_disabled = replies[0] if name is not None else (None, None)
        costliest = replies[-1]
        stored = None
        if raw_hash is not None and _may_sign_in(raw_hash, raw_disabled):
            stored = as_text(raw_hash)
        return stored, int(costliest[0][1]) if costliest else None

    async def _list_bcrypt(self, name: str, password_hash: str, *, only_new: bool) -> bool:
        """List a user about to get a bcrypt hash by its cost; True if newly listed."""
        cost = bcrypt_cost(password_hash)
        if cost is None:
            return False
        # Listed before the hash is in place: from its first possible sign-in on, every
        # check already pays this cost (PasswordHasher.plan), so none stands out.
        return bool(
            await _guard(self._redis.zadd(self._keys.imported_bcrypt(), {name: cost}, nx=only_new))
        )

    async def _create_record(
        self,
        name: str,
        password_hash: str,
        groups: str,
        created_at: int | None = None,
        disabled: bool = False,
    ) -> bool:
        when = int(time.time()) if created_at is None else created_at
        created = await _guard(
            self._create(
                keys=[self._keys.user(name)],
                args=[password_hash, when, groups, self._channel, name, "1" if disabled else ""],
            )
        )
        if not created:
            return False
        await _guard(self._redis.sadd(self._keys.all_users(), name))
        self._forget_locally(name)
        return True

    async def _update_groups(
        self, raw_name: str, change: Callable[[tuple[str, ...]], Iterable[str]]
    ) -> tuple[str, ...]:
        name = _checked_name(raw_name)
        key = self._keys.user(name)
        for _ in range(_GROUP_WRITE_ATTEMPTS):
            # Compared byte for byte by the script: whatever is stored, even malformed.
            read: bytes | str | None = await _guard(self._redis.hget(key, GROUPS_FIELD))
            current = read or b""
            new_value = _format_groups(change(parse_groups(current)))
            written = await _guard(
                self._write_groups(keys=[key], args=[current, new_value, self._channel, name])
            )
            if written == -1:
                raise UnknownUser(name)
            if written == 1:
                self._forget_locally(name)
                return parse_groups(new_value)
        raise VerifierError(f"the groups of {name} kept changing under this command; try again")

    def _forget_locally(self, name: str) -> None:
        # This worker forgets at once; the others hear the script's PUBLISH.
        if self._liveness is not None:
            self._liveness.apply(f"{USER_CHANGED} {name}")


def _is_set(raw: bytes | str | None) -> bool:
    return raw is not None and as_text(raw) == "1"


def _may_sign_in(raw_hash: bytes | str | None, raw_disabled: bytes | str | None) -> bool:
    return (
        raw_hash is not None
        and as_text(raw_hash) != SERVICE_ACCOUNT_HASH
        and not _is_set(raw_disabled)
    )


def checked_groups(raw_groups: Iterable[str]) -> tuple[str, ...]:
    """Normalize group names given by an administrator; raise BadUserInput naming bad ones."""
    groups, bad = [], []
    for raw in raw_groups:
        group = normalize_group_name(raw)
        if group is None:
            bad.append(raw)
        else:
            groups.append(group)
    if bad:
        shown = ", ".join(repr(raw) for raw in bad)
        raise BadUserInput(f"bad group name {shown}: group names are {USER_NAME_RULE}")
    return tuple(sorted(set(groups)))


def _check_importable(password_hash: str) -> None:
    if password_scheme(password_hash) is None:
        raise BadUserInput(
            f"only bcrypt (cost {MIN_BCRYPT_COST}-{MAX_BCRYPT_COST}), apr1, {{SHA}} and "
            "argon2id (no costlier than the verifier's own) hashes can be imported"
        )


def _checked_name(raw_name: str) -> str:
    name = normalize_user_name(raw_name)
    if name is None:
        raise BadUserInput(f"user names are {USER_NAME_RULE}")
    return name


def _check_new_password(password: str) -> None:
    if len(password) < 8:
        raise BadUserInput("passwords need at least 8 characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadUserInput(f"passwords are at most {MAX_PASSWORD_LENGTH} characters")
