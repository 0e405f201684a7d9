"""The `verifier` command against a real redis-server: users, sessions, configuration errors."""

from __future__ import annotations

import secrets
import subprocess
from typing import TYPE_CHECKING

from e2e_helpers import run_cli, watching_revocations

from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer


def _verifier(
    redis_server: RedisServer,
    *args: str,
    stdin: str = "",
    expect: int | None = 0,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    env = {
        "VERIFIER_REDIS_URL": redis_server.url,
        "VERIFIER_JWT_KEYS": "cli:" + "k" * 40,
        "VERIFIER_KEY_PREFIX": extra_env.pop("prefix", "cli"),
        **extra_env,
    }
    return run_cli(env, *args, stdin=stdin, expect=expect)


def test_users_add_list_passwd_remove(redis_server: RedisServer) -> None:
    prefix = f"cli-{secrets.token_hex(4)}"
    name = "Carol.Admin@example.org"

    added = _verifier(redis_server, "users", "add", name, stdin="first-password\n", prefix=prefix)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "user carol.admin@example.org added"
    assert _verifier(redis_server, "users", "list", prefix=prefix).stdout.splitlines() == [
        "carol.admin@example.org\t-\targon2id"
    ]

    again = _verifier(
        redis_server, "users", "add", name, stdin="other-password\n", prefix=prefix, expect=1
    )
    assert again.returncode == 1
    assert again.stderr.strip() == "verifier: user carol.admin@example.org already exists"

    changed = _verifier(
        redis_server, "users", "passwd", name, stdin="second-password\n", prefix=prefix
    )
    assert changed.returncode == 0, changed.stderr
    assert "0 session(s) ended" in changed.stdout

    removed = _verifier(redis_server, "users", "remove", name, prefix=prefix)
    assert removed.returncode == 0, removed.stderr
    assert _verifier(redis_server, "users", "list", prefix=prefix).stdout == ""
    missing = _verifier(redis_server, "users", "remove", name, prefix=prefix, expect=1)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "verifier: no user carol.admin@example.org"


def test_users_add_refuses_bad_names_and_short_passwords(redis_server: RedisServer) -> None:
    bad_name = _verifier(
        redis_server, "users", "add", "a b{c}", stdin="long-enough-password\n", expect=1
    )
    short = _verifier(redis_server, "users", "add", "dave", stdin="short\n", expect=1)

    assert bad_name.returncode == 1
    assert "user names are" in bad_name.stderr
    assert short.returncode == 1
    assert "at least 8 characters" in short.stderr


def test_users_add_with_groups_and_list_shows_them(redis_server: RedisServer) -> None:
    prefix = f"cli-{secrets.token_hex(4)}"

    added = _verifier(
        redis_server,
        *("users", "add", "dave", "--group", "Ops", "--group", "admins", "--group", "ops"),
        stdin="dave-password\n",
        prefix=prefix,
    )
    _verifier(redis_server, "users", "add", "erin", stdin="erin-password\n", prefix=prefix)
    listing = _verifier(redis_server, "users", "list", prefix=prefix)

    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "user dave added to groups admins,ops"
    assert listing.stdout.splitlines() == ["dave\tadmins,ops\targon2id", "erin\t-\targon2id"]


def test_users_groups_shows_adds_and_removes(redis_server: RedisServer) -> None:
    prefix = f"cli-{secrets.token_hex(4)}"
    _verifier(
        redis_server, "users", "add", "dave", "--group", "ops", stdin="pw-dave-1\n", prefix=prefix
    )

    shown = _verifier(redis_server, "users", "groups", "DAVE", prefix=prefix)
    changed = _verifier(
        redis_server,
        *("users", "groups", "dave", "--add", "dev", "--add", "audit", "--remove", "ops"),
        prefix=prefix,
    )
    emptied = _verifier(
        redis_server,
        *("users", "groups", "dave", "--remove", "dev", "--remove", "audit", "--remove", "nope"),
        prefix=prefix,
    )

    assert (shown.returncode, shown.stdout) == (0, "dave: ops\n")
    assert (changed.returncode, changed.stdout) == (0, "dave: audit,dev\n")
    assert (emptied.returncode, emptied.stdout) == (0, "dave: (no groups)\n")
    listing = _verifier(redis_server, "users", "list", prefix=prefix)
    assert listing.stdout == "dave\t-\targon2id\n"


def test_bad_group_names_are_refused_and_change_nothing(redis_server: RedisServer) -> None:
    prefix = f"cli-{secrets.token_hex(4)}"
    _verifier(
        redis_server, "users", "add", "dave", "--group", "ops", stdin="pw-dave-1\n", prefix=prefix
    )

    bad_add = _verifier(
        redis_server,
        *("users", "add", "erin", "--group", "ops", "--group", "a,b"),
        stdin="pw-erin-1\n",
        prefix=prefix,
        expect=1,
    )
    bad_change = _verifier(
        redis_server,
        *("users", "groups", "dave", "--add", "dev", "--add", "x\r\nX-Auth-User: root"),
        prefix=prefix,
        expect=1,
    )
    unknown = _verifier(
        redis_server, "users", "groups", "ghost", "--add", "ops", prefix=prefix, expect=1
    )

    assert bad_add.returncode == 1
    assert bad_add.stderr.startswith("verifier: bad group name 'a,b': group names are 1-64")
    assert bad_change.returncode == 1
    assert "bad group name 'x\\r\\nX-Auth-User: root'" in bad_change.stderr
    assert (unknown.returncode, unknown.stderr) == (1, "verifier: no user ghost\n")
    listing = _verifier(redis_server, "users", "list", prefix=prefix)
    assert listing.stdout == "dave\tops\targon2id\n"


def test_a_groups_change_is_published_for_every_worker(redis_server: RedisServer) -> None:
    prefix = f"cli-{secrets.token_hex(4)}"
    _verifier(redis_server, "users", "add", "dave", stdin="pw-dave-1\n", prefix=prefix)

    with watching_revocations(redis_server.url, KeySpace(prefix).revocations()) as watch:
        changed = _verifier(redis_server, "users", "groups", "dave", "--add", "ops", prefix=prefix)

        assert changed.returncode == 0, changed.stderr
        watch.wait_for("g dave")


def test_bad_configuration_is_one_clear_line(redis_server: RedisServer) -> None:
    result = _verifier(redis_server, "serve", VERIFIER_ACCESS_TTL_SECONDS="ten", expect=2)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "verifier: configuration error: VERIFIER_ACCESS_TTL_SECONDS: 'ten' is not a whole number"
    )


def test_unreachable_redis_is_reported_not_a_traceback(redis_server: RedisServer) -> None:
    result = _verifier(
        redis_server, "users", "list", VERIFIER_REDIS_URL="redis://127.0.0.1:1/0", expect=1
    )

    assert result.returncode == 1
    assert "cannot reach Redis" in result.stderr
    assert "Traceback" not in result.stderr
