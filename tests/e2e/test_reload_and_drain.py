"""Operations under load, through nginx: SIGHUP reloads of a lone verifier and a graceful
stop of one of two verifiers behind one upstream, each without a single failed request.

(Keys and rules also reload in every worker without replacing it:
tests/e2e/test_central_rules.py and test_key_rotation.py check that under load.)"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from e2e_helpers import (
    cookie_header,
    new_user,
    sign_in,
    wait_until,
    wait_until_every_worker_listens,
)

from verifier.demo import processes

if TYPE_CHECKING:
    from conftest import Stack, StackFactory

LOAD_THREADS = 6
# Each reload replaces every worker while nginx holds keepalive connections to them; a few in
# a row give the stop-versus-request race several chances to show.
RELOADS = 3


class Load:
    """Threads sending protected requests through nginx until stopped; every status kept."""

    def __init__(self, base_url: str, cookie: str) -> None:
        self._url = base_url
        self._cookie = cookie
        self._stop = threading.Event()
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(LOAD_THREADS)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = get_page_at(self._url, self._cookie)
            except OSError:
                status = -1  # a connection nginx refused or dropped: a failure too
            with self._lock:
                self.statuses[status] += 1

    def sent(self) -> int:
        """Requests answered so far."""
        with self._lock:
            return sum(self.statuses.values())

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        """Run the load for the duration of the block."""
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join()


def get_page_at(base_url: str, cookie: str) -> int:
    """GET /api/whoami at this nginx with the cookie; the status."""
    return requests.get(
        base_url + "/api/whoami",
        headers={"Cookie": cookie, "Accept": "application/json"},
        allow_redirects=False,
        timeout=10,
    ).status_code


def _signed_in_cookie(stack: Stack) -> str:
    name, password = new_user(stack, "ops")
    signed = sign_in(stack, name, password)
    return cookie_header(stack, signed.access, signed.refresh)


def _log_count(process: processes.ManagedProcess, text: str) -> int:
    return process.log_path.read_text(errors="replace").count(text)


def test_sighup_reloads_replace_every_worker_without_failing_a_request(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack()
    verifier = stack.processes["verifier"]
    cookie = _signed_in_cookie(stack)
    load = Load(stack.base_url, cookie)

    with load.running():
        wait_until(lambda: load.sent() > 50, "50 requests through nginx")
        for _ in range(RELOADS):
            booted_before = _log_count(verifier, "Booting worker with pid")
            exited_before = _log_count(verifier, "Finished server process")
            verifier.send_signal(signal.SIGHUP)
            # gunicorn starts new workers, then stops the old ones gracefully: each drains
            # its keepalive connections from nginx before it exits.
            wait_until(
                lambda before=booted_before: (
                    _log_count(verifier, "Booting worker with pid") >= before + stack.workers
                ),
                "the new workers booted",
            )
            wait_until(
                lambda before=exited_before: (
                    _log_count(verifier, "Finished server process") >= before + stack.workers
                ),
                "the old workers finished",
            )
            wait_until_every_worker_listens(stack)
            sent_after_reload = load.sent()
            wait_until(
                lambda after=sent_after_reload: load.sent() > after + 50,
                "50 more requests after the reload",
            )

    assert verifier.is_running()
    assert dict(load.statuses) == {200: load.sent()}, dict(load.statuses)


def test_stopping_one_of_two_verifiers_fails_no_request(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    cookie = _signed_in_cookie(stack)
    with tempfile.TemporaryDirectory(prefix="verifier-e2e-pair-") as scratch:
        prefix = Path(scratch)
        prefix.chmod(0o755)  # nginx's workers run as nobody when the tests run as root
        # Metrics off: the first verifier holds the stack's metrics address.
        second = processes.start_verifier(
            {**stack.env, "VERIFIER_METRICS_BIND": "off"},
            processes.free_port(),
            stack.workers,
            log_dir=prefix,
        )
        nginx = None
        try:
            listen_port, conf = _pair_conf(stack, prefix, second_port=_port(second))
            nginx = processes.start_nginx(stack.nginx.path, prefix, conf, port=listen_port)
            base_url = f"http://{processes.LOOPBACK}:{listen_port}"
            load = Load(base_url, cookie)
            with load.running():
                # Both verifiers answer checks before one of them is stopped.
                wait_until(lambda: len(_upstreams(prefix)) == 2, "both verifiers answering checks")
                second.stop()  # SIGTERM: gunicorn drains what is in flight, then exits
                stopped_at = load.sent()
                wait_until(
                    lambda: load.sent() > stopped_at + 100, "100 more requests after the stop"
                )
            assert dict(load.statuses) == {200: load.sent()}, dict(load.statuses)
            assert second.returncode == 0
        finally:
            if nginx is not None:
                nginx.stop()
            second.stop()


def _port(process: processes.ManagedProcess) -> int:
    return int(process.argv[process.argv.index("--bind") + 1].rsplit(":", 1)[1])


def _pair_conf(stack: Stack, prefix: Path, second_port: int) -> tuple[int, Path]:
    # The demo conf with a second verifier in the upstream, and an access log that names
    # the upstream each check went to.
    listen_port = processes.free_port()
    verifier_port = int(stack.verifier_url.rsplit(":", 1)[1])
    app_port = int(stack.app_url.rsplit(":", 1)[1])
    text = processes.render_nginx_conf(
        prefix=prefix, listen_port=listen_port, verifier_port=verifier_port, app_port=app_port
    )
    first = f"server 127.0.0.1:{verifier_port};"
    assert text.count(first) == 1
    text = text.replace(first, f"{first}\n        server 127.0.0.1:{second_port};")
    text = text.replace(
        f"access_log {prefix}/access.log;",
        f"log_format checks '$status $check_upstream';\n    access_log {prefix}/checks.log checks;",
    )
    # Read in the check's own context: the address of the verifier that answered it.
    protected = "        location / {\n"
    assert text.count(protected) == 1
    text = text.replace(
        protected, protected + "            auth_request_set $check_upstream $upstream_addr;\n"
    )
    conf = prefix / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return listen_port, conf


def _upstreams(prefix: Path) -> set[str]:
    """The verifier addresses that have answered checks so far."""
    log = prefix / "checks.log"
    if not log.exists():
        return set()
    lines = log.read_text(errors="replace").splitlines()
    return {line.split(" ", 1)[1] for line in lines if " 127.0.0.1:" in line}
