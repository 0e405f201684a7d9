"""Upstream sources for the e2e tests: a real slapd, and stacks on it.

`directory` is one Debian slapd for the session (verifier.demo.directory: LDAPS from a CA of
its own, nested groups, a locked account, a non-ASCII name, AD-shaped entries); tests that
stop, freeze or change it take `own_directory`, a slapd of their own. `ldap_stack` is a stack
(one nginx build: what is tested is the verifier's sign-in, behind the same /auth) whose
sources file names that directory, re-checked every LDAP_RECHECK_SECONDS; `sources_stack`
starts a stack on any sources file a test writes. A stack's verifier logs JSON, so tests read
its audit records.

A missing slapd fails the test with one line naming what to install (tests.parts; a run
with VERIFIER_TESTS_WITHOUT=slapd skips these tests instead): never a silent skip.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import NGINX_BINARIES, RedisServer, Stack, running_stack
from e2e_helpers import log_records

from tests.parts import require
from verifier.demo.directory import DemoDirectory
from verifier.demo.processes import ProcessStartError

# How often the shared LDAP stack re-checks a session's user: short, so a test of a re-check
# waits a few seconds at most; its access tokens live no longer than that.
LDAP_RECHECK_SECONDS = 2
# The shared LDAP stack's mapping: Staff (nested through engineers) is our staff; every other
# upstream group becomes corp-NAME; the upstream "admins" is corp-admins, never our admins.
LDAP_GROUPS: dict[str, object] = {"group_map": {"Staff": "staff"}, "group_prefix": "corp-"}
JSON_LOGS = {"VERIFIER_LOG_FORMAT": "json", "VERIFIER_LOG_LEVEL": "DEBUG"}


def started_directory(label: str) -> DemoDirectory:
    """A slapd of its own, set up and listening; the test fails (one line) without slapd."""
    require("slapd")
    directory = DemoDirectory(Path(tempfile.mkdtemp(prefix=f"verifier-e2e-{label}-")))
    try:
        directory.setup()
        directory.start()
    except FileNotFoundError as error:
        directory.remove()
        pytest.fail(f"the LDAP tests need slapd: {error}", pytrace=False)
    except ProcessStartError as error:
        directory.remove()
        pytest.fail(f"slapd did not start: {error}", pytrace=False)
    return directory


@pytest.fixture(scope="session")
def directory() -> Iterator[DemoDirectory]:
    """One slapd for the session: tests only read it, or change users no other test uses."""
    started = started_directory("slapd")
    yield started
    started.remove()


@pytest.fixture
def own_directory() -> Iterator[DemoDirectory]:
    """A slapd for one test alone (to stop it, freeze it, or change its users)."""
    started = started_directory("slapd-own")
    yield started
    started.thaw()
    started.remove()


@contextlib.contextmanager
def stack_with_sources(
    redis_server: RedisServer,
    sources: str,
    settings: Mapping[str, str] | None = None,
    label: str = "sources",
    listen_port: int | None = None,
) -> Iterator[Stack]:
    """A stack whose VERIFIER_SOURCES_FILE holds `sources` (one nginx build, JSON logs)."""
    folder = Path(tempfile.mkdtemp(prefix=f"verifier-e2e-{label}-file-"))
    sources_file = folder / "sources.toml"
    sources_file.write_text(sources, encoding="utf-8")
    env = {**JSON_LOGS, "VERIFIER_SOURCES_FILE": str(sources_file), **(settings or {})}
    try:
        with running_stack(
            NGINX_BINARIES[0], redis_server, env, label=label, listen_port=listen_port
        ) as started:
            yield started
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def ldap_stack(redis_server: RedisServer, directory: DemoDirectory) -> Iterator[Stack]:
    """A stack whose users may come from `directory` (ldap:corp), re-checked every 2 s."""
    sources = directory.sources_entry(
        "corp", refresh_interval_seconds=LDAP_RECHECK_SECONDS, **LDAP_GROUPS
    ) + directory.sources_entry(
        # The same directory, signed in to by e-mail address: a second source that may
        # present a name ldap:corp already holds.
        "corpmail",
        user_filter="(&(objectClass=inetOrgPerson)(mail={username}))",
        refresh_interval_seconds=LDAP_RECHECK_SECONDS,
    )
    with stack_with_sources(redis_server, sources, label="ldap") as started:
        yield started


class SourcesStacks:
    """Starts stacks on sources files of one test's own; stopped when the test ends."""

    def __init__(self, redis_server: RedisServer, exits: contextlib.ExitStack) -> None:
        self._redis_server = redis_server
        self._exits = exits

    def __call__(self, sources: str, **settings: str) -> Stack:
        """A new stack with this sources file and these VERIFIER_* settings."""
        return self._exits.enter_context(
            stack_with_sources(self._redis_server, sources, settings, label="own-sources")
        )


@pytest.fixture
def sources_stack(redis_server: RedisServer) -> Iterator[SourcesStacks]:
    """Stacks on a sources file a test writes (see SourcesStacks)."""
    with contextlib.ExitStack() as exits:
        yield SourcesStacks(redis_server, exits)


def audit_records(stack: Stack, event: str, **fields: Any) -> list[dict[str, Any]]:
    """The stack's audit records of `event` whose fields have these values."""
    return [
        record
        for record in log_records(stack)
        if record.get("event") == event
        and all(record.get(key) == value for key, value in fields.items())
    ]


def session_keys(stack: Stack, user: str) -> list[str]:
    """Every session key of a user in the stack's Redis (none after a refused sign-in)."""
    pattern = f"{stack.key_prefix}:{{{user}}}:session:*"
    return sorted(str(key) for key in stack.redis.scan_iter(match=pattern))
