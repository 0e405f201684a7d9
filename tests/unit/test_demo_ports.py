"""The demo's free-port check (verifier.demo.processes.port_is_free) with real sockets on
127.0.0.1: a port whose last server has stopped, leaving a connection in TIME-WAIT, is free
(`make demo` run again right after Ctrl-C starts, issue 25, point 8); a port a server
listens on is not."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from verifier.demo.processes import LOOPBACK, free_port, port_is_free

# /proc/net/tcp's code for TIME-WAIT.
TIME_WAIT = "06"


def _states(port: int) -> list[str]:
    """The TCP states of the IPv4 sockets whose local port is `port`."""
    with open("/proc/net/tcp", encoding="ascii") as table:
        rows = [line.split() for line in table.read().splitlines()[1:]]
    return [row[3] for row in rows if int(row[1].split(":")[1], 16) == port]


def _listening(port: int) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((LOOPBACK, port))
    server.listen()
    return server


@pytest.fixture
def stopped_server_port() -> Iterator[int]:
    """A port whose server closed a connection first and then stopped: what Ctrl-C on
    `make demo` leaves behind, one socket in TIME-WAIT on the port and none listening."""
    port = free_port()
    server = _listening(port)
    client = socket.create_connection((LOOPBACK, port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first: its side is the one kept in TIME-WAIT
    assert client.recv(1) == b""
    client.close()
    server.close()
    # Wait for the condition (the close handshake over loopback), never for a time.
    deadline = time.monotonic() + 10
    while TIME_WAIT not in _states(port):
        assert time.monotonic() < deadline, f"no TIME-WAIT on {port}: {_states(port)}"
        time.sleep(0.01)
    yield port


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free(stopped_server_port: int) -> None:
    # The situation is the one of the issue: a plain bind is refused...
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain,
        pytest.raises(OSError, match="in use"),
    ):
        plain.bind((LOOPBACK, stopped_server_port))
    # ...yet a server (nginx sets SO_REUSEADDR) can listen there, and the check says so.
    assert port_is_free(stopped_server_port)
    _listening(stopped_server_port).close()


def test_a_port_a_server_listens_on_is_not_free() -> None:
    port = free_port()
    server = _listening(port)
    try:
        assert not port_is_free(port)
    finally:
        server.close()
    assert port_is_free(port)
