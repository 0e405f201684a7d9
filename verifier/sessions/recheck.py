"""The re-check at rotation: an upstream user's source is asked again, at most every
`refresh_interval_seconds`, by the silent refresh that finds the last check too old.

Never on the valid access-token path: a session's access token lives no longer than its
next re-check is due, so the refresh that asks comes in time. One worker at a time per
session (a short Redis claim); the others answer from what the session knows, with a
short-lived token.

What the source says:
- the user is there: their upstream groups are replaced (local groups never are), the check
  time is recorded, and the new access token lives until the next check;
- the user is gone or disabled: every session of theirs ends at once (the same revocation as
  "log out everywhere", heard by every worker) and an audit record says why;
- the source cannot be asked: an outage is not a logout. The session goes on, unless its
  source sets `max_stale_seconds` and the last good check is older than that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from verifier.errors import RefreshRejected
from verifier.observe.audit import AuditLog, record_revocation
from verifier.observe.causes import RevocationCause
from verifier.observe.metrics import (
    NO_METRICS,
    UPSTREAM_OK,
    UPSTREAM_REFUSED,
    UPSTREAM_UNAVAILABLE,
    Metrics,
)
from verifier.sessions.store import Refreshed, SessionStore
from verifier.upstream.config import RecheckPolicy
from verifier.users.sources.accounts import UpstreamAccounts
from verifier.users.sources.interface import RecheckingSource, SourceUnavailable, UserGone
from verifier.users.sources.registry import Sources
from verifier.users.store import UnknownUser, UserStore

log = logging.getLogger(__name__)

# The reason a refused refresh carries (the /auth denial metric's `upstream_gone`).
UPSTREAM_GONE = "upstream"
# How long a token lives when another worker is re-checking the same session right now.
WHILE_ANOTHER_CHECKS_SECONDS = 5
# How long a claim holds at most, should its holder die mid-check (it is released when the
# check ends; a source's own timeout is at most 60 s).
_CLAIM_SECONDS = 90.0


@dataclass(frozen=True, slots=True)
class UpstreamVerdict:
    """What a session's upstream source says at a refresh: the groups to admit with, and
    how long the new access token may live (until the next re-check is due)."""

    groups: tuple[str, ...]
    valid_until: float | None = None


class UpstreamRecheck:
    """Asks an upstream session's source again when due (the gate's UpstreamCheck)."""

    def __init__(
        self,
        sources: Sources,
        sessions: SessionStore,
        accounts: UpstreamAccounts,
        users: UserStore,
        audit: AuditLog,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._sources = sources
        self._sessions = sessions
        self._accounts = accounts
        self._users = users
        self._audit = audit
        self._metrics = metrics

    async def after_refresh(self, refreshed: Refreshed, now: float) -> UpstreamVerdict:
        """The groups and token lifetime for this refresh; raise RefreshRejected when the
        source no longer vouches for the user (every session of theirs has then ended)."""
        user, session_id = refreshed.user, refreshed.session_id
        name = refreshed.sign_in.source
        source = self._sources.rechecking(name)
        if source is None:
            # The sources file no longer names it: nobody can vouch for these sessions.
            await self._end(user, name, "the source is no longer in the sources file")
            raise RefreshRejected(UPSTREAM_GONE)
        policy = source.recheck_policy
        checked_at = refreshed.upstream_checked_at or 0.0
        due = checked_at + policy.interval_seconds
        if now < due:
            return UpstreamVerdict(refreshed.groups, valid_until=due)
        if not await self._sessions.claim_recheck(user, session_id, _CLAIM_SECONDS):
            # Another worker is asking right now: this client asks again in a moment, and
            # by then the session has ended or its check is recorded.
            return UpstreamVerdict(refreshed.groups, valid_until=now + WHILE_ANOTHER_CHECKS_SECONDS)
        try:
            return await self._recheck(refreshed, source, checked_at, now)
        finally:
            await self._sessions.release_recheck(user, session_id)

    async def _recheck(
        self, refreshed: Refreshed, source: RecheckingSource, checked_at: float, now: float
    ) -> UpstreamVerdict:
        user, session_id, name = refreshed.user, refreshed.session_id, source.name
        policy = source.recheck_policy
        # Read after the claim: a provider's refresh token another worker just rotated.
        link = await self._sessions.upstream_link(user, session_id)
        if link is None:
            raise RefreshRejected(UPSTREAM_GONE)  # ended meanwhile
        if link.checked_at > checked_at:
            # Another refresh of this session re-checked it since this one read it.
            return UpstreamVerdict(
                await self._groups(user), valid_until=link.checked_at + policy.interval_seconds
            )
        try:
            rechecked = await source.recheck(link, now)
        except UserGone as gone:
            self._metrics.upstream_call(name, "recheck", UPSTREAM_REFUSED)
            await self._end(user, name, gone.reason)
            raise RefreshRejected(UPSTREAM_GONE) from None
        except SourceUnavailable as down:
            self._metrics.upstream_call(name, "recheck", UPSTREAM_UNAVAILABLE)
            return await self._outage(refreshed, name, down, checked_at, now, policy)
        self._metrics.upstream_call(name, "recheck", UPSTREAM_OK)
        if not await self._accounts.update_groups(
            user, name, link.upstream_id, rechecked.groups, now
        ):
            await self._end(user, name, "the account here is no longer this upstream identity's")
            raise RefreshRejected(UPSTREAM_GONE)
        if not await self._sessions.mark_rechecked(user, session_id, rechecked.link):
            raise RefreshRejected(UPSTREAM_GONE)  # ended meanwhile
        return UpstreamVerdict(await self._groups(user), valid_until=now + policy.interval_seconds)

    async def _groups(self, user: str) -> tuple[str, ...]:
        # Local and upstream, as now stored.
        try:
            return await self._users.groups(user)
        except UnknownUser:
            raise RefreshRejected(UPSTREAM_GONE) from None

    async def _outage(
        self,
        refreshed: Refreshed,
        name: str,
        down: SourceUnavailable,
        checked_at: float,
        now: float,
        policy: RecheckPolicy,
    ) -> UpstreamVerdict:
        # An outage is not a logout: the session goes on with what it knew, and asks again
        # an interval later (not a whole access-token lifetime later: a user disabled while
        # the directory was down is caught within an interval of its return).
        log.warning("re-check of %s through %s failed: %s", refreshed.user, name, down.reason)
        retry_at = now + policy.interval_seconds
        max_stale_seconds = policy.max_stale_seconds
        if not max_stale_seconds:
            return UpstreamVerdict(refreshed.groups, valid_until=retry_at)
        stale_until = checked_at + max_stale_seconds
        if now >= stale_until:
            await self._end(
                refreshed.user,
                name,
                f"not confirmed for longer than max_stale_seconds ({max_stale_seconds} s)",
            )
            raise RefreshRejected(UPSTREAM_GONE)
        return UpstreamVerdict(refreshed.groups, valid_until=min(retry_at, stale_until))

    async def _end(self, user: str, source: str, reason: str) -> None:
        ended = await self._sessions.revoke_all(user)
        self._audit.record("upstream.user_ended", user=user, source=source, reason=reason)
        self._metrics.revoked(RevocationCause.UPSTREAM, len(ended))
        record_revocation(self._audit, RevocationCause.UPSTREAM, user, ended)
