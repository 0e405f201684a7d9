"""`verifier users|sessions|keys ...` leave audit lines on stderr; stdout stays as it was.

Each command runs as its own process against the real redis-server, with
VERIFIER_LOG_FORMAT=json and VERIFIER_LOG_LEVEL=DEBUG unless a test says otherwise.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from e2e_helpers import run_cli
from falcon.util import async_to_sync
from htpasswd_helpers import bcrypt_line, write_file

from verifier.sessions.store import SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer

KEYS_SECRET = "cli-audit:" + "s" * 40


def _env(redis_server: RedisServer, **extra: str) -> dict[str, str]:
    return {
        "VERIFIER_REDIS_URL": redis_server.url,
        "VERIFIER_JWT_KEYS": KEYS_SECRET,
        "VERIFIER_KEY_PREFIX": f"cli-audit-{secrets.token_hex(4)}",
        "VERIFIER_LOG_FORMAT": "json",
        "VERIFIER_LOG_LEVEL": "DEBUG",
        **extra,
    }


def _ok(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = run_cli(env, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result


def _audit_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """Every stderr line as a JSON object (each must be one), stripped of the timestamp."""
    records = [json.loads(line) for line in result.stderr.splitlines()]
    for record in records:
        assert record.pop("timestamp")
        assert (record.pop("level"), record.pop("logger")) == ("INFO", "verifier.audit")
        assert record.pop("message").startswith(record["event"] + " ")
    return records


def _open_sessions(env: dict[str, str], user: str, count: int) -> list[str]:
    """Start `count` sessions for the user with the real session store; return their ids."""
    client = aioredis.Redis.from_url(env["VERIFIER_REDIS_URL"])
    policy = SessionPolicy(
        idle_seconds=600, absolute_seconds=3600, grace_seconds=10, max_sessions_per_user=50
    )
    store = SessionStore(client, KeySpace(env["VERIFIER_KEY_PREFIX"]), policy, time.time)
    return [async_to_sync(store.create, user).session_id for _ in range(count)]


def test_user_commands_record_each_change_and_every_session_they_end(
    redis_server: RedisServer,
) -> None:
    env = _env(redis_server)
    first_password, second_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)

    added = _ok(env, "users", "add", "Frank", "--group", "ops", stdin=first_password + "\n")
    assert added.stdout == "user frank added to groups ops\n"
    assert _audit_lines(added) == [
        {"event": "user.created", "user": "frank", "groups": "ops", "actor": "cli"}
    ]

    regrouped = _ok(env, "users", "groups", "frank", "--add", "dev", "--remove", "ops")
    assert regrouped.stdout == "frank: dev\n"
    assert _audit_lines(regrouped) == [
        {
            "event": "user.groups_changed",
            "user": "frank",
            "added": "dev",
            "removed": "ops",
            "groups": "dev",
            "actor": "cli",
        }
    ]
    # Asking for a change that changes nothing, or only looking, records nothing.
    assert _audit_lines(_ok(env, "users", "groups", "frank", "--add", "dev")) == []
    assert _audit_lines(_ok(env, "users", "groups", "frank")) == []

    ended_by_passwd = sorted(_open_sessions(env, "frank", 2))
    changed = _ok(env, "users", "passwd", "frank", stdin=second_password + "\n")
    assert changed.stdout == "password of frank changed; 2 session(s) ended\n"
    password_change, revoked = _audit_lines(changed)
    assert password_change == {"event": "user.password_changed", "user": "frank", "actor": "cli"}
    assert sorted(revoked.pop("sessions").split(",")) == ended_by_passwd
    assert revoked == {
        "event": "session.revoked",
        "cause": "password_change",
        "user": "frank",
        "count": 2,
        "actor": "cli",
    }

    (ended_by_admin,) = _open_sessions(env, "frank", 1)
    ended = _ok(env, "sessions", "end-all", "frank")
    assert ended.stdout == "1 session(s) of frank ended\n"
    assert _audit_lines(ended) == [
        {"event": "sessions.ended", "user": "frank", "count": 1, "actor": "cli"},
        {
            "event": "session.revoked",
            "cause": "admin",
            "user": "frank",
            "sessions": ended_by_admin,
            "count": 1,
            "actor": "cli",
        },
    ]
    # Nothing left to end: the command is recorded, no session was revoked.
    assert _audit_lines(_ok(env, "sessions", "end-all", "frank")) == [
        {"event": "sessions.ended", "user": "frank", "count": 0, "actor": "cli"}
    ]
    assert _audit_lines(_ok(env, "sessions", "list", "frank")) == []

    (ended_by_removal,) = _open_sessions(env, "frank", 1)
    removed = _ok(env, "users", "remove", "frank")
    assert removed.stdout == "user frank removed; 1 session(s) ended\n"
    assert [record["event"] for record in _audit_lines(removed)] == [
        "user.removed",
        "session.revoked",
    ]
    assert _audit_lines(removed)[1]["cause"] == "removal"
    assert _audit_lines(removed)[1]["sessions"] == ended_by_removal

    for result in (added, changed):
        for password in (first_password, second_password):
            assert password not in result.stdout + result.stderr


def test_a_refused_command_records_nothing(redis_server: RedisServer) -> None:
    env = _env(redis_server)
    _ok(env, "users", "add", "gina", stdin="gina-password-1\n")

    twice = run_cli(env, "users", "add", "gina", stdin="gina-password-2\n", expect=1)
    unknown = run_cli(env, "users", "remove", "ghost", expect=1)
    bad_group = run_cli(env, "users", "groups", "gina", "--add", "a,b", expect=1)

    assert (twice.returncode, twice.stderr) == (1, "verifier: user gina already exists\n")
    assert (unknown.returncode, unknown.stderr) == (1, "verifier: no user ghost\n")
    assert bad_group.returncode == 1
    assert bad_group.stderr.startswith("verifier: bad group name 'a,b'")
    assert bad_group.stderr.count("\n") == 1


def test_imports_exports_and_restores_record_users_and_counts(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    env = _env(redis_server)
    htpasswd = write_file(tmp_path, [bcrypt_line(b"2b", "hank", "hank-password")])

    imported = _ok(env, "users", "import-htpasswd", str(htpasswd), "--group", "legacy")
    assert _audit_lines(imported) == [
        {
            "event": "user.created",
            "user": "hank",
            "groups": "legacy",
            "source": "htpasswd",
            "actor": "cli",
        },
        {"event": "users.imported", "imported": 1, "skipped": 0, "actor": "cli"},
    ]
    again = _ok(env, "users", "import-htpasswd", str(htpasswd))
    assert _audit_lines(again) == [
        {"event": "users.imported", "imported": 0, "skipped": 1, "actor": "cli"}
    ]

    export_file = tmp_path / "users.json"
    exported = _ok(env, "users", "export", str(export_file))
    assert _audit_lines(exported) == [
        {"event": "users.exported", "count": 1, "to": str(export_file), "actor": "cli"}
    ]
    to_stdout = _ok(env, "users", "export")
    assert json.loads(to_stdout.stdout)["users"][0]["name"] == "hank"  # stdout: the document
    assert _audit_lines(to_stdout)[0]["to"] == "stdout"

    # The document now holds another password hash and other groups for hank.
    _ok(env, "users", "passwd", "hank", stdin="hank-new-password\n")
    _ok(env, "users", "groups", "hank", "--add", "ops")
    (session_id,) = _open_sessions(env, "hank", 1)
    restored = _ok(env, "users", "import", "--replace", str(export_file))
    assert restored.stdout.splitlines()[-1] == "0 imported, 1 replaced, 0 unchanged, 0 skipped"
    assert _audit_lines(restored) == [
        {"event": "user.password_changed", "user": "hank", "source": "import", "actor": "cli"},
        {
            "event": "session.revoked",
            "cause": "password_change",
            "user": "hank",
            "sessions": session_id,
            "count": 1,
            "actor": "cli",
        },
        {
            "event": "user.groups_changed",
            "user": "hank",
            "added": "",
            "removed": "ops",
            "groups": "legacy",
            "actor": "cli",
        },
        {
            "event": "users.restored",
            "imported": 0,
            "replaced": 1,
            "unchanged": 0,
            "skipped": 0,
            "actor": "cli",
        },
    ]
    for result in (exported, to_stdout, restored):
        assert "$2b$" not in result.stderr  # the hashes stay in the document


def test_key_commands_record_kid_and_algorithm_never_the_material(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    env = {
        "VERIFIER_KEYS_DIR": str(keys_dir),
        "VERIFIER_LOG_FORMAT": "json",
        "VERIFIER_LOG_LEVEL": "DEBUG",
    }

    generated = _audit_lines(_ok(env, "keys", "generate"))
    rotated = _audit_lines(_ok(env, "keys", "rotate", "--use", "access"))
    # The pending key (signing only after the publish delay) can be withdrawn at once.
    pending = rotated[0]["kid"]
    withdrawn = _audit_lines(_ok(env, "keys", "retire", "--force", pending))
    imported_dir = tmp_path / "imported"
    imported = _audit_lines(
        _ok({**env, "VERIFIER_KEYS_DIR": str(imported_dir)}, "keys", "import", stdin=KEYS_SECRET)
    )

    assert sorted((r["event"], r["use"], r["alg"]) for r in generated) == [
        ("keys.generated", "access", "HS256"),
        ("keys.generated", "assertion", "EdDSA"),
    ]
    ((event, use, alg),) = [(r["event"], r["use"], r["alg"]) for r in rotated]
    assert (event, use, alg) == ("keys.rotated", "access", "HS256")
    assert rotated[0]["activates_at"] > generated[0]["activates_at"]
    assert withdrawn == [
        {
            "event": "keys.retired",
            "kid": pending,
            "use": "access",
            "alg": "HS256",
            "directory": str(keys_dir),
            "outcome": "withdrawn",
            "actor": "cli",
        }
    ]
    assert [(r["event"], r["kid"], r["directory"]) for r in imported] == [
        ("keys.imported", "cli-audit", str(imported_dir))
    ]
    for record in [*generated, *rotated, *imported]:
        assert set(record) == {"event", "kid", "use", "alg", "activates_at", "directory", "actor"}
    for record in [*generated, *rotated]:
        assert record["directory"] == str(keys_dir)
        assert (keys_dir / f"{record['kid']}.json").exists()
    # Its tombstone deleted too: the file is gone.
    deleted = _audit_lines(_ok(env, "keys", "retire", "--force", pending))
    assert [(r["event"], r["kid"], r["outcome"]) for r in deleted] == [
        ("keys.retired", pending, "deleted")
    ]
    assert not (keys_dir / f"{pending}.json").exists()


def test_cli_audit_lines_follow_the_log_level_and_format(redis_server: RedisServer) -> None:
    quiet = _env(redis_server, VERIFIER_LOG_LEVEL="WARNING")
    text = _env(redis_server, VERIFIER_LOG_FORMAT="text", VERIFIER_LOG_LEVEL="INFO")

    silent = _ok(quiet, "users", "add", "ivan", stdin="ivan-password\n")
    shown = _ok(text, "users", "add", "ivan", stdin="ivan-password\n")

    assert (silent.stdout, silent.stderr) == ("user ivan added\n", "")
    assert shown.stdout == "user ivan added\n"
    (line,) = shown.stderr.splitlines()
    assert line.endswith(" INFO verifier.audit: user.created user=ivan groups= actor=cli")


def test_mfa_reset_and_unlock_record_what_they_did_and_the_sessions_ended(
    redis_server: RedisServer,
) -> None:
    env = _env(redis_server)
    _ok(env, "users", "add", "grace", stdin=secrets.token_urlsafe(16) + "\n")
    [session] = _open_sessions(env, "grace", 1)

    reset = _ok(env, "users", "mfa-reset", "grace")
    assert _audit_lines(reset) == [
        {"event": "user.mfa_reset", "user": "grace", "removed": 0, "actor": "cli"},
        {
            "event": "session.revoked",
            "cause": "admin",
            "user": "grace",
            "sessions": session,
            "count": 1,
            "actor": "cli",
        },
    ]

    unlocked = _ok(env, "users", "unlock", "grace")
    assert _audit_lines(unlocked) == [
        {"event": "user.unlocked", "user": "grace", "counters_cleared": 0, "actor": "cli"}
    ]
