"""The admission decision behind `/auth`: who it is (access token, else silent refresh; or an
API token), then whether they may enter (verifier.access), then the signed identity for the
app."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from verifier.access import AccessPolicy, AccessRequest, Identity
from verifier.apitokens import BearerCheck, TokenGrant
from verifier.errors import (
    AccessTokenExpired,
    BearerRefused,
    BearerThrottled,
    RefreshRejected,
    TokenRejected,
    VerifierError,
)
from verifier.factors.methods import SignIn
from verifier.observe.audit import AuditLog, LoggingAuditLog, record_revocation
from verifier.observe.causes import RevocationCause
from verifier.observe.metrics import NO_METRICS, SIGNIN_OK, Metrics
from verifier.records import record
from verifier.sessions.recheck import UpstreamVerdict
from verifier.sessions.store import Clock, NewSession, Refreshed, RefreshToken, SessionStore
from verifier.sessions.tokens import AccessTokenCodec
from verifier.web.cookies import CookiePolicy, TokenCookies

log = logging.getLogger(__name__)


@record
class Admitted:
    """An allowed request: who it is, and the cookies to hand back after a silent refresh."""

    user: str
    session_id: str
    set_access_cookie: str | None = None
    set_refresh_cookie: str | None = None
    groups: tuple[str, ...] = ()
    # The signed identity for the app (X-Auth-Assertion), when assertion keys are configured.
    assertion: str | None = None
    # How and when the user signed in, from the access token (or the session, on a refresh).
    sign_in: SignIn | None = None
    # The API token the request carried (its id, never the secret); then no session.
    token_id: str | None = None


# A request that says nothing of its location: any signed-in user may enter.
_ANY_LOCATION = AccessRequest()


class Forbidden(VerifierError):
    """Signed in, but this user may not enter; `/auth` answers 403.

    Carries who it is and any cookies a silent refresh just rotated: they must reach the
    browser on the 403 too, or the spent refresh token would log the user out.
    """

    def __init__(self, reason: str, admitted: Admitted) -> None:
        super().__init__(reason)
        self.reason = reason
        self.admitted = admitted


class StepUpRequired(VerifierError):
    """A subject of the location, whose session lacks a factor or is too old; `/auth`
    answers 401 naming `step` ("mfa" or "max_age").

    Carries who it is and any rotated cookies, which must reach the browser, as on a 403.
    """

    def __init__(self, step: str, reason: str, admitted: Admitted) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason
        self.admitted = admitted


class AssertionSigner(Protocol):
    """Signs the identity handed to the app (implemented in verifier.keyring)."""

    def assertion(
        self,
        user: str,
        groups: tuple[str, ...],
        session_id: str,
        audience: str,
        now: float,
        sign_in: SignIn | None = None,
        token_id: str | None = None,
    ) -> str | None:
        """A signed assertion for this identity and audience, or None when none is configured.

        With `token_id`, the identity is an API token's (and `session_id` is empty).
        """


class UpstreamCheck(Protocol):
    """Re-checks the user of an upstream session at its silent refresh (verifier.sessions
    .recheck): never on the valid-token path, at most every `refresh_interval_seconds`."""

    async def after_refresh(self, refreshed: Refreshed, now: float) -> UpstreamVerdict:
        """The groups and token lifetime for this refresh; raise RefreshRejected when the
        source says the user is gone (their sessions have then ended)."""


@dataclass(frozen=True)
class SessionRef:
    """A session a request proved it holds (for logout)."""

    user: str
    session_id: str
    # The host its tokens are bound to (single sign-on), else "".
    host: str = ""


@dataclass(frozen=True)
class SteppedUpSession:
    """A session just strengthened: the new access cookie, and how it now says it signed in."""

    set_access_cookie: str
    sign_in: SignIn


class Gate:
    """Decides each request from its two cookies, rotating the refresh token when needed."""

    def __init__(
        self,
        codec: AccessTokenCodec,
        sessions: SessionStore,
        cookie_policy: CookiePolicy,
        clock: Clock,
        access: AccessPolicy | None = None,
        assertions: AssertionSigner | None = None,
        audit: AuditLog | None = None,
        metrics: Metrics = NO_METRICS,
        upstream: UpstreamCheck | None = None,
        bearer: BearerCheck | None = None,
        *,
        bind_hosts: bool = False,
    ) -> None:
        # Single sign-on: every token names the host it was made for, and is refused on any
        # other (the access token before any Redis call, the refresh token unrotated).
        self._bind_hosts = bind_hosts
        self._codec = codec
        self._upstream = upstream
        # None: API tokens are not checked here (every bearer request is refused).
        self._bearer = bearer
        self._sessions = sessions
        self._cookies = cookie_policy
        self._clock = clock
        self._access = access or AccessPolicy()
        self._assertions = assertions
        self._audit = audit or LoggingAuditLog()
        self._metrics = metrics

    @property
    def access(self) -> AccessPolicy:
        """The access policy in force (its rules can be swapped on reload)."""
        return self._access

    async def admit(self, cookies: TokenCookies, request: AccessRequest | None = None) -> Admitted:
        """Admit the request; raise TokenRejected / RefreshRejected (401), StepUpRequired
        (401 naming the step), Forbidden (403) or StoreUnavailable (503)."""
        now = self._clock()
        request = request or _ANY_LOCATION
        admitted = await self._identify(cookies, now, request.host)
        return self._decide(admitted, request, now)

    def admit_from_caches(self, cookies: TokenCookies, request: AccessRequest) -> Admitted | None:
        """admit() when the caches alone can decide, without waiting on anything: a valid
        access token whose session the liveness cache knows live (a trusted cache: its
        revocation channel is heard), made for this host. None when they cannot: no access
        token, an expired or rejected one, one made for another host, a session not cached;
        admit() then decides, asking Redis as needed, so revocation, expiry and refusals keep
        exactly their one route.
        """
        if cookies.access is None:
            return None
        now = self._clock()
        try:
            claims = self._codec.verify(cookies.access, now)
        except TokenRejected:  # AccessTokenExpired too: the refresh token may take over
            return None
        if self._bind_hosts and claims.host != request.host:
            return None  # made for another host: admit() refuses it, counted once
        groups = self._sessions.cached_live_groups(claims.user, claims.session_id)
        if groups is None:
            return None
        admitted = Admitted(
            claims.user, claims.session_id, None, None, groups, None, claims.sign_in
        )
        return self._decide(admitted, request, now)

    def _decide(self, admitted: Admitted, request: AccessRequest, now: float) -> Admitted:
        """May the identified request enter: the identity for the app, or StepUpRequired /
        Forbidden."""
        sign_in = admitted.sign_in
        decision = self._access.decide(
            Identity(admitted.user, admitted.groups, sign_in), request, now
        )
        if not decision.allowed:
            if decision.step_up is not None:
                raise StepUpRequired(decision.step_up, decision.reason, admitted)
            raise Forbidden(decision.reason, admitted)
        if self._assertions is None:
            return admitted
        assertion = self._assertions.assertion(
            admitted.user, admitted.groups, admitted.session_id, request.audience, now, sign_in
        )
        # Built field by field: on this path dataclasses.replace() cost more than the
        # access decision itself.
        return Admitted(
            admitted.user,
            admitted.session_id,
            admitted.set_access_cookie,
            admitted.set_refresh_cookie,
            admitted.groups,
            assertion,
            sign_in,
        )

    async def admit_bearer(
        self, authorization: str, request: AccessRequest, address: str
    ) -> Admitted:
        """Admit a request that carries an API token; its cookies are neither read nor set.

        Raise BearerRefused (401; BearerThrottled when the address is at its limit),
        Forbidden (403: outside the token's path scope, or refused by the location or the
        rules with the groups the scope leaves) or StoreUnavailable (503).
        """
        now = self._clock()
        try:
            if self._bearer is None:
                raise BearerRefused("unknown")
            grant = await self._bearer.check(authorization, address, now)
        except BearerRefused as refused:
            self._token_refused(refused, address)
            raise
        admitted = Admitted(grant.user, "", groups=grant.groups, token_id=grant.token_id)
        if not grant.scope.allows_path(request.path):
            out_of_scope = BearerRefused("out_of_scope", grant.user, grant.token_id)
            self._token_refused(out_of_scope, address)
            raise Forbidden(f"outside the token's scope ({grant.scope})", admitted)
        # No sign-in: a location that asks `mfa` or `max_age` of a session refuses a token
        # (nobody is there to step up), as one that does not admit its owner does.
        decision = self._access.decide(Identity(grant.user, grant.groups, None), request, now)
        if not decision.allowed:
            self._token_refused(BearerRefused("forbidden", grant.user, grant.token_id), address)
            raise Forbidden(decision.reason, admitted)
        return self._token_admitted(grant, request, now)

    def admit_bearer_from_caches(
        self, authorization: str, request: AccessRequest
    ) -> Admitted | None:
        """admit_bearer() when the caches alone can admit, without waiting on anything: a
        token this worker vouched for, its liveness still cached (the revocation channel
        heard), inside its scope and admitted here. None otherwise, with nothing counted
        or recorded: admit_bearer() then decides, refuses and records, as for a cookie."""
        if self._bearer is None:
            return None
        now = self._clock()
        grant = self._bearer.check_from_cache(authorization, now)
        if grant is None or not grant.scope.allows_path(request.path):
            return None
        decision = self._access.decide(Identity(grant.user, grant.groups, None), request, now)
        if not decision.allowed:
            return None
        return self._token_admitted(grant, request, now)

    def _token_admitted(self, grant: TokenGrant, request: AccessRequest, now: float) -> Admitted:
        if self._assertions is None:
            return Admitted(grant.user, "", groups=grant.groups, token_id=grant.token_id)
        assertion = self._assertions.assertion(
            grant.user, grant.groups, "", request.audience, now, None, token_id=grant.token_id
        )
        return Admitted(
            grant.user, "", groups=grant.groups, assertion=assertion, token_id=grant.token_id
        )

    def _token_refused(self, refused: BearerRefused, address: str) -> None:
        # Each refusal is a record (as each refused sign-in is); each use is only counted.
        self._metrics.api_token_refused(refused.reason)
        wait = refused.retry_after_seconds if isinstance(refused, BearerThrottled) else None
        self._audit.record(
            "token.refused",
            reason=refused.reason,
            address=address,
            **({"user": refused.user} if refused.user is not None else {}),
            **({"token": refused.token_id} if refused.token_id is not None else {}),
            **({"retry_after": wait} if wait is not None else {}),
        )

    async def _identify(self, cookies: TokenCookies, now: float, host: str) -> Admitted:
        if cookies.access is not None:
            try:
                claims = self._codec.verify(cookies.access, now)
            except AccessTokenExpired:
                pass  # the refresh token may take over
            else:
                if self._bind_hosts and claims.host != host:
                    # Made for another host (or before single sign-on): refused before any
                    # Redis call, and never handed to the refresh token.
                    raise TokenRejected("other host")
                # Every check asks Redis (or a cache that revocations empty), so logout,
                # revocation and group changes take effect at once.
                groups = await self._sessions.live_groups(claims.user, claims.session_id)
                if groups is None:
                    raise TokenRejected("session ended")
                return Admitted(
                    user=claims.user,
                    session_id=claims.session_id,
                    groups=groups,
                    sign_in=claims.sign_in,
                )
        if cookies.refresh is None:
            raise RefreshRejected("no token")
        return await self._silent_refresh(cookies.refresh, now, host if self._bind_hosts else "")

    async def _silent_refresh(self, raw_refresh: str, now: float, host: str) -> Admitted:
        try:
            refreshed = await self._sessions.refresh(raw_refresh, host)
        except RefreshRejected as rejection:
            if rejection.reason == "replayed":
                log.warning("refresh token replayed: session revoked")
                self._audit_replay(raw_refresh)
                self._metrics.replay_detected()
            elif rejection.reason == "lost":
                # Not a theft signal: the master took over without the rotation that made
                # this token (a failover lost it). The user signs in again; nothing ends.
                log.warning("refresh token from a rotation Redis lost: sign-in needed")
                self._audit_refresh(raw_refresh, "refresh.lost", cause="lost")
            elif rejection.reason == "wrong_host":
                # A refresh token of one host presented on another: stolen or misrouted.
                log.warning("refresh token presented on another host than its own: refused")
                self._audit_refresh(raw_refresh, "refresh.wrong_host", cause="wrong_host")
            raise
        self._metrics.refreshed(rotated=refreshed.new_refresh_token is not None)
        seconds_left = refreshed.seconds_left(now)
        sign_in = refreshed.sign_in
        groups, not_after = refreshed.groups, refreshed.absolute_expiry
        if sign_in.upstream and self._upstream is not None:
            # An upstream user: their source is asked again when due (never on the valid
            # access-token path), and the new token lives no longer than the next check.
            verdict = await self._upstream.after_refresh(refreshed, now)
            groups = verdict.groups
            if verdict.valid_until is not None:
                not_after = min(not_after, verdict.valid_until)
        # The session's own amr and auth_time: a refresh is not a sign-in.
        access_token = self._codec.issue(
            refreshed.user,
            refreshed.session_id,
            now,
            not_after=not_after,
            amr=sign_in.amr,
            auth_time=sign_in.auth_time,
            host=host,
            source=sign_in.source,
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
                access_token, min(self._codec.ttl_seconds, max(0, int(not_after - now)))
            ),
            set_refresh_cookie=refresh_cookie,
            groups=groups,
            sign_in=sign_in,
        )

    def _audit_replay(self, raw_refresh: str) -> None:
        token = self._audit_refresh(raw_refresh, "refresh.replayed", cause="replayed")
        if token is not None:
            record_revocation(self._audit, RevocationCause.REPLAY, token.user, [token.session_id])

    def _audit_refresh(self, raw_refresh: str, event: str, cause: str) -> RefreshToken | None:
        # Only who and which session: the token's secret part never reaches a record.
        try:
            token = RefreshToken.parse(raw_refresh)
        except RefreshRejected:
            return None
        self._audit.record(event, user=token.user, session=token.session_id, cause=cause)
        return token

    @property
    def audit(self) -> AuditLog:
        """Where this gate's security events go (the resources record theirs there too)."""
        return self._audit

    @property
    def metrics(self) -> Metrics:
        """What this gate counts into (the resources count theirs there too)."""
        return self._metrics

    def signed_in(
        self, session: NewSession, address: str, methods: Iterable[str] = ()
    ) -> tuple[str, str]:
        """Count and record a session just started, and the oldest ones it ended past the
        per-user limit; return the Set-Cookie values that hand it to the browser.

        `methods` are named in the record after a second step or a passkey; a password-only
        sign-in's record names none.
        """
        self._metrics.signin(SIGNIN_OK)
        named = ",".join(methods)
        self._audit.record(
            "signin.succeeded",
            user=session.user,
            session=session.session_id,
            address=address,
            **({"methods": named} if named else {}),
        )
        record_revocation(self._audit, RevocationCause.SESSION_LIMIT, session.user, session.evicted)
        self._metrics.revoked(RevocationCause.SESSION_LIMIT, len(session.evicted))
        return self.login_cookies(session)

    def login_cookies(self, session: NewSession) -> tuple[str, str]:
        """Set-Cookie values for a session just created at login."""
        now = self._clock()
        access_token = self._codec.issue(
            session.user,
            session.session_id,
            now,
            # Never past the first of: its portal session's end (a child session of single
            # sign-on), its first re-check (an upstream user's session).
            not_after=_earliest(session.absolute_expiry, session.recheck_due),
            amr=session.sign_in.amr,
            auth_time=session.sign_in.auth_time,
            host=session.host,
            source=session.sign_in.source,
        )
        lifetime = self._sessions.absolute_seconds
        if session.absolute_expiry is not None:
            lifetime = min(lifetime, max(0, int(session.absolute_expiry - now)))
        access_lifetime = min(self._codec.ttl_seconds, lifetime)
        if session.recheck_due is not None:
            access_lifetime = min(access_lifetime, max(0, int(session.recheck_due - now)))
        return (
            self._cookies.set_access(access_token, access_lifetime),
            self._cookies.set_refresh(str(session.refresh_token), lifetime),
        )

    async def step_up(self, session: SessionRef, amr: Iterable[str]) -> str | None:
        """Add factors just proven to a live session, as of now; the new access cookie's
        Set-Cookie value, or None if the session has ended.

        The session keeps every method it had (it is never replaced by a weaker one), and
        its refresh token is unchanged: only the access token must say the new strength.
        """
        stepped = await self.strengthen(session, amr)
        return None if stepped is None else stepped.set_access_cookie

    async def strengthen(self, session: SessionRef, amr: Iterable[str]) -> SteppedUpSession | None:
        """As step_up(), and also how the session now says it signed in (for the answer)."""
        now = self._clock()
        stepped = await self._sessions.step_up(session.user, session.session_id, amr, now)
        if stepped is None:
            return None
        access_token = self._codec.issue(
            session.user,
            session.session_id,
            now,
            not_after=stepped.absolute_expiry,
            amr=stepped.sign_in.amr,
            auth_time=stepped.sign_in.auth_time,
            host=session.host,
            source=stepped.sign_in.source,
        )
        cookie = self._cookies.set_access(
            access_token, min(self._codec.ttl_seconds, stepped.seconds_left(now))
        )
        return SteppedUpSession(cookie, stepped.sign_in)

    def logout_cookies(self) -> tuple[str, str]:
        """Set-Cookie values that delete both cookies."""
        return self._cookies.clear_access(), self._cookies.clear_refresh()

    async def proven_session(self, cookies: TokenCookies, host: str = "") -> SessionRef | None:
        """The session the cookies prove to hold, even with an expired access token.

        With single sign-on, only a session bound to `host` (the request's) is proven.
        """
        bound = host if self._bind_hosts else ""
        if cookies.access is not None:
            try:
                claims = self._codec.verify(cookies.access, self._clock(), allow_expired=True)
            except TokenRejected:
                pass
            else:
                if not self._bind_hosts or claims.host == host:
                    return SessionRef(claims.user, claims.session_id, bound)
        if cookies.refresh is not None:
            try:
                token = RefreshToken.parse(cookies.refresh)
            except RefreshRejected:
                return None
            known_hashes = await self._sessions.refresh_hashes(token.user, token.session_id, bound)
            if any(hmac.compare_digest(token.secret_hash, known) for known in known_hashes):
                return SessionRef(token.user, token.session_id, bound)
        return None

    def handed_off(self, session: NewSession, address: str, host: str) -> tuple[str, str]:
        """Single sign-on: record a child session just made on `host` for its portal
        session; the Set-Cookie values that hand it to the browser."""
        self._audit.record(
            "sso.handed_off",
            user=session.user,
            session=session.session_id,
            portal_session=session.portal_session,
            host=host,
            address=address,
        )
        return self.login_cookies(session)


def _earliest(*moments: float | None) -> float | None:
    """The earliest of the moments given, or None if none is."""
    given = [moment for moment in moments if moment is not None]
    return min(given) if given else None
