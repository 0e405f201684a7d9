"""Load through nginx for the fault runs, and the figures each run reports.

`FaultLoad` sends protected requests from several threads: signed-in users with valid
access tokens, users whose every request carries an expired access token and their latest
refresh token (a rotation each time), and the cookie of a session revoked before the
fault. Every answer is kept with its time, so a run can tell what happened before, during
and after the fault. `two_verifier_conf` renders the demo nginx conf with two verifiers in
its upstream.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from verifier.demo import processes

# Per request, long enough for a Redis command to time out inside the verifier and the
# answer to come back through nginx; short enough that a stuck request shows as a failure.
REQUEST_TIMEOUT_SECONDS = 10.0
# Threads sending the signed-in users' requests; one more for the refreshes and one for
# the revoked session.
USER_THREADS = 4
# Steady answers in a row (every one 2xx) that count as "recovered".
RECOVERED_AFTER = 100
# How long the verifiers may take to recover after a fault: bounds a broken run only.
RECOVERY_DEADLINE_SECONDS = 90.0
# A request the client could not complete (connection refused, reset, timed out).
NO_ANSWER = -1

Kind = str  # "user", "refresh", "revoked" or "revoked-later" (revoked during a fault)


@dataclass
class Answer:
    """One request's outcome: when it was answered (monotonic), what it was and its status."""

    at: float
    kind: Kind
    status: int


@dataclass
class RefreshingUser:
    """A user whose requests carry an expired access token and the latest refresh token."""

    expired_access: str
    refresh: str


@dataclass
class FaultLoad:
    """Threads sending protected requests through one nginx until stopped."""

    base_url: str
    access_cookie: str
    refresh_cookie: str
    user_cookies: Sequence[str]
    refreshing: list[RefreshingUser]
    revoked_cookie: str
    # Sessions revoked later (during a fault), whose cookies are sent from then on too.
    revoked_later: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        # Each request names its cookies in its own Cookie header; the jar keeps none.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        return session

    def _get(self, session: requests.Session, cookie: str) -> requests.Response | None:
        try:
            return session.get(
                self.base_url + "/api/whoami",
                headers={"Cookie": cookie, "Accept": "application/json"},
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except requests.RequestException:
            return None

    def _record(self, kind: Kind, response: requests.Response | None) -> None:
        status = NO_ANSWER if response is None else response.status_code
        with self._lock:
            self.answers.append(Answer(time.monotonic(), kind, status))

    def _users(self, offset: int) -> None:
        session = self._session()
        cookies = itertools.islice(itertools.cycle(self.user_cookies), offset, None)
        for cookie in cookies:
            if self._stop.is_set():
                return
            self._record("user", self._get(session, cookie))

    def _refreshes(self) -> None:
        session = self._session()
        for index in itertools.count():
            if self._stop.is_set():
                return
            # By index, not a cycle over the objects: `renew` may replace one meanwhile.
            user = self.refreshing[index % len(self.refreshing)]
            cookie = f"{self.access_cookie}={user.expired_access}; "
            cookie += f"{self.refresh_cookie}={user.refresh}"
            response = self._get(session, cookie)
            self._record("refresh", response)
            if response is not None:
                # A rotation answers the next refresh token; a request inside the grace
                # window (its answer was lost) gets an access token only: keep the old one.
                rotated = _set_cookie_values(response).get(self.refresh_cookie)
                if rotated:
                    user.refresh = rotated

    def _revoked(self) -> None:
        session = self._session()
        for index in itertools.count():
            if self._stop.is_set():
                return
            later = self.revoked_later
            turn = index % (len(later) + 1)
            if turn == 0:
                self._record("revoked", self._get(session, self.revoked_cookie))
            else:
                self._record("revoked-later", self._get(session, later[turn - 1]))
            # Often, but leaving the signed-in users most of the load.
            time.sleep(0.01)

    @contextlib.contextmanager
    def running(self) -> Iterator[FaultLoad]:
        """Run the load for the duration of the block."""
        threads = [
            threading.Thread(target=self._users, args=(index,)) for index in range(USER_THREADS)
        ]
        threads += [
            threading.Thread(target=self._refreshes),
            threading.Thread(target=self._revoked),
        ]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()

    def snapshot(self) -> list[Answer]:
        """The answers so far, in the order they came."""
        with self._lock:
            return list(self.answers)

    def count_since(self, since: int, kind: Kind) -> int:
        """How many requests of this kind were answered from index `since` on."""
        return sum(1 for answer in self.snapshot()[since:] if answer.kind == kind)

    def add_revoked(self, cookie: str) -> None:
        """Send this revoked session's cookie too, from now on."""
        self.revoked_later.append(cookie)

    def renew(self, index: int, user: RefreshingUser) -> None:
        """Refresh from now on with `user` (a new sign-in) in place of refreshing user `index`."""
        self.refreshing[index] = user

    def recovered(self, since: int = 0) -> bool:
        """The last RECOVERED_AFTER answers to the signed-in users were all 2xx.

        Only answers from index `since` on count (e.g. those after a fault). Refreshes do
        not count: a rotation lost in a failover ends its session for good (reported as a
        session lost), which is no failure to recover from.
        """
        recent = [answer for answer in self.snapshot()[since:] if answer.kind == "user"]
        tail = recent[-RECOVERED_AFTER:]
        return len(tail) == RECOVERED_AFTER and all(200 <= a.status < 300 for a in tail)


def _set_cookie_values(response: requests.Response) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in response.raw.headers.getlist("Set-Cookie"):
        name, _, rest = line.partition("=")
        found[name] = rest.split(";", 1)[0]
    return found


def by_status(answers: Sequence[Answer]) -> dict[str, int]:
    """How many answers had each status (-1: no answer), as JSON-ready keys."""
    return {
        str(status): count for status, count in sorted(Counter(a.status for a in answers).items())
    }


def false_accepts(answers: Sequence[Answer], kind: Kind = "revoked") -> int:
    """Answers that let a revoked session (revoked before the faults, by default) through."""
    return sum(1 for a in answers if a.kind == kind and 200 <= a.status < 300)


def figures(
    answers: Sequence[Answer], fault: str, topology: str, fault_at: float, recovered_at: float
) -> dict[str, Any]:
    """What a fault run reports: answers by status before, during and after the switch.

    "During" runs from the fault to the last failed answer to a signed-in user's request
    (valid access token); the switch took until the first 2xx after the first failure, and
    until the last failure (after which every such answer was 2xx). No failure: both 0.
    Refreshes are counted by status in each part.
    """
    served = [a for a in answers if a.kind == "user"]
    failed_after = [a for a in served if a.at >= fault_at and not 200 <= a.status < 300]
    if failed_after:
        first_failure = failed_after[0].at
        last_failure = failed_after[-1].at
        first_ok = next(
            (a.at for a in served if a.at > first_failure and 200 <= a.status < 300),
            recovered_at,
        )
    else:
        first_failure = last_failure = first_ok = fault_at
    before = [a for a in answers if a.at < fault_at]
    during = [a for a in answers if fault_at <= a.at <= last_failure]
    after = [a for a in answers if a.at > last_failure]
    return {
        "topology": topology,
        "fault": fault,
        "requests_sent": len(answers),
        "refreshes_sent": sum(1 for a in answers if a.kind == "refresh"),
        "revoked_sent": sum(1 for a in answers if a.kind == "revoked"),
        "before": by_status(before),
        "during": by_status(during),
        "after": by_status(after),
        "during_by_kind": {
            kind: by_status([a for a in during if a.kind == kind])
            for kind in ("user", "refresh", "revoked", "revoked-later")
        },
        "failed_after_fault": len(failed_after),
        "seconds_to_first_2xx_again": round(first_ok - fault_at, 3),
        "seconds_to_all_2xx": round(last_failure - fault_at, 3),
        "false_accepts_of_revoked_session": false_accepts(answers),
        "false_accepts_of_session_revoked_during_stop": false_accepts(answers, "revoked-later"),
    }


def two_verifier_conf(
    prefix: Path, verifier_ports: Sequence[int], app_port: int
) -> tuple[int, Path]:
    """The demo nginx conf with every verifier of `verifier_ports` in its upstream."""
    listen_port = processes.free_port()
    text = processes.render_nginx_conf(
        prefix=prefix, listen_port=listen_port, verifier_port=verifier_ports[0], app_port=app_port
    )
    first = f"server 127.0.0.1:{verifier_ports[0]};"
    assert text.count(first) == 1
    servers = "\n        ".join(f"server 127.0.0.1:{port};" for port in verifier_ports)
    conf = prefix / "nginx.conf"
    conf.write_text(text.replace(first, servers), encoding="utf-8")
    return listen_port, conf
