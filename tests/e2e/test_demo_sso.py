"""`make demo SSO=1` as a user runs it: `verifier demo --sso` prints the portal, the three
app hosts and a password; that password signs in once, on the portal, and opens every
printed app host; Ctrl-C stops the whole stack and deletes its directory.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from e2e_helpers import SETTLE_SECONDS, wait_until
from sso_helpers import HostBrowser

from tests.parts import require
from verifier.demo import processes
from verifier.demo.sso import APP_HOSTS, PORTAL_HOST

ROOT = Path(__file__).resolve().parents[2]
_DEMO_USER = re.compile(r"user name\s+demo\s+password\s+(\S+)")
_LOGS = re.compile(r"^Logs:\s+(\S+)$", re.MULTILINE)
# Keys, the verifier's workers, the app, users: on a busy machine the demo takes a while to
# start (it waits up to a minute for each of its Python services itself).
START_SECONDS = 18 * SETTLE_SECONDS


class Demo:
    """The demo's process and everything it has printed so far (read in a thread)."""

    def __init__(self, port: int, options: Sequence[str] = ("--sso",)) -> None:
        self.port = port
        self._process = subprocess.Popen(
            [sys.executable, "-m", "verifier", "demo", "--port", str(port), *options],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.append(line)

    @property
    def printed(self) -> str:
        """What the demo has printed so far."""
        return "".join(self._lines)

    def wait_for_welcome(self) -> str:
        """Wait until the demo says how to stop it (the end of its welcome); what it printed."""
        wait_until(
            lambda: "Press Ctrl-C" in self.printed or self._process.poll() is not None,
            lambda: f"the demo's welcome; it printed:\n{self.printed}",
            seconds=START_SECONDS,
        )
        assert self._process.poll() is None, self.printed
        return self.printed

    def interrupt(self) -> int:
        """Ctrl-C, as a user stops it; its exit status once it has stopped."""
        self._process.send_signal(signal.SIGINT)
        return self._process.wait(timeout=START_SECONDS)

    def stop(self) -> None:
        """Make sure the demo is gone (its own PID only; it stops its children itself)."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=START_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reader.join(timeout=SETTLE_SECONDS)


@pytest.fixture
def demo() -> Iterator[Demo]:
    require("redis-server")
    if not processes.available_nginx_binaries():
        require("nginx")
    running = Demo(processes.free_port())
    try:
        yield running
    finally:
        running.stop()


def test_the_sso_demo_signs_in_once_for_every_printed_host_and_stops_clean(demo: Demo) -> None:
    welcome = demo.wait_for_welcome()
    for host in (PORTAL_HOST, *APP_HOSTS):
        assert f"http://{host}:{demo.port}/" in welcome
    password = _DEMO_USER.search(welcome)
    workdir = _LOGS.search(welcome)
    assert password is not None and workdir is not None, welcome
    assert Path(workdir.group(1)).is_dir()

    browser = HostBrowser(demo.port)
    first, *others = APP_HOSTS
    chain = browser.navigate(browser.url(first, "/api/headers"))
    assert chain[-1].status_code == 200 and 'name="password"' in chain[-1].text
    landed = browser.sign_in_on_portal(chain[-1], "demo", password.group(1))[-1]
    assert landed.status_code == 200 and landed.json()["x-auth-user"] == "demo"
    for host in others:
        chain = browser.navigate(browser.url(host, "/api/headers"))
        # No sign-in form on the way: the portal handed this host a session of its own.
        assert [r.status_code for r in chain] == [302, 302, 303, 200], host
        assert chain[-1].json()["x-auth-user"] == "demo"

    assert demo.interrupt() == 0
    assert not Path(workdir.group(1)).exists()
