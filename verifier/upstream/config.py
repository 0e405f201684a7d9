"""The sources file (VERIFIER_SOURCES_FILE, TOML): every LDAP source and OpenID Provider.

    password_form = true            # optional: false shows only the providers' buttons

    [[ldap]]
    id = "corp"                     # the source is "ldap:corp"
    preset = "active_directory"     # or "openldap": filters and attributes to start from
    url = "ldaps://dc1.corp.example.com"
    ca_file = "/etc/verifier/corp-ca.pem"
    bind_dn = "CN=verifier,OU=Services,DC=corp,DC=example,DC=com"
    bind_password_file = "/run/secrets/corp-bind-password"
    base_dn = "DC=corp,DC=example,DC=com"
    group_map = { "VPN Users" = "staff" }

    [[oidc]]
    id = "keycloak"                 # the source is "oidc:keycloak"
    issuer = "https://sso.example.com/realms/corp"
    client_id = "verifier"
    client_secret_file = "/run/secrets/keycloak-client-secret"
    redirect_uri = "https://app.example.com/auth/oidc/keycloak/callback"

docs/sources.md lists every key. The file is read once at start-up (and by `verifier
check-config`): a problem stops start-up with the file and the line, like the rules file.
Secrets (the bind password, the client secret) are read only from files named here
(`*_file`, relative to this file's directory, or absolute): a secret written into this file
is refused.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from verifier.errors import SourcesFileError
from verifier.store.keyspace import USER_NAME_RULE, normalize_user_name
from verifier.upstream.mapping import GroupMapping
from verifier.upstream.presets import (
    GROUP_LOOKUPS,
    PASSWORD_CHANGES,
    PRESETS,
    SEARCH,
)

LDAP_KIND = "ldap"
OIDC_KIND = "oidc"
_TOP_KEYS = {"password_form", LDAP_KIND, OIDC_KIND}
# Short: it names the source in records, sessions and the OpenID callback path.
_SOURCE_ID = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}|[0-9]+(\.[0-9]+)+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FILTER_PLACEHOLDERS = {"username", "dn", "now_filetime"}
# Every one signs with a key pair: an HMAC id_token is keyed with the client secret, so any
# other holder of the secret could mint one, and `none` is no signature at all.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
# Where each provider's browser round trip ends; the redirect_uri must point here.
OIDC_PATH_PREFIX = "/auth/oidc/"
CALLBACK_SUFFIX = "/callback"
BACKCHANNEL_SUFFIX = "/backchannel-logout"

DEFAULT_REFRESH_INTERVAL_SECONDS = 300
MAX_REFRESH_INTERVAL_SECONDS = 86_400
MAX_STALE_LIMIT_SECONDS = 30 * 86_400
DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_POOL_SIZE = 4
DEFAULT_FLOW_SECONDS = 600
DEFAULT_CLOCK_SKEW_SECONDS = 30
MAX_CLOCK_SKEW_SECONDS = 120
MAX_SECRET_BYTES = 4096

_COMMON_KEYS = {
    "id",
    "title",
    "group_map",
    "group_prefix",
    "refresh_interval_seconds",
    "max_stale_seconds",
    "timeout_seconds",
}
_LDAP_KEYS = _COMMON_KEYS | {
    "preset",
    "url",
    "start_tls",
    "ca_file",
    "allow_plain",
    "bind_dn",
    "bind_password_file",
    "base_dn",
    "user_filter",
    "active_filter",
    "name_attribute",
    "id_attribute",
    "id_binary",
    "groups",
    "groups_base_dn",
    "groups_filter",
    "member_of_attribute",
    "group_dn_attribute",
    "group_name_attribute",
    "password_change",
    "password_change_url",
    "pool_size",
}
_OIDC_KEYS = _COMMON_KEYS | {
    "issuer",
    "client_id",
    "client_secret_file",
    "token_auth_method",
    "redirect_uri",
    "algorithms",
    "scopes",
    "name_claim",
    "groups_claim",
    "trusted_amr",
    "trusted_acr",
    "rp_logout",
    "post_logout_redirect_uri",
    "backchannel_logout",
    "clock_skew_seconds",
    "flow_seconds",
    "allow_http",
}
# What a secret written into the file is called, and where it must come from instead.
_INLINE_SECRETS = {
    "bind_password": "bind_password_file",
    "client_secret": "client_secret_file",
}


@dataclass(frozen=True)
class RecheckPolicy:
    """How often a session's user is read again upstream, and how long an outage is borne."""

    interval_seconds: int = DEFAULT_REFRESH_INTERVAL_SECONDS
    # 0: an unreachable upstream never ends a session; else sessions whose last good check
    # is older than this end at their next refresh.
    max_stale_seconds: int = 0


@dataclass(frozen=True)
class LdapSourceConfig:
    """One `[[ldap]]` table: a directory users sign in to with their password."""

    id: str
    line: int
    title: str
    url: str
    start_tls: bool
    ca_file: Path | None
    allow_plain: bool
    bind_dn: str
    bind_password: str = field(repr=False)
    base_dn: str
    user_filter: str
    active_filter: str
    name_attribute: str
    id_attribute: str
    id_binary: bool
    groups_lookup: str
    groups_base_dn: str
    groups_filter: str
    member_of_attribute: str
    group_dn_attribute: str
    group_name_attribute: str
    password_change: str
    password_change_url: str
    timeout_seconds: float
    pool_size: int
    groups: GroupMapping
    recheck: RecheckPolicy
    preset: str

    @property
    def name(self) -> str:
        """The source's name in records, sessions and assertions: `ldap:ID`."""
        return f"{LDAP_KIND}:{self.id}"

    @property
    def plain(self) -> bool:
        """True when passwords would cross the network unencrypted (allowed by `allow_plain`)."""
        return self.url.startswith("ldap://") and not self.start_tls


@dataclass(frozen=True)
class OidcSourceConfig:
    """One `[[oidc]]` table: an OpenID Provider users sign in at (authorization code flow)."""

    id: str
    line: int
    title: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    token_auth_method: str
    redirect_uri: str
    algorithms: tuple[str, ...]
    scopes: tuple[str, ...]
    name_claim: str
    groups_claim: str
    trusted_amr: frozenset[str]
    trusted_acr: frozenset[str]
    rp_logout: bool
    post_logout_redirect_uri: str
    backchannel_logout: bool
    clock_skew_seconds: int
    flow_seconds: int
    allow_http: bool
    timeout_seconds: float
    groups: GroupMapping
    recheck: RecheckPolicy

    @property
    def name(self) -> str:
        """The source's name in records, sessions and assertions: `oidc:ID`."""
        return f"{OIDC_KIND}:{self.id}"

    @property
    def callback_path(self) -> str:
        """Where the provider sends the browser back (the path of `redirect_uri`)."""
        return f"{OIDC_PATH_PREFIX}{self.id}{CALLBACK_SUFFIX}"

    @property
    def backchannel_path(self) -> str:
        """Where the provider POSTs logout tokens (register it at the provider)."""
        return f"{OIDC_PATH_PREFIX}{self.id}{BACKCHANNEL_SUFFIX}"


@dataclass(frozen=True)
class SourcesConfig:
    """Every source of one sources file, in file order."""

    source: str
    ldap: tuple[LdapSourceConfig, ...] = ()
    oidc: tuple[OidcSourceConfig, ...] = ()
    # The sign-in page's user name and password form; off: only the providers' buttons.
    password_form: bool = True

    @property
    def any(self) -> bool:
        """True when any upstream source is configured."""
        return bool(self.ldap or self.oidc)

    def names(self) -> tuple[str, ...]:
        """Every source's name (`ldap:ID`, `oidc:ID`), in file order."""
        return tuple(s.name for s in self.ldap) + tuple(s.name for s in self.oidc)

    def warnings(self) -> tuple[str, ...]:
        """What start-up should warn about: passwords or tokens that would travel in clear."""
        found = [
            f"{self.source}:{s.line}: ldap source {s.id!r} sends passwords unencrypted "
            "(allow_plain = true): use ldaps:// or start_tls outside a test"
            for s in self.ldap
            if s.plain
        ]
        found += [
            f"{self.source}:{s.line}: oidc source {s.id!r} talks to its provider over plain "
            "http (allow_http = true): use https outside a test"
            for s in self.oidc
            if s.issuer.startswith("http://")
        ]
        return tuple(found)


NO_SOURCES = SourcesConfig(source="(no sources file)")


def load_sources(path: Path) -> SourcesConfig:
    """Read and check a sources file; raise SourcesFileError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SourcesFileError(str(path), None, f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SourcesFileError(str(path), None, "is not UTF-8 text") from None
    return parse_sources(text, str(path), path.parent)


def parse_sources(text: str, source: str, base_dir: Path) -> SourcesConfig:
    """Check sources-file text; raise SourcesFileError naming the line of the first problem.

    `base_dir` is where relative file names (secrets, CA files) are found.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+)", str(error))
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))
        raise SourcesFileError(source, line, f"not valid TOML: {error}") from None
    lines = _Lines(text)
    unknown = set(document) - _TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise SourcesFileError(
            source,
            lines.of_key(key),
            f"unknown setting {key!r} (known: {', '.join(sorted(_TOP_KEYS))})",
        )
    password_form = document.get("password_form", True)
    if not isinstance(password_form, bool):
        raise SourcesFileError(
            source, lines.of_key("password_form"), "password_form must be true or false"
        )
    ldap = tuple(
        _ldap(_Table(LDAP_KIND, number, entry, lines, source, base_dir))
        for number, entry in enumerate(_tables(document, LDAP_KIND, lines, source), start=1)
    )
    oidc = tuple(
        _oidc(_Table(OIDC_KIND, number, entry, lines, source, base_dir))
        for number, entry in enumerate(_tables(document, OIDC_KIND, lines, source), start=1)
    )
    seen: dict[str, int] = {}
    placed: list[tuple[str, int]] = [(s.id, s.line) for s in ldap] + [(s.id, s.line) for s in oidc]
    for source_id, line in placed:
        if source_id in seen:
            raise SourcesFileError(
                source,
                line,
                f"id {source_id!r} is used twice (also at line {seen[source_id]}): each "
                "source needs its own",
            )
        seen[source_id] = line
    return SourcesConfig(source=source, ldap=ldap, oidc=oidc, password_form=password_form)


def _tables(document: dict[str, Any], kind: str, lines: _Lines, source: str) -> list[Any]:
    tables = document.get(kind, [])
    if not isinstance(tables, list):
        raise SourcesFileError(
            source, lines.of_key(kind) or lines.of_header(kind, 1), f"{kind} must be [[{kind}]]"
        )
    return tables


class _Table:
    """One `[[ldap]]` or `[[oidc]]` table: typed reads of its keys, errors naming the line."""

    def __init__(
        self, kind: str, number: int, entry: Any, lines: _Lines, source: str, base_dir: Path
    ) -> None:
        self.kind = kind
        self.number = number
        self.lines = lines
        self.source = source
        self.base_dir = base_dir
        self.header = lines.of_header(kind, number)
        if not isinstance(entry, dict):
            self.fail(f"must be a [[{kind}]] table")
        self.entry: dict[str, Any] = entry
        raw_id = entry.get("id")
        self.label = f"{kind} source {raw_id!r}" if isinstance(raw_id, str) else f"[[{kind}]]"

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        """Raise SourcesFileError at the key's line (or the table's header)."""
        line = self.lines.of_key(key, after=self.header) if key is not None else None
        raise SourcesFileError(self.source, line or self.header, f"{self.label}: {message}")

    def check_keys(self, known: set[str]) -> None:
        """Refuse a secret written inline, and any key this kind of table does not know."""
        for inline, instead in _INLINE_SECRETS.items():
            if inline in self.entry:
                self.fail(
                    f"{inline} must not be written here: put it in a file only the service "
                    f"may read and name that file with {instead}",
                    inline,
                )
        unknown = set(self.entry) - known
        if unknown:
            key = sorted(unknown)[0]
            self.fail(f"unknown key {key!r} (known: {', '.join(sorted(known))})", key)

    def text(self, key: str, default: str | None = None) -> str:
        """A string (required when there is no default)."""
        value = self.entry.get(key, default)
        if value is None:
            self.fail(f"needs {key}")
        if not isinstance(value, str):
            self.fail(f"{key} must be a string", key)
        return value

    def required(self, key: str) -> str:
        """A non-empty string."""
        value = self.text(key)
        if not value.strip():
            self.fail(f"{key} must not be empty", key)
        return value

    def flag(self, key: str, default: bool) -> bool:
        """true or false."""
        value = self.entry.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false", key)
        return value

    def whole(self, key: str, default: int, low: int, high: int) -> int:
        """A whole number in low..high."""
        value = self.entry.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(f"{key} must be a whole number from {low} to {high}", key)
        return value

    def seconds(self, key: str, default: float, low: float, high: float) -> float:
        """A number of seconds in low..high (whole or not)."""
        value = self.entry.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.fail(f"{key} must be a number of seconds from {low:g} to {high:g}", key)
        return float(value)

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A list of strings; an empty list is refused (leave the key out for the default)."""
        if key not in self.entry:
            return default
        value = self.entry[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(f"{key} must be a list of strings", key)
        if not value:
            self.fail(f"{key} is empty: leave it out for the default", key)
        return tuple(value)

    def file(self, key: str) -> Path:
        """A file that exists, relative to the sources file's directory or absolute."""
        path = Path(self.required(key))
        if not path.is_absolute():
            path = self.base_dir / path
        if not path.is_file():
            self.fail(f"{key}: {path} is not a readable file", key)
        return path

    def secret(self, key: str) -> str:
        """The text of a secret file (one line; surrounding blanks and newline dropped)."""
        path = self.file(key)
        try:
            raw = path.read_bytes()
        except OSError as error:
            self.fail(f"{key}: cannot read {path}: {error.strerror}", key)
        if len(raw) > MAX_SECRET_BYTES:
            self.fail(f"{key}: {path} is larger than {MAX_SECRET_BYTES} bytes", key)
        try:
            value = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            self.fail(f"{key}: {path} is not UTF-8 text", key)
        if not value:
            self.fail(f"{key}: {path} is empty", key)
        return value

    def source_id(self) -> str:
        """The table's id: short, lower case, usable in a URL path."""
        value = self.required("id")
        if not _SOURCE_ID.fullmatch(value):
            self.fail(f"id {value!r} must be 1-32 of a-z, 0-9 and '-' (not at either end)", "id")
        return value

    def group_mapping(self) -> GroupMapping:
        """`group_map` (upstream name = our group) and `group_prefix`."""
        table = self.entry.get("group_map", {})
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            self.fail('group_map must be a table of "upstream group" = "our group"', "group_map")
        pairs: dict[str, str] = {}
        for upstream, ours in table.items():
            group = normalize_user_name(ours)
            if group is None:
                self.fail(
                    f"group_map: {ours!r} is not a group name ({USER_NAME_RULE})", "group_map"
                )
            if upstream.lower() in pairs:
                self.fail(
                    f"group_map names {upstream!r} twice (upstream names are compared "
                    "without regard to case)",
                    "group_map",
                )
            pairs[upstream.lower()] = group
        prefix = self.text("group_prefix", "")
        if prefix and not re.fullmatch(r"[a-z0-9][a-z0-9._@+-]{0,30}", prefix):
            self.fail(
                "group_prefix must be 1-31 of a-z, 0-9, '.', '_', '@', '+', '-', starting "
                'with a letter or digit (e.g. "corp-")',
                "group_prefix",
            )
        return GroupMapping(table=tuple(sorted(pairs.items())), prefix=prefix)

    def recheck(self) -> RecheckPolicy:
        """`refresh_interval_seconds` and `max_stale_seconds`."""
        interval = self.whole(
            "refresh_interval_seconds",
            DEFAULT_REFRESH_INTERVAL_SECONDS,
            1,
            MAX_REFRESH_INTERVAL_SECONDS,
        )
        stale = self.whole("max_stale_seconds", 0, 0, MAX_STALE_LIMIT_SECONDS)
        if stale and stale < interval:
            self.fail(
                "max_stale_seconds must be 0 (off) or at least refresh_interval_seconds: "
                "a session is only re-checked that often",
                "max_stale_seconds",
            )
        return RecheckPolicy(interval_seconds=interval, max_stale_seconds=stale)

    def timeout(self) -> float:
        """How long one call to the upstream may take."""
        return self.seconds("timeout_seconds", DEFAULT_TIMEOUT_SECONDS, 0.1, 60)


def _ldap(table: _Table) -> LdapSourceConfig:
    table.check_keys(_LDAP_KEYS)
    source_id = table.source_id()
    preset_name = table.required("preset")
    preset = PRESETS.get(preset_name)
    if preset is None:
        table.fail(f"preset {preset_name!r} is not one of {', '.join(sorted(PRESETS))}", "preset")

    def preset_text(key: str) -> str:
        return table.text(key, str(preset[key]))

    url = _ldap_url(table)
    start_tls = table.flag("start_tls", False)
    if start_tls and url.startswith("ldaps://"):
        table.fail("start_tls is for ldap:// URLs: ldaps:// is encrypted already", "start_tls")
    allow_plain = table.flag("allow_plain", False)
    if url.startswith("ldap://") and not start_tls and not allow_plain:
        table.fail(
            "ldap:// without start_tls sends passwords unencrypted: use ldaps://, set "
            "start_tls = true, or (for a test only) allow_plain = true",
            "url",
        )
    ca_file = table.file("ca_file") if "ca_file" in table.entry else None
    user_filter = _filter(table, "user_filter", preset_text("user_filter"), {"username"})
    active = preset_text("active_filter")
    active_filter = _filter(table, "active_filter", active, set(), allow_empty=True)
    lookup = preset_text("groups")
    if lookup not in GROUP_LOOKUPS:
        table.fail(f"groups must be one of {', '.join(GROUP_LOOKUPS)}", "groups")
    needs = {"dn", "username"} if lookup == SEARCH else set()
    groups_filter = _filter(
        table, "groups_filter", preset_text("groups_filter"), needs, any_of=lookup == SEARCH
    )
    password_change = preset_text("password_change")
    if password_change not in PASSWORD_CHANGES:
        table.fail(
            f"password_change must be one of {', '.join(PASSWORD_CHANGES)}", "password_change"
        )
    password_change_url = table.text("password_change_url", "")
    if password_change_url and not _is_web_url(password_change_url, allow_http=False):
        table.fail("password_change_url must be an https:// URL", "password_change_url")
    base_dn = table.required("base_dn")
    id_binary = table.flag("id_binary", bool(preset["id_binary"]))
    return LdapSourceConfig(
        id=source_id,
        line=table.header,
        title=table.text("title", f"the directory {LDAP_KIND}:{source_id}"),
        url=url,
        start_tls=start_tls,
        ca_file=ca_file,
        allow_plain=allow_plain,
        bind_dn=table.required("bind_dn"),
        bind_password=table.secret("bind_password_file"),
        base_dn=base_dn,
        user_filter=user_filter,
        active_filter=active_filter,
        name_attribute=_attribute(table, "name_attribute", preset_text("name_attribute")),
        id_attribute=_attribute(table, "id_attribute", preset_text("id_attribute")),
        id_binary=id_binary,
        groups_lookup=lookup,
        groups_base_dn=table.text("groups_base_dn", base_dn) or base_dn,
        groups_filter=groups_filter,
        member_of_attribute=_attribute(
            table, "member_of_attribute", preset_text("member_of_attribute")
        ),
        group_dn_attribute=_attribute(
            table, "group_dn_attribute", preset_text("group_dn_attribute")
        ),
        group_name_attribute=_attribute(
            table, "group_name_attribute", preset_text("group_name_attribute")
        ),
        password_change=password_change,
        password_change_url=password_change_url,
        timeout_seconds=table.timeout(),
        pool_size=table.whole("pool_size", DEFAULT_POOL_SIZE, 1, 32),
        groups=table.group_mapping(),
        recheck=table.recheck(),
        preset=preset_name,
    )


def _ldap_url(table: _Table) -> str:
    url = table.required("url")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        table.fail(f"url {url!r} is not ldap://HOST[:PORT] or ldaps://HOST[:PORT]", "url")
    if (
        parts.scheme not in {"ldap", "ldaps"}
        or not parts.hostname
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        table.fail(
            f"url {url!r} must be ldap://HOST[:PORT] or ldaps://HOST[:PORT] (the base DN is "
            "base_dn, the credentials bind_dn and bind_password_file)",
            "url",
        )
    return url.rstrip("/")


def _filter(
    table: _Table,
    key: str,
    value: str,
    needs: set[str],
    *,
    allow_empty: bool = False,
    any_of: bool = False,
) -> str:
    value = table.text(key, value)
    if not value and allow_empty:
        return ""
    if not (value.startswith("(") and value.endswith(")")) or not _balanced(value):
        table.fail(f"{key} {value!r} is not an LDAP filter (balanced parentheses)", key)
    named = set(_PLACEHOLDER.findall(value))
    unknown = named - _FILTER_PLACEHOLDERS
    if unknown:
        table.fail(
            f"{key} has an unknown placeholder {{{sorted(unknown)[0]}}} (known: "
            f"{', '.join('{' + p + '}' for p in sorted(_FILTER_PLACEHOLDERS))})",
            key,
        )
    missing = needs - named
    if needs and (missing == needs if any_of else missing):
        wanted = " or ".join("{" + p + "}" for p in sorted(needs))
        table.fail(f"{key} must contain {wanted}", key)
    return value


def _balanced(value: str) -> bool:
    depth = 0
    escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _attribute(table: _Table, key: str, default: str) -> str:
    value = table.text(key, default)
    if not _ATTRIBUTE.fullmatch(value):
        table.fail(f"{key} {value!r} is not an attribute name", key)
    return value


def _oidc(table: _Table) -> OidcSourceConfig:
    table.check_keys(_OIDC_KEYS)
    source_id = table.source_id()
    allow_http = table.flag("allow_http", False)
    issuer = table.required("issuer")
    if not _is_web_url(issuer, allow_http) or urlsplit(issuer).query:
        scheme = "http(s)" if allow_http else "https"
        table.fail(
            f"issuer {issuer!r} must be a {scheme}:// URL with no query or fragment, exactly "
            "as the provider's discovery document spells it",
            "issuer",
        )
    client_secret = (
        table.secret("client_secret_file") if "client_secret_file" in table.entry else ""
    )
    method = table.text("token_auth_method", "client_secret_basic" if client_secret else "none")
    if method not in TOKEN_AUTH_METHODS:
        table.fail(
            f"token_auth_method must be one of {', '.join(TOKEN_AUTH_METHODS)}",
            "token_auth_method",
        )
    if (method == "none") != (not client_secret):
        table.fail(
            "token_auth_method none is for a public client (no client_secret_file); the "
            "others need client_secret_file",
            "token_auth_method" if "token_auth_method" in table.entry else "client_secret_file",
        )
    redirect_uri = table.required("redirect_uri")
    callback = f"{OIDC_PATH_PREFIX}{source_id}{CALLBACK_SUFFIX}"
    if not _is_web_url(redirect_uri, allow_http) or urlsplit(redirect_uri).path != callback:
        table.fail(
            f"redirect_uri must be an absolute URL of this site whose path is {callback} "
            "(register the same one at the provider)",
            "redirect_uri",
        )
    algorithms = table.strings("algorithms", ("RS256",))
    for algorithm in algorithms:
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            table.fail(
                f"algorithms: {algorithm!r} is not allowed (one of "
                f"{', '.join(ASYMMETRIC_ALGORITHMS)}; never none or an HMAC)",
                "algorithms",
            )
    scopes = table.strings("scopes", ("openid", "profile", "email"))
    if "openid" not in scopes:
        table.fail('scopes must include "openid"', "scopes")
    for scope in scopes:
        if not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", scope):
            table.fail(f"scopes: {scope!r} is not a scope token", "scopes")
    post_logout = table.text("post_logout_redirect_uri", "")
    if post_logout and not _is_web_url(post_logout, allow_http):
        table.fail("post_logout_redirect_uri must be an absolute URL", "post_logout_redirect_uri")
    return OidcSourceConfig(
        id=source_id,
        line=table.header,
        title=table.text("title", f"Sign in with {source_id}"),
        issuer=issuer,
        client_id=table.required("client_id"),
        client_secret=client_secret,
        token_auth_method=method,
        redirect_uri=redirect_uri,
        algorithms=algorithms,
        scopes=scopes,
        name_claim=_claim(table, "name_claim", "preferred_username"),
        groups_claim=_claim(table, "groups_claim", "", allow_empty=True),
        trusted_amr=frozenset(table.strings("trusted_amr", ())),
        trusted_acr=frozenset(table.strings("trusted_acr", ())),
        rp_logout=table.flag("rp_logout", False),
        post_logout_redirect_uri=post_logout,
        backchannel_logout=table.flag("backchannel_logout", False),
        clock_skew_seconds=table.whole(
            "clock_skew_seconds", DEFAULT_CLOCK_SKEW_SECONDS, 0, MAX_CLOCK_SKEW_SECONDS
        ),
        flow_seconds=table.whole("flow_seconds", DEFAULT_FLOW_SECONDS, 60, 1800),
        allow_http=allow_http,
        timeout_seconds=table.timeout(),
        groups=table.group_mapping(),
        recheck=table.recheck(),
    )


def _claim(table: _Table, key: str, default: str, *, allow_empty: bool = False) -> str:
    value = table.text(key, default)
    if not value and allow_empty:
        return ""
    if not re.fullmatch(r"[A-Za-z0-9_.:/-]{1,64}", value):
        table.fail(f"{key} {value!r} is not a claim name", key)
    return value


def _is_web_url(value: str, allow_http: bool) -> bool:
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return False
    schemes = {"https", "http"} if allow_http else {"https"}
    return (
        parts.scheme in schemes
        and bool(parts.hostname)
        and not parts.fragment
        and parts.username is None
        and value.isprintable()
        and " " not in value
    )


class _Lines:
    """Line numbers of `[[ldap]]` / `[[oidc]]` headers and of keys, for the messages."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._headers: dict[str, list[int]] = {LDAP_KIND: [], OIDC_KIND: []}
        for number, line in enumerate(self._lines, start=1):
            compact = line.strip().replace(" ", "")
            for kind, found in self._headers.items():
                if compact.startswith(f"[[{kind}]]"):
                    found.append(number)

    def of_header(self, kind: str, number: int) -> int:
        """The line of the number-th `[[kind]]` header (1 if written inline)."""
        found = self._headers.get(kind, [])
        return found[number - 1] if number <= len(found) else 1

    def of_key(self, key: str, after: int = 0) -> int | None:
        """The first line at or after `after` that assigns `key`."""
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for number in range(max(after, 1), len(self._lines) + 1):
            if pattern.match(self._lines[number - 1]):
                return number
        return None
