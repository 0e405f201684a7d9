"""Configuration: parsed once from the environment into a frozen Settings."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from verifier.access.rules import NO_RULES, RuleSet, load_rules
from verifier.errors import RulesFileError, SettingsError, SettingsInvalid, SourcesFileError
from verifier.i18n import CatalogError, load_catalogs
from verifier.sso.config import SsoConfig, parse_host_list, parse_portal_url
from verifier.store.keyspace import USER_NAME_RULE, normalize_user_name
from verifier.store.replication import ReplicaAck
from verifier.store.target import RedisMode, RedisNode, RedisTarget, RedisTls, parse_nodes
from verifier.upstream.config import NO_SOURCES, SourcesConfig, load_sources

ENV_PREFIX = "VERIFIER_"

T = TypeVar("T")

# HS256 keys shorter than the hash output weaken the MAC (RFC 7518 section 3.2).
MIN_SECRET_LENGTH = 32
_KID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The port Prometheus's exporters of this kind commonly take; loopback only, so metrics are
# never public unless an operator says so.
DEFAULT_METRICS_BIND = ("127.0.0.1", 9464)
METRICS_OFF = "off"
_DEFAULT_METRICS_BIND_OR_OFF: tuple[str, int] | None = DEFAULT_METRICS_BIND
# VERIFIER_LANGUAGE's value for "from each request's Accept-Language" (also when unset).
LANGUAGE_AUTO = "auto"
# An operator's name for a network, as the account page shows it beside an address.
MAX_NETWORK_NAME_LENGTH = 40
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SigningKey:
    """One HMAC key of the key ring, named by the `kid` written into token headers."""

    kid: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service; built once at start-up and never changed."""

    # The standalone server's URL ("" when Sentinel or Cluster is configured instead).
    redis_url: str = field(repr=False)
    # The static HS256 ring of VERIFIER_JWT_KEYS; empty when keys come from `keys_dir`.
    signing_keys: tuple[SigningKey, ...] = field(default=(), repr=False)
    # A directory of key files (see verifier.keyring): access and assertion keys, rotated
    # without a restart. None: access keys come from `signing_keys`, and no assertions.
    keys_dir: Path | None = None
    issuer: str = "verifier"
    audience: str = "verifier"
    access_ttl_seconds: int = 300
    refresh_idle_seconds: int = 86_400
    refresh_absolute_seconds: int = 604_800
    refresh_grace_seconds: int = 10
    jwt_leeway_seconds: int = 0
    cookie_secure: bool = True
    # /auth checks the caches decide are answered in the worker's protocol (service/fast_auth).
    auth_fast_path: bool = True
    key_prefix: str = "verifier"
    login_path: str = "/auth/login"
    max_sessions_per_user: int = 50
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 50
    login_throttle_window_seconds: int = 60
    liveness_cache_seconds: int = 5
    log_level: str = "INFO"
    # "text" (one line per record) or "json" (one JSON object per line).
    log_format: str = "text"
    # The central rules file (None: location declarations alone decide) and its rules as
    # read at start-up; workers reload the file when it changes.
    rules_file: Path | None = None
    rules: RuleSet = NO_RULES
    assertion_ttl_seconds: int = 60
    assertion_audience: str = "app"
    # Empty means "the same as `issuer`" (filled in below).
    assertion_issuer: str = ""
    keys_reload_seconds: int = 2
    jwks_max_age_seconds: int = 300
    # Members of these groups must enrol a second factor before their sign-in completes,
    # and pass no protected location without a multi-factor session.
    mfa_required_groups: frozenset[str] = frozenset()
    # How long a sign-in may wait between the password and the second factor.
    pending_signin_seconds: int = 300
    # Where the gunicorn master serves Prometheus metrics (host, port); None: metrics off.
    metrics_bind: tuple[str, int] | None = DEFAULT_METRICS_BIND
    # prometheus-client's multiprocess directory; None: `verifier serve` makes a fresh one.
    metrics_dir: Path | None = None
    # The deployment to connect to (verifier.store); None: the standalone `redis_url`.
    redis_deployment: RedisTarget | None = None
    # WebAuthn (passkeys): the relying-party id (a domain, never an IP address), the origins
    # pages may run on, and the name authenticators show. No id: passkeys are off.
    webauthn_rp_id: str = ""
    webauthn_origins: tuple[str, ...] = ()
    webauthn_rp_name: str = "verifier"
    # The name the pages show (header and title), authenticator apps list the TOTP entry
    # under, and the default passkey relying-party name.
    app_name: str = "verifier"
    # Replicas that must confirm a rotation or revocation (WAIT) before it is answered; 0: off.
    redis_min_replicas: int = 0
    # How long such a write waits for them; below the command timeout (1 s), or WAIT's
    # own socket read would time out and be retried.
    redis_wait_ms: int = 100
    # The pages' language: "" picks each request's from its Accept-Language (English when
    # none fits); a language tag ("de") forces that one for every request.
    language: str = ""
    # A directory of more message catalogs (<language>/LC_MESSAGES/verifier.po): languages
    # the package does not ship, or other wordings of those it does. None: the shipped ones.
    locale_dir: Path | None = None
    # The time zone the pages tell dates and times in (an IANA name).
    time_zone: str = "UTC"
    # Networks the account page names a session's address by ("Office VPN"), first match
    # first; private and loopback ranges are named without them.
    network_names: tuple[tuple[IPNetwork, str], ...] = ()
    # API tokens (verifier.apitokens): the longest lifetime one may be given, how recent a
    # sign-in the account page asks before it makes one, and how often a worker writes
    # the "last used" times it noted (how stale they may be).
    api_token_max_days: int = 365
    api_token_recent_signin_minutes: int = 10
    api_token_usage_flush_seconds: int = 60
    # Single sign-on (verifier.sso): the portal where every sign-in happens and the app hosts
    # it hands sessions to. None: one host, no hand-off, as without it.
    sso: SsoConfig | None = None
    # A `*.parent` entry in VERIFIER_SSO_HOSTS is allowed only with this explicit opt-in.
    sso_allow_wildcard: bool = False
    # Users from where they already are (verifier.upstream): the sources file (None: only
    # the verifier's own users) and the LDAP sources and OpenID Providers it names.
    sources_file: Path | None = None
    sources: SourcesConfig = NO_SOURCES

    def __post_init__(self) -> None:
        broken = _broken_rules(self)
        if broken:
            raise _RulesBroken(broken)
        if not self.assertion_issuer:
            # Frozen: the only way to fill in a derived default once.
            object.__setattr__(self, "assertion_issuer", self.issuer)

    @property
    def redis(self) -> RedisTarget:
        """The Redis deployment: the one configured, else the standalone server of the URL."""
        if self.redis_deployment is not None:
            return self.redis_deployment
        return RedisTarget(url=self.redis_url)

    @property
    def passkeys_enabled(self) -> bool:
        """True when a relying party is configured: the pages then offer passkeys."""
        return bool(self.webauthn_rp_id)

    @property
    def replica_ack(self) -> ReplicaAck:
        """How many replicas confirm rotations and revocations, and how long they may take."""
        return ReplicaAck(min_replicas=self.redis_min_replicas, wait_ms=self.redis_wait_ms)

    @property
    def current_key(self) -> SigningKey:
        """The key that signs new tokens; the others only verify."""
        return self.signing_keys[0]


@dataclass(frozen=True)
class _BrokenRule:
    """A rule a value breaks, and every variable the rule reads (the first one is named)."""

    variables: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{ENV_PREFIX}{self.variables[0]}: {self.message}"


class _RulesBroken(SettingsInvalid):
    """Settings broke rules; load_settings drops those about values it could not read."""

    def __init__(self, broken: Sequence[_BrokenRule]) -> None:
        super().__init__([str(rule) for rule in broken])
        self.broken = tuple(broken)


def _broken_rules(s: Settings) -> list[_BrokenRule]:
    # Every rule is checked, so an operator sees all the bad values at once.
    rules: list[tuple[bool, tuple[str, ...], str]] = [
        (
            not (s.signing_keys and s.keys_dir is not None),
            ("KEYS_DIR", "JWT_KEYS"),
            "set VERIFIER_KEYS_DIR or VERIFIER_JWT_KEYS, not both: with a keys directory, "
            "every key comes from it",
        ),
        (
            bool(s.signing_keys) or s.keys_dir is not None,
            ("JWT_KEYS", "KEYS_DIR"),
            "at least one key is required",
        ),
        (
            s.keys_dir is None or s.keys_dir.is_absolute(),
            ("KEYS_DIR",),
            "must be an absolute path (the service and the CLI must find the same directory)",
        ),
        (s.access_ttl_seconds >= 1, ("ACCESS_TTL_SECONDS",), "must be >= 1"),
        (
            s.refresh_idle_seconds >= s.access_ttl_seconds,
            ("REFRESH_IDLE_SECONDS", "ACCESS_TTL_SECONDS"),
            "must be >= ACCESS_TTL_SECONDS, or sessions die before their first refresh",
        ),
        (
            s.refresh_absolute_seconds >= s.refresh_idle_seconds,
            ("REFRESH_ABSOLUTE_SECONDS", "REFRESH_IDLE_SECONDS"),
            "must be >= REFRESH_IDLE_SECONDS",
        ),
        (
            0 <= s.refresh_grace_seconds <= 60,
            ("REFRESH_GRACE_SECONDS",),
            "must be between 0 and 60: a long grace window lets a stolen token ride along",
        ),
        (0 <= s.jwt_leeway_seconds <= 60, ("JWT_LEEWAY_SECONDS",), "must be 0..60"),
        (s.max_sessions_per_user >= 1, ("MAX_SESSIONS_PER_USER",), "must be >= 1"),
        (
            s.login_max_failures_per_account >= 1,
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT",),
            "must be >= 1",
        ),
        (
            s.login_max_failures_per_address >= 1,
            ("LOGIN_MAX_FAILURES_PER_ADDRESS",),
            "must be >= 1",
        ),
        (
            1 <= s.login_throttle_window_seconds <= 3600,
            ("LOGIN_THROTTLE_WINDOW_SECONDS",),
            "must be between 1 and 3600: longer lets an attacker lock a user out for long",
        ),
        (
            bool(_PREFIX_PATTERN.match(s.key_prefix)),
            ("KEY_PREFIX",),
            "use 1-64 letters, digits, '.', '_' or '-' (braces would break the hash tags)",
        ),
        (
            s.login_path.startswith("/") and not s.login_path.startswith("//"),
            ("LOGIN_PATH",),
            "must be an absolute path on this site",
        ),
        (
            0 <= s.liveness_cache_seconds <= 60,
            ("LIVENESS_CACHE_SECONDS",),
            "must be between 0 (off) and 60",
        ),
        (s.issuer != "", ("ISSUER",), "must not be empty"),
        (s.audience != "", ("AUDIENCE",), "must not be empty"),
        (
            1 <= s.assertion_ttl_seconds <= 60,
            ("ASSERTION_TTL_SECONDS",),
            "must be between 1 and 60: an assertion is a proof of the moment, not a session",
        ),
        (s.assertion_audience != "", ("ASSERTION_AUDIENCE",), "must not be empty"),
        (
            1 <= s.keys_reload_seconds <= 60,
            ("KEYS_RELOAD_SECONDS",),
            "must be between 1 and 60",
        ),
        (
            0 <= s.jwks_max_age_seconds <= 3600,
            ("JWKS_MAX_AGE_SECONDS",),
            "must be between 0 and 3600: every rotation waits twice this long",
        ),
        (
            30 <= s.pending_signin_seconds <= 1800,
            ("PENDING_SIGNIN_SECONDS",),
            "must be between 30 and 1800: long enough to open an authenticator app, short "
            "enough that a half-finished sign-in does not linger",
        ),
        (
            0 <= s.redis_min_replicas <= 16,
            ("REDIS_MIN_REPLICAS",),
            "must be between 0 (off) and 16",
        ),
        (
            1 <= s.redis_wait_ms <= 500,
            ("REDIS_WAIT_MS",),
            "must be between 1 and 500: the wait holds the request, and must end before "
            "the 1 s command timeout",
        ),
        (
            s.metrics_dir is None or s.metrics_dir.is_absolute(),
            ("METRICS_DIR",),
            "must be an absolute path (the service and the CLI must find the same directory)",
        ),
        (
            bool(s.webauthn_rp_id) == bool(s.webauthn_origins),
            ("WEBAUTHN_ORIGINS", "WEBAUTHN_RP_ID"),
            "set VERIFIER_WEBAUTHN_RP_ID and VERIFIER_WEBAUTHN_ORIGINS together (or neither: "
            "passkeys off)",
        ),
        (
            all(_origin_fits(origin, s.webauthn_rp_id) for origin in s.webauthn_origins),
            ("WEBAUTHN_ORIGINS", "WEBAUTHN_RP_ID"),
            "every origin must be http(s)://HOST[:PORT] whose host is the relying-party id "
            "or a subdomain of it (browsers refuse any other)",
        ),
        (s.webauthn_rp_name.strip() != "", ("WEBAUTHN_RP_NAME",), "must not be empty"),
        (
            1 <= s.api_token_max_days <= 3650,
            ("API_TOKEN_MAX_DAYS",),
            "must be between 1 and 3650: every token expires, and within ten years",
        ),
        (
            1 <= s.api_token_recent_signin_minutes <= 1440,
            ("API_TOKEN_RECENT_SIGNIN_MINUTES",),
            "must be between 1 and 1440",
        ),
        (
            1 <= s.api_token_usage_flush_seconds <= 3600,
            ("API_TOKEN_USAGE_FLUSH_SECONDS",),
            "must be between 1 and 3600",
        ),
        (
            s.sso is None or s.cookie_secure,
            ("SSO_PORTAL_URL", "COOKIE_SECURE"),
            "single sign-on keeps every cookie __Host-: VERIFIER_COOKIE_SECURE must stay true "
            "(browsers accept Secure cookies on http://*.localhost for a local set-up)",
        ),
        (
            s.sso is None or s.sso.portal_host not in s.sso.hosts.names,
            ("SSO_HOSTS", "SSO_PORTAL_URL"),
            "the portal's own host must not be listed: its cookies are the portal session's",
        ),
        (
            s.sso is None or s.sso_allow_wildcard or not s.sso.hosts.wildcard_parents,
            ("SSO_HOSTS", "SSO_ALLOW_WILDCARD"),
            "a wildcard needs VERIFIER_SSO_ALLOW_WILDCARD=true",
        ),
        (
            0 < len(s.app_name) <= 64 and s.app_name.isprintable() and s.app_name.strip() != "",
            ("APP_NAME",),
            "must be 1 to 64 printable characters (it is shown on every page)",
        ),
    ]
    return [_BrokenRule(variables, message) for ok, variables, message in rules if not ok]


def _origin_fits(origin: str, rp_id: str) -> bool:
    # WebAuthn's rule: the page's host equals the RP id or ends with "." + the RP id.
    try:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or parts.path or parts.query or parts.fragment:
        return False
    return bool(rp_id) and (host == rp_id or host.endswith("." + rp_id))


def parse_signing_keys(text: str) -> tuple[SigningKey, ...]:
    """Parse `kid:secret[,kid:secret...]` (commas or whitespace); the first key signs."""
    keys: list[SigningKey] = []
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        kid, sep, secret = entry.partition(":")
        if not sep:
            raise SettingsError(f"{ENV_PREFIX}JWT_KEYS: expected kid:secret, found no ':'")
        if not _KID_PATTERN.match(kid):
            raise SettingsError(f"{ENV_PREFIX}JWT_KEYS: kid {kid!r} must be 1-64 of [A-Za-z0-9._-]")
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"{ENV_PREFIX}JWT_KEYS: the secret of kid {kid!r} is shorter than "
                f"{MIN_SECRET_LENGTH} characters"
            )
        if any(key.kid == kid for key in keys):
            raise SettingsError(f"{ENV_PREFIX}JWT_KEYS: kid {kid!r} appears twice")
        keys.append(SigningKey(kid=kid, secret=secret.encode()))
    if not keys:
        raise SettingsError(f"{ENV_PREFIX}JWT_KEYS: at least one kid:secret is required")
    return tuple(keys)


class _Reader:
    """Reads prefixed variables, with `NAME_FILE` for secrets kept in files.

    A value that cannot be read is recorded as a problem, and its default stands in for it,
    so that every other variable is still read and checked.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []
        # The variables that could not be read: rules about them would judge a stand-in.
        self.failed: set[str] = set()

    def parse(self, name: str, parse: Callable[[], T], fallback: T) -> T:
        """The result of `parse()`, or `fallback` if it raised (the problem is recorded)."""
        if name in self.failed:
            return fallback  # one problem per variable: the first says what to fix
        try:
            return parse()
        except SettingsError as error:
            self.problems.append(str(error))
            self.failed.add(name)
            return fallback

    def text(self, name: str, default: str | None = None, *, secret: bool = False) -> str:
        """The variable's text, its default when unset or empty."""
        return self.parse(name, lambda: self.required_text(name, default, secret), default or "")

    def required_text(self, name: str, default: str | None, secret: bool) -> str:
        """As text(), but raising SettingsError instead of recording it."""
        key = ENV_PREFIX + name
        if secret and (key + "_FILE") in self._environ:
            if key in self._environ:
                raise SettingsError(f"set {key} or {key}_FILE, not both")
            path = Path(self._environ[key + "_FILE"])
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise SettingsError(f"{key}_FILE: cannot read {path}: {error.strerror}") from error
            except UnicodeDecodeError:
                raise SettingsError(f"{key}_FILE: {path} is not UTF-8 text") from None
        value = self._environ.get(key)
        if value is None or value == "":
            if default is None:
                raise SettingsError(f"{key} is required")
            return default
        return value

    def integer(self, name: str, default: int) -> int:
        """A whole number."""

        def parse() -> int:
            raw = self.required_text(name, str(default), secret=False)
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{ENV_PREFIX}{name}: {raw!r} is not a whole number") from None

        return self.parse(name, parse, default)

    def boolean(self, name: str, default: bool) -> bool:
        """true/false, yes/no, on/off or 1/0."""

        def parse() -> bool:
            raw = self.required_text(name, "true" if default else "false", secret=False)
            raw = raw.strip().lower()
            if raw in {"1", "true", "yes", "on"}:
                return True
            if raw in {"0", "false", "no", "off"}:
                return False
            raise SettingsError(f"{ENV_PREFIX}{name}: {raw!r} is not true/false")

        return self.parse(name, parse, default)


@dataclass(frozen=True)
class SettingsReading:
    """What the environment says: the Settings if every value is good, and every problem.

    `redis_url` and `keys_dir` are set when they themselves were read, even if other values
    were not, so that `verifier check-config` can still try Redis and the keys.
    """

    settings: Settings | None
    problems: tuple[str, ...]
    redis_url: str | None = field(default=None, repr=False)
    keys_dir: Path | None = None
    # The Redis deployment, when its own variables were read (whatever the mode).
    redis: RedisTarget | None = None


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build Settings from environment variables; raise SettingsInvalid listing every problem."""
    reading = read_settings(environ)
    if reading.settings is None:
        raise SettingsInvalid(reading.problems)
    return reading.settings


def read_settings(environ: Mapping[str, str]) -> SettingsReading:
    """Read every variable and check every rule; never raise for a bad value."""
    read = _Reader(environ)
    redis = _read_redis(read, environ)
    redis_url = redis.url if redis is not None else ""
    raw_rules_file = read.text("RULES_FILE", "")
    rules_file = Path(raw_rules_file) if raw_rules_file else None
    raw_sources_file = read.text("SOURCES_FILE", "")
    sources_file = Path(raw_sources_file) if raw_sources_file else None
    log_level = read.parse("LOG_LEVEL", lambda: _log_level(read), "INFO")
    log_format = read.parse("LOG_FORMAT", lambda: _log_format(read), "text")
    keys_dir, signing_keys = _read_keys(read, environ)
    issuer = read.text("ISSUER", "verifier")
    locale_dir = read.parse("LOCALE_DIR", lambda: _locale_dir(read), None)
    try:
        settings: Settings | None = Settings(
            redis_url=redis_url,
            signing_keys=signing_keys,
            keys_dir=keys_dir,
            issuer=issuer,
            audience=read.text("AUDIENCE", "verifier"),
            access_ttl_seconds=read.integer("ACCESS_TTL_SECONDS", 300),
            refresh_idle_seconds=read.integer("REFRESH_IDLE_SECONDS", 86_400),
            refresh_absolute_seconds=read.integer("REFRESH_ABSOLUTE_SECONDS", 604_800),
            refresh_grace_seconds=read.integer("REFRESH_GRACE_SECONDS", 10),
            jwt_leeway_seconds=read.integer("JWT_LEEWAY_SECONDS", 0),
            cookie_secure=read.boolean("COOKIE_SECURE", True),
            auth_fast_path=read.boolean("AUTH_FAST_PATH", True),
            key_prefix=read.text("KEY_PREFIX", "verifier"),
            login_path=read.text("LOGIN_PATH", "/auth/login"),
            max_sessions_per_user=read.integer("MAX_SESSIONS_PER_USER", 50),
            login_max_failures_per_account=read.integer("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5),
            login_max_failures_per_address=read.integer("LOGIN_MAX_FAILURES_PER_ADDRESS", 50),
            login_throttle_window_seconds=read.integer("LOGIN_THROTTLE_WINDOW_SECONDS", 60),
            liveness_cache_seconds=read.integer("LIVENESS_CACHE_SECONDS", 5),
            log_level=log_level,
            log_format=log_format,
            rules_file=rules_file,
            rules=read.parse("RULES_FILE", lambda: _read_rules(rules_file), NO_RULES),
            assertion_ttl_seconds=read.integer("ASSERTION_TTL_SECONDS", 60),
            assertion_audience=read.text("ASSERTION_AUDIENCE", "app"),
            assertion_issuer=read.text("ASSERTION_ISSUER", issuer),
            keys_reload_seconds=read.integer("KEYS_RELOAD_SECONDS", 2),
            jwks_max_age_seconds=read.integer("JWKS_MAX_AGE_SECONDS", 300),
            mfa_required_groups=read.parse(
                "MFA_REQUIRED_GROUPS",
                lambda: _mfa_required_groups(read),
                frozenset(),
            ),
            pending_signin_seconds=read.integer("PENDING_SIGNIN_SECONDS", 300),
            metrics_bind=read.parse(
                "METRICS_BIND",
                lambda: parse_metrics_bind(read.required_text("METRICS_BIND", "", secret=False)),
                _DEFAULT_METRICS_BIND_OR_OFF,
            ),
            metrics_dir=_optional_path(read.text("METRICS_DIR", "")),
            redis_deployment=redis,
            webauthn_rp_id=read.parse("WEBAUTHN_RP_ID", lambda: _rp_id(read), ""),
            webauthn_origins=read.parse("WEBAUTHN_ORIGINS", lambda: _origins(read), ()),
            webauthn_rp_name=read.text("WEBAUTHN_RP_NAME", read.text("APP_NAME", "verifier")),
            app_name=read.text("APP_NAME", "verifier"),
            redis_min_replicas=read.integer("REDIS_MIN_REPLICAS", 0),
            redis_wait_ms=read.integer("REDIS_WAIT_MS", 100),
            language=read.parse("LANGUAGE", lambda: _language(read, locale_dir), ""),
            locale_dir=locale_dir,
            time_zone=read.parse("TIME_ZONE", lambda: _time_zone(read), "UTC"),
            network_names=read.parse("NETWORK_NAMES", lambda: _network_names(read), ()),
            api_token_max_days=read.integer("API_TOKEN_MAX_DAYS", 365),
            api_token_recent_signin_minutes=read.integer("API_TOKEN_RECENT_SIGNIN_MINUTES", 10),
            api_token_usage_flush_seconds=read.integer("API_TOKEN_USAGE_FLUSH_SECONDS", 60),
            sso=read.parse("SSO_PORTAL_URL", lambda: _sso(read), None),
            sso_allow_wildcard=read.boolean("SSO_ALLOW_WILDCARD", False),
            sources_file=sources_file,
            sources=read.parse("SOURCES_FILE", lambda: _read_sources(sources_file), NO_SOURCES),
        )
        broken: tuple[_BrokenRule, ...] = ()
    except _RulesBroken as error:
        settings = None
        broken = error.broken
    problems = read.problems + [
        str(rule) for rule in broken if not read.failed.intersection(rule.variables)
    ]
    return SettingsReading(
        settings=settings if not problems else None,
        problems=tuple(problems),
        redis_url=redis_url if redis is not None and redis.mode is RedisMode.STANDALONE else None,
        keys_dir=None if {"KEYS_DIR", "JWT_KEYS"} & read.failed else keys_dir,
        redis=redis,
    )


# The variable that names each kind of deployment; exactly one may be set (none: the URL's
# default, a local standalone server).
_REDIS_MODES = {
    "REDIS_URL": RedisMode.STANDALONE,
    "REDIS_SENTINELS": RedisMode.SENTINEL,
    "REDIS_CLUSTER_NODES": RedisMode.CLUSTER,
}
# Variables that only mean something with Sentinel.
_SENTINEL_ONLY = ("REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_USERNAME", "REDIS_SENTINEL_PASSWORD")


def _read_redis(read: _Reader, environ: Mapping[str, str]) -> RedisTarget | None:
    """The Redis deployment, or None when any of its variables is bad (problems recorded)."""
    problems_before = len(read.problems)
    named = [name for name in _REDIS_MODES if _is_set(environ, name)]
    if len(named) > 1:
        found = ", ".join(ENV_PREFIX + name for name in named)
        read.problems.append(
            f"{ENV_PREFIX}REDIS_URL: set one of {ENV_PREFIX}REDIS_URL (standalone), "
            f"{ENV_PREFIX}REDIS_SENTINELS (Sentinel) or {ENV_PREFIX}REDIS_CLUSTER_NODES "
            f"(Cluster), not several: found {found}"
        )
        return None
    mode = _REDIS_MODES[named[0]] if named else RedisMode.STANDALONE
    username = read.parse("REDIS_USERNAME", lambda: _acl_user(read, "REDIS_USERNAME"), None)
    password = read.text("REDIS_PASSWORD", "", secret=True) or None
    url = ""
    nodes: tuple[RedisNode, ...] = ()
    master = ""
    if mode is RedisMode.STANDALONE:
        url = read.parse("REDIS_URL", lambda: _redis_url(read), "")
        read.parse("REDIS_USERNAME", lambda: _no_credentials_twice(url, username, password), None)
    tls = (
        None  # a URL that could not be read says nothing about TLS
        if "REDIS_URL" in read.failed
        else read.parse("REDIS_TLS", lambda: _redis_tls(read, mode, url), None)
    )
    if mode is not RedisMode.STANDALONE:
        variable = "REDIS_SENTINELS" if mode is RedisMode.SENTINEL else "REDIS_CLUSTER_NODES"
        nodes = read.parse(variable, lambda: _redis_nodes(read, variable), ())
    if mode is RedisMode.SENTINEL:
        master = read.parse("REDIS_SENTINEL_MASTER", lambda: _sentinel_master(read), "")
    else:
        for name in _SENTINEL_ONLY:
            if _is_set(environ, name):
                read.problems.append(
                    f"{ENV_PREFIX}{name}: only with {ENV_PREFIX}REDIS_SENTINELS (Sentinel)"
                )
    sentinel_username = read.parse(
        "REDIS_SENTINEL_USERNAME", lambda: _acl_user(read, "REDIS_SENTINEL_USERNAME"), None
    )
    sentinel_password = read.text("REDIS_SENTINEL_PASSWORD", "", secret=True) or None
    if len(read.problems) > problems_before:
        return None
    return RedisTarget(
        mode=mode,
        url=url,
        nodes=nodes,
        sentinel_master=master,
        username=username,
        password=password,
        sentinel_username=sentinel_username,
        sentinel_password=sentinel_password,
        tls=tls,
    )


def _is_set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(ENV_PREFIX + name)) or (ENV_PREFIX + name + "_FILE") in environ


def _acl_user(read: _Reader, name: str) -> str | None:
    user = read.required_text(name, "", secret=False)
    if user and not re.fullmatch(r"[!-~]{1,256}", user):
        raise SettingsError(f"{ENV_PREFIX}{name}: must be 1-256 printable characters, no spaces")
    return user or None


def _no_credentials_twice(url: str, username: str | None, password: str | None) -> None:
    # Two sources of one credential: refused rather than guessing which one wins.
    if (username is not None or password is not None) and "@" in url.partition("?")[0]:
        raise SettingsError(
            f"{ENV_PREFIX}REDIS_USERNAME/PASSWORD: the URL carries credentials already; "
            "set them in one place"
        )


def _redis_nodes(read: _Reader, name: str) -> tuple[RedisNode, ...]:
    try:
        return parse_nodes(read.required_text(name, None, secret=False))
    except ValueError as error:
        raise SettingsError(f"{ENV_PREFIX}{name}: {error}") from None


def _sentinel_master(read: _Reader) -> str:
    name = read.required_text("REDIS_SENTINEL_MASTER", None, secret=False)
    if not re.fullmatch(r"[!-~]{1,256}", name):
        raise SettingsError(
            f"{ENV_PREFIX}REDIS_SENTINEL_MASTER: must be 1-256 printable characters, no spaces"
        )
    return name


def _redis_tls(read: _Reader, mode: RedisMode, url: str) -> RedisTls | None:
    files: dict[str, str | None] = {}
    for name in ("REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE"):
        path = read.required_text(name, "", secret=False)
        if path and not Path(path).is_file():
            raise SettingsError(f"{ENV_PREFIX}{name}: {path} is not a readable file")
        files[name] = path or None
    enabled = read.boolean("REDIS_TLS", False)
    if mode is RedisMode.STANDALONE:
        # The URL's scheme says whether a standalone server speaks TLS.
        if enabled and not url.startswith("rediss://"):
            raise SettingsError(
                f"{ENV_PREFIX}REDIS_TLS: a standalone server takes TLS from a rediss:// URL"
            )
        enabled = url.startswith("rediss://")
    if not enabled:
        if any(files.values()):
            raise SettingsError(
                f"{ENV_PREFIX}REDIS_TLS: the TLS files are set but TLS is off (set "
                f"{ENV_PREFIX}REDIS_TLS=true, or use a rediss:// URL)"
            )
        return None
    if (files["REDIS_TLS_CERT_FILE"] is None) != (files["REDIS_TLS_KEY_FILE"] is None):
        raise SettingsError(
            f"{ENV_PREFIX}REDIS_TLS_CERT_FILE: a client certificate needs its key "
            f"({ENV_PREFIX}REDIS_TLS_KEY_FILE), and a key its certificate"
        )
    return RedisTls(
        ca_file=files["REDIS_TLS_CA_FILE"],
        cert_file=files["REDIS_TLS_CERT_FILE"],
        key_file=files["REDIS_TLS_KEY_FILE"],
    )


def _redis_url(read: _Reader) -> str:
    url = read.required_text("REDIS_URL", "redis://127.0.0.1:6379/0", secret=True)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        # The URL itself is not echoed: it may hold a password.
        raise SettingsError(
            f"{ENV_PREFIX}REDIS_URL: must start with redis://, rediss:// or unix://"
        )
    return url


def parse_metrics_bind(text: str) -> tuple[str, int] | None:
    """`host:port` (`[v6]:port` for IPv6) as (host, port); `off` (None); empty: the default."""
    value = text.strip()
    if not value:
        return DEFAULT_METRICS_BIND
    if value.lower() == METRICS_OFF:
        return None
    host, sep, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    problem = f"{ENV_PREFIX}METRICS_BIND: {value!r} is not host:port or {METRICS_OFF}"
    if not sep or not host or not port_text.isdigit():
        raise SettingsError(problem)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise SettingsError(f"{ENV_PREFIX}METRICS_BIND: port {port} is not 1-65535")
    return host, port


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def _log_level(read: _Reader) -> str:
    level = read.required_text("LOG_LEVEL", "INFO", secret=False).upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"{ENV_PREFIX}LOG_LEVEL: {level!r} is not DEBUG/INFO/WARNING/ERROR")
    return level


def _log_format(read: _Reader) -> str:
    log_format = read.required_text("LOG_FORMAT", "text", secret=False).lower()
    if log_format not in {"text", "json"}:
        raise SettingsError(f"{ENV_PREFIX}LOG_FORMAT: {log_format!r} is not text/json")
    return log_format


def _rp_id(read: _Reader) -> str:
    rp_id = read.required_text("WEBAUTHN_RP_ID", "", secret=False).strip().lower()
    if not rp_id:
        return ""
    try:
        ipaddress.ip_address(rp_id.strip("[]"))
    except ValueError:
        pass
    else:
        raise SettingsError(
            f"{ENV_PREFIX}WEBAUTHN_RP_ID: {rp_id!r} is an IP address, which browsers refuse "
            "for WebAuthn: use a domain name (for a local demo, localhost)"
        )
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", rp_id):
        raise SettingsError(
            f"{ENV_PREFIX}WEBAUTHN_RP_ID: {rp_id[:64]!r} is not a domain name "
            "(no scheme, port or path: e.g. example.com)"
        )
    return rp_id


def _origins(read: _Reader) -> tuple[str, ...]:
    raw = read.required_text("WEBAUTHN_ORIGINS", "", secret=False)
    # Browsers send the origin without a trailing slash, in lower case.
    return tuple(part.strip().rstrip("/").lower() for part in raw.split(",") if part.strip())


def _sso(read: _Reader) -> SsoConfig | None:
    portal_text = read.required_text("SSO_PORTAL_URL", "", secret=False)
    hosts_text = read.required_text("SSO_HOSTS", "", secret=False)
    if not portal_text:
        if hosts_text:
            raise SettingsError(
                f"{ENV_PREFIX}SSO_PORTAL_URL: VERIFIER_SSO_HOSTS is set, so the portal's URL "
                "is needed too (https://auth.example.com)"
            )
        return None
    try:
        portal = parse_portal_url(portal_text)
    except SettingsError as error:
        raise SettingsError(f"{ENV_PREFIX}SSO_PORTAL_URL: {error}") from None
    try:
        hosts = parse_host_list(
            hosts_text, allow_wildcard=read.boolean("SSO_ALLOW_WILDCARD", False)
        )
    except SettingsError as error:
        raise SettingsError(f"{ENV_PREFIX}SSO_HOSTS: {error}") from None
    if not hosts:
        raise SettingsError(
            f"{ENV_PREFIX}SSO_HOSTS: list the app hosts the portal serves "
            "(wiki.example.com, grafana.example.com)"
        )
    return SsoConfig(portal=portal, hosts=hosts)


def _mfa_required_groups(read: _Reader) -> frozenset[str]:
    raw = read.required_text("MFA_REQUIRED_GROUPS", "", secret=False)
    groups: set[str] = set()
    for part in re.split(r"[,\s]+", raw.strip()):
        if not part:
            continue
        # Folded as group names are when stored (verifier.users.store), so "Admins" means admins.
        name = normalize_user_name(part)
        if name is None:
            raise SettingsError(
                f"{ENV_PREFIX}MFA_REQUIRED_GROUPS: {part!r} is not a group name ({USER_NAME_RULE})"
            )
        groups.add(name)
    return frozenset(groups)


def _locale_dir(read: _Reader) -> Path | None:
    raw = read.required_text("LOCALE_DIR", "", secret=False)
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute():
        raise SettingsError(f"{ENV_PREFIX}LOCALE_DIR: {raw!r} must be an absolute path")
    try:
        load_catalogs(path)  # every catalog in it is read now: a broken one stops start-up
    except CatalogError as error:
        raise SettingsError(f"{ENV_PREFIX}LOCALE_DIR: {error}") from None
    return path


def _language(read: _Reader, locale_dir: Path | None) -> str:
    raw = read.required_text("LANGUAGE", LANGUAGE_AUTO, secret=False).strip()
    if raw.lower() == LANGUAGE_AUTO:
        return ""
    languages = load_catalogs(None if "LOCALE_DIR" in read.failed else locale_dir).languages
    by_lower = {tag.lower(): tag for tag in languages}
    tag = by_lower.get(raw.replace("_", "-").lower())
    if tag is None:
        raise SettingsError(
            f"{ENV_PREFIX}LANGUAGE: {raw[:32]!r} is not one of the pages' languages "
            f"({', '.join(languages)}) nor {LANGUAGE_AUTO}"
        )
    return tag


def _time_zone(read: _Reader) -> str:
    raw = read.required_text("TIME_ZONE", "UTC", secret=False).strip()
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{ENV_PREFIX}TIME_ZONE: {raw[:64]!r} is not a time zone this machine knows "
            "(an IANA name, e.g. Europe/Berlin)"
        ) from None
    return raw


def _network_names(read: _Reader) -> tuple[tuple[IPNetwork, str], ...]:
    raw = read.required_text("NETWORK_NAMES", "", secret=False)
    named: list[tuple[IPNetwork, str]] = []
    for part in raw.split(","):
        if not part.strip():
            continue
        cidr, sep, name = part.partition("=")
        name = " ".join(name.split())
        problem = f"{ENV_PREFIX}NETWORK_NAMES: {part.strip()[:80]!r} is not NETWORK=NAME"
        if not sep or not name:
            raise SettingsError(problem + " (e.g. 10.8.0.0/16=Office VPN)")
        try:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise SettingsError(problem + f": {cidr.strip()[:64]!r} is not a network") from None
        if len(name) > MAX_NETWORK_NAME_LENGTH or not name.isprintable():
            raise SettingsError(
                problem + f": the name must be 1 to {MAX_NETWORK_NAME_LENGTH} printable characters"
            )
        named.append((network, name))
    return tuple(named)


def _read_rules(path: Path | None) -> RuleSet:
    if path is None:
        return NO_RULES
    try:
        return load_rules(path)
    except RulesFileError as error:
        raise SettingsError(f"{ENV_PREFIX}RULES_FILE: {error}") from None


def _read_sources(path: Path | None) -> SourcesConfig:
    if path is None:
        return NO_SOURCES
    try:
        sources = load_sources(path)
    except SourcesFileError as error:
        raise SettingsError(f"{ENV_PREFIX}SOURCES_FILE: {error}") from None
    for provider in sources.oidc:
        if provider.rp_logout:
            # Parsed and checked, but never half-served: start-up and check-config refuse
            # it rather than ignore it.
            raise SettingsError(
                f"{ENV_PREFIX}SOURCES_FILE: {sources.source}:{provider.line}: oidc source "
                f"{provider.id!r}: rp_logout (logout at the provider) is not served by this "
                "build yet"
            )
    return sources


def _read_keys(
    read: _Reader, environ: Mapping[str, str]
) -> tuple[Path | None, tuple[SigningKey, ...]]:
    # A keys directory replaces VERIFIER_JWT_KEYS; naming both is refused rather than
    # guessing which one the operator meant.
    keys_dir = read.text("KEYS_DIR", "")
    if not keys_dir:
        return None, read.parse(
            "JWT_KEYS",
            lambda: parse_signing_keys(read.required_text("JWT_KEYS", None, secret=True)),
            (),
        )
    if any(environ.get(ENV_PREFIX + name) for name in ("JWT_KEYS", "JWT_KEYS_FILE")):
        read.parse("KEYS_DIR", _both_key_sources, None)
        return None, ()
    return Path(keys_dir), ()


def _both_key_sources() -> None:
    raise SettingsError(
        f"{ENV_PREFIX}KEYS_DIR: set {ENV_PREFIX}KEYS_DIR or {ENV_PREFIX}JWT_KEYS, not both: "
        "with a keys directory, every key comes from it"
    )
