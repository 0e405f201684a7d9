"""`verifier keys ...` as a process: what it prints, the files it writes, what it refuses."""

from __future__ import annotations

import json
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import run_cli


@pytest.fixture
def keys_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="verifier-keys-cli-") as parent:
        yield Path(parent) / "keys"


def verifier(
    keys_dir: Path | None,
    *args: str,
    stdin: str = "",
    expect: int | None = 0,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    env = dict(extra_env)
    if keys_dir is not None:
        env["VERIFIER_KEYS_DIR"] = str(keys_dir)
    return run_cli(env, *args, stdin=stdin, expect=expect)


def listed(keys_dir: Path) -> dict[str, str]:
    """{kid: state} from `verifier keys list`."""
    result = verifier(keys_dir, "keys", "list")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["KID", "USE", "ALG", "STATE"]
    return {row.split()[0]: row.split()[3] for row in rows}


def kid_of(output: str, use: str) -> str:
    """The kid named in a `generated/added <use> key <kid> ...` line."""
    (line,) = [line for line in output.splitlines() if f" {use} key " in line]
    return line.split(f" {use} key ")[1].split()[0]


def test_generate_writes_private_files_and_refuses_to_run_twice(keys_dir: Path) -> None:
    result = verifier(keys_dir, "keys", "generate")

    assert result.returncode == 0, result.stderr
    access, assertion = kid_of(result.stdout, "access"), kid_of(result.stdout, "assertion")
    assert f"generated access key {access} (HS256), signing now" in result.stdout
    assert f"generated assertion key {assertion} (EdDSA), signing now" in result.stdout
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for kid in (access, assertion):
        assert stat.S_IMODE((keys_dir / f"{kid}.json").stat().st_mode) == 0o600
    assert listed(keys_dir) == {access: "signing", assertion: "signing"}

    again = verifier(keys_dir, "keys", "generate", "--use", "assertion", expect=1)
    assert again.returncode == 1
    assert f"has assertion keys already ({assertion})" in again.stderr


def test_generate_es256_assertion_key(keys_dir: Path) -> None:
    result = verifier(keys_dir, "keys", "generate", "--use", "assertion", "--alg", "ES256")
    assert result.returncode == 0, result.stderr
    kid = kid_of(result.stdout, "assertion")
    assert json.loads((keys_dir / f"{kid}.json").read_text())["alg"] == "ES256"


def test_rotate_adds_a_pending_key_and_warns_about_a_short_delay(keys_dir: Path) -> None:
    verifier(keys_dir, "keys", "generate")

    planned = verifier(keys_dir, "keys", "rotate", "--use", "access")
    hurried = verifier(keys_dir, "keys", "rotate", "--use", "assertion", "--publish-seconds", "5")
    twice = verifier(keys_dir, "keys", "rotate", "--use", "access", expect=1)

    assert planned.returncode == 0, planned.stderr
    assert "warning" not in planned.stderr  # the default delay is the publish delay
    assert "published now, signs from" in planned.stdout
    assert listed(keys_dir)[kid_of(planned.stdout, "access")] == "pending"
    assert hurried.returncode == 0, hurried.stderr
    assert "shorter than the publish delay (604 s)" in hurried.stderr
    assert twice.returncode == 1
    assert "is pending already" in twice.stderr


def test_retire_refuses_live_keys_and_withdraws_with_force(keys_dir: Path) -> None:
    generated = verifier(keys_dir, "keys", "generate", "--use", "access")
    old = kid_of(generated.stdout, "access")
    rotated = verifier(keys_dir, "keys", "rotate", "--use", "access", "--publish-seconds", "0")
    new = kid_of(rotated.stdout, "access")
    # A key made in the same second as the one before it activates one second later.
    deadline = time.monotonic() + 10
    while listed(keys_dir)[new] != "signing":
        assert time.monotonic() < deadline, listed(keys_dir)
        time.sleep(0.2)

    signing = verifier(keys_dir, "keys", "retire", new, "--force", expect=1)
    still_verifying = verifier(keys_dir, "keys", "retire", old, expect=1)
    forced = verifier(keys_dir, "keys", "retire", old, "--force")
    unknown = verifier(keys_dir, "keys", "retire", "no-such-key", expect=1)

    assert signing.returncode == 1
    assert f"{new} signs access tokens now: rotate first" in signing.stderr
    assert still_verifying.returncode == 1
    assert f"{old} still verifies tokens until " in still_verifying.stderr
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith(f"withdrew {old}: it verifies nothing now")
    assert listed(keys_dir)[old] == "retired"
    assert "secret" not in json.loads((keys_dir / f"{old}.json").read_text())
    assert unknown.returncode == 1
    assert "there is no key 'no-such-key'" in unknown.stderr


def test_import_moves_a_jwt_keys_list_into_the_directory(keys_dir: Path) -> None:
    listed_keys = f"current:{'c' * 40},older:{'o' * 40}"

    result = verifier(keys_dir, "keys", "import", stdin=listed_keys + "\n")
    again = verifier(keys_dir, "keys", "import", stdin=listed_keys, expect=1)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "imported access key current (HS256), signing now",
        "imported access key older (HS256), verifying its tokens for one access lifetime",
    ]
    assert listed(keys_dir) == {"current": "signing", "older": "verifying"}
    assert json.loads((keys_dir / "current.json").read_text())["secret"] == "c" * 40
    assert again.returncode == 1
    assert "has access keys already" in again.stderr


def test_keys_commands_need_a_keys_directory() -> None:
    result = verifier(None, "keys", "list", VERIFIER_JWT_KEYS="k:" + "x" * 40, expect=2)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "verifier: configuration error: VERIFIER_KEYS_DIR is not set: the keys commands "
        "manage a keys directory"
    )


def test_keys_dir_beside_jwt_keys_is_one_clear_line(keys_dir: Path) -> None:
    result = verifier(keys_dir, "keys", "list", VERIFIER_JWT_KEYS="k:" + "x" * 40, expect=2)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "verifier: configuration error: VERIFIER_KEYS_DIR: set VERIFIER_KEYS_DIR or "
        "VERIFIER_JWT_KEYS, not both"
    )


def test_serve_refuses_an_exposed_key_file_naming_it(keys_dir: Path) -> None:
    verifier(keys_dir, "keys", "generate")
    exposed = sorted(keys_dir.glob("assertion-*.json"))[0]
    exposed.chmod(0o644)

    result = verifier(keys_dir, "serve", "--bind", "127.0.0.1:1", expect=2)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"verifier: configuration error: {exposed}: is accessible to group or others "
        "(mode 0644): chmod 600 it"
    )


def test_serve_refuses_a_directory_without_an_access_key(keys_dir: Path) -> None:
    verifier(keys_dir, "keys", "generate", "--use", "assertion")

    result = verifier(keys_dir, "serve", "--bind", "127.0.0.1:1", expect=2)

    assert result.returncode == 2
    assert "holds no access key that signs now" in result.stderr
    assert "verifier keys generate --use access" in result.stderr
