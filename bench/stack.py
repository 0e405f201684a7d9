"""The processes under test: Redis, the verifier, the naive baseline and one nginx.

Redis is one redis-server, or a Sentinel or Cluster deployment (`--redis`, bench/topology.py).

Everything listens on 127.0.0.1 on free ports, lives in one temporary directory, and is
stopped by PID (nginx first, so no request reaches a stopped upstream), also when start-up
fails half way or the run is interrupted.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.topology import BenchRedis
from verifier.demo import processes
from verifier.demo.processes import ManagedProcess
from verifier.sessions.tokens import AccessTokenCodec
from verifier.settings import load_settings
from verifier.store.keyspace import KeySpace
from verifier.web.cookies import CookiePolicy

BENCH_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = BENCH_DIR.parent
NGINX_TEMPLATE = BENCH_DIR / "nginx.conf.template"
JWT_KID = "bench"
KEY_PREFIX = "verifier"
ISSUER = AUDIENCE = "verifier"
USER_NAME = "bench"
# The access scenario's location requires this group (bench/nginx.conf.template), and asks
# for its own assertion audience.
USER_GROUP = "bench-admins"
ASSERTION_AUDIENCE = "bench-app"
# The sso scenario's verifier: a portal and the one app host its requests name.
SSO_PORTAL_HOST = "auth.bench.localhost"
SSO_APP_HOST = "app.bench.localhost"
# The body of every protected URL: small, so the check dominates what is measured.
STATIC_BODY = b"ok\n"
STATIC_FILE = "ok.txt"
# Longer than any run: on the valid path the access token must never expire mid-run.
ACCESS_TTL_SECONDS = 3600
# Far above what a run creates (each login scenario request is a new session), so the
# per-user cap never ends the sessions the other scenarios are using.
MAX_SESSIONS_PER_USER = 1_000_000
# The login flood must hash every attempt: the worst case for /auth. With the default
# limits almost every attempt would be a cheap 429 from the throttle.
LOGIN_FAILURE_LIMIT = 1_000_000


@dataclass(frozen=True)
class Endpoints:
    """URLs and names the scenarios need."""

    base_url: str
    # The second nginx, in front of the verifier that signs assertions (the access scenario).
    access_base_url: str
    # The third nginx, in front of the verifier with metrics on (the metrics scenario), and
    # that verifier's exposition.
    metrics_base_url: str
    metrics_scrape_url: str
    # The fourth nginx, in front of the verifier with single sign-on (the sso scenario):
    # its requests name the listed app host SSO_APP_HOST.
    sso_base_url: str
    # The fifth nginx, in front of the verifier with the /auth fast path off (every check
    # takes the ASGI route: the fastpath scenario's baseline).
    asgi_base_url: str
    # The sixth nginx, in front of the first verifier on its Unix socket (the socket
    # scenario; the first nginx reaches the same verifier over TCP).
    unix_base_url: str
    access_cookie: str
    refresh_cookie: str
    user_name: str
    password: str
    # An API token of the bench user (`verifier tokens create`), for the token scenario.
    api_token: str = ""

    def url(self, path: str) -> str:
        """Absolute URL of a path on the bench nginx."""
        return self.base_url + path

    def access_url(self, path: str) -> str:
        """Absolute URL of a path on the second nginx (group rule and signed assertion)."""
        return self.access_base_url + path


@dataclass(frozen=True)
class RunningStack:
    """What the scenarios need from a started stack."""

    endpoints: Endpoints
    verifier: ManagedProcess
    # The same verifier with metrics on (the metrics scenario).
    metrics_verifier: ManagedProcess
    # The same verifier with single sign-on: tokens bound to their host (the sso scenario).
    sso_verifier: ManagedProcess
    # The same verifier with the /auth fast path off (the fastpath scenario).
    asgi_verifier: ManagedProcess
    # The verifier's own codec with the run's key, to mint the expired access tokens a
    # browser sends when it comes back after the access lifetime.
    token_codec: AccessTokenCodec
    # The Redis under the verifiers, to count the commands a scenario sends it.
    redis: BenchRedis


class BenchStack:
    """Starts the stack in `workdir`; use as a context manager so it is always stopped."""

    def __init__(
        self,
        workdir: Path,
        verifier_workers: int,
        redis_topology: str = "standalone",
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self._workdir = workdir
        # VERIFIER_* settings of a compared variant, on top of the bench's own.
        self._settings = dict(settings or {})
        self._verifier_workers = verifier_workers
        self._redis = BenchRedis(workdir, redis_topology)
        self._redis_started = False
        self._started: list[ManagedProcess] = []
        self._jwt_secret = secrets.token_urlsafe(48)
        self._cookies = CookiePolicy(secure=True)

    def __enter__(self) -> RunningStack:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every started process by PID, front to back."""
        # A second Ctrl-C while stopping must not leave the rest running.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self._started:
                self._started.pop().stop()
            if self._redis_started:
                self._redis.stop()
                self._redis_started = False
        finally:
            signal.signal(signal.SIGINT, previous)

    def _start(self) -> RunningStack:
        self._redis_started = True
        self._redis.start()
        redis_env = self._redis.verifier_env()
        # The naive baseline asks one server: the master of the bench user's slot.
        naive_redis_url = self._redis.url_serving(KeySpace(KEY_PREFIX).session_prefix(USER_NAME))

        verifier_env = self._verifier_env(redis_env)
        verifier_port = processes.free_port()
        # On a Unix socket too: the socket scenario's nginx reaches it there.
        verifier_socket = self._workdir / "verifier.sock"
        verifier = processes.start_verifier(
            verifier_env,
            verifier_port,
            self._verifier_workers,
            log_dir=self._workdir,
            unix_socket=verifier_socket,
            socket_group=processes.nginx_worker_group(),
        )
        self._started.append(verifier)

        # The first verifier again with the /auth fast path off (the fastpath scenario: the
        # ASGI route every check took before, against the fast path on the first one).
        asgi_env = {**verifier_env, "VERIFIER_AUTH_FAST_PATH": "false"}
        asgi_verifier_port = processes.free_port()
        (self._workdir / "asgi").mkdir()
        asgi_verifier = processes.start_verifier(
            asgi_env, asgi_verifier_port, self._verifier_workers, log_dir=self._workdir / "asgi"
        )
        self._started.append(asgi_verifier)

        # The same service with a keys directory (the same access key, plus an assertion
        # key) for the access scenario: a location that requires a group and forwards a
        # signed assertion. Same Redis and key prefix, so the same session works on both.
        access_env = self._access_verifier_env(redis_env)
        access_verifier_port = processes.free_port()
        self._started.append(
            processes.start_verifier(
                access_env,
                access_verifier_port,
                self._verifier_workers,
                log_dir=self._workdir / "access",
            )
        )

        # The first verifier again with metrics on (the metrics scenario: the valid path
        # with metrics off, on the first one, against the same path with them on, here).
        metrics_bind = f"{processes.LOOPBACK}:{processes.free_port()}"
        metrics_env = {**verifier_env, "VERIFIER_METRICS_BIND": metrics_bind}
        metrics_verifier_port = processes.free_port()
        (self._workdir / "metrics").mkdir()
        metrics_verifier = processes.start_verifier(
            metrics_env,
            metrics_verifier_port,
            self._verifier_workers,
            log_dir=self._workdir / "metrics",
        )
        self._started.append(metrics_verifier)

        # The first verifier again with single sign-on (the sso scenario: the valid path of
        # a token bound to its host, against the same path without, on the first one).
        sso_env = {
            **verifier_env,
            "VERIFIER_SSO_PORTAL_URL": f"http://{SSO_PORTAL_HOST}",
            "VERIFIER_SSO_HOSTS": SSO_APP_HOST,
        }
        sso_verifier_port = processes.free_port()
        (self._workdir / "sso").mkdir()
        sso_verifier = processes.start_verifier(
            sso_env, sso_verifier_port, self._verifier_workers, log_dir=self._workdir / "sso"
        )
        self._started.append(sso_verifier)

        naive_port = processes.free_port()
        self._started.append(self._start_naive(naive_redis_url, naive_port))

        listen_port = self._start_nginx(self._workdir, verifier_port, naive_port)
        access_listen_port = self._start_nginx(
            self._workdir / "access", access_verifier_port, naive_port
        )
        metrics_listen_port = self._start_nginx(
            self._workdir / "metrics", metrics_verifier_port, naive_port
        )
        sso_listen_port = self._start_nginx(self._workdir / "sso", sso_verifier_port, naive_port)
        asgi_listen_port = self._start_nginx(self._workdir / "asgi", asgi_verifier_port, naive_port)
        unix_listen_port = self._start_nginx(
            self._workdir / "unix", verifier_port, naive_port, verifier_socket=verifier_socket
        )

        password = secrets.token_urlsafe(16)
        processes.add_user(verifier_env, USER_NAME, password, groups=(USER_GROUP,))
        api_token = processes.run_verifier_command(
            verifier_env, "tokens", "create", "--user", USER_NAME, "--name", "bench"
        ).strip()
        endpoints = Endpoints(
            base_url=f"http://{processes.LOOPBACK}:{listen_port}",
            access_base_url=f"http://{processes.LOOPBACK}:{access_listen_port}",
            metrics_base_url=f"http://{processes.LOOPBACK}:{metrics_listen_port}",
            metrics_scrape_url=f"http://{metrics_bind}/metrics",
            sso_base_url=f"http://{processes.LOOPBACK}:{sso_listen_port}",
            asgi_base_url=f"http://{processes.LOOPBACK}:{asgi_listen_port}",
            unix_base_url=f"http://{processes.LOOPBACK}:{unix_listen_port}",
            access_cookie=self._cookies.access_name,
            refresh_cookie=self._cookies.refresh_name,
            user_name=USER_NAME,
            password=password,
            api_token=api_token,
        )
        return RunningStack(
            endpoints=endpoints,
            verifier=verifier,
            metrics_verifier=metrics_verifier,
            sso_verifier=sso_verifier,
            asgi_verifier=asgi_verifier,
            token_codec=AccessTokenCodec(load_settings(verifier_env)),
            redis=self._redis,
        )

    def _start_nginx(
        self,
        prefix: Path,
        verifier_port: int,
        naive_port: int,
        verifier_socket: Path | None = None,
    ) -> int:
        listen_port = processes.free_port()
        www = prefix / "www"
        www.mkdir(parents=True)
        (www / STATIC_FILE).write_bytes(STATIC_BODY)
        www.chmod(0o755)  # nginx's workers run as nobody when started as root
        conf = prefix / "nginx.conf"
        conf.write_text(
            processes.render_nginx_conf(
                prefix=prefix,
                listen_port=listen_port,
                verifier_port=verifier_port,
                app_port=naive_port,
                worker_processes=1,
                template=NGINX_TEMPLATE,
                verifier_socket=verifier_socket,
            ),
            encoding="utf-8",
        )
        self._started.append(
            processes.start_nginx(processes.find_nginx(), prefix, conf, port=listen_port)
        )
        return listen_port

    def _access_verifier_env(self, redis_env: dict[str, str]) -> dict[str, str]:
        env = self._verifier_env(redis_env)
        del env["VERIFIER_JWT_KEYS"]
        keys_dir = self._workdir / "access" / "keys"
        keys_dir.parent.mkdir()
        env["VERIFIER_KEYS_DIR"] = str(keys_dir)
        env["VERIFIER_ASSERTION_AUDIENCE"] = "app"
        # The run's access key, so the session signed in on the first verifier passes here.
        processes.run_verifier_command(
            env, "keys", "import", stdin=f"{JWT_KID}:{self._jwt_secret}\n"
        )
        processes.run_verifier_command(env, "keys", "generate", "--use", "assertion")
        return env

    def _verifier_env(self, redis_env: dict[str, str]) -> dict[str, str]:
        # Everything else keeps the service's defaults: the point is to measure them.
        return {
            **redis_env,
            "VERIFIER_JWT_KEYS": f"{JWT_KID}:{self._jwt_secret}",
            "VERIFIER_KEY_PREFIX": KEY_PREFIX,
            "VERIFIER_ISSUER": ISSUER,
            "VERIFIER_AUDIENCE": AUDIENCE,
            "VERIFIER_ACCESS_TTL_SECONDS": str(ACCESS_TTL_SECONDS),
            "VERIFIER_MAX_SESSIONS_PER_USER": str(MAX_SESSIONS_PER_USER),
            "VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT": str(LOGIN_FAILURE_LIMIT),
            "VERIFIER_LOGIN_MAX_FAILURES_PER_ADDRESS": str(LOGIN_FAILURE_LIMIT),
            # Off but where a scenario measures them (the metrics verifier): the other
            # figures stay comparable with earlier runs, and no two verifiers share a port.
            "VERIFIER_METRICS_BIND": "off",
            **self._settings,
        }

    def _start_naive(self, redis_url: str, port: int) -> ManagedProcess:
        env = dict(os.environ)
        # The child imports bench/ and verifier/ from this checkout, from any working dir.
        inherited = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(SOURCE_ROOT) + (os.pathsep + inherited if inherited else "")
        env.update(
            BENCH_NAIVE_REDIS_URL=redis_url,
            BENCH_NAIVE_JWT_SECRET=self._jwt_secret,
            BENCH_NAIVE_COOKIE_NAME=self._cookies.access_name,
            BENCH_NAIVE_KEY_PREFIX=KEY_PREFIX,
            BENCH_NAIVE_ISSUER=ISSUER,
            BENCH_NAIVE_AUDIENCE=AUDIENCE,
        )
        argv = processes.sync_gunicorn_argv("bench.naive_app:from_environment()", port)
        process = ManagedProcess("naive-app", argv, self._workdir, env=env)
        try:
            # Any status proves a worker imported the app (it answers 401 without a cookie).
            process.wait_until_responding(f"http://{processes.LOOPBACK}:{port}/_bench/naive-check")
        except BaseException:
            process.stop(timeout=5.0)
            raise
        return process
