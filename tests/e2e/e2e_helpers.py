"""Helpers shared by the end-to-end tests: users, raw cookies, minted tokens."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import jwt
import pytest
import redis
import redis.sentinel
import requests

from verifier.demo.processes import verifier_environment
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack

T = TypeVar("T")

PAGE_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
}
TIMEOUT = 10
# How long a test waits for what happens as soon as a process gets to it (a worker reading a
# revocation, or noticing that Redis went away): generous for a slow and busy machine, and
# far shorter than anything that would bring it about anyway (the stack's 60 s liveness
# cache), so a worker that never got to it still fails the test.
SETTLE_SECONDS = 10.0
_POLL_SECONDS = 0.02
# Parallel checks in one burst (all at once, so that nginx opens upstream connections beyond
# the idle ones it keeps), and how many bursts `burst` sends before it gives up on reaching
# every worker.
BURST = 24
BURST_TRIES = 8

# The `next` values issue 3 names; each must land on a same-site path.
OPEN_REDIRECTS = [
    "https://evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "/%2F%2Fevil.example",
    "/%09/evil.example",
    "javascript:alert(1)",
    "http://127.0.0.1@evil.example",
]


@dataclass
class SignedIn:
    """A user signed in through nginx, with the raw cookie values login returned."""

    name: str
    password: str
    access: str
    refresh: str

    @property
    def session_id(self) -> str:
        """The session id, read from the refresh token (`user.sid.secret`)."""
        return self.refresh.rsplit(".", 2)[1]


def new_user(stack: Stack, label: str = "user") -> tuple[str, str]:
    """Create a user with a unique name; return (name, password)."""
    name, password = f"{label}-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    stack.create_user(name, password)
    return name, password


def sign_in(stack: Stack, name: str, password: str) -> SignedIn:
    """Log in with the JSON API through nginx and keep the raw cookie values."""
    response = requests.post(
        stack.url("/auth/login"), json={"username": name, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    cookies = set_cookies(response)
    return SignedIn(name, password, cookies[stack.access_cookie], cookies[stack.refresh_cookie])


def set_cookie_headers(response: requests.Response) -> list[str]:
    """Every Set-Cookie header line, unjoined."""
    return list(response.raw.headers.getlist("Set-Cookie"))


def set_cookies(response: requests.Response) -> dict[str, str]:
    """{name: value} of every Set-Cookie; fails on a name set twice."""
    found: dict[str, str] = {}
    for line in set_cookie_headers(response):
        name, _, rest = line.partition("=")
        assert name not in found, f"{name} set twice: {set_cookie_headers(response)}"
        found[name] = rest.split(";", 1)[0]
    return found


def cookie_header(stack: Stack, access: str | None = None, refresh: str | None = None) -> str:
    """A Cookie header with our two cookies (either may be left out)."""
    pairs = []
    if access is not None:
        pairs.append(f"{stack.access_cookie}={access}")
    if refresh is not None:
        pairs.append(f"{stack.refresh_cookie}={refresh}")
    return "; ".join(pairs)


def get_page(
    stack: Stack, path: str = "/api/whoami", cookie: str = "", **headers: str
) -> requests.Response:
    """GET a protected path through nginx with a raw Cookie header, no redirects followed."""
    all_headers = {"Accept": "application/json", **headers}
    if cookie:
        all_headers["Cookie"] = cookie
    return requests.get(
        stack.url(path), headers=all_headers, allow_redirects=False, timeout=TIMEOUT
    )


def post_logout(stack: Stack, cookie: str, everywhere: bool = False) -> requests.Response:
    """POST /auth/logout (or ?all=1) through nginx with a raw Cookie header, as an API call."""
    return requests.post(
        stack.url("/auth/logout" + ("?all=1" if everywhere else "")),
        headers={"Cookie": cookie, "Accept": "application/json"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def access_claims(user: str, session_id: str, lifetime_seconds: int) -> dict[str, Any]:
    """The claims the verifier puts in an access token, issued now (a password sign-in)."""
    now = int(time.time())
    return {
        "iss": "verifier",
        "aud": "verifier",
        "sub": user,
        "sid": session_id,
        "iat": now,
        "exp": now + lifetime_seconds,
        "amr": ["pwd"],
        # A day before iat: tests that move iat back still find it after the sign-in.
        "auth_time": now - 86_400,
    }


def mint_access_token(stack: Stack, user: str, session_id: str, **overrides: Any) -> str:
    """Sign an access token with the stack's key, as the verifier would; claims overridable."""
    claims = access_claims(user, session_id, stack.access_ttl_seconds)
    claims.update(overrides)
    headers = {"kid": stack.jwt_kid, "typ": "at+jwt"}
    return jwt.encode(claims, stack.jwt_secret, algorithm="HS256", headers=headers)


def expired_access_token(stack: Stack, user: str, session_id: str) -> str:
    """A genuine access token for the session that expired a minute ago."""
    now = int(time.time())
    return mint_access_token(stack, user, session_id, iat=now - 120, exp=now - 60)


def run_cli(
    env: Mapping[str, str], *args: str, stdin: str = "", expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """`python -m verifier ARGS` with exactly these VERIFIER_* settings.

    It fails the test unless the command exits with `expect` (0, success, unless told
    otherwise: a test of a refusal says which status it expects); `expect=None` leaves the
    status to the caller, for the rare test that reads it itself.
    """
    result = subprocess.run(
        [sys.executable, "-m", "verifier", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=verifier_environment(env),
        timeout=60,
        check=False,
    )
    if expect is not None and result.returncode != expect:
        pytest.fail(
            f"verifier {' '.join(args)} exited {result.returncode}, not {expect}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}",
            pytrace=False,
        )
    return result


def eventually(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    what: str | Callable[[], str],
    seconds: float = SETTLE_SECONDS,
) -> T:
    """Probe until `done(result)` holds, and return that result; fail the test naming `what`
    (and the last result seen) if it does not hold within `seconds`. `what` may be a function,
    called only then, for a message made of what was seen by that time.

    The deadline only bounds a broken run: tests assert what they got, never the time taken.
    """
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() >= deadline:
            named = what() if callable(what) else what
            shown = repr(result)
            pytest.fail(
                f"waited {seconds:g} s for {named}; last seen: {shown[:2000]}", pytrace=False
            )
        time.sleep(_POLL_SECONDS)


def wait_until(
    condition: Callable[[], object],
    what: str | Callable[[], str],
    seconds: float = SETTLE_SECONDS,
) -> None:
    """Poll `condition` until it is true; fail the test naming `what` if it never is."""
    eventually(condition, bool, what=what, seconds=seconds)


async def wait_until_async(
    condition: Callable[[], object], what: str, seconds: float = SETTLE_SECONDS
) -> None:
    """`wait_until` inside an event loop: it yields to the loop (a listener under test runs
    there) between two looks, instead of blocking it."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"waited {seconds:g} s for {what}", pytrace=False)
        await asyncio.sleep(_POLL_SECONDS)


class RevocationWatch:
    """A real subscription to a revocation channel, confirmed before anything is published."""

    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self._pubsub = pubsub
        self.heard: list[str] = []

    def wait_for(self, expected: str) -> None:
        """Wait until `expected` has been published; fail the test if it never is."""

        def heard() -> bool:
            message = self._pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "message":
                self.heard.append(message["data"])
            return expected in self.heard

        wait_until(heard, lambda: f"{expected!r} published (heard: {self.heard})")


@contextlib.contextmanager
def watching_revocations(redis_url: str, channel: str) -> Iterator[RevocationWatch]:
    """Subscribe to `channel`; yield once Redis has confirmed the subscription."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        wait_until(
            lambda: (
                (message := pubsub.get_message(timeout=0.1)) is not None
                and message["type"] == "subscribe"
            ),
            f"Redis to confirm the subscription to {channel}",
        )
        yield RevocationWatch(pubsub)
    finally:
        pubsub.close()
        client.close()


@dataclass(frozen=True)
class Burst:
    """A burst of parallel checks through nginx, each matched to the worker that answered it.

    `answers` maps each verifier worker's PID to the statuses its /auth answered (204
    allowed, 401, 403, 503); `responses` are what the client got (200 for an allowed GET of
    /api/whoami).
    """

    responses: list[requests.Response]
    answers: dict[int, list[int]]

    @property
    def statuses(self) -> list[int]:
        """The status of each response the client got."""
        return [response.status_code for response in self.responses]

    def every_worker(self, stack: Stack, status: int) -> bool:
        """Whether every worker answered, and answered only `status`."""
        return set(self.answers) == worker_pids(stack) and all(
            set(answered) == {status} for answered in self.answers.values()
        )


def burst(
    stack: Stack,
    cookie: str,
    count: int = BURST,
    path: str = "/api/whoami",
    headers: Mapping[str, str] | None = None,
) -> Burst:
    """`count` parallel GETs of `path` with `cookie` (and `headers`: an API token's, say),
    answered by every worker of the stack.

    Which worker answers a request is up to nginx's keepalive connections and the kernel:
    one worker's event loop may accept every new connection of a burst at once, and nginx
    then reuses those connections for as long as they live. So each request carries a mark
    of its own in its query string, and the verifier's DEBUG line for each /auth answer
    ("worker PID answered STATUS for GET URI", verifier.auth_check) says which worker decided
    it. When a burst missed a worker, the next one is sent with the workers that answered the
    last one paused (SIGSTOP): the requests nginx writes on its connections to them wait,
    and the connections it opens for the rest can only be accepted by the others. Once one
    of the others has answered, the paused workers go on (SIGCONT) and answer theirs. After
    BURST_TRIES bursts the test fails naming the workers that did answer.
    """
    expected = worker_pids(stack)
    seen: list[set[int]] = []
    for _ in range(BURST_TRIES):
        paused = seen[-1] if seen and seen[-1] < expected else set()
        answers = _one_burst(stack, cookie, count, path, headers or {}, paused)
        seen.append(set(answers))
        if set(answers) == expected:
            return Burst(answers=answers, responses=answers.responses)
    pytest.fail(
        f"no burst of {count} checks reached every worker {sorted(expected)}; "
        f"each of {BURST_TRIES} bursts was answered by {[sorted(s) for s in seen]}",
        pytrace=False,
    )


class _BurstAnswers(dict[int, list[int]]):
    """Each worker's /auth statuses for one burst, with the responses the client got."""

    responses: list[requests.Response]


def _one_burst(
    stack: Stack,
    cookie: str,
    count: int,
    path: str,
    headers: Mapping[str, str],
    paused: set[int],
) -> _BurstAnswers:
    log_path = stack.processes["verifier"].log_path
    mark = secrets.token_hex(6)
    start = log_path.stat().st_size
    uris = [f"{path}?burst={mark}-{number}" for number in range(count)]
    with ThreadPoolExecutor(max_workers=count + 1) as pool:
        for pid in paused:
            os.kill(pid, signal.SIGSTOP)
        try:
            sent = [pool.submit(get_page, stack, uri, cookie=cookie, **headers) for uri in uris]
            if paused:
                eventually(
                    lambda: _burst_answers(log_path, start, mark),
                    lambda found: bool(set(found) - paused),
                    what=f"a worker other than the paused {sorted(paused)} to answer burst {mark}",
                )
        finally:
            for pid in paused:
                os.kill(pid, signal.SIGCONT)
        responses = [request.result() for request in sent]
    answers = _BurstAnswers(
        eventually(
            lambda: _burst_answers(log_path, start, mark),
            lambda found: sum(map(len, found.values())) >= count,
            what=f"the verifier's log line for each of the {count} checks of burst {mark}",
        )
    )
    answers.responses = responses
    return answers


_ANSWERED = re.compile(r"worker (\d+) answered (\d{3}) for \S+ \S*[?&]burst=([0-9a-f]+)-\d+")


def _burst_answers(log_path: Path, start: int, mark: str) -> dict[int, list[int]]:
    answers: dict[int, list[int]] = {}
    with log_path.open("rb") as log_file:
        log_file.seek(start)
        log = log_file.read().decode("utf-8", errors="replace")
    for found in _ANSWERED.finditer(log):
        if found.group(3) == mark:
            answers.setdefault(int(found.group(1)), []).append(int(found.group(2)))
    return answers


def every_worker_admits(stack: Stack, cookie: str) -> Burst:
    """A burst of checks with `cookie` that every worker admitted (/auth said 204 each time,
    the app answered 200): each worker now holds the session in its cache, if it caches."""
    answered = burst(stack, cookie)
    assert answered.every_worker(stack, 204), answered.answers
    assert set(answered.statuses) == {200}, answered.statuses
    return answered


def every_worker_denies(stack: Stack, cookie: str, what: str = "the revoked session") -> Burst:
    """Send bursts until every worker denies `cookie` (401, nothing set), as each worker
    does once it has heard the revocation; fail naming `what` if that never happens."""
    denied = eventually(
        lambda: burst(stack, cookie),
        lambda answered: answered.every_worker(stack, 401),
        what=f"every worker to deny {what}",
    )
    assert set(denied.statuses) == {401}, denied.statuses
    assert all(set_cookie_headers(response) == [] for response in denied.responses)
    return denied


class RedisCommands:
    """What one Redis server ran while it was watched (its MONITOR feed), read in a thread."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._monitor = client.monitor()
        self._monitor.__enter__()  # MONITOR is on once this returns: nothing later is missed
        self.commands: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with contextlib.suppress(redis.exceptions.ConnectionError, OSError, AttributeError):
            while True:
                self.commands.append(self._monitor.next_command()["command"])

    def stop(self) -> None:
        """Read up to a mark sent now (the feed is in order), then stop watching."""
        mark = f"end-of-watch-{secrets.token_hex(4)}"
        self._client.echo(mark)
        wait_until(lambda: f"ECHO {mark}" in self.commands, f"Redis's MONITOR feed up to {mark}")
        self._monitor.__exit__()
        self._reader.join(timeout=SETTLE_SECONDS)
        self._client.close()


@contextlib.contextmanager
def watching_redis(stack: Stack) -> Iterator[list[str]]:
    """Every command the stack's Redis masters run inside the block (scripts' commands too).

    The list fills in as the block runs and is complete when it ends.
    """
    if isinstance(stack.redis, redis.RedisCluster):
        nodes = [(node.host, node.port) for node in stack.redis.get_primaries()]
        pool = stack.redis.get_default_node().redis_connection.connection_pool
    else:
        pool = stack.redis.connection_pool
        if isinstance(pool, redis.sentinel.SentinelConnectionPool):
            # Sentinel: the master it names now (its pool's kwargs hold no address).
            host, port = pool.get_master_address()
            nodes = [(host, int(port))]
        else:
            nodes = [(pool.connection_kwargs["host"], pool.connection_kwargs["port"])]
    # The same connection settings (password, TLS) as the stack's own client, per node; a
    # Sentinel pool's connections find their master themselves: a plain one to that address.
    sentinel = isinstance(pool, redis.sentinel.SentinelConnectionPool)
    connection_class = redis.Connection if sentinel else pool.connection_class
    settings = {k: v for k, v in pool.connection_kwargs.items() if k != "connection_pool"}
    watches = [
        RedisCommands(
            redis.Redis(
                connection_pool=redis.ConnectionPool(
                    connection_class=connection_class,
                    **{**settings, "host": host, "port": port},
                )
            )
        )
        for host, port in nodes
    ]
    seen: list[str] = []
    try:
        yield seen
    finally:
        for watch in watches:
            watch.stop()
            seen.extend(watch.commands)


def every_worker_vouches_from_its_cache(stack: Stack, cookie: str, session_id: str) -> Burst:
    """Send bursts until one is answered 204 by every worker without a single Redis command
    about the session: each worker vouched for it from its liveness cache. Return that burst.

    Any command naming the session counts (an EXISTS, a TTL, a script's), so a cache that
    remembers nothing cannot pass whatever command it asks Redis with instead.
    """

    def probe() -> tuple[Burst, list[str]]:
        with watching_redis(stack) as seen:
            answered = burst(stack, cookie)
        return answered, [command for command in seen if session_id in command]

    answered, _ = eventually(
        probe,
        lambda found: found[0].every_worker(stack, 204) and not found[1],
        what=f"a burst every worker answered from its cache, no Redis command on {session_id}",
    )
    assert set(answered.statuses) == {200}, answered.statuses
    return answered


def verifier_pids(stack: Stack) -> set[int]:
    """The gunicorn master's PID and its workers' (children read from /proc)."""
    master = stack.processes["verifier"].pid
    pids = {master}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        # The command name in parentheses may hold spaces; the parent PID follows it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == master:
            pids.add(int(entry.name))
    return pids


def worker_pids(stack: Stack) -> set[int]:
    """The PIDs of the verifier's workers (its gunicorn master left out)."""
    return verifier_pids(stack) - {stack.processes["verifier"].pid}


def revocation_listeners(stack: Stack) -> int:
    """How many verifier workers are subscribed to the stack's revocation channel now."""
    channel = KeySpace(stack.key_prefix).revocations()
    counts = dict(stack.redis.pubsub_numsub(channel))
    return int(counts.get(channel, 0))


def wait_until_every_worker_listens(stack: Stack) -> None:
    """Wait until every worker has (re)subscribed to revocations, as after a Redis restart."""
    eventually(
        lambda: revocation_listeners(stack),
        lambda n: n == stack.workers,
        what=f"all {stack.workers} workers subscribed to revocations",
    )


def log_records(stack: Stack) -> list[dict[str, Any]]:
    """Every JSON record the stack's verifier has logged so far (audit records among them)."""
    lines = stack.processes["verifier"].log_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def all_log_lines(stack: Stack) -> list[str]:
    """Every line the verifier and nginx's error log have written so far."""
    lines = stack.processes["verifier"].log_path.read_text(encoding="utf-8").splitlines()
    error_log = stack.workdir / "error.log"
    if error_log.exists():
        lines += error_log.read_text(errors="replace").splitlines()
    return lines


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket, as nginx's `server unix:PATH;` speaks to the verifier."""

    def __init__(self, path: Path, timeout: float = 10) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        """Connect to the socket file instead of a TCP address."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


def unix_get_status(path: Path, target: str) -> int:
    """GET `target` over the Unix socket at `path`; the answer's status."""
    connection = UnixHTTPConnection(path)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


def unix_ready(path: Path) -> bool:
    """Whether the verifier on the socket at `path` answers /readyz with 200 (not yet: False)."""
    try:
        return unix_get_status(path, "/readyz") == 200
    except (FileNotFoundError, ConnectionRefusedError):
        return False
