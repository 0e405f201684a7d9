"""The admission decision behind `/auth`: access token first, then silent refresh."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from verifier.cookies import CookiePolicy, TokenCookies
from verifier.errors import AccessTokenExpired, RefreshRejected, TokenRejected
from verifier.sessions import Clock, NewSession, RefreshToken, SessionStore
from verifier.tokens import AccessTokenCodec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admitted:
    """An allowed request: who it is, and the cookies to hand back after a silent refresh."""

    user: str
    session_id: str
    set_access_cookie: str | None = None
    set_refresh_cookie: str | None = None


@dataclass(frozen=True)
class SessionRef:
    """A session a request proved it holds (for logout)."""

    user: str
    session_id: str


class Gate:
    """Decides each request from its two cookies, rotating the refresh token when needed."""

    def __init__(
        self,
        codec: AccessTokenCodec,
        sessions: SessionStore,
        cookie_policy: CookiePolicy,
        clock: Clock,
    ) -> None:
        self._codec = codec
        self._sessions = sessions
        self._cookies = cookie_policy
        self._clock = clock

    async def admit(self, cookies: TokenCookies) -> Admitted:
        """Admit the request or raise TokenRejected / RefreshRejected / StoreUnavailable."""
        now = self._clock()
        if cookies.access is not None:
            try:
                claims = self._codec.verify(cookies.access, now)
            except AccessTokenExpired:
                pass  # the refresh token may take over
            else:
                # Every check asks Redis, so logout and revocation take effect at once.
                if not await self._sessions.is_live(claims.user, claims.session_id):
                    raise TokenRejected("session ended")
                return Admitted(user=claims.user, session_id=claims.session_id)
        if cookies.refresh is None:
            raise RefreshRejected("no token")
        return await self._silent_refresh(cookies.refresh, now)

    async def _silent_refresh(self, raw_refresh: str, now: float) -> Admitted:
        try:
            refreshed = await self._sessions.refresh(raw_refresh)
        except RefreshRejected as rejection:
            if rejection.reason == "replayed":
                log.warning("refresh token replayed: session revoked")
            raise
        seconds_left = refreshed.seconds_left(now)
        access_token = self._codec.issue(
            refreshed.user, refreshed.session_id, now, not_after=refreshed.absolute_expiry
        )
        refresh_cookie = None
        if refreshed.new_refresh_token is not None:
            refresh_cookie = self._cookies.set_refresh(
                str(refreshed.new_refresh_token), seconds_left
            )
        return Admitted(
            user=refreshed.user,
            session_id=refreshed.session_id,
            set_access_cookie=self._cookies.set_access(
                access_token, min(self._codec.ttl_seconds, seconds_left)
            ),
            set_refresh_cookie=refresh_cookie,
        )

    def login_cookies(self, session: NewSession) -> tuple[str, str]:
        """Set-Cookie values for a session just created at login."""
        now = self._clock()
        access_token = self._codec.issue(session.user, session.session_id, now)
        return (
            self._cookies.set_access(access_token, self._codec.ttl_seconds),
            self._cookies.set_refresh(str(session.refresh_token), self._sessions.absolute_seconds),
        )

    def logout_cookies(self) -> tuple[str, str]:
        """Set-Cookie values that delete both cookies."""
        return self._cookies.clear_access(), self._cookies.clear_refresh()

    async def proven_session(self, cookies: TokenCookies) -> SessionRef | None:
        """The session the cookies prove to hold, even with an expired access token."""
        if cookies.access is not None:
            try:
                claims = self._codec.verify(cookies.access, self._clock(), allow_expired=True)
            except TokenRejected:
                pass
            else:
                return SessionRef(user=claims.user, session_id=claims.session_id)
        if cookies.refresh is not None:
            try:
                token = RefreshToken.parse(cookies.refresh)
            except RefreshRejected:
                return None
            known_hashes = await self._sessions.refresh_hashes(token.user, token.session_id)
            if any(hmac.compare_digest(token.secret_hash, known) for known in known_hashes):
                return SessionRef(user=token.user, session_id=token.session_id)
        return None
