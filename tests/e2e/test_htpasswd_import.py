"""Migrating from nginx auth_basic: `verifier users import-htpasswd`, then sign-ins through nginx.

The hashes are made by the real tools: Debian's `htpasswd` (apache2-utils) for `$2y$`, apr1,
{SHA}, plaintext and SHA-512-crypt lines, and the bcrypt library for `$2b$` and `$2a$`. A
missing htpasswd skips its cases on a developer's machine but fails them in CI.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from attack_helpers import assert_refused, fresh_user
from e2e_helpers import TIMEOUT, cookie_header, get_page, sign_in
from htpasswd_helpers import (
    BCRYPT_COST,
    bcrypt_line,
    hash_of,
    htpasswd_line,
    run_verifier,
    write_file,
)

from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer, Stack

pytestmark = pytest.mark.one_nginx

# scheme as `import-htpasswd` reports it, and how to make one line of it.
SCHEMES: dict[str, tuple[str, Callable[[str, str], str]]] = {
    "bcrypt-2y-htpasswd": ("bcrypt", lambda n, p: htpasswd_line(f"-B -C {BCRYPT_COST}", n, p)),
    "bcrypt-2b-library": ("bcrypt", lambda n, p: bcrypt_line(b"2b", n, p)),
    "bcrypt-2a-library": ("bcrypt", lambda n, p: bcrypt_line(b"2a", n, p)),
    "apr1-htpasswd": ("apr1", lambda n, p: htpasswd_line("-m", n, p)),
    "sha1-htpasswd": ("sha1", lambda n, p: htpasswd_line("-s", n, p)),
}


@pytest.fixture
def cli_env(redis_server: RedisServer) -> dict[str, str]:
    """Settings for the CLI alone, with a key prefix of its own."""
    return {
        "VERIFIER_REDIS_URL": redis_server.url,
        "VERIFIER_JWT_KEYS": "cli:" + "k" * 40,
        "VERIFIER_KEY_PREFIX": f"import-{secrets.token_hex(4)}",
    }


# --- through nginx ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SCHEMES))
def test_imported_user_signs_in_with_the_old_password_and_is_moved_to_argon2id(
    stack: Stack, tmp_path: Path, kind: str
) -> None:
    scheme, make_line = SCHEMES[kind]
    name, password = f"imported-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    line = make_line(name, password)
    path = write_file(tmp_path, ["# from /etc/nginx/htpasswd", line])
    user_key = KeySpace(stack.key_prefix).user(name)

    imported = run_verifier(stack.env, "users", "import-htpasswd", str(path), "--group", "Legacy")

    assert imported.returncode == 0, imported.stderr
    assert f"imported {name} ({scheme})" in imported.stdout.splitlines()
    legacy_hash = stack.redis.hget(user_key, "password_hash")
    assert legacy_hash == hash_of(line)
    assert stack.redis.hget(user_key, "groups") == "legacy"

    wrong = requests.post(
        stack.url("/auth/login"),
        json={"username": name, "password": password + "x"},
        timeout=TIMEOUT,
    )
    assert_refused(wrong, 401)
    assert stack.redis.hget(user_key, "password_hash") == legacy_hash

    first = sign_in(stack, name, password)
    upgraded = stack.redis.hget(user_key, "password_hash")
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$")
    assert get_page(stack, cookie=cookie_header(stack, access=first.access)).status_code == 200

    second = sign_in(stack, name, password)
    assert stack.redis.hget(user_key, "password_hash") == upgraded
    assert second.session_id != first.session_id
    assert stack.redis.zscore(KeySpace(stack.key_prefix).imported_bcrypt(), name) is None


# --- the command alone ------------------------------------------------------------------------


def test_plaintext_and_unknown_schemes_refuse_the_whole_file_by_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = write_file(
        tmp_path,
        [
            htpasswd_line("-B", "alice", "alice-password"),
            htpasswd_line("-p", "bob", "bob-plain-password"),
            "",
            htpasswd_line("-5", "carol", "carol-password"),
            htpasswd_line("-m", "dave", "dave-password"),
            htpasswd_line("-d", "erin", "erin-pw"),
        ],
    )

    refused = run_verifier(
        cli_env, "users", "import-htpasswd", str(path), "--group", "ops", expect=1
    )

    assert refused.returncode == 1
    assert refused.stdout == ""
    problems = refused.stderr.splitlines()
    assert problems[0] == f"verifier: {path}: 3 bad line(s), nothing imported:"
    assert problems[1].startswith("  line 2: user bob: plaintext password")
    assert problems[2] == "  line 4: user carol: unsupported scheme SHA-512-crypt ($6$)"
    assert problems[3].startswith("  line 6: user erin: DES crypt")
    assert "bob-plain-password" not in refused.stderr
    assert run_verifier(cli_env, "users", "list").stdout == ""


def test_existing_users_are_skipped_and_new_ones_get_the_group(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    created = run_verifier(
        cli_env, "users", "add", "alice", "--group", "admins", stdin="alice-native-password\n"
    )
    assert created.returncode == 0, created.stderr
    path = write_file(
        tmp_path,
        [
            htpasswd_line("-m", "alice", "alice-old-password"),
            htpasswd_line("-s", "bob", "bob-old-password"),
        ],
    )

    imported = run_verifier(
        cli_env, "users", "import-htpasswd", str(path), "--group", "ops", "--group", "legacy"
    )
    again = run_verifier(cli_env, "users", "import-htpasswd", str(path))

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines() == [
        "skipped alice: already a user (line 1)",
        "imported bob (sha1)",
        "1 user(s) imported, 1 skipped; groups legacy,ops",
    ]
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "0 user(s) imported, 2 skipped"
    assert run_verifier(cli_env, "users", "list").stdout.splitlines() == [
        "alice\tadmins\targon2id",
        "bob\tlegacy,ops\tsha1",
    ]


def test_bad_group_or_missing_file_is_refused_before_anything(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = write_file(tmp_path, [htpasswd_line("-m", "alice", "alice-password")])

    bad_group = run_verifier(
        cli_env, "users", "import-htpasswd", str(path), "--group", "a b", expect=1
    )
    missing = run_verifier(
        cli_env, "users", "import-htpasswd", str(path.with_name("nope")), expect=1
    )

    assert bad_group.returncode == 1
    assert "bad group name 'a b'" in bad_group.stderr
    assert missing.returncode == 1
    assert missing.stderr.startswith("verifier: cannot read ")
    assert "Traceback" not in missing.stderr
    assert run_verifier(cli_env, "users", "list").stdout == ""


def test_an_imported_user_counts_against_the_account_throttle_like_any(
    stack: Stack, tmp_path: Path
) -> None:
    # The throttle reads the name only: an imported account is no softer a target.
    name, password = f"imported-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    path = write_file(tmp_path, [htpasswd_line("-m", name, password)])
    assert run_verifier(stack.env, "users", "import-htpasswd", str(path)).returncode == 0
    native, _ = fresh_user(stack, "native")
    limit = int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))

    for account in (name, native):
        statuses = [
            requests.post(
                stack.url("/auth/login"),
                json={"username": account, "password": "wrong-password"},
                timeout=TIMEOUT,
            ).status_code
            for _ in range(limit + 1)
        ]
        assert statuses == [401] * limit + [429], (account, statuses)
