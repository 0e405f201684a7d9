"""The Redis session store: create, rotate (one atomic script), check, revoke, revoke all."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from verifier.errors import RefreshRejected, StoreUnavailable
from verifier.factors.methods import KNOWN_METHODS, LOCAL_SOURCE, PASSWORD, SignIn, checked_amr
from verifier.sessions.liveness import SESSION_ENDED, USER_SESSIONS_ENDED, LivenessCache
from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace, normalize_user_name
from verifier.store.outages import as_text, guard_for
from verifier.store.replication import NO_REPLICA_ACK, ReplicaAck, run_confirmed
from verifier.users.sources.interface import UpstreamLink
from verifier.users.store import GROUPS_FIELD, UPSTREAM_GROUPS_FIELD, parse_groups

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("sessions")

Clock = Callable[[], float]

SESSION_ID_BYTES = 16  # 128 bits: unguessable, and short enough for headers and keys.
REFRESH_SECRET_BYTES = 32  # 256 bits, as RFC 9700 and our brief ask.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_REFRESH_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
# A refresh token's generation follows its secret after this separator (a cookie-safe
# character outside the secret's alphabet); a chain longer than 9 digits cannot happen.
GENERATION_SEPARATOR = "@"
_GENERATION = re.compile(r"0|[1-9][0-9]{0,8}")
# What a session records of where it signed in from: short, and only ever displayed.
MAX_DEVICE_LENGTH = 64
MAX_ADDRESS_LENGTH = 64


def is_session_id(raw: str) -> bool:
    """True if `raw` has the shape of a session id (says nothing about whether it is live)."""
    return _SESSION_ID.fullmatch(raw) is not None


# What a session keeps of an upstream sign-in (verifier.users.sources), beside its own fields.
_UPSTREAM_FIELDS = (
    "source",
    "checked_ms",
    "upstream_id",
    "upstream_sid",
    "upstream_refresh_token",
    "upstream_access_token",
    "upstream_id_token",
)
# Record a re-check on a session that still exists (HSET on an ended one would bring back a
# partial session without a TTL). KEYS[1] the session; ARGV field/value pairs. 1, or 0.
_MARK_CHECKED = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def _upstream_fields(link: UpstreamLink | None) -> list[str | int]:
    """The session fields of an upstream sign-in, as field/value pairs (none for a local one)."""
    if link is None:
        return []
    return [
        "source",
        link.source,
        "checked_ms",
        int(link.checked_at * 1000),
        "upstream_id",
        link.upstream_id,
        "upstream_sid",
        link.upstream_sid,
        "upstream_refresh_token",
        link.refresh_token,
        "upstream_access_token",
        link.access_token,
        "upstream_id_token",
        link.id_token,
    ]


def _upstream_checked_at(raw_source: Any, raw_checked_ms: Any) -> float | None:
    if not raw_source:
        return None
    checked_ms = _whole(raw_checked_ms)
    return checked_ms / 1000 if checked_ms is not None else 0.0


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# What StoreUnavailable says when a write reached fewer replicas than required.
REPLICAS_BEHIND = "ReplicasBehind"


def _load_script(name: str) -> str:
    return (Path(__file__).parent / "lua" / name).read_text(encoding="utf-8")


def _family_script(name: str) -> str:
    # The scripts that end sessions end whole families (single sign-on): the shared Lua
    # functions go first, in the same script, so each change stays one atomic step.
    return _load_script("family.lua") + "\n" + _load_script(name)


@dataclass(frozen=True)
class RefreshToken:
    """An opaque refresh token: `user.session_id.secret@generation`; only the secret's hash
    is stored.

    The generation is the token's place in its session's chain (the login's token is 0, each
    rotation adds one). It is not secret and proves nothing: a server that does not know a
    presented hash reads it only to tell a token from a history it lost (a later
    generation) from one it never issued. Tokens minted before generations have none.
    """

    user: str
    session_id: str
    secret: str = ""
    generation: int | None = None

    def __str__(self) -> str:
        chain = "" if self.generation is None else f"{GENERATION_SEPARATOR}{self.generation}"
        return f"{self.user}.{self.session_id}.{self.secret}{chain}"

    @property
    def secret_hash(self) -> str:
        """SHA-256 of the secret: what Redis keeps, so a leaked dump yields no tokens."""
        # The secret has 256 bits of entropy, so a plain hash needs no salt or stretching.
        return hashlib.sha256(self.secret.encode()).hexdigest()

    @classmethod
    def parse(cls, raw: str) -> RefreshToken:
        """Parse a cookie value; raise RefreshRejected if it is not one of ours."""
        parts = raw.rsplit(".", 2)
        if len(parts) != 3:
            raise RefreshRejected("malformed")
        user_part, session_id, secret_part = parts
        secret, separator, raw_generation = secret_part.partition(GENERATION_SEPARATOR)
        user = normalize_user_name(user_part)
        if (
            user is None
            or user != user_part
            or not _SESSION_ID.fullmatch(session_id)
            or not _REFRESH_SECRET.fullmatch(secret)
            or (separator and not _GENERATION.fullmatch(raw_generation))
        ):
            raise RefreshRejected("malformed")
        generation = int(raw_generation) if separator else None
        return cls(user=user, session_id=session_id, secret=secret, generation=generation)

    @classmethod
    def mint(cls, user: str, session_id: str, generation: int | None = None) -> RefreshToken:
        """A new token for a session, from the operating system's CSPRNG."""
        secret = secrets.token_urlsafe(REFRESH_SECRET_BYTES)
        return cls(user=user, session_id=session_id, secret=secret, generation=generation)

    def at_generation(self, generation: int) -> RefreshToken:
        """The same secret, placed at `generation` of its session's chain."""
        return RefreshToken(self.user, self.session_id, self.secret, generation)


@dataclass(frozen=True, slots=True)
class SteppedUp:
    """A session strengthened in place: how and when it now counts as signed in."""

    sign_in: SignIn
    absolute_expiry: float

    def seconds_left(self, now: float) -> int:
        """Seconds until the session's absolute expiry."""
        return max(0, int(self.absolute_expiry - now))


def _stored_sign_in(
    raw_amr: Any, raw_auth_time: Any, raw_created_ms: Any, raw_source: Any = None
) -> SignIn:
    # A session created before sessions recorded it was a password sign-in at its creation.
    methods = [m for m in as_text(raw_amr).split(",") if m in KNOWN_METHODS] if raw_amr else []
    auth_time = _whole(raw_auth_time)
    if auth_time is None:
        created_ms = _whole(raw_created_ms)
        # Unreadable: as old as can be, so no "signed in recently" requirement passes.
        auth_time = created_ms // 1000 if created_ms is not None else 0
    return SignIn(
        amr=tuple(dict.fromkeys(methods)) or (PASSWORD,),
        auth_time=auth_time,
        # Sessions from before sources existed are local ones.
        source=as_text(raw_source) if raw_source else LOCAL_SOURCE,
    )


def _whole(raw: Any) -> int | None:
    try:
        return int(as_text(raw)) if raw else None
    except ValueError:
        return None


# Only a stand-in default: every Refreshed the store builds carries the session's own.
_UNKNOWN_SIGN_IN = SignIn(amr=(PASSWORD,), auth_time=0)


class RotationOutcome(Enum):
    """What a refresh attempt did to the session."""

    ROTATED = "rotated"  # a new refresh token was issued
    GRACE = "grace"  # the previous token inside the grace window: access only, no rotation


@dataclass(frozen=True)
class Refreshed:
    """A successful refresh: the session, and the new refresh token if one was minted."""

    user: str
    session_id: str
    outcome: RotationOutcome
    new_refresh_token: RefreshToken | None
    absolute_expiry: float
    groups: tuple[str, ...] = ()
    # The session's own sign-in: a refresh carries it into the new access token unchanged.
    sign_in: SignIn = _UNKNOWN_SIGN_IN
    # When the session's upstream source last vouched for the user (None: a local session).
    upstream_checked_at: float | None = None

    def seconds_left(self, now: float) -> int:
        """Seconds until the session's absolute expiry (cookie Max-Age must not exceed it)."""
        return max(0, int(self.absolute_expiry - now))


@dataclass(frozen=True)
class NewSession:
    """A session created at login."""

    user: str
    session_id: str
    refresh_token: RefreshToken
    sign_in: SignIn
    # The user's oldest sessions this login ended, past VERIFIER_MAX_SESSIONS_PER_USER.
    evicted: tuple[str, ...] = ()
    # The host the session is bound to (single sign-on: the portal's, or an app host's for
    # a child session); "" without single sign-on.
    host: str = ""
    # A child session's portal session (single sign-on), else "".
    portal_session: str = ""
    # When a child session ends at the latest (its portal session's end); None: a full
    # lifetime from now.
    absolute_expiry: float | None = None
    # For an upstream sign-in: when its source must be asked again (the access token of a
    # session never outlives it, so the refresh that asks comes in time).
    recheck_due: float | None = None


@dataclass(frozen=True, slots=True)
class SessionDetails:
    """What the account page shows of one live session; display only, never trusted."""

    session_id: str
    device: str  # as verifier.sessions.devices stored it: read it with Device.from_stored
    address: str
    started: float
    last_used: float
    # How the user signed in (and stepped up since): amr values, as the session records them.
    amr: tuple[str, ...] = ()
    # Single sign-on: the app hosts this (portal) session has entered, by their children.
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionPolicy:
    """Lifetimes the store enforces with Redis TTLs."""

    idle_seconds: int
    absolute_seconds: int
    grace_seconds: int
    max_sessions_per_user: int


class SessionStore:
    """Sessions in Redis, each with its own rotating refresh token."""

    def __init__(
        self,
        client: RedisClient,
        keys: KeySpace,
        policy: SessionPolicy,
        clock: Clock,
        liveness: LivenessCache | None = None,
        replica_ack: ReplicaAck = NO_REPLICA_ACK,
        *,
        sign_in_host: str = "",
    ) -> None:
        self._redis = client
        # With single sign-on, every session a sign-in starts is bound to the portal's host.
        self._sign_in_host = sign_in_host
        # Rotations and revocations wait for this many replicas (WAIT), or fail closed.
        self._replica_ack = replica_ack
        self._keys = keys
        self._policy = policy
        self._clock = clock
        self._liveness = liveness
        self._channel = keys.revocations()
        self._create = client.register_script(_family_script("create_session.lua"))
        self._rotate = client.register_script(_family_script("rotate_refresh.lua"))
        self._revoke_one = client.register_script(_family_script("revoke_session.lua"))
        self._revoke_all = client.register_script(_family_script("revoke_all.lua"))
        self._revoke_others = client.register_script(_family_script("revoke_others.lua"))
        self._create_child = client.register_script(_load_script("create_child_session.lua"))
        self._end_handed_off = client.register_script(_load_script("end_handed_off.lua"))
        self._step_up = client.register_script(_load_script("step_up_session.lua"))
        self._withhold = client.register_script(_load_script("withhold_rotation.lua"))
        self._confirm = client.register_script(_load_script("confirm_rotation.lua"))
        self._mark_checked = client.register_script(_MARK_CHECKED)

    async def create(
        self,
        user: str,
        amr: Iterable[str] = (PASSWORD,),
        auth_time: float | None = None,
        *,
        device: str = "",
        address: str = "",
        upstream: UpstreamLink | None = None,
        recheck_interval: float | None = None,
    ) -> NewSession:
        """Start a session for a user who just proved who they are.

        `amr` says how (verifier.factors.methods values), `auth_time` when (default: now);
        `device` and `address` are kept (cut short) for the account page to show. `upstream`
        is the upstream sign-in it comes from, re-checked every `recheck_interval` seconds.
        """
        sign_in = SignIn(
            amr=checked_amr(amr),
            auth_time=int(self._clock() if auth_time is None else auth_time),
            source=upstream.source if upstream is not None else LOCAL_SOURCE,
        )
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        token = RefreshToken.mint(user, session_id, generation=0)
        written = await _guard(
            run_confirmed(
                self._redis,
                self._create,
                [self._keys.session(user, session_id), self._keys.session_index(user)],
                [
                    session_id,
                    token.secret_hash,
                    self._now_ms(),
                    self._policy.idle_seconds,
                    self._policy.absolute_seconds,
                    self._policy.max_sessions_per_user,
                    self._keys.session_prefix(user),
                    self._keys.retired_prefix(user),
                    self._channel,
                    user,
                    ",".join(sign_in.amr),
                    sign_in.auth_time,
                    device[:MAX_DEVICE_LENGTH],
                    address[:MAX_ADDRESS_LENGTH],
                    self._keys.family_prefix(user),
                    self._sign_in_host,
                    *_upstream_fields(upstream),
                ],
                self._replica_ack,
            )
        )
        # A session a failover could lose is not handed out: the sign-in answers 503 and
        # the user signs in again (the unused session ends at its idle timeout).
        self._require_confirmed(written.confirmed)
        evicted = written.reply
        if upstream is not None and upstream.upstream_sid:
            # Where a back-channel logout naming the provider's session finds this one.
            await self._index_upstream_session(user, session_id, upstream)
        recheck_due = None
        if upstream is not None and recheck_interval is not None:
            recheck_due = upstream.checked_at + recheck_interval
        return NewSession(
            user=user,
            session_id=session_id,
            refresh_token=token,
            sign_in=sign_in,
            evicted=tuple(as_text(evicted_id) for evicted_id in evicted),
            host=self._sign_in_host,
            recheck_due=recheck_due,
        )

    async def create_child(
        self,
        user: str,
        portal_session: str,
        host: str,
        *,
        replacing: str = "",
        session_id: str | None = None,
        device: str = "",
        address: str = "",
    ) -> NewSession | None:
        """Single sign-on: a child session on `host` for a live portal session, or None.

        One script: the portal session must be live and a portal session (bound to the
        portal's host, no family of its own); the child copies how and when the user signed
        in, lives no longer than it, is listed in its family, and renews its idle timeout.
        `replacing` is the child this browser held on this host, ended if of this family.
        `session_id` is minted by the caller when it must name the child before it exists
        (the code's spent mark); a child whose code came back meanwhile is never made.
        """
        child_id = session_id or secrets.token_urlsafe(SESSION_ID_BYTES)
        token = RefreshToken.mint(user, child_id, generation=0)
        written = await _guard(
            run_confirmed(
                self._redis,
                self._create_child,
                [
                    self._keys.session(user, portal_session),
                    self._keys.session(user, child_id),
                    self._keys.family(user, portal_session),
                    self._keys.handoff_revoked(user, child_id),
                ],
                [
                    child_id,
                    token.secret_hash,
                    self._now_ms(),
                    self._policy.idle_seconds,
                    self._policy.absolute_seconds,
                    host,
                    portal_session,
                    device[:MAX_DEVICE_LENGTH],
                    address[:MAX_ADDRESS_LENGTH],
                    self._sign_in_host,
                    replacing,
                    self._keys.session_prefix(user),
                    self._keys.retired_prefix(user),
                    self._channel,
                    user,
                ],
                self._replica_ack,
            )
        )
        self._require_confirmed(written.confirmed)
        if not written.reply:
            return None
        if replacing:
            self._forget_locally(f"{SESSION_ENDED} {user} {replacing}")
        raw_amr, raw_auth_time, absolute_ms = written.reply
        return NewSession(
            user=user,
            session_id=child_id,
            refresh_token=token,
            sign_in=_stored_sign_in(raw_amr, raw_auth_time, None),
            host=host,
            portal_session=portal_session,
            absolute_expiry=int(absolute_ms) / 1000,
        )

    async def end_handed_off(self, user: str, child_session: str, marker_seconds: int) -> bool:
        """End the child a returning hand-off code made, and keep it from being made after.

        True if it was live. Only that child ends (RFC 6749 section 4.1.2); its family stays.
        """
        written = await _guard(
            run_confirmed(
                self._redis,
                self._end_handed_off,
                [
                    self._keys.session(user, child_session),
                    self._keys.retired(user, child_session),
                    self._keys.handoff_revoked(user, child_session),
                ],
                [
                    child_session,
                    self._channel,
                    user,
                    self._keys.family_prefix(user),
                    marker_seconds,
                ],
                self._replica_ack,
            )
        )
        self._forget_locally(f"{SESSION_ENDED} {user} {child_session}")
        self._require_confirmed(written.confirmed)
        return bool(written.reply)

    async def step_up(
        self, user: str, session_id: str, amr: Iterable[str], auth_time: float | None = None
    ) -> SteppedUp | None:
        """Strengthen a live session with factors just proven; None if it has ended.

        Atomic: the methods are added to the session's (none is ever removed, so a session
        is never made weaker) and its sign-in time becomes `auth_time` (default: now),
        unless it already says later. Lifetimes are untouched.
        """
        methods = checked_amr(amr)
        now = self._clock()
        signed_in_at = int(now if auth_time is None else auth_time)
        result: list[Any] | None = await _guard(
            self._step_up(
                keys=[self._keys.session(user, session_id)],
                args=[",".join(methods), signed_in_at, self._now_ms()],
            )
        )
        if not result:
            return None
        raw_amr, raw_auth_time, absolute_ms = result[:3]
        return SteppedUp(
            sign_in=_stored_sign_in(
                raw_amr, raw_auth_time, None, result[3] if len(result) > 3 else None
            ),
            absolute_expiry=int(absolute_ms) / 1000,
        )

    async def stored_sign_in(self, user: str, session_id: str) -> SignIn | None:
        """How, when and through which source a session signed in (or last stepped up), as
        Redis keeps it; None if it has ended. Read afresh, not from the access token: for
        the account pages that ask for a recent sign-in and the portal's authorize step."""
        raw_amr, raw_auth_time, raw_created_ms, raw_source = await _guard(
            self._redis.hmget(
                self._keys.session(user, session_id),
                ["amr", "auth_time", "created_ms", "source"],
            )
        )
        if raw_created_ms is None:
            return None
        return _stored_sign_in(raw_amr, raw_auth_time, raw_created_ms, raw_source)

    async def is_live(self, user: str, session_id: str) -> bool:
        """True while the session exists (not logged out, revoked, idle or past its lifetime)."""
        return await self.live_groups(user, session_id) is not None

    def cached_live_groups(self, user: str, session_id: str) -> tuple[str, ...] | None:
        """The user's groups if the liveness cache knows the session live, else None (not
        "ended": not known here; live_groups() asks Redis)."""
        cache = self._liveness
        return None if cache is None else cache.cached_groups(user, session_id)

    async def live_groups(self, user: str, session_id: str) -> tuple[str, ...] | None:
        """The user's groups while the session is live, else None.

        One round trip on a cache miss: the session's existence and the user's groups are
        read together (both keys carry the user's hash tag, so one Cluster slot).
        """
        cache = self._liveness
        if cache is not None:
            known = cache.known_groups(user, session_id)
            if known is not None:
                return known
        epoch = cache.epoch if cache is not None else 0
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.exists(self._keys.session(user, session_id))
        pipeline.hmget(self._keys.user(user), [GROUPS_FIELD, UPSTREAM_GROUPS_FIELD])
        exists, (raw_groups, upstream_groups) = await _guard(pipeline.execute())
        if not exists:
            return None
        groups = parse_groups(raw_groups, upstream_groups)
        if cache is not None:
            cache.remember(user, session_id, epoch, groups)
        return groups

    async def refresh(self, raw_token: str, host: str = "") -> Refreshed:
        """Validate a refresh token and rotate it; raise RefreshRejected if it is not good.

        `host` (single sign-on) is where the token was presented: a session bound to another
        host is refused as `wrong_host`, and nothing changes.
        """
        presented = RefreshToken.parse(raw_token)
        replacement = RefreshToken.mint(presented.user, presented.session_id)
        user, session_id = presented.user, presented.session_id
        written = await _guard(
            run_confirmed(
                self._redis,
                self._rotate,
                [
                    self._keys.session(user, session_id),
                    self._keys.retired(user, session_id),
                    self._keys.session_index(user),
                    self._keys.user(user),
                ],
                [
                    presented.secret_hash,
                    replacement.secret_hash,
                    self._now_ms(),
                    self._policy.grace_seconds * 1000,
                    self._policy.idle_seconds,
                    session_id,
                    self._channel,
                    user,
                    -1 if presented.generation is None else presented.generation,
                    "1" if self._replica_ack.enabled else "0",
                    host,
                    self._keys.session_prefix(user),
                    self._keys.retired_prefix(user),
                    self._keys.family_prefix(user),
                ],
                self._replica_ack,
            )
        )
        result: list[Any] = written.reply
        outcome, absolute_ms, groups = as_text(result[0]), int(result[1]), parse_groups(result[2])
        if outcome == RotationOutcome.ROTATED.value:
            if not written.confirmed:
                await self._withhold_rotation(presented, replacement)
            if self._replica_ack.enabled:
                await self._confirm_rotation(replacement)
            new_token: RefreshToken | None = replacement.at_generation(int(result[6]))
        elif outcome == RotationOutcome.GRACE.value:
            new_token = None
        else:
            if outcome == "replayed":
                self._forget_locally(f"{SESSION_ENDED} {user} {session_id}")
            raise RefreshRejected(outcome)
        return Refreshed(
            user=user,
            session_id=session_id,
            outcome=RotationOutcome(outcome),
            new_refresh_token=new_token,
            absolute_expiry=absolute_ms / 1000,
            groups=groups,
            sign_in=_stored_sign_in(result[3], result[4], result[5], result[7]),
            upstream_checked_at=_upstream_checked_at(result[7], result[8]),
        )

    async def _confirm_rotation(self, replacement: RefreshToken) -> None:
        # A replica has the rotation (and its `unconfirmed` mark, written by the same script):
        # clear the mark before the new token leaves, so that the token it replaced is a
        # replay again once its grace is over. Not waited for: if a failover loses this
        # write, the session only keeps the mark (the replaced token may rotate once more
        # past its grace instead of revoking the session); nobody is signed out.
        await _guard(
            self._confirm(
                keys=[self._keys.session(replacement.user, replacement.session_id)],
                args=[replacement.secret_hash],
            )
        )

    async def _withhold_rotation(self, presented: RefreshToken, replacement: RefreshToken) -> None:
        # A failover now could bring back the session as it was before this rotation, or with
        # it: the new token is not handed out, and the client keeps the one it presented.
        # The state before the rotation takes it as current; the state with it has its
        # `unconfirmed` mark (same script), which lets the kept token rotate again past the
        # grace window; the `undelivered` mark written here lets it rotate again at once.
        await _guard(
            self._withhold(
                keys=[self._keys.session(presented.user, presented.session_id)],
                args=[presented.secret_hash, replacement.secret_hash],
            )
        )
        raise StoreUnavailable(REPLICAS_BEHIND)

    async def upstream_link(self, user: str, session_id: str) -> UpstreamLink | None:
        """What a live session keeps of its upstream sign-in; None for a local or ended one."""
        values = await _guard(
            self._redis.hmget(self._keys.session(user, session_id), list(_UPSTREAM_FIELDS))
        )
        found = dict(zip(_UPSTREAM_FIELDS, values, strict=True))
        source, checked_ms = found["source"], _whole(found["checked_ms"])
        if not source or checked_ms is None:
            return None
        return UpstreamLink(
            source=as_text(source),
            upstream_id=as_text(found["upstream_id"] or ""),
            checked_at=checked_ms / 1000,
            upstream_sid=as_text(found["upstream_sid"] or ""),
            refresh_token=as_text(found["upstream_refresh_token"] or ""),
            access_token=as_text(found["upstream_access_token"] or ""),
            id_token=as_text(found["upstream_id_token"] or ""),
        )

    async def mark_rechecked(self, user: str, session_id: str, link: UpstreamLink) -> bool:
        """Record a good re-check (its time, and tokens a provider rotated); False if the
        session has ended meanwhile (nothing is written then)."""
        written = await _guard(
            self._mark_checked(
                keys=[self._keys.session(user, session_id)], args=_upstream_fields(link)
            )
        )
        return bool(written)

    async def claim_recheck(self, user: str, session_id: str, hold_seconds: float) -> bool:
        """True for the one caller that may re-check this session now (held `hold_seconds`)."""
        claimed = await _guard(
            self._redis.set(
                self._keys.recheck_lock(user, session_id),
                "1",
                nx=True,
                px=max(1, int(hold_seconds * 1000)),
            )
        )
        return bool(claimed)

    async def release_recheck(self, user: str, session_id: str) -> None:
        """End a claim_recheck() (the check is done, recorded or failed)."""
        await _guard(self._redis.delete(self._keys.recheck_lock(user, session_id)))

    async def sessions_of_upstream(self, source: str, upstream_sid: str) -> list[tuple[str, str]]:
        """(user, session id) of the sessions a provider's session started."""
        members = await _guard(
            self._redis.smembers(self._keys.oidc_sessions(source, _sha256(upstream_sid)))
        )
        found = []
        for member in members:
            user, _, session_id = as_text(member).partition(" ")
            if user and session_id:
                found.append((user, session_id))
        return sorted(found)

    async def _index_upstream_session(
        self, user: str, session_id: str, upstream: UpstreamLink
    ) -> None:
        key = self._keys.oidc_sessions(upstream.source, _sha256(upstream.upstream_sid))
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(key, f"{user} {session_id}")
        # Kept as long as the longest session it may name.
        pipe.expire(key, self._policy.absolute_seconds)
        await _guard(pipe.execute())

    async def refresh_hashes(self, user: str, session_id: str, host: str = "") -> list[str]:
        """Hashes of the session's current and (still in grace or not) previous token.

        With `host` (single sign-on), none unless the session is bound to that host.
        """
        *values, bound = await _guard(
            self._redis.hmget(self._keys.session(user, session_id), ["current", "previous", "host"])
        )
        if host and (bound is None or as_text(bound) != host):
            return []
        return [as_text(value) for value in values if value]

    @property
    def absolute_seconds(self) -> int:
        """Absolute session lifetime, counted from login."""
        return self._policy.absolute_seconds

    async def revoke(self, user: str, session_id: str) -> bool:
        """End one session; True if it was live."""
        written = await _guard(
            run_confirmed(
                self._redis,
                self._revoke_one,
                [
                    self._keys.session(user, session_id),
                    self._keys.retired(user, session_id),
                    self._keys.session_index(user),
                ],
                [
                    session_id,
                    self._channel,
                    user,
                    self._keys.session_prefix(user),
                    self._keys.retired_prefix(user),
                    self._keys.family_prefix(user),
                ],
                self._replica_ack,
            )
        )
        existed, *ended = written.reply
        # This worker forgets at once (the session and its family, with single sign-on);
        # the others hear the script's PUBLISH.
        for ended_id in ended:
            self._forget_locally(f"{SESSION_ENDED} {user} {as_text(ended_id)}")
        self._require_confirmed(written.confirmed)
        return bool(existed)

    async def revoke_all(self, user: str) -> list[str]:
        """End every session of a user, and void every API token they made (one script);
        return the ids of the sessions that were ended."""
        written = await _guard(
            run_confirmed(
                self._redis,
                self._revoke_all,
                [self._keys.session_index(user), self._keys.api_token_epoch(user)],
                [
                    self._keys.session_prefix(user),
                    self._keys.retired_prefix(user),
                    self._channel,
                    user,
                    self._keys.family_prefix(user),
                ],
                self._replica_ack,
            )
        )
        self._forget_locally(f"{USER_SESSIONS_ENDED} {user}")
        self._require_confirmed(written.confirmed)
        return [as_text(session_id) for session_id in written.reply]

    async def revoke_others(self, user: str, keep_session_id: str) -> list[str]:
        """End every session of a user but `keep_session_id`; return the ids that were ended.

        One script: a session created meanwhile is either ended or was not yet there.
        """
        ended = await _guard(
            self._revoke_others(
                keys=[self._keys.session_index(user)],
                args=[
                    self._keys.session_prefix(user),
                    self._keys.retired_prefix(user),
                    self._channel,
                    user,
                    keep_session_id,
                    self._keys.family_prefix(user),
                ],
            )
        )
        ended_ids = [as_text(session_id) for session_id in ended]
        for session_id in ended_ids:
            self._forget_locally(f"{SESSION_ENDED} {user} {session_id}")
        return ended_ids

    async def session_details(self, user: str) -> list[SessionDetails]:
        """The user's live sessions with what they recorded, oldest first; two round trips."""
        members: list[bytes] = await _guard(
            self._redis.zrange(self._keys.session_index(user), 0, -1)  # type: ignore[arg-type, unused-ignore]
        )
        session_ids = [as_text(member) for member in members]
        if not session_ids:
            return []
        pipeline = self._redis.pipeline(transaction=False)
        for session_id in session_ids:
            pipeline.hmget(
                self._keys.session(user, session_id),
                ["created_ms", "used_ms", "device", "address", "amr", "auth_time"],
            )
            pipeline.smembers(self._keys.family(user, session_id))
        replies = await _guard(pipeline.execute())
        fields, families = replies[::2], replies[1::2]
        hosts = await self._family_hosts(user, families)
        details: list[SessionDetails] = []
        for session_id, (created, used, device, address, amr, auth_time), family in zip(
            session_ids, fields, families, strict=True
        ):
            created_ms = _whole(created)
            if created_ms is None:
                continue  # ended (idle, revoked) but not yet pruned from the index
            used_ms = _whole(used) or created_ms
            details.append(
                SessionDetails(
                    session_id=session_id,
                    device=as_text(device) if device else "",
                    address=as_text(address) if address else "",
                    started=created_ms / 1000,
                    last_used=used_ms / 1000,
                    amr=_stored_sign_in(amr, auth_time, created).amr,
                    hosts=tuple(sorted({hosts[as_text(c)] for c in family if as_text(c) in hosts})),
                )
            )
        return details

    async def _family_hosts(self, user: str, families: list[Any]) -> dict[Any, str]:
        # Single sign-on: the host of every live child of the listed portal sessions, in one
        # more round trip, and none at all when no session has a child.
        children = [child for family in families for child in family]
        if not children:
            return {}
        pipeline = self._redis.pipeline(transaction=False)
        for child in children:
            pipeline.hget(self._keys.session(user, as_text(child)), "host")
        found = await _guard(pipeline.execute())
        return {
            as_text(child): as_text(host)
            for child, host in zip(children, found, strict=True)
            if host is not None
        }

    async def list_sessions(self, user: str) -> list[str]:
        """Ids of the user's sessions that are still live."""
        members: list[bytes] = await _guard(
            self._redis.zrange(self._keys.session_index(user), 0, -1)  # type: ignore[arg-type, unused-ignore]
        )
        live: list[str] = []
        for member in members:
            session_id = as_text(member)
            if await self.is_live(user, session_id):
                live.append(session_id)
        return live

    @staticmethod
    def _require_confirmed(confirmed: bool) -> None:
        # The write stands on the master, but a failover could undo it: the caller answers
        # 503 (cookies kept, none set) and the user's retry writes, and waits, again.
        if not confirmed:
            raise StoreUnavailable(REPLICAS_BEHIND)

    def _forget_locally(self, revocation: str) -> None:
        if self._liveness is not None:
            self._liveness.apply(revocation)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
