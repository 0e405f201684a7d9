"""Helpers shared by the end-to-end tests: users, raw cookies, minted tokens."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import jwt
import redis
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
# Parallel checks in one burst: enough that every worker answers some of them.
BURST = 24

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
    env: Mapping[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m verifier ARGS` with exactly these VERIFIER_* settings; the caller checks it."""
    return subprocess.run(
        [sys.executable, "-m", "verifier", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=verifier_environment(env),
        timeout=60,
        check=False,
    )


def wait_until(condition: Callable[[], bool], deadline_seconds: float = 10.0) -> bool:
    """Poll `condition` until it holds (True) or the deadline passes (False).

    The deadline only bounds a broken run: tests assert the condition, never the time taken.
    """
    give_up = time.monotonic() + deadline_seconds
    while True:
        if condition():
            return True
        if time.monotonic() > give_up:
            return False
        time.sleep(0.02)


class RevocationWatch:
    """A real subscription to a revocation channel, confirmed before anything is published."""

    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self._pubsub = pubsub
        self.heard: list[str] = []

    def wait_for(self, expected: str, seconds: float = 5.0) -> bool:
        """Wait (up to a deadline) until `expected` has been published; True if it was."""
        deadline = time.monotonic() + seconds
        while expected not in self.heard and time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "message":
                self.heard.append(message["data"])
        return expected in self.heard


@contextlib.contextmanager
def watching_revocations(redis_url: str, channel: str) -> Iterator[RevocationWatch]:
    """Subscribe to `channel`; yield once Redis has confirmed the subscription."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "subscribe":
                break
        else:
            raise AssertionError(f"no subscription to {channel} within 5 s")
        yield RevocationWatch(pubsub)
    finally:
        pubsub.close()
        client.close()


def eventually(
    probe: Callable[[], T], done: Callable[[T], bool], seconds: float = SETTLE_SECONDS
) -> T:
    """Probe until `done(result)` holds or `seconds` have passed; return the last result.

    The caller asserts on what it gets back, so a failure shows what was last seen.
    """
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(_POLL_SECONDS)


def burst(stack: Stack, cookie: str, count: int = BURST) -> list[requests.Response]:
    """`count` parallel GETs of /api/whoami with `cookie`: they spread over the workers."""
    with ThreadPoolExecutor(max_workers=12) as pool:
        return list(pool.map(lambda _: get_page(stack, cookie=cookie), range(count)))


def burst_statuses(stack: Stack, cookie: str, count: int = BURST) -> list[int]:
    """The statuses of a burst (see `burst`)."""
    return [response.status_code for response in burst(stack, cookie, count)]


def revocation_listeners(stack: Stack) -> int:
    """How many verifier workers are subscribed to the stack's revocation channel now."""
    channel = KeySpace(stack.key_prefix).revocations()
    counts = dict(stack.redis.pubsub_numsub(channel))
    return int(counts.get(channel, 0))


def wait_until_every_worker_listens(stack: Stack) -> None:
    """Wait until every worker has (re)subscribed to revocations, as after a Redis restart."""
    listening = eventually(lambda: revocation_listeners(stack), lambda n: n == stack.workers)
    assert listening == stack.workers, f"{listening} of {stack.workers} workers subscribed"


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
