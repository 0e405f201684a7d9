"""nginx reaches the verifier on a Unix socket (every e2e stack does, as docs/deployment.md
advises on one host): the socket opens to nginx's workers and to no other local user.

Every other e2e test proves that nginx's workers get through; these prove the socket's
owner, group and mode, and that a local user outside that group cannot even connect (a
loopback port takes anyone's connection: one who reaches the verifier directly can name any
client address in X-Forwarded-For).
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from e2e_helpers import unix_get_status

from tests.unprivileged import raised_as_unprivileged
from verifier.demo import processes

if TYPE_CHECKING:
    from conftest import Stack

# A group nginx's workers are not in; the unprivileged child runs in it.
OUTSIDE_GROUP = "users"


def readyz_status(path: Path) -> int:
    """GET /readyz over the socket; its status."""
    return unix_get_status(path, "/readyz")


def socket_of(stack: Stack) -> Path:
    return stack.workdir / "verifier.sock"


def test_the_verifier_answers_on_its_unix_socket(stack: Stack) -> None:
    assert readyz_status(socket_of(stack)) == 200


def test_the_socket_belongs_to_the_verifier_and_opens_only_to_nginx_workers_group(
    stack: Stack,
) -> None:
    info = socket_of(stack).stat()

    assert stat.S_ISSOCK(info.st_mode)
    assert info.st_uid == os.geteuid()
    workers_group = processes.nginx_worker_group()
    if workers_group is None:
        # nginx's workers run as this very user: nobody else needs the socket.
        assert stat.S_IMODE(info.st_mode) == 0o600
    else:
        assert stat.S_IMODE(info.st_mode) == 0o660
        assert info.st_gid == grp.getgrnam(workers_group).gr_gid


def test_a_local_user_outside_nginx_workers_group_cannot_connect(stack: Stack) -> None:
    if os.geteuid() != 0:
        # Without root there is no other user to be; the mode test above stands for this.
        assert stat.S_IMODE(socket_of(stack).stat().st_mode) & 0o077 == 0
        return
    outside = grp.getgrnam(OUTSIDE_GROUP).gr_gid
    assert outside != grp.getgrnam(processes.nginx_worker_group() or "").gr_gid

    refused = raised_as_unprivileged(readyz_status, socket_of(stack), group=outside)

    assert refused.kind is PermissionError, refused
