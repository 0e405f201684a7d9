"""Where `verifier serve` listens: the --bind values it takes and the ones it refuses, and
the mode and group its Unix sockets get."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from verifier.cli import EXIT_USAGE, main
from verifier.service.binds import (
    MAX_SOCKET_PATH_BYTES,
    SOCKET_GROUP_ENV,
    BindInvalid,
    TcpBind,
    UnixBind,
    configured_group,
    parse_binds,
    restrict,
    restrict_all,
    split_bind_variable,
)


@pytest.fixture
def bound_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "verifier.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    try:
        yield path
    finally:
        listener.close()


def test_tcp_addresses_and_unix_sockets_are_taken_in_order(tmp_path: Path) -> None:
    binds = parse_binds(["127.0.0.1:8000", f"unix:{tmp_path}/v.sock", "[::1]:8001"])

    assert binds == (
        TcpBind("127.0.0.1:8000"),
        UnixBind(tmp_path / "v.sock"),
        TcpBind("[::1]:8001"),
    )
    assert [str(bind) for bind in binds] == [
        "127.0.0.1:8000",
        f"unix:{tmp_path}/v.sock",
        "[::1]:8001",
    ]


def test_the_bind_variable_lists_addresses_by_spaces_or_commas() -> None:
    assert split_bind_variable("unix:/run/v.sock, 127.0.0.1:8000  [::1]:1") == [
        "unix:/run/v.sock",
        "127.0.0.1:8000",
        "[::1]:1",
    ]


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("unix:relative/v.sock", "absolute path"),
        ("unix:/no/such/directory/v.sock", "does not exist"),
        ("8000", "HOST:PORT"),
        ("127.0.0.1:", "HOST:PORT"),
        (":8000", "HOST:PORT"),
        ("127.0.0.1:http", "HOST:PORT"),
        ("127.0.0.1:0", "HOST:PORT"),
        ("127.0.0.1:65536", "HOST:PORT"),
    ],
)
def test_a_bind_that_names_no_address_is_refused_naming_why(value: str, names: str) -> None:
    with pytest.raises(BindInvalid, match=names):
        parse_binds([value])


def test_a_socket_path_longer_than_the_kernel_takes_is_refused(tmp_path: Path) -> None:
    long_name = "s" * (MAX_SOCKET_PATH_BYTES - len(str(tmp_path)))  # one byte too many

    with pytest.raises(BindInvalid, match=f"at most {MAX_SOCKET_PATH_BYTES} bytes"):
        parse_binds([f"unix:{tmp_path}/{long_name}"])


def test_a_bind_onto_a_file_that_is_not_a_socket_is_refused(tmp_path: Path) -> None:
    ordinary = tmp_path / "notes.txt"
    ordinary.write_text("keep me\n")

    with pytest.raises(BindInvalid, match="is not a socket"):
        parse_binds([f"unix:{ordinary}"])
    assert ordinary.read_text() == "keep me\n"


def test_the_same_address_twice_and_no_address_are_refused() -> None:
    with pytest.raises(BindInvalid, match="twice"):
        parse_binds(["127.0.0.1:8000", "127.0.0.1:8000"])
    with pytest.raises(BindInvalid, match="at least once"):
        parse_binds([])


def test_without_a_group_the_socket_opens_to_its_owner_only(bound_socket: Path) -> None:
    bound_socket.chmod(0o777)

    restrict(bound_socket, None)

    assert stat.S_IMODE(bound_socket.stat().st_mode) == 0o600


def test_with_a_group_the_socket_opens_to_that_group_and_no_other_user(
    bound_socket: Path,
) -> None:
    own_group = os.getegid()  # a group the owner may always give a file to
    bound_socket.chmod(0o777)

    restrict_all([str(bound_socket)], own_group)

    info = bound_socket.stat()
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_gid == own_group


def test_restricting_refuses_a_listener_path_that_is_no_longer_a_socket(tmp_path: Path) -> None:
    impostor = tmp_path / "verifier.sock"
    impostor.write_text("")

    with pytest.raises(BindInvalid, match="is not a socket"):
        restrict_all([str(impostor)], None)


def test_the_socket_group_reaches_the_hooks_as_a_number_and_a_wrong_one_is_named() -> None:
    assert configured_group({}) is None
    assert configured_group({SOCKET_GROUP_ENV: "0"}) == 0
    assert configured_group({SOCKET_GROUP_ENV: "root"}) == 0
    with pytest.raises(BindInvalid, match="no such group"):
        configured_group({SOCKET_GROUP_ENV: "no-such-group-here"})


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        (["--bind", "unix:relative.sock"], "absolute path"),
        (["--bind", "unix:/tmp/v.sock", "--socket-group", "no-such-group-here"], "no such group"),
        (["--bind", "127.0.0.1:8000", "--socket-group", "root"], "for Unix sockets"),
    ],
)
def test_serve_refuses_a_bad_bind_with_one_line_and_the_usage_status(
    arguments: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["serve", *arguments])

    assert status == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("verifier: configuration error: ")
    assert names in error
