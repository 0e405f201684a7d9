"""Run a check as an ordinary user, so that a file mode can refuse it even when the suite
runs as root (as CI does): root reads any file whatever its mode.

`raised_as_unprivileged(function, *args)` calls the function in a forked child that has
given up root for good (uid nobody, gid nogroup, no supplementary groups; the kernel clears
every capability on that change) and hands back what it raised: its class and message.
A forked child rather than a new interpreter: the venv's Python may live under /root, which
nobody may not enter, and the child needs nothing but the code already imported.
`unprivileged_dir()` is a scratch directory that user owns (pytest's tmp_path is under a
0700 directory of root's). Run by an ordinary user, both simply run as that user.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

UNPRIVILEGED_USER = "nobody"


def _ids() -> tuple[int, int]:
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


def raised_as_unprivileged(
    function: Callable[..., object], *args: object, group: int | None = None
) -> Raised:
    """Call `function(*args)` as an ordinary user and return what it raised (its class and
    message); fail the test if it raised nothing. `group`: the child's group id instead of
    nobody's own (as root only)."""
    if os.geteuid() != 0:
        return _raised(function, args)
    uid, gid = _ids()
    if group is not None:
        gid = group
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: give up root, call, report, and leave without cleanup
        os.close(reader)
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            outcome = _raised(function, args)
        except BaseException as error:  # handed to the parent as its answer
            outcome = Raised(AssertionError, f"in the unprivileged child: {error!r}")
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(pickle.dumps(outcome))
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(child, 0)
    assert payload, f"the unprivileged child said nothing (wait status {status})"
    raised: Raised = pickle.loads(payload)  # noqa: S301 (our own child's answer)
    return raised


@dataclass(frozen=True)
class Raised:
    """What a call raised: the exception's class and its message."""

    kind: type[BaseException]
    message: str


def _raised(function: Callable[..., object], args: tuple[object, ...]) -> Raised:
    try:
        returned = function(*args)
    except Exception as error:  # what the test wants to see
        return Raised(type(error), str(error))
    return Raised(AssertionError, f"raised nothing; returned {returned!r}")


@contextlib.contextmanager
def unprivileged_dir() -> Iterator[Path]:
    """A new directory (mode 0700) that the unprivileged user owns; removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="verifier-unprivileged-"))
    try:
        if os.geteuid() == 0:
            os.chown(directory, *_ids())
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def give_to_unprivileged(path: Path) -> None:
    """Make the unprivileged user the owner of `path` (a no-op for an ordinary user)."""
    if os.geteuid() == 0:
        os.chown(path, *_ids())
