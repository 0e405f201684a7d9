"""Connections to one LDAP directory, used off the event loop and never waited on for long.

python-ldap (libldap) blocks: every directory call runs in a thread pool of the source's own
(`pool_size` threads per worker process), each on a connection taken from an idle list.
Service connections are bound once as the service account and only search; user binds run on
connections of their own, so a search never runs as a user who just signed in.

Bounds, because a directory that is down must never hang a worker:
- the TCP user timeout and libldap's operation timeout (`timeout_seconds`) end a call to a
  server that drops connections or stops answering a request;
- a server that accepted the TCP connection but never answers the TLS handshake (a frozen
  process) holds libldap past both, blocked without using CPU: the caller stops waiting after
  `timeout_seconds` anyway (asyncio.wait_for), the connection is thrown away when its thread
  comes back, and a call still queued when its caller gave up never starts;
- after a failure the source answers "unavailable" at once for COOLDOWN_SECONDS instead of
  queueing more calls behind a dead server, then tries again.
Referrals are never chased (they would carry the service account's credentials elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ldap
from ldap.ldapobject import LDAPObject

from verifier.upstream.config import LdapSourceConfig
from verifier.users.sources.interface import SourceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
# An entry as python-ldap returns it: its DN and its attributes' raw values.
Entry = tuple[str, dict[str, list[bytes]]]

# How long a source that just failed answers "unavailable" without trying.
COOLDOWN_SECONDS = 5.0
# Errors that say the directory could not be asked, as opposed to an answer.
_DOWN: tuple[type[ldap.LDAPError], ...] = (
    ldap.SERVER_DOWN,
    ldap.TIMEOUT,
    ldap.TIMELIMIT_EXCEEDED,
    ldap.CONNECT_ERROR,
    ldap.UNAVAILABLE,
    ldap.BUSY,
)
# What a bind as a user answers when the password (or the DN) is not good.
_BIND_REFUSED: tuple[type[ldap.LDAPError], ...] = (
    ldap.INVALID_CREDENTIALS,
    ldap.INAPPROPRIATE_AUTH,
    ldap.UNWILLING_TO_PERFORM,
    ldap.INVALID_DN_SYNTAX,
)


class DirectoryDown(Exception):
    """Raised in a pool thread when the directory could not be asked; becomes SourceUnavailable."""


class TooManyEntries(Exception):
    """A search that may match one entry matched more (its size limit was reached)."""


class PasswordRejected(Exception):
    """The directory refused a new password; `detail` is its own words, for the log only."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class _Call:
    """One call's connections; `abandoned` once the caller stopped waiting for it."""

    abandoned: bool = False
    taken: list[tuple[str, LDAPObject]] = field(default_factory=list)


class LdapConnections:
    """A directory's connection pool and thread pool (one per source, per worker process)."""

    def __init__(
        self, config: LdapSourceConfig, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._monotonic = monotonic
        self._executor = ThreadPoolExecutor(
            max_workers=config.pool_size, thread_name_prefix=f"ldap-{config.id}"
        )
        self._lock = threading.Lock()
        self._idle: dict[str, list[LDAPObject]] = {"search": [], "bind": []}
        self._down_until = 0.0

    @property
    def source(self) -> str:
        """The source's name (`ldap:ID`)."""
        return self._config.name

    async def run(self, work: Callable[[DirectorySession], T]) -> T:
        """Run `work` in a pool thread with a session on the directory; its result.

        Raise SourceUnavailable when the directory cannot be asked, or did not answer in
        `timeout_seconds`; nothing waits longer than that.
        """
        if self._monotonic() < self._down_until:
            raise SourceUnavailable(self.source, "it failed moments ago; not retried yet")
        call = _Call()
        loop = asyncio.get_running_loop()
        pending = loop.run_in_executor(self._executor, self._in_thread, work, call)
        try:
            return await asyncio.wait_for(pending, self._config.timeout_seconds)
        except TimeoutError:
            # The thread may still be blocked (a frozen server holds libldap's TLS handshake
            # past its own timeouts): its connections are thrown away when it returns.
            call.abandoned = True
            self._trip("no answer within timeout_seconds")
            raise SourceUnavailable(self.source, "timed out") from None
        except DirectoryDown as down:
            self._trip(str(down))
            raise SourceUnavailable(self.source, str(down)) from None

    def close(self) -> None:
        """Drop idle connections and stop the threads (at worker shutdown)."""
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            for conns in self._idle.values():
                conns.clear()
        for conn in idle:
            _unbind(conn)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _trip(self, reason: str) -> None:
        log.warning("%s unreachable (%s): sign-ins through it fail for now", self.source, reason)
        self._down_until = self._monotonic() + COOLDOWN_SECONDS

    def _in_thread(self, work: Callable[[DirectorySession], T], call: _Call) -> T:
        if call.abandoned:
            # Queued behind threads a frozen server holds, and given up on meanwhile.
            raise DirectoryDown("given up before it started")
        session = DirectorySession(self, call)
        try:
            return work(session)
        finally:
            self._give_back(call)

    def _take(self, kind: str, call: _Call) -> tuple[LDAPObject, bool]:
        """An idle connection of `kind` (True: it was used before) or a new one."""
        with self._lock:
            idle = self._idle[kind]
            conn = idle.pop() if idle else None
        reused = conn is not None
        if conn is None:
            conn = self._connect(bind_service=kind == "search")
        call.taken.append((kind, conn))
        return conn, reused

    def _discard(self, conn: LDAPObject, call: _Call) -> None:
        call.taken = [(kind, taken) for kind, taken in call.taken if taken is not conn]
        _unbind(conn)

    def _give_back(self, call: _Call) -> None:
        if call.abandoned:
            for _, conn in call.taken:
                _unbind(conn)
            return
        extra: list[LDAPObject] = []
        with self._lock:
            for kind, conn in call.taken:
                idle = self._idle[kind]
                if len(idle) < self._config.pool_size:
                    idle.append(conn)
                else:
                    extra.append(conn)
        call.taken.clear()
        for conn in extra:
            _unbind(conn)

    def _connect(self, *, bind_service: bool) -> LDAPObject:
        config = self._config
        conn = ldap.initialize(config.url)
        try:
            conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
            # Never chase referrals: libldap would bind to the named host with our credentials.
            conn.set_option(ldap.OPT_REFERRALS, 0)
            conn.set_option(ldap.OPT_DEREF, ldap.DEREF_NEVER)
            # Not OPT_NETWORK_TIMEOUT: with it libldap makes the socket non-blocking and
            # spins on a TLS handshake that gets no answer (a third of a core per thread,
            # measured here, with no end), starving the worker's other threads. The TCP user
            # timeout bounds the connect to a host that drops SYNs and any unacknowledged
            # write; OPT_TIMEOUT bounds waiting for a result.
            conn.set_option(ldap.OPT_TCP_USER_TIMEOUT, int(config.timeout_seconds * 1000))
            conn.set_option(ldap.OPT_TIMEOUT, config.timeout_seconds)
            if config.ca_file is not None:
                conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(config.ca_file))
            # The certificate must chain to the CA and name the host connected to.
            conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: applies the TLS options above
            if config.start_tls:
                conn.start_tls_s()
            if bind_service:
                conn.simple_bind_s(config.bind_dn, config.bind_password)
        except ldap.INVALID_CREDENTIALS:
            _unbind(conn)
            log.error(
                "%s refused the service account's bind (bind_dn, bind_password_file)", self.source
            )
            raise DirectoryDown("the service account's bind was refused") from None
        except ldap.LDAPError as error:
            _unbind(conn)
            raise DirectoryDown(_describe(error)) from None
        return conn


class DirectorySession:
    """What one call may do on the directory: search as the service account, bind as a user."""

    def __init__(self, pool: LdapConnections, call: _Call) -> None:
        self._pool = pool
        self._call = call

    def search(
        self, base: str, filterstr: str, attributes: list[str], *, size_limit: int = 0
    ) -> list[Entry]:
        """Entries under `base` that match (subtree); search references are left out.

        Raise TooManyEntries past `size_limit` (0: the server's own limit).
        """

        def attempt(conn: LDAPObject) -> list[Entry]:
            found: list[tuple[str | None, Any]] = conn.search_ext_s(
                base,
                ldap.SCOPE_SUBTREE,
                filterstr,
                attrlist=attributes,
                sizelimit=size_limit,
                timeout=self._pool._config.timeout_seconds,
            )
            # A search reference (dn None) points at another server: never followed.
            return [(dn, attrs) for dn, attrs in found if dn is not None]

        try:
            return self._with_retry("search", attempt)
        except ldap.SIZELIMIT_EXCEEDED:
            raise TooManyEntries() from None

    def bind_as(self, dn: str, password: str) -> bool:
        """True if the directory accepts this DN and password (a simple bind)."""
        if not password:
            return False  # an empty password is an unauthenticated bind: it proves nothing

        def attempt(conn: LDAPObject) -> bool:
            try:
                conn.simple_bind_s(dn, password)
            except _BIND_REFUSED:
                return False
            return True

        return self._with_retry("bind", attempt)

    def change_password(self, dn: str, old: str, new: str, method: str) -> bool:
        """Bind as `dn` with `old`, then set `new` (RFC 3062 or AD's unicodePwd).

        False if `old` is wrong; raise PasswordRejected if the directory refuses `new`.
        """
        if not old:
            return False
        conn, _ = self._pool._take("bind", self._call)
        try:
            try:
                conn.simple_bind_s(dn, old)
            except _BIND_REFUSED:
                return False
            if method == "ad_unicodepwd":
                # AD takes a password change (not a reset) as delete old + add new, each the
                # quoted password in UTF-16LE, over an encrypted connection only.
                conn.modify_s(
                    dn,
                    [
                        (ldap.MOD_DELETE, "unicodePwd", [_ad_password(old)]),
                        (ldap.MOD_ADD, "unicodePwd", [_ad_password(new)]),
                    ],
                )
            else:
                conn.passwd_s(dn, old, new)
            return True
        except _DOWN as error:
            raise DirectoryDown(_describe(error)) from None
        except ldap.LDAPError as error:
            raise PasswordRejected(_describe(error)) from None
        finally:
            # Bound as the user now: never handed to another call.
            self._pool._discard(conn, self._call)

    def _with_retry(self, kind: str, attempt: Callable[[LDAPObject], T]) -> T:
        # An idle connection may have died since its last use (a server restart): one retry
        # on a new connection before the directory counts as down.
        conn, reused = self._pool._take(kind, self._call)
        try:
            return attempt(conn)
        except _DOWN as error:
            self._pool._discard(conn, self._call)
            if not reused:
                raise DirectoryDown(_describe(error)) from None
        except ldap.SIZELIMIT_EXCEEDED:
            raise
        except ldap.LDAPError as error:
            self._pool._discard(conn, self._call)
            raise DirectoryDown(_describe(error)) from None
        conn, _ = self._pool._take(kind, self._call)
        try:
            return attempt(conn)
        except ldap.SIZELIMIT_EXCEEDED:
            raise
        except ldap.LDAPError as error:
            self._pool._discard(conn, self._call)
            raise DirectoryDown(_describe(error)) from None


def _ad_password(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


def _describe(error: ldap.LDAPError) -> str:
    # python-ldap's errors carry a dict (desc, info); never the request, so no password.
    detail = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    desc = detail.get("desc", type(error).__name__)
    info = detail.get("info", "")
    return f"{desc} ({info})" if info else str(desc)


def _unbind(conn: LDAPObject) -> None:
    # Already gone (a dead server): nothing to release.
    with contextlib.suppress(ldap.LDAPError):
        conn.unbind_s()
