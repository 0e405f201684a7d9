"""Where `verifier serve` listens: TCP addresses and Unix sockets, and who may connect.

A Unix socket is the way in when nginx and the verifier share a host: no TCP stack on the
path of every check, and the file's owner, group and mode say who may connect, where a
loopback port is open to every local user (one who reaches the verifier directly can name
any client address in X-Forwarded-For, which the sign-in throttle trusts from nginx).
"""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from verifier.errors import SettingsError

UNIX_PREFIX = "unix:"

DEFAULT_BIND = "127.0.0.1:8000"

# The group that may connect to the Unix sockets; `verifier serve` leaves its id here for the
# gunicorn master's hooks.
SOCKET_GROUP_ENV = "VERIFIER_SOCKET_GROUP"

# sun_path holds 108 bytes on Linux, the last one the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107

# gunicorn binds a Unix socket under its --umask: owner only, until `restrict` widens it to a
# group. No moment exists in which the file is open to everyone.
OWNER_ONLY_UMASK = 0o177
OWNER_ONLY_MODE = 0o600
GROUP_MODE = 0o660


class BindInvalid(SettingsError):
    """A --bind value that names no address the verifier can listen on."""


@dataclass(frozen=True, slots=True)
class UnixBind:
    """A Unix socket at an absolute path."""

    path: Path

    def __str__(self) -> str:
        return f"{UNIX_PREFIX}{self.path}"


@dataclass(frozen=True, slots=True)
class TcpBind:
    """HOST:PORT as gunicorn takes it (checked there: the host may be a name or [IPv6])."""

    address: str

    def __str__(self) -> str:
        return self.address


Bind = UnixBind | TcpBind


def parse_bind(value: str) -> Bind:
    """One --bind value: `unix:/absolute/path` or `HOST:PORT`."""
    if value.startswith(UNIX_PREFIX):
        path = Path(value[len(UNIX_PREFIX) :])
        if not path.is_absolute():
            raise BindInvalid(f"{value}: a Unix socket needs an absolute path")
        if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
            raise BindInvalid(
                f"{value}: a Unix socket path is at most {MAX_SOCKET_PATH_BYTES} bytes"
            )
        if not path.parent.is_dir():
            raise BindInvalid(f"{value}: the directory {path.parent} does not exist")
        # gunicorn replaces a socket left by an earlier run, and must not replace anything else.
        if path.exists() and not stat.S_ISSOCK(path.stat().st_mode):
            raise BindInvalid(f"{value}: {path} exists and is not a socket")
        return UnixBind(path)
    host, separator, port = value.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BindInvalid(f"{value}: expected HOST:PORT or unix:/absolute/path")
    return TcpBind(value)


def parse_binds(values: Iterable[str]) -> tuple[Bind, ...]:
    """Every --bind value, in order; at least one, none twice."""
    binds = tuple(parse_bind(value) for value in values)
    if not binds:
        raise BindInvalid("nothing to listen on: give --bind at least once")
    if len(set(binds)) != len(binds):
        raise BindInvalid("the same address is given to --bind twice")
    return binds


def split_bind_variable(value: str) -> list[str]:
    """VERIFIER_BIND: one address, or several separated by spaces or commas."""
    return value.replace(",", " ").split()


def group_id(name: str) -> int:
    """The id of the group named `name` (or given as a number)."""
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise BindInvalid(f"--socket-group {name}: no such group") from None


def restrict(path: Path, group: int | None) -> None:
    """Open the socket to its owner, and to `group` when one is given; never to others.

    Changing a file's group to one its owner is not in needs root: the error then names the
    group, rather than leaving a socket nginx cannot reach.
    """
    if group is None:
        os.chmod(path, OWNER_ONLY_MODE)
        return
    try:
        os.chown(path, -1, group)
    except PermissionError:
        raise BindInvalid(
            f"{path}: cannot give the socket to group {group}: the verifier's user must be "
            "a member of it"
        ) from None
    os.chmod(path, GROUP_MODE)


def configured_group(environ: Mapping[str, str]) -> int | None:
    """The socket group `verifier serve` left in the environment, if any."""
    value = environ.get(SOCKET_GROUP_ENV)
    return None if value is None else group_id(value)


def restrict_all(paths: Iterable[str], group: int | None) -> list[Path]:
    """`restrict` every Unix socket among gunicorn's listener addresses; return them."""
    sockets = [Path(path) for path in paths if not path.startswith("\0")]
    for path in sockets:
        if not stat.S_ISSOCK(path.stat().st_mode):
            raise BindInvalid(f"{path} is not a socket")
        restrict(path, group)
    return sockets
