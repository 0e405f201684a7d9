"""create_app(settings, redis, clock): the ASGI app; from_environment() for gunicorn.

`/auth` is a bare ASGI callable (verifier.auth_check); every other path is a Falcon app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import falcon
import falcon.asgi

from verifier.access import AccessPolicy
from verifier.access.reload import RulesReloader
from verifier.apitokens import BearerCheck, TokenStore, TokenUsage
from verifier.auth_check import RETRY_AFTER_SECONDS, ASGIApp, AuthCheck, AuthRouter
from verifier.errors import CrossSiteRequest, StoreUnavailable
from verifier.factors.passkey_store import ChallengeStore
from verifier.factors.passkeys import RelyingParty
from verifier.factors.user_factors import UserFactors
from verifier.gate import Gate
from verifier.i18n import N_, Languages, _, current_language, load_catalogs, use_language
from verifier.keyring import AssertionSigner
from verifier.keyring.jwks import JwkSet
from verifier.keyring.reloader import KeyRingReloader, watched_ring
from verifier.keyring.ring import CurrentRing
from verifier.observe.audit import AuditLog, LoggingAuditLog, set_request_id
from verifier.observe.logs import configure_logging
from verifier.observe.metrics import NO_METRICS, Metrics, MetricsFlusher
from verifier.observe.metrics.exposition import configured_directory
from verifier.pages.common import (
    PASSWORDLESS_OPTIONS_PATH,
    PASSWORDLESS_PATH,
    SCRIPT_PATH,
    STYLESHEET_PATH,
    ProviderButton,
    set_app_name,
)
from verifier.resources import Forbidden, Health, Login, Logout, Readiness, Unauthorized
from verifier.resources.account import (
    ACCOUNT_PATH,
    Account,
    FactorSections,
    PasskeySections,
    TotpSections,
)
from verifier.resources.account_passkeys import (
    PASSKEY_OPTIONS_PATH,
    PASSKEY_REGISTER_PATH,
    PASSKEYS_PATH,
    AccountPasskeyOptions,
    AccountPasskeyRegister,
    AccountPasskeys,
)
from verifier.resources.account_proof import CurrentFactorCheck
from verifier.resources.account_recovery import AccountRecoveryCodes
from verifier.resources.account_session import AccountSession
from verifier.resources.account_tokens import TOKENS_PATH, AccountTokens
from verifier.resources.account_totp import RECOVERY_PATH, TOTP_PATH, AccountTotp
from verifier.resources.body import wants_json
from verifier.resources.jwks import JWKS_PATH, Jwks
from verifier.resources.oidc_backchannel import BackchannelLogout
from verifier.resources.oidc_signin import OidcCallback, OidcPages, OidcStart
from verifier.resources.oidc_step_up import OidcStepUps
from verifier.resources.passkey_signin import (
    PasskeySecondFactor,
    PasskeySecondFactorOptions,
    Passwordless,
    PasswordlessOptions,
)
from verifier.resources.second_factor import (
    FACTOR_PASSKEY_OPTIONS_PATH,
    FACTOR_PASSKEY_PATH,
    FACTOR_PATH,
    SecondFactor,
    SecondFactorStart,
)
from verifier.resources.sso_authorize import Authorize
from verifier.resources.sso_callback import Callback
from verifier.resources.sso_hosts import SsoHostRoles
from verifier.resources.sso_start import HandoffStart
from verifier.resources.static_assets import CSS, JAVASCRIPT, StaticAsset
from verifier.resources.step_up import StepUp
from verifier.service.readiness import ReadinessCheck
from verifier.sessions.liveness import LivenessCache, RevocationListener
from verifier.sessions.networks import NetworkNames
from verifier.sessions.pending_signin import PendingSignIns
from verifier.sessions.recheck import UpstreamRecheck
from verifier.sessions.store import Clock, SessionPolicy, SessionStore
from verifier.sessions.tokens import AccessTokenCodec
from verifier.settings import Settings, load_settings
from verifier.sso.config import AUTHORIZE_PATH, CALLBACK_PATH
from verifier.sso.handoff import HandoffStore
from verifier.store import RedisClient, client_for, subscriptions
from verifier.store.keyspace import KeySpace
from verifier.store.outages import time_calls_into
from verifier.users.passwords import PasswordHasher
from verifier.users.sources.accounts import UpstreamAccounts
from verifier.users.sources.oidc_flows import FlowStore
from verifier.users.sources.password_signin import PasswordSignIn
from verifier.users.sources.registry import Sources
from verifier.users.store import UserStore
from verifier.users.throttle import (
    SECOND_FACTOR_SPACE,
    AddressFailures,
    LoginThrottle,
    ThrottlePolicy,
)
from verifier.web.cookies import CookiePolicy
from verifier.web.empty_redirects import UntypedEmptyRedirects

log = logging.getLogger("verifier")

# The answers that say something in words, and the static files that never do.
_WORDED = frozenset({"text/html", "application/json", "text/plain"})
_STATIC = "/auth/static/"
# Answers for machines, never in a reader's language: the keys and the probes.
_FOR_MACHINES = frozenset({JWKS_PATH, "/healthz", "/readyz"})
UNAVAILABLE = N_("The sign-in service is temporarily unavailable. Try again shortly.")
CROSS_SITE = N_("Cross-site request refused.")


def create_app(
    settings: Settings,
    client: RedisClient,
    clock: Clock = time.time,
    hasher: PasswordHasher | None = None,
    keyring: CurrentRing | None = None,
    audit: AuditLog | None = None,
    metrics: Metrics = NO_METRICS,
    sources: Sources | None = None,
) -> ASGIApp:
    """Wire the verifier's endpoints around the given collaborators.

    `keyring` defaults to the ring the settings name (reloaded in the background when it
    comes from VERIFIER_KEYS_DIR); a ring passed in is used as it is, never reloaded.
    `sources` defaults to the upstream sources of the settings' sources file.
    """
    audit = audit or LoggingAuditLog()
    time_calls_into(metrics)
    reloader: KeyRingReloader | None = None
    if keyring is None:
        keyring, reloader = watched_ring(settings, clock, audit)
    keys = KeySpace(settings.key_prefix)
    cookie_policy = CookiePolicy(secure=settings.cookie_secure)
    liveness, listener = _liveness(settings, client, keys, clock, metrics)
    sessions = _session_store(settings, client, keys, clock, liveness)
    hasher = hasher or PasswordHasher()
    users = UserStore(client, keys, hasher)
    # Users from where they already are (LDAP, OpenID Connect): chosen once, here.
    sources = sources if sources is not None else Sources.from_config(settings.sources, clock)
    upstream = _Upstream(sources, client, keys, users, sessions, liveness, audit, metrics, clock)
    passwords = upstream.passwords
    access = AccessPolicy(settings.rules, settings.mfa_required_groups, clock)
    tokens, usage, bearer = _api_tokens(settings, client, keys, clock, liveness)
    background = [
        *_background_jobs(settings, metrics, usage, access, audit, listener, reloader),
        _OnShutdown(sources.close),
    ]
    assertions = AssertionSigner(
        keyring,
        settings.assertion_issuer,
        settings.assertion_audience,
        settings.assertion_ttl_seconds,
    )
    gate = Gate(
        AccessTokenCodec(settings, keyring),
        sessions,
        cookie_policy,
        clock,
        access,
        assertions,
        audit,
        metrics,
        upstream.recheck,
        bearer=bearer,
        bind_hosts=settings.sso is not None,
    )
    handoff = _handoff_start(settings, client, keys, cookie_policy)

    networks = NetworkNames(settings.network_names)
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response] = falcon.asgi.App(
        middleware=_middleware(settings, client, background, handoff)
    )
    # Unknown query parameters are harmless; values like `next` are parsed by hand.
    app.req_options.auto_parse_form_urlencoded = False
    throttle = LoginThrottle(
        client,
        keys,
        ThrottlePolicy(
            max_failures_per_account=settings.login_max_failures_per_account,
            max_failures_per_address=settings.login_max_failures_per_address,
            window_seconds=settings.login_throttle_window_seconds,
        ),
    )
    factors = UserFactors(client, keys, settings.app_name)
    pending = PendingSignIns(client, keys, settings.pending_signin_seconds)
    second_step = SecondFactorStart(
        gate, users, factors, pending, cookie_policy, settings.mfa_required_groups
    )
    factor_throttle = _factor_throttle(settings, client, keys)
    account = AccountSession(gate, sessions, cookie_policy, settings.login_path)
    oidc_step_ups = OidcStepUps(
        account, sessions, {p.name: p.start_path for p in upstream.sources.providers}
    )
    step_up = StepUp(
        gate,
        account,
        passwords.verify,
        factors,
        throttle,
        factor_throttle,
        settings.login_path,
        clock,
        oidc_step_ups,
    )
    app.add_route(
        settings.login_path,
        Login(
            gate,
            passwords,
            sessions,
            throttle,
            settings.login_path,
            second_step,
            step_up,
            passkeys=settings.passkeys_enabled,
            providers=upstream.buttons,
            password_form=sources.password_form,
        ),
    )
    _add_oidc_routes(
        app, settings, upstream, gate, sessions, cookie_policy, second_step, oidc_step_ups
    )
    _add_second_factor_routes(
        app,
        settings,
        client,
        keys,
        gate,
        users,
        sessions,
        factors,
        pending,
        cookie_policy,
        clock,
        networks,
    )
    account = AccountSession(gate, sessions, cookie_policy, settings.login_path)
    app.add_route(
        ACCOUNT_PATH,
        Account(
            gate,
            account,
            sessions,
            passwords,
            throttle,
            _factor_sections(settings, factors),
            clock,
            networks,
            tokens=tokens,
        ),
    )
    _add_token_routes(app, settings, account, sessions, tokens, gate, metrics, clock)
    app.add_route("/auth/logout", Logout(gate, sessions, cookie_policy, settings.login_path))
    app.add_route("/auth/unauthorized", Unauthorized(settings.login_path, handoff))
    _add_sso_routes(app, settings, client, keys, account, sessions, gate, cookie_policy, clock)
    app.add_route(STYLESHEET_PATH, StaticAsset("verifier.css", CSS))
    app.add_route("/auth/forbidden", Forbidden(settings.login_path, "/auth/logout"))
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Readiness(ReadinessCheck(client, keyring, clock, liveness)))
    app.add_route(JWKS_PATH, Jwks(JwkSet(keyring), clock, settings.jwks_max_age_seconds))
    app.add_error_handler(StoreUnavailable, _store_unavailable)
    app.add_error_handler(CrossSiteRequest, _cross_site)
    app.set_error_serializer(_translated_error)
    # Falcon labels every answer JSON; a redirect with no body says no type at all.
    return AuthRouter(
        AuthCheck(gate, cookie_policy),
        UntypedEmptyRedirects(app),
        fast_path=settings.auth_fast_path,
    )


def _languages(settings: Settings) -> Languages:
    """The pages' languages: the catalogs (shipped, and VERIFIER_LOCALE_DIR's), the time
    zone they tell times in, and the language forced, if one is."""
    catalogs = load_catalogs(settings.locale_dir)
    return Languages(catalogs, ZoneInfo(settings.time_zone), settings.language)


def _background_jobs(
    settings: Settings,
    metrics: Metrics,
    usage: TokenUsage,
    access: AccessPolicy,
    audit: AuditLog,
    listener: RevocationListener | None,
    reloader: KeyRingReloader | None,
) -> list[_Background]:
    """What each worker runs beside its requests: the metrics and token-use flushes, and
    (when configured) the revocation listener and the rules and keys reloaders."""
    background: list[_Background] = [MetricsFlusher(metrics), usage]
    if listener is not None:
        background.append(listener)
    if settings.rules_file is not None:
        background.append(RulesReloader(settings.rules_file, access, audit=audit))
    if reloader is not None:
        background.append(reloader)
    return background


def _add_token_routes(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response],
    settings: Settings,
    account: AccountSession,
    sessions: SessionStore,
    tokens: TokenStore,
    gate: Gate,
    metrics: Metrics,
    clock: Clock,
) -> None:
    """The account page's API tokens: list, make (after a recent sign-in), revoke."""
    app.add_route(
        TOKENS_PATH,
        AccountTokens(
            account,
            sessions,
            tokens,
            gate.audit,
            metrics,
            clock,
            login_path=settings.login_path,
            recent_minutes=settings.api_token_recent_signin_minutes,
            max_days=settings.api_token_max_days,
        ),
    )


def _api_tokens(
    settings: Settings,
    client: RedisClient,
    keys: KeySpace,
    clock: Clock,
    liveness: LivenessCache | None,
) -> tuple[TokenStore, TokenUsage, BearerCheck]:
    """The API tokens, the worker's notes of their uses (a background job), and the /auth
    check of a bearer."""
    tokens = TokenStore(client, keys, clock, liveness)
    usage = TokenUsage(tokens, settings.api_token_usage_flush_seconds)
    # Failed bearer attempts count per address against the logins' limit, apart from them.
    failures = AddressFailures(
        client,
        keys,
        settings.login_max_failures_per_address,
        settings.login_throttle_window_seconds,
    )
    return tokens, usage, BearerCheck(tokens, failures, usage, liveness)


def _middleware(
    settings: Settings,
    client: RedisClient,
    background: list[_Background],
    handoff: HandoffStart | None,
) -> list[Any]:
    """The Falcon app's middleware, in order."""
    middleware: list[Any] = [
        _Lifecycle(client, background),
        _RequestId(),
        _AppName(settings.app_name),
        # Before the hosts' roles: a refused request gets its page in the reader's language.
        _Language(_languages(settings)),
    ]
    if handoff is not None:
        # Single sign-on: each host may ask only for what its role serves.
        host_free = frozenset({"/healthz", "/readyz", JWKS_PATH, STYLESHEET_PATH, SCRIPT_PATH})
        middleware.append(SsoHostRoles(handoff, settings.login_path, host_free))
    return middleware


def _handoff_start(
    settings: Settings, client: RedisClient, keys: KeySpace, cookie_policy: CookiePolicy
) -> HandoffStart | None:
    """Single sign-on's first step on app hosts; None without single sign-on."""
    if settings.sso is None:
        return None
    return HandoffStart(settings.sso, HandoffStore(client, keys), cookie_policy)


def _add_sso_routes(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response],
    settings: Settings,
    client: RedisClient,
    keys: KeySpace,
    account: AccountSession,
    sessions: SessionStore,
    gate: Gate,
    cookie_policy: CookiePolicy,
    clock: Clock,
) -> None:
    """Single sign-on: the portal's authorize endpoint and the app hosts' callback (none
    without it)."""
    sso = settings.sso
    if sso is None:
        return
    handoffs = HandoffStore(client, keys)
    app.add_route(
        AUTHORIZE_PATH,
        Authorize(sso, handoffs, account, sessions, gate, settings.login_path, clock),
    )
    app.add_route(
        CALLBACK_PATH,
        Callback(sso, handoffs, sessions, gate, cookie_policy, settings.login_path),
    )


def _liveness(
    settings: Settings, client: RedisClient, keys: KeySpace, clock: Clock, metrics: Metrics
) -> tuple[LivenessCache | None, RevocationListener | None]:
    """The worker's liveness cache and the revocation listener that keeps it true (neither
    when VERIFIER_LIVENESS_CACHE_SECONDS is 0)."""
    if settings.liveness_cache_seconds <= 0:
        return None, None
    liveness = LivenessCache(clock, settings.liveness_cache_seconds, metrics=metrics)
    listener = RevocationListener(
        subscriptions(settings.redis, client), keys.revocations(), liveness, clock
    )
    return liveness, listener


def _session_store(
    settings: Settings,
    client: RedisClient,
    keys: KeySpace,
    clock: Clock,
    liveness: LivenessCache | None,
) -> SessionStore:
    return SessionStore(
        client,
        keys,
        SessionPolicy(
            idle_seconds=settings.refresh_idle_seconds,
            absolute_seconds=settings.refresh_absolute_seconds,
            grace_seconds=settings.refresh_grace_seconds,
            max_sessions_per_user=settings.max_sessions_per_user,
        ),
        clock,
        liveness,
        settings.replica_ack,
        # Single sign-on: every sign-in happens on the portal, and its sessions are bound there.
        sign_in_host=settings.sso.portal_host if settings.sso is not None else "",
    )


def _factor_sections(settings: Settings, factors: UserFactors) -> list[FactorSections]:
    """The sign-in methods the account page lists, in order."""
    sections: list[FactorSections] = [TotpSections(factors)]
    if settings.passkeys_enabled:
        sections.append(PasskeySections(factors, PASSKEYS_PATH))
    return sections


def _factor_throttle(settings: Settings, client: RedisClient, keys: KeySpace) -> LoginThrottle:
    """The second-factor throttle: the sign-in's code step, the account pages and step-up."""
    # Wrong codes count like wrong passwords, in a key space of their own.
    return LoginThrottle(
        client,
        keys,
        ThrottlePolicy(
            max_failures_per_account=settings.login_max_failures_per_account,
            max_failures_per_address=settings.login_max_failures_per_address,
            window_seconds=settings.login_throttle_window_seconds,
        ),
        space=SECOND_FACTOR_SPACE,
    )


def _add_second_factor_routes(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response],
    settings: Settings,
    client: RedisClient,
    keys: KeySpace,
    gate: Gate,
    users: UserStore,
    sessions: SessionStore,
    factors: UserFactors,
    pending: PendingSignIns,
    cookie_policy: CookiePolicy,
    clock: Clock,
    networks: NetworkNames,
) -> None:
    """The code step of a sign-in, and the account pages that manage the factors."""
    factor_throttle = _factor_throttle(settings, client, keys)
    second_factor = SecondFactor(
        gate,
        sessions,
        factors,
        pending,
        factor_throttle,
        cookie_policy,
        settings.login_path,
        clock,
        passkeys=settings.passkeys_enabled,
        networks=networks,
        users=users,
    )
    app.add_route(FACTOR_PATH, second_factor)
    account = AccountSession(gate, sessions, cookie_policy, settings.login_path)
    proof = CurrentFactorCheck(factors, factor_throttle, gate.audit, clock)
    app.add_route(TOTP_PATH, AccountTotp(account, factors, proof, gate.audit, clock, networks))
    app.add_route(RECOVERY_PATH, AccountRecoveryCodes(account, factors, proof, gate.audit))
    if not settings.passkeys_enabled:
        return  # no relying party: no passkey routes, and the pages offer none
    rp = RelyingParty(settings.webauthn_rp_id, settings.webauthn_rp_name, settings.webauthn_origins)
    challenges = ChallengeStore(client, keys)
    app.add_route(SCRIPT_PATH, StaticAsset("webauthn.js", JAVASCRIPT))
    app.add_route(PASSKEYS_PATH, AccountPasskeys(account, factors, gate.audit, clock, networks))
    app.add_route(PASSKEY_OPTIONS_PATH, AccountPasskeyOptions(account, rp, factors, challenges))
    app.add_route(
        PASSKEY_REGISTER_PATH,
        AccountPasskeyRegister(account, rp, factors, challenges, gate.audit, clock),
    )
    app.add_route(
        FACTOR_PASSKEY_OPTIONS_PATH,
        PasskeySecondFactorOptions(
            rp, pending, factors.passkeys, challenges, cookie_policy, settings.login_path
        ),
    )
    app.add_route(
        FACTOR_PASSKEY_PATH,
        PasskeySecondFactor(
            gate,
            rp,
            pending,
            factors.passkeys,
            challenges,
            factor_throttle,
            cookie_policy,
            second_factor,
            settings.login_path,
            clock,
        ),
    )
    app.add_route(PASSWORDLESS_OPTIONS_PATH, PasswordlessOptions(rp, challenges, cookie_policy))
    app.add_route(
        PASSWORDLESS_PATH,
        Passwordless(
            gate,
            rp,
            users,
            sessions,
            factors.passkeys,
            challenges,
            factor_throttle,
            cookie_policy,
            clock,
        ),
    )


class _Background(Protocol):
    """A per-worker task: the revocation listener, the rules and key reloaders."""

    async def run(self) -> None:
        """Work until stopped."""

    def stop(self) -> None:
        """Ask run() to return soon."""


class _Upstream:
    """The upstream users' parts (verifier.users.sources), wired once."""

    def __init__(
        self,
        sources: Sources,
        client: RedisClient,
        keys: KeySpace,
        users: UserStore,
        sessions: SessionStore,
        liveness: LivenessCache | None,
        audit: AuditLog,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.sources = sources
        self.accounts = UpstreamAccounts(client, keys, liveness)
        self.passwords = PasswordSignIn(users, self.accounts, sources, clock)
        self.recheck = UpstreamRecheck(sources, sessions, self.accounts, users, audit, metrics)
        self.flows = FlowStore(client, keys)
        self.buttons = tuple(ProviderButton(p.title, p.start_path) for p in sources.providers)
        self.client, self.keys, self.audit, self.metrics, self.clock = (
            client,
            keys,
            audit,
            metrics,
            clock,
        )


def _add_oidc_routes(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response],
    settings: Settings,
    upstream: _Upstream,
    gate: Gate,
    sessions: SessionStore,
    cookie_policy: CookiePolicy,
    second_step: SecondFactorStart,
    step_ups: OidcStepUps,
) -> None:
    """Each OpenID Provider's start, callback and (if on) back-channel logout paths."""
    pages = OidcPages(settings.login_path, upstream.buttons, upstream.sources.password_form)
    for provider in upstream.sources.providers:
        config = provider.config
        app.add_route(
            provider.start_path,
            OidcStart(
                provider, upstream.flows, cookie_policy, gate, pages, step_ups, upstream.clock
            ),
        )
        app.add_route(
            config.callback_path,
            OidcCallback(
                provider,
                upstream.flows,
                cookie_policy,
                gate,
                pages,
                upstream.accounts,
                sessions,
                second_step,
                upstream.clock,
                step_ups,
            ),
        )
        if config.backchannel_logout:
            app.add_route(
                config.backchannel_path,
                BackchannelLogout(
                    provider,
                    upstream.client,
                    upstream.keys,
                    sessions,
                    upstream.accounts,
                    upstream.audit,
                    upstream.metrics,
                    upstream.clock,
                ),
            )


class _OnShutdown:
    """Runs `close` when the worker stops (the upstream sources' connections)."""

    def __init__(self, close: Callable[[], Awaitable[None]]) -> None:
        self._close = close
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        """Wait until stopped (or cancelled), then release what `close` releases."""
        try:
            await self._stopped.wait()
        finally:
            await self._close()

    def stop(self) -> None:
        """Ask run() to release and return."""
        self._stopped.set()


class _Lifecycle:
    """Starts the background tasks with the worker; stops them and Redis with the worker."""

    def __init__(self, client: RedisClient, background: list[_Background]) -> None:
        self._redis = client
        self._background = background
        self._tasks: list[asyncio.Task[None]] = []

    async def process_startup(self, scope: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """Start the background tasks (the liveness cache stays off until subscribed)."""
        self._tasks = [
            asyncio.create_task(job.run(), name=type(job).__name__) for job in self._background
        ]

    async def process_shutdown(self, scope: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """Stop the background tasks and release connections."""
        for job in self._background:
            job.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._redis.aclose()


class _AppName:
    """Names the pages of this request after the app (VERIFIER_APP_NAME)."""

    def __init__(self, name: str) -> None:
        self._name = name

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Set the name the page skeleton shows."""
        set_app_name(self._name)


class _Language:
    """Speaks each request's language: Accept-Language's best match, or the forced one."""

    def __init__(self, languages: Languages) -> None:
        self._languages = languages

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Choose the language the pages and messages of this request are written in."""
        use_language(self._languages.for_request(req.get_header("Accept-Language")))

    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        """Say which language an answer in words is in (not the stylesheet, keys or probes)."""
        # A media answer gets its type (JSON) only after the middleware: read it as such.
        default = falcon.MEDIA_JSON if resp.media is not None else ""
        media_type = (resp.content_type or default).split(";")[0]
        if media_type not in _WORDED or req.path.startswith(_STATIC) or req.path in _FOR_MACHINES:
            return
        resp.set_header("Content-Language", current_language().tag)
        if not self._languages.forced:
            # The same URL answers in other words for another Accept-Language: a cache
            # between must keep them apart (the pages are no-store, but not every answer is).
            resp.append_header("Vary", "Accept-Language")


class _RequestId:
    """Remembers nginx's X-Request-ID for the audit records of this request."""

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Set the request id (checked when a record uses it)."""
        set_request_id(req.get_header("X-Request-ID"))


async def _store_unavailable(
    req: falcon.asgi.Request,
    resp: falcon.asgi.Response,
    error: StoreUnavailable,
    params: dict[str, Any],
) -> None:
    # Fail closed, and keep the user's cookies: no Set-Cookie on this path. For /auth
    # nginx turns the 503 into its own error page; users stay signed in once Redis is back.
    log.error("redis unavailable (%s) on %s %s", error, req.method, req.path)
    resp.status = falcon.HTTP_503
    resp.retry_after = RETRY_AFTER_SECONDS
    resp.cache_control = ["no-store"]
    _describe(req, resp, UNAVAILABLE)


async def _cross_site(
    req: falcon.asgi.Request,
    resp: falcon.asgi.Response,
    error: CrossSiteRequest,
    params: dict[str, Any],
) -> None:
    log.warning("cross-site %s %s refused: %s", req.method, req.path, error.reason)
    resp.status = falcon.HTTP_403
    resp.cache_control = ["no-store"]
    _describe(req, resp, CROSS_SITE)


def _describe(req: falcon.asgi.Request, resp: falcon.asgi.Response, message: str) -> None:
    said = _(message)
    if wants_json(req):
        resp.media = {"error": said}
    else:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = said + "\n"


def _translated_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Falcon's own error answers (a body too large, not JSON...) with their description in
    the request's language; otherwise as Falcon writes them."""
    if error.description:
        error.description = _(error.description)
    falcon.app_helpers.default_serialize_error(req, resp, error)


def startup_warnings(settings: Settings) -> list[str]:
    """What the service warns about as it starts: settings that are allowed but risky."""
    warnings = []
    if not settings.cookie_secure:
        warnings.append(
            "VERIFIER_COOKIE_SECURE=false: cookies go over plain http. "
            "Use this only for local development."
        )
    if settings.sso is not None and settings.sso.hosts.wildcard_parents:
        warnings.append(
            "VERIFIER_SSO_ALLOW_WILDCARD: the portal hands sessions to every host under "
            f"{', '.join(settings.sso.hosts.wildcard_parents)} (one label, never the name "
            "itself). A host there that someone else controls (a vendor, a dangling CNAME) "
            "can take hand-offs: list exact names when you can."
        )
    return warnings


def from_environment() -> ASGIApp:
    """The gunicorn entry point: settings from VERIFIER_* variables, a real Redis client."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_level, settings.log_format)
    for warning in [*settings.sources.warnings(), *startup_warnings(settings)]:
        log.warning("%s", warning)
    return create_app(settings, client_for(settings), metrics=_metrics(settings))


def _metrics(settings: Settings) -> Metrics:
    if settings.metrics_bind is None:
        return NO_METRICS
    if configured_directory() is None:
        # Only `verifier serve` sets up the directory and the master's exposition.
        log.warning("metrics off: start the service with `verifier serve` to export them")
        return NO_METRICS
    # Imported only now, with PROMETHEUS_MULTIPROC_DIR set: the values go to this
    # worker's files, which the master sums.
    from verifier.observe.metrics.prometheus import PrometheusMetrics  # noqa: PLC0415

    return PrometheusMetrics()
