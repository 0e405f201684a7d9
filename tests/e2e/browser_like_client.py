"""A signed-in client that uses the stack as a page in a browser does, for the failover runs.

One cookie jar, a protected request every 20 ms, and now and then a second request beside
it (a page loading a resource while its script polls), so that two requests regularly carry
the same expiring access token and refresh token at once. Every answer is kept with its
time and whether it rotated the refresh cookie, so a run can tell what the user saw: a sign-
in page (401) is what this client must never get from a failover.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

# The pace of a busy page: one request every 20 ms, and a second one beside it every 5th.
REQUEST_INTERVAL_SECONDS = 0.02
PARALLEL_EVERY = 5
# Long enough for a Redis command to time out in the verifier and come back through nginx.
REQUEST_TIMEOUT_SECONDS = 10.0
NO_ANSWER = -1


@dataclass(frozen=True)
class PageAnswer:
    """One request's outcome: when (monotonic), its status, and whether it rotated."""

    at: float
    status: int
    rotated: bool


@dataclass
class BrowserLikeClient:
    """One user's browser: a cookie jar shared by a main and a parallel request."""

    base_url: str
    refresh_cookie: str
    path: str = "/api/whoami"
    answers: list[PageAnswer] = field(default_factory=list)
    _jar_session: requests.Session = field(default_factory=requests.Session)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._jar_session.trust_env = False

    def sign_in(self, name: str, password: str) -> None:
        """Sign in through nginx with JSON; the cookies land in this client's jar."""
        response = self._jar_session.post(
            self.base_url + "/auth/login",
            json={"username": name, "password": password},
            headers={"Accept": "application/json"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        assert response.status_code == 200, response.text
        assert self._jar_session.cookies.get(self.refresh_cookie), "no refresh cookie stored"

    def _request(self) -> None:
        try:
            response = self._jar_session.get(
                self.base_url + self.path,
                headers={"Accept": "application/json"},
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except requests.RequestException:
            status, rotated = NO_ANSWER, False
        else:
            status = response.status_code
            rotated = any(
                value.startswith(self.refresh_cookie + "=")
                for value in response.raw.headers.getlist("Set-Cookie")
            )
        with self._lock:
            self.answers.append(PageAnswer(time.monotonic(), status, rotated))

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=1) as beside:
            count = 0
            while not self._stop.is_set():
                count += 1
                parallel = beside.submit(self._request) if count % PARALLEL_EVERY == 0 else None
                self._request()
                if parallel is not None:
                    parallel.result()
                self._stop.wait(REQUEST_INTERVAL_SECONDS)

    def snapshot(self) -> list[PageAnswer]:
        """Every answer so far, in the order they came."""
        with self._lock:
            return list(self.answers)

    def rotations_since(self, since: float) -> int:
        """How many answers after `since` (monotonic) handed out a new refresh cookie."""
        return sum(1 for answer in self.snapshot() if answer.at >= since and answer.rotated)

    def signed_out(self) -> list[PageAnswer]:
        """The answers that sent this user to sign in: the session was gone or refused."""
        return [answer for answer in self.snapshot() if answer.status == 401]

    @contextlib.contextmanager
    def running(self) -> Iterator[BrowserLikeClient]:
        """Send requests in a thread of its own until the block ends."""
        thread = threading.Thread(target=self._run, name="browser-like-client", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS * 2)


@contextlib.contextmanager
def all_running(clients: Sequence[BrowserLikeClient]) -> Iterator[None]:
    """Run every client until the block ends."""
    with contextlib.ExitStack() as stack:
        for client in clients:
            stack.enter_context(client.running())
        yield


def statuses(answers: Sequence[PageAnswer]) -> dict[str, int]:
    """Answers counted by status (as text, for JSON figures)."""
    counted: dict[str, int] = {}
    for answer in answers:
        counted[str(answer.status)] = counted.get(str(answer.status), 0) + 1
    return dict(sorted(counted.items()))
