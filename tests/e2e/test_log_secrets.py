"""The logs at DEBUG, as JSON: every flow leaves its audit record, and no secret in any line.

One stack of the test's own (VERIFIER_LOG_FORMAT=json, VERIFIER_LOG_LEVEL=DEBUG) runs
login, silent refresh, logout, logout everywhere, a failed login and a replayed refresh
token through nginx; then every line of the verifier's log and nginx's error log is read.
A second runs the `verifier` commands that handle passwords, hashes and keys, and reads
what they printed (stdout and stderr) as well.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conftest import StackFactory, access_key_file
from e2e_helpers import (
    all_log_lines,
    cookie_header,
    eventually,
    get_page,
    log_records,
    new_user,
    post_logout,
    set_cookies,
    sign_in,
)

from verifier.sessions.store import RefreshToken
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack


def _audit(stack: Stack, event: str, user: str) -> list[dict[str, Any]]:
    return [r for r in log_records(stack) if r.get("event") == event and r.get("user") == user]


def _key_material(stack: Stack) -> list[str]:
    """Every key's secret, and each base64 line of every private key (a PEM spans lines)."""
    material: list[str] = []
    for key_file in stack.keys_dir.glob("*.json"):
        document = json.loads(key_file.read_text())
        if "secret" in document:
            material.append(str(document["secret"]))
        pem = str(document.get("private_key_pem", ""))
        # Long lines only: a short last line ("q4Y=") could occur anywhere by chance.
        material += [line for line in pem.splitlines() if len(line) >= 40]
    assert material
    return material


def test_flows_are_audited_and_no_secret_reaches_a_log(fresh_stack: StackFactory) -> None:
    stack = fresh_stack(VERIFIER_LOG_FORMAT="json", VERIFIER_LOG_LEVEL="DEBUG")
    secrets_used: list[str] = []
    name, password = new_user(stack)
    secrets_used.append(password)

    signed = sign_in(stack, name, password)
    rotated = set_cookies(get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh)))
    post_logout(stack, cookie_header(stack, access=rotated[stack.access_cookie]))
    again = sign_in(stack, name, password)
    other = sign_in(stack, name, password)
    post_logout(stack, cookie_header(stack, access=again.access), everywhere=True)
    wrong = "wrong-" + password
    secrets_used.append(wrong)
    failed = stack.new_session().post(
        stack.url("/auth/login"), json={"username": name, "password": wrong}, timeout=10
    )
    assert failed.status_code == 401
    # A replay: a refresh token used again after its grace window.
    victim = sign_in(stack, name, password)
    fresh = set_cookies(get_page(stack, cookie=cookie_header(stack, refresh=victim.refresh)))
    session_key = KeySpace(stack.key_prefix).session(name, victim.session_id)
    stack.redis.hset(session_key, "previous_until_ms", int(time.time() * 1000) - 1)
    assert get_page(stack, cookie=cookie_header(stack, refresh=victim.refresh)).status_code == 401

    for signed_in in (signed, again, other, victim):
        secret = RefreshToken.parse(signed_in.refresh).secret
        secrets_used += [signed_in.access, signed_in.refresh, secret]
    for cookies in (rotated, fresh):
        for value in cookies.values():
            secrets_used += [value, value.rsplit(".", 2)[-1]]
    access_key = access_key_file(stack.keys_dir)
    secrets_used.append(access_key["secret"])
    secrets_used += _key_material(stack)

    eventually(
        lambda: _audit(stack, "refresh.replayed", name), bool, what="the replay's audit record"
    )
    for line in all_log_lines(stack):
        for secret in secrets_used:
            assert secret not in line, f"a secret is in this log line: {line}"

    succeeded = _audit(stack, "signin.succeeded", name)
    assert len(succeeded) == 4
    assert all(record["address"] == "127.0.0.1" for record in succeeded)
    assert all(record["level"] == "INFO" and record["timestamp"] for record in succeeded)
    (failure,) = _audit(stack, "signin.failed", name)
    assert failure["reason"] == "bad_credentials"
    assert failure["address"] == "127.0.0.1"
    (logout,) = _audit(stack, "logout", name)
    assert logout["session"] == signed.session_id
    (everywhere,) = _audit(stack, "logout.everywhere", name)
    assert everywhere["sessions_ended"] == 2
    (replayed,) = _audit(stack, "refresh.replayed", name)
    assert replayed["session"] == victim.session_id
    # nginx's $request_id reached the verifier and is in each record of a request.
    for record in [*succeeded, failure, logout, everywhere, replayed]:
        assert re.fullmatch(r"[0-9a-f]{32}", record["request_id"]), record
    assert len({record["request_id"] for record in succeeded}) == len(succeeded)
    # gunicorn's own lines are JSON objects too.
    assert any(r["logger"].startswith("gunicorn") for r in log_records(stack))


def test_cli_commands_are_audited_and_print_no_secret(
    fresh_stack: StackFactory, tmp_path: Path
) -> None:
    stack = fresh_stack(VERIFIER_LOG_FORMAT="json", VERIFIER_LOG_LEVEL="DEBUG")
    name = f"cli-{secrets.token_hex(4)}"
    first, second = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    export_file = tmp_path / "users.json"
    outputs: list[subprocess.CompletedProcess[str]] = []

    def cli(*args: str, stdin: str = "") -> None:
        result = stack.cli(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        outputs.append(result)

    cli("users", "add", name, "--group", "ops", stdin=first + "\n")
    signed = sign_in(stack, name, first)
    cli("users", "passwd", name, stdin=second + "\n")
    again = sign_in(stack, name, second)  # the new password is in force
    cli("users", "export", str(export_file))
    cli("users", "import", "--replace", str(export_file))
    cli("sessions", "end-all", name)
    cli("keys", "rotate", "--use", "all")
    cli("users", "remove", name)

    secrets_used = [first, second]
    for signed_in in (signed, again):
        secret = RefreshToken.parse(signed_in.refresh).secret
        secrets_used += [signed_in.access, signed_in.refresh, secret]
    for user in json.loads(export_file.read_text())["users"]:
        secrets_used.append(user["password_hash"])
    secrets_used += _key_material(stack)
    lines = all_log_lines(stack)
    for result in outputs:
        lines += result.stdout.splitlines() + result.stderr.splitlines()
    for line in lines:
        for secret in secrets_used:
            assert secret not in line, f"a secret is in this line: {line}"

    cli_records = [json.loads(line) for result in outputs for line in result.stderr.splitlines()]
    assert all(record["actor"] == "cli" for record in cli_records)
    events = [record["event"] for record in cli_records]
    for expected in (
        "user.created",
        "user.password_changed",
        "users.exported",
        "users.restored",
        "sessions.ended",
        "keys.rotated",
        "user.removed",
    ):
        assert expected in events, events
    revoked = {r["cause"]: r for r in cli_records if r["event"] == "session.revoked"}
    assert revoked.keys() == {"password_change", "admin"}
    assert revoked["password_change"]["sessions"] == signed.session_id
    assert revoked["admin"]["sessions"] == again.session_id
