"""`POST /auth/oidc/ID/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0 (one path per
provider whose `backchannel_logout` is on; never behind auth_request).

The provider posts a `logout_token` (a form field). It is checked fully by us
(verifier.users.sources.oidc_tokens: signature with our pinned algorithms, iss, aud, iat,
exp, jti, the event, sid or sub, no nonce); its `jti` is remembered until it expires, so the
same token posted again is refused. Then the sessions it names end: by `sid`, the sessions
that provider session started; by `sub` alone, every session of that user made through this
provider. The revocation is the ordinary one, heard by every worker at once over pub/sub.

Answers (section 2.8): 200 when done (also when nothing was live), 400 with an OAuth error
for a token that fails a check or came before, 503 when the provider's keys cannot be read.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable

import falcon
import falcon.asgi

from verifier.observe.audit import AuditLog, record_revocation
from verifier.observe.causes import RevocationCause
from verifier.observe.metrics import (
    UPSTREAM_OK,
    UPSTREAM_REFUSED,
    UPSTREAM_UNAVAILABLE,
    Metrics,
)
from verifier.resources.body import read_fields
from verifier.sessions.store import SessionStore
from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import guard_for
from verifier.users.sources.accounts import UpstreamAccounts
from verifier.users.sources.interface import SourceUnavailable
from verifier.users.sources.oidc_source import LogoutNotice, OidcSource
from verifier.users.sources.oidc_tokens import TokenRefused

log = logging.getLogger(__name__)
_guard = guard_for("oidc_backchannel")

# A logout token's jti is remembered at least this long, even if it says it expires sooner.
MIN_JTI_SECONDS = 60
MAX_LOGOUT_TOKEN_LENGTH = 8192


class BackchannelLogout:
    """Ends the sessions a provider's logout token names (see the module docstring)."""

    def __init__(
        self,
        source: OidcSource,
        client: RedisClient,
        keys: KeySpace,
        sessions: SessionStore,
        accounts: UpstreamAccounts,
        audit: AuditLog,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self._source = source
        self._redis = client
        self._keys = keys
        self._sessions = sessions
        self._accounts = accounts
        self._audit = audit
        self._metrics = metrics
        self._clock = clock

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Check the logout token and end what it names."""
        resp.cache_control = ["no-store"]
        name = self._source.name
        raw = (await read_fields(req)).get("logout_token", "")
        if not raw or len(raw) > MAX_LOGOUT_TOKEN_LENGTH:
            self._refuse(resp, "no_logout_token")
            return
        try:
            notice = await self._source.logout_notice(raw)
        except TokenRefused as refused:
            self._refuse(resp, refused.reason)
            return
        except SourceUnavailable as down:
            log.warning("back-channel logout from %s not checked: %s", name, down.reason)
            self._metrics.upstream_call(name, "logout", UPSTREAM_UNAVAILABLE)
            resp.status = falcon.HTTP_503
            resp.retry_after = 30
            resp.media = {"error": "temporarily_unavailable"}
            return
        if not await self._first_use(notice):
            self._refuse(resp, "jti_replayed")
            return
        ended = await self._end(notice)
        self._metrics.upstream_call(name, "logout", UPSTREAM_OK)
        self._metrics.revoked(
            RevocationCause.BACKCHANNEL_LOGOUT, sum(len(s) for s in ended.values())
        )
        self._audit.record(
            "oidc.backchannel_logout",
            source=name,
            by="sid" if notice.sid else "sub",
            sessions=sum(len(s) for s in ended.values()),
        )
        for user, session_ids in ended.items():
            record_revocation(self._audit, RevocationCause.BACKCHANNEL_LOGOUT, user, session_ids)
        resp.status = falcon.HTTP_200

    async def _first_use(self, notice: LogoutNotice) -> bool:
        remember = max(MIN_JTI_SECONDS, math.ceil(notice.exp - self._clock()) + 120)
        jti_hash = hashlib.sha256(notice.jti.encode()).hexdigest()
        key = self._keys.oidc_logout_token(self._source.name, jti_hash)
        return bool(await _guard(self._redis.set(key, "1", nx=True, ex=remember)))

    async def _end(self, notice: LogoutNotice) -> dict[str, list[str]]:
        ended: dict[str, list[str]] = {}
        if notice.sid:
            for user, session_id in await self._sessions.sessions_of_upstream(
                self._source.name, notice.sid
            ):
                link = await self._sessions.upstream_link(user, session_id)
                # A sid names sessions of one user: with a sub too, it must be that user's.
                if link is None or (notice.sub and link.upstream_id != notice.sub):
                    continue
                if await self._sessions.revoke(user, session_id):
                    ended.setdefault(user, []).append(session_id)
            return ended
        owner = await self._accounts.user_of(self._source.name, notice.sub)
        if owner is None:
            return ended
        for session_id in await self._sessions.list_sessions(owner):
            link = await self._sessions.upstream_link(owner, session_id)
            if link is None or link.source != self._source.name:
                continue
            if await self._sessions.revoke(owner, session_id):
                ended.setdefault(owner, []).append(session_id)
        return ended

    def _refuse(self, resp: falcon.asgi.Response, reason: str) -> None:
        self._metrics.upstream_call(self._source.name, "logout", UPSTREAM_REFUSED)
        self._audit.record("oidc.backchannel_refused", source=self._source.name, reason=reason)
        resp.status = falcon.HTTP_400
        resp.media = {"error": "invalid_request", "error_description": reason}
