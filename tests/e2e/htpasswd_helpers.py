"""Tools of the htpasswd migration tests: real htpasswd lines, files, the verifier command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import bcrypt
from e2e_helpers import run_cli

from tests.parts import require

# Debian's htpasswd makes bcrypt hashes of cost 5 unless told otherwise.
BCRYPT_COST = 5


def htpasswd_tool() -> str:
    """Path of Debian's htpasswd (a test without it fails, see tests/parts.py)."""
    return require("htpasswd")


def htpasswd_line(options: str, name: str, password: str) -> str:
    """`name:hash` as `htpasswd -n -b OPTIONS` prints it (the password on the command line)."""
    result = subprocess.run(
        [htpasswd_tool(), "-n", "-b", *options.split(), name, password],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def bcrypt_line(prefix: bytes, name: str, password: str, cost: int = BCRYPT_COST) -> str:
    """`name:hash` with a bcrypt hash made by the bcrypt library."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost, prefix=prefix))
    return f"{name}:{hashed.decode()}"


def run_verifier(
    env: dict[str, str], *args: str, stdin: str = "", expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """`python -m verifier ARGS` with these settings; fails unless it exits with `expect`."""
    return run_cli(env, *args, stdin=stdin, expect=expect)


def write_file(directory: Path, lines: list[str]) -> Path:
    """An htpasswd file made of these lines."""
    path = directory / "htpasswd"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hash_of(line: str) -> str:
    """The hash of a `name:hash` line."""
    return line.split(":", 1)[1]
