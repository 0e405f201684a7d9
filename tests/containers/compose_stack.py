"""The compose stack of docker-compose.yml, run for real: podman, its Docker API, docker-compose.

No Docker Engine runs in CI, so the engine is rootful Podman, driven by Debian's
docker-compose 1.29 through the Docker API that `podman system service` serves on a unix
socket of our own. docker-compose rather than podman-compose: it is one of the two commands
the README tells users to run, it speaks to Podman through the same API it uses with Docker
Engine (podman-compose re-implements compose on podman's command line), and Debian ships it
(no new dependency). `.ci/containers/prepare` (run by `make test-containers` first) installs
them and builds stand-ins for the base images; this module starts the API service and a
health-check ticker, and runs compose commands against the project's files, unchanged.

Two stand-ins for what a machine with systemd would do:
- Podman runs health checks from systemd timers; there is no systemd here, so a thread runs
  `podman healthcheck run` on each of the project's running containers once a second.
- Every podman command reads .ci/containers/containers.conf (runc, ulimits) through
  CONTAINERS_CONF; the machine's own configuration is left alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
CONTAINERS_CONF = ROOT / ".ci" / "containers" / "containers.conf"
STAND_IN_DIRS = ("python", "nginx", "redis")

# docker-compose labels every container, network and volume with its project's name.
PROJECT_LABEL = "com.docker.compose.project"
# .ci/containers/prepare labels the stand-in base images; every image built on them inherits
# the label, which tells this run's build cache apart from anything else on the machine.
STAND_IN_LABEL = "verifier-ci.recipe"
HEALTH_TICK_SECONDS = 1.0
COMMAND_TIMEOUT_SECONDS = 600
# Long enough for a slow machine to get there, never needed otherwise: the waits return as
# soon as the condition holds.
SETTLE_SECONDS = 120.0
LOG_TAIL_LINES = 30
_POLL_SECONDS = 0.5

T = TypeVar("T")


class StackError(RuntimeError):
    """A compose or podman command failed, or the stack never reached a state."""


def podman_environment() -> dict[str, str]:
    """The environment of every podman command: this repository's podman settings."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def missing_prerequisites() -> list[str]:
    """What `.ci/containers/prepare` would have installed or built, if it is missing."""
    missing = [tool for tool in ("podman", "docker-compose") if shutil.which(tool) is None]
    if missing:
        return missing
    for name in STAND_IN_DIRS:
        image = (ROOT / ".ci" / "containers" / name / "image").read_text().strip()
        found = subprocess.run(
            ["podman", "image", "exists", image],
            env=podman_environment(),
            capture_output=True,
            check=False,
        )
        if found.returncode != 0:
            missing.append(image)
    return missing


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end; on failure (when checked) raise with its output."""
    result = subprocess.run(
        list(argv),
        cwd=ROOT,
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if check and result.returncode != 0:
        raise StackError(
            f"{' '.join(argv)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def wait_for(what: str, probe: Callable[[], T | None], seconds: float = SETTLE_SECONDS) -> T:
    """Poll `probe` until it returns something other than None; fail naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise StackError(f"gave up waiting for {what}")
        time.sleep(_POLL_SECONDS)


class PodmanApiService:
    """`podman system service` on a unix socket of its own: the Docker API docker-compose uses."""

    def __init__(self, directory: Path) -> None:
        self.socket_path = directory / "podman.sock"
        self._log_path = directory / "podman-service.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def docker_host(self) -> str:
        """The DOCKER_HOST value that points a Docker client here."""
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        """Start the service (--time=0: no idle exit) and wait until it answers /_ping."""
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.docker_host],
                env=podman_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for("podman's Docker API to answer", self._pong, seconds=30)

    def _pong(self) -> bool | None:
        if self._process is not None and self._process.poll() is not None:
            raise StackError(f"podman system service exited:\n{self._log_path.read_text()}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(5)
                client.connect(str(self.socket_path))
                client.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
                answer = client.recv(4096)
        except OSError:
            return None
        return True if answer.startswith(b"HTTP/1.") and b" 200 " in answer else None

    def stop(self) -> None:
        """Stop the service by its PID (its containers keep running under conmon)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class HealthTicker:
    """Runs the project's containers' health checks, as systemd's timers would."""

    def __init__(self, project: str) -> None:
        self._project = project
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health-ticker", daemon=True)

    def start(self) -> None:
        """Begin ticking in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and wait for the current round to end."""
        self._stop.set()
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        while not self._stop.is_set():
            listed = run(
                [
                    "podman",
                    "ps",
                    "--quiet",
                    "--filter",
                    f"label={PROJECT_LABEL}={self._project}",
                ],
                podman_environment(),
                check=False,
            )
            for container in listed.stdout.split():
                # Exit status 1 is "unhealthy", which podman records; a container without a
                # check (or one stopping just now) is refused, which changes nothing.
                run(["podman", "healthcheck", "run", container], podman_environment(), check=False)
            self._stop.wait(HEALTH_TICK_SECONDS)


@dataclass
class ComposeStack:
    """One compose project of docker-compose.yml, driven through podman's Docker API."""

    project: str
    docker_host: str
    port: int
    build_ca_certificates: str
    _environment: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        # What a user's shell would hold: DOCKER_HOST for the engine, DEMO_PORT and the build
        # arguments the compose file reads; nothing else of ours reaches the files.
        self._environment = {
            **podman_environment(),
            "DOCKER_HOST": self.docker_host,
            "DEMO_PORT": str(self.port),
            "BUILD_CA_CERTIFICATES": self.build_ca_certificates,
        }

    def url(self, path: str) -> str:
        """Absolute URL of `path` through the published port of nginx."""
        return f"http://127.0.0.1:{self.port}{path}"

    def compose(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `docker-compose -p PROJECT -f docker-compose.yml ARGUMENTS...`."""
        command = ["docker-compose", "--ansi", "never", "-p", self.project]
        return run(
            [*command, "-f", str(COMPOSE_FILE), *arguments],
            self._environment,
            check=check,
        )

    def podman(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `podman ARGUMENTS...` on the same storage the API service uses."""
        return run(["podman", *arguments], podman_environment(), check=check)

    def container(self, service: str) -> str:
        """The id of the service's (only) container, running or not."""
        listed = self.compose("ps", "--all", "--quiet", service).stdout.split()
        if len(listed) != 1:
            raise StackError(f"{service}: expected one container, found {listed}")
        return listed[0]

    def inspect(self, service: str, template: str) -> str:
        """A Go template applied to `podman inspect` of the service's container."""
        return self.podman("inspect", "--format", template, self.container(service)).stdout.strip()

    def health(self, service: str) -> str:
        """healthy, unhealthy or starting (empty: the container has no health check)."""
        return self.inspect(service, "{{.State.Health.Status}}")

    def passes_health_check(self, service: str) -> bool:
        """Whether the service's health check passes when run now.

        The status `health` reads is the last scheduled check's: just after a restart it may
        still be the healthy answer of the container's previous run, ten seconds old.
        """
        checked = self.podman("healthcheck", "run", self.container(service), check=False)
        return checked.returncode == 0

    def wait_healthy(self, *services: str) -> None:
        """Wait until every one of the services reports healthy; fail with its last logs."""
        for service in services:
            try:
                wait_for(
                    f"{service} to be healthy",
                    lambda service=service: True if self.passes_health_check(service) else None,
                )
            except StackError as error:
                tail = "\n".join(self.logs(service).splitlines()[-LOG_TAIL_LINES:])
                raise StackError(
                    f"{error}\n--- last lines of {service}'s logs ---\n{tail}"
                ) from None

    def wait_unhealthy(self, service: str) -> None:
        """Wait until the service reports unhealthy."""
        wait_for(
            f"{service} to be unhealthy",
            lambda: True if self.health(service) == "unhealthy" else None,
        )

    def logs(self, service: str) -> str:
        """Everything the service's container printed, without compose's prefixes."""
        output = self.compose("logs", "--no-color", service).stdout
        # "init_1  | text": the prefix ends at the first "| ".
        return "\n".join(line.split("| ", 1)[-1] for line in output.splitlines())

    def image(self, service: str) -> str:
        """The id of the image the service's container runs."""
        return self.inspect(service, "{{.Image}}")

    def prune_build_cache(self) -> None:
        """Delete the dangling images this run's builds left (their cache), and no others."""
        self.podman("image", "prune", "--force", "--filter", f"label={STAND_IN_LABEL}")

    def leftovers(self) -> dict[str, list[str]]:
        """The project's containers, volumes and networks that still exist, by kind."""
        label = f"label={PROJECT_LABEL}={self.project}"
        found = {
            "containers": self.podman("ps", "--all", "--quiet", "--filter", label).stdout,
            "volumes": self.podman("volume", "ls", "--quiet", "--filter", label).stdout,
            "networks": self.podman("network", "ls", "--quiet", "--filter", label).stdout,
        }
        return {kind: output.split() for kind, output in found.items()}


# Lines `docker/demo-init.sh` prints for each user it creates.
_CREATED_USER = re.compile(r"user name\s+(\S+)\s+password\s+(\S+)\s+groups\s+(.+)$", re.MULTILINE)


def printed_passwords(init_log: str) -> dict[str, str]:
    """{user: password} as the init service printed them."""
    return {name: password for name, password, _ in _CREATED_USER.findall(init_log)}


def image_env(stack: ComposeStack, image: str) -> list[str]:
    """The environment an image's configuration sets (NAME=value strings)."""
    output = stack.podman("image", "inspect", "--format", "{{json .Config.Env}}", image).stdout
    env: list[str] = json.loads(output)
    return env
