"""`verifier users export` / `users import` through the real command and a real redis-server.

Users made in one key prefix (as on an old deployment) are exported to a file, imported into
the stack's prefix, and sign in through nginx with the passwords they had.
"""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from e2e_helpers import (
    SignedIn,
    cookie_header,
    every_worker_admits,
    every_worker_denies,
    get_page,
    sign_in,
    watching_revocations,
)
from htpasswd_helpers import bcrypt_line, run_verifier, write_file

from verifier.demo.processes import add_user
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer, Stack

pytestmark = pytest.mark.one_nginx


def _other_prefix(env: dict[str, str], label: str) -> dict[str, str]:
    return {**env, "VERIFIER_KEY_PREFIX": f"{label}-{secrets.token_hex(4)}"}


def _ok(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = run_verifier(env, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _export(env: dict[str, str], path: Path) -> dict[str, Any]:
    _ok(env, "users", "export", str(path))
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _listed(env: dict[str, str], names: set[str]) -> list[str]:
    lines = _ok(env, "users", "list").splitlines()
    return [line for line in lines if line.split("\t", 1)[0] in names]


def test_exported_users_sign_in_with_the_same_password_after_an_import(
    stack: Stack, tmp_path: Path
) -> None:
    old = _other_prefix(stack.env, "old-site")
    tag = secrets.token_hex(4)
    admin, plain, legacy = (f"{label}-{tag}" for label in ("admin", "plain", "legacy"))
    passwords = {name: secrets.token_urlsafe(12) for name in (admin, plain, legacy)}
    groups = {admin: ["admins", "staff"], plain: [], legacy: ["legacy"]}  # as /api/whoami says
    add_user(old, admin, passwords[admin], groups=["admins", "staff"])
    add_user(old, plain, passwords[plain])
    # An htpasswd user who has not signed in yet: exported with the bcrypt hash they have.
    htpasswd = write_file(tmp_path, [bcrypt_line(b"2b", legacy, passwords[legacy])])
    _ok(old, "users", "import-htpasswd", str(htpasswd), "--group", "legacy")
    names = set(passwords)
    path = tmp_path / "users.json"

    document = _export(old, path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "password hashes" in document["contains"]
    assert "secret" in document["contains"]
    assert [entry["name"] for entry in document["users"]] == sorted(names)
    assert all(
        set(entry) == {"name", "groups", "created", "password_hash"} for entry in document["users"]
    )

    imported = _ok(stack.env, "users", "import", str(path))

    assert imported.splitlines() == [
        *(f"imported {name}" for name in sorted(names)),
        "3 imported, 0 replaced, 0 unchanged, 0 skipped",
    ]
    assert _listed(stack.env, names) == _listed(old, names)
    old_keys, new_keys = KeySpace(old["VERIFIER_KEY_PREFIX"]), KeySpace(stack.key_prefix)
    for name in names:
        assert stack.redis.hget(new_keys.user(name), "created") == stack.redis.hget(
            old_keys.user(name), "created"
        )
    for name, password in passwords.items():
        signed = sign_in(stack, name, password)
        whoami = get_page(stack, cookie=cookie_header(stack, signed.access)).json()
        assert (whoami["user"], whoami["groups"]) == (name, groups[name])
    # Importing the same file again changes nothing.
    again = _ok(stack.env, "users", "import", str(path))
    assert again.splitlines()[-1] == "0 imported, 0 replaced, 0 unchanged, 3 skipped"


def test_import_replace_takes_the_documents_hash_and_groups_and_ends_old_sessions(
    stack: Stack, tmp_path: Path
) -> None:
    tag = secrets.token_hex(4)
    moved, same = f"moved-{tag}", f"same-{tag}"
    old_password, new_password, same_password = (secrets.token_urlsafe(12) for _ in range(3))
    add_user(stack.env, moved, old_password, groups=["before"])
    add_user(stack.env, same, same_password, groups=["kept"])
    moved_cookie = _cookie(stack, sign_in(stack, moved, old_password))
    same_cookie = _cookie(stack, sign_in(stack, same, same_password))
    other = _other_prefix(stack.env, "other-site")
    add_user(other, moved, new_password, groups=["after"])
    document = _export(other, tmp_path / "other.json")
    # `same` exactly as the stack holds it: replacing it changes nothing.
    current = _export(stack.env, tmp_path / "current.json")
    document["users"] += [entry for entry in current["users"] if entry["name"] == same]
    path = tmp_path / "users.json"
    path.write_text(json.dumps(document))

    skipped = _ok(stack.env, "users", "import", str(path))
    assert skipped.splitlines()[-1] == "0 imported, 0 replaced, 0 unchanged, 2 skipped"
    every_worker_admits(stack, moved_cookie)

    channel = KeySpace(stack.key_prefix).revocations()
    with watching_revocations(stack.redis_server.url, channel) as watch:
        replaced = _ok(stack.env, "users", "import", "--replace", str(path))
        watch.wait_for(f"g {moved}")
        watch.wait_for(f"u {moved}")

    assert replaced.splitlines() == [
        f"replaced {moved}: password hash replaced, 1 session(s) ended; groups after",
        f"unchanged {same}",
        "0 imported, 1 replaced, 1 unchanged, 0 skipped",
    ]
    every_worker_denies(stack, moved_cookie, "the session the import ended")
    every_worker_admits(stack, same_cookie)
    signed = sign_in(stack, moved, new_password)
    assert get_page(stack, cookie=cookie_header(stack, signed.access)).json()["groups"] == ["after"]


def test_a_document_with_any_bad_entry_is_refused_whole(redis_server: RedisServer) -> None:
    env = {
        "VERIFIER_REDIS_URL": redis_server.url,
        "VERIFIER_JWT_KEYS": "cli:" + "k" * 40,
        "VERIFIER_KEY_PREFIX": f"export-{secrets.token_hex(4)}",
    }
    add_user(env, "alice", "alice-password", groups=["admins"])
    add_user(env, "bob", "bob-password")
    document = json.loads(_ok(env, "users", "export"))  # to stdout, the default
    assert [entry["name"] for entry in document["users"]] == ["alice", "bob"]
    document["users"].append(
        {"name": "Carol Smith", "groups": ["a,b"], "created": 1, "password_hash": "hunter2-plain"}
    )
    target = _other_prefix(env, "target")

    refused = run_verifier(target, "users", "import", stdin=json.dumps(document), expect=1)

    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines()[0] == "verifier: stdin: refused, nothing imported:"
    problems = refused.stderr.splitlines()[1:]
    assert len(problems) == 3
    assert all(problem.startswith("  user 3: ") for problem in problems)
    assert "hunter2-plain" not in refused.stderr
    assert _ok(target, "users", "list") == ""

    document["users"].pop()
    document["version"] = 2
    wrong_version = run_verifier(target, "users", "import", stdin=json.dumps(document), expect=1)
    assert wrong_version.returncode == 1
    assert "version 2 is not supported" in wrong_version.stderr
    assert _ok(target, "users", "list") == ""


def _cookie(stack: Stack, signed: SignedIn) -> str:
    return cookie_header(stack, signed.access, signed.refresh)
