"""`verifier tokens ...`, `users add --service`, `users disable|enable`: the commands an
operator runs, against the stack's Redis and workers, with their audit records."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import TIMEOUT, eventually, new_user, set_cookie_headers, sign_in
from token_helpers import ECHO, assert_refused_alone, bearer, echoed

from verifier.apitokens import ApiToken
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.one_nginx

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def _ok(stack: Stack, *args: str, stdin: str = "") -> tuple[str, str]:
    result = stack.cli(*args, stdin=stdin)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout, result.stderr


def test_a_service_account_gets_a_token_printed_once_and_listed_without_it(stack: Stack) -> None:
    bot = f"deploy-bot-{secrets.token_hex(3)}"
    out, _ = _ok(stack, "users", "add", bot, "--service", "--group", "deployers")
    assert out == f"service account {bot} added to groups deployers\n"
    token, said = _ok(
        stack,
        "tokens", "create", "--user", bot, "--name", "ci deploy",
        "--expires", "30d", "--scope", "path:/api/",
    )  # fmt: skip
    # stdout is the token alone (TOKEN=$(verifier tokens create ...)); stderr its record.
    assert re.fullmatch(r"vrf_[0-9A-Za-z]{49}\n", token)
    token = token.strip()
    assert "token.created" in said and "scope=path:/api/" in said
    assert token not in said
    (line,) = _ok(stack, "tokens", "list", "--user", bot)[0].splitlines()
    token_id, owner, name, scope, created, expires, used = line.split("\t")
    assert (owner, name, scope, used) == (bot, "ci deploy", "path:/api/", "never")
    assert re.fullmatch(ISO, created) and re.fullmatch(ISO, expires)
    assert re.fullmatch(r"[0-9a-f]{16}", token_id)
    # `users list` names the account a service account.
    assert f"{bot}\tdeployers\tservice\n" in _ok(stack, "users", "list")[0]
    received = echoed(bearer(stack, ECHO, token))
    assert received["x-auth-user"] == bot
    # Its last use is written within a flush (a second on these stacks)...
    record = KeySpace(stack.key_prefix).api_token(ApiToken.parse(token).digest)
    assert eventually(
        lambda: stack.redis.hget(record, "used"),
        lambda used: used is not None,
        what="the token's last use written",
    )
    # ...and the listing of every user's tokens shows it, never the token itself.
    everyone = _ok(stack, "tokens", "list")[0]
    (row,) = [row for row in everyone.splitlines() if row.startswith(token_id)]
    assert re.fullmatch(ISO, row.split("\t")[-1])
    assert token not in everyone


def test_revoking_a_token_by_id_stops_it_and_is_recorded(stack: Stack) -> None:
    bot = f"bot-{secrets.token_hex(3)}"
    _ok(stack, "users", "add", bot, "--service")
    token = _ok(stack, "tokens", "create", "--user", bot, "--name", "probe")[0].strip()
    token_id = _ok(stack, "tokens", "list", "--user", bot)[0].split("\t")[0]
    assert bearer(stack, ECHO, token).status_code == 200
    out, said = _ok(stack, "tokens", "revoke", "--user", bot, token_id)
    assert out == f"token {token_id} of {bot} revoked\n"
    assert f"token.revoked user={bot} tokens={token_id} count=1 cause=admin" in said
    refused = eventually(
        lambda: bearer(stack, ECHO, token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    assert_refused_alone(refused, 401)
    again = stack.cli("tokens", "revoke", "--user", bot, token_id, expect=1)
    assert again.returncode == 1
    assert "no live token" in again.stderr


def test_bad_token_requests_are_refused_with_a_reason_and_make_nothing(stack: Stack) -> None:
    bot = f"bot-{secrets.token_hex(3)}"
    _ok(stack, "users", "add", bot, "--service", "--group", "ops")
    # One of each kind (tests/unit/test_apitokens_*.py go through every case).
    for args, said in [
        (["--expires", "never"], "lifetime"),
        (["--scope", "group:admins"], "not in admins"),
        (["--scope", "path:../x"], "bad scope"),
    ]:
        result = stack.cli("tokens", "create", "--user", bot, "--name", "x", *args, expect=1)
        assert result.returncode == 1, args
        assert said in result.stderr, (args, result.stderr)
        assert result.stdout == ""
    unknown = stack.cli("tokens", "create", "--user", "nobody-here", "--name", "x", expect=1)
    assert unknown.returncode == 1
    assert "no user nobody-here" in unknown.stderr
    assert _ok(stack, "tokens", "list", "--user", bot)[0] == ""


def test_a_service_account_is_refused_at_sign_in_as_a_wrong_password_is(stack: Stack) -> None:
    bot = f"bot-{secrets.token_hex(3)}"
    _ok(stack, "users", "add", bot, "--service")
    name, _ = new_user(stack)
    answers = [
        requests.post(
            stack.url("/auth/login"),
            json={"username": user, "password": tried},
            timeout=TIMEOUT,
        )
        for user, tried in [(bot, "any password at all"), (bot, "!service"), (name, "wrong one")]
    ]
    assert {answer.status_code for answer in answers} == {401}
    assert len({answer.text for answer in answers}) == 1
    assert all(set_cookie_headers(answer) == [] for answer in answers)
    passwd = stack.cli("users", "passwd", bot, stdin="a new long password\n", expect=1)
    assert passwd.returncode == 1
    assert "service account" in passwd.stderr


def test_disabling_a_user_ends_sessions_and_tokens_and_refuses_sign_in(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    token = _ok(stack, "tokens", "create", "--user", name, "--name", "mine")[0].strip()
    assert bearer(stack, ECHO, token).status_code == 200
    out, _ = _ok(stack, "users", "disable", name)
    assert out == f"{name} disabled; 1 session(s) ended, 1 token(s) revoked\n"
    refused = eventually(
        lambda: bearer(stack, ECHO, token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    assert_refused_alone(refused, 401)
    wrong_password = requests.post(
        stack.url("/auth/login"), json={"username": name, "password": "not it"}, timeout=TIMEOUT
    )
    right_password = requests.post(
        stack.url("/auth/login"), json={"username": name, "password": password}, timeout=TIMEOUT
    )
    assert right_password.status_code == 401
    assert right_password.text == wrong_password.text
    assert set_cookie_headers(right_password) == []
    cookie = f"{stack.access_cookie}={signed.access}"
    ended = requests.get(
        stack.url("/api/whoami"), headers={"Cookie": cookie, "Accept": "application/json"},
        allow_redirects=False, timeout=TIMEOUT,
    )  # fmt: skip
    assert ended.status_code == 401
    assert "disabled" in _ok(stack, "users", "list")[0]
    assert _ok(stack, "users", "enable", name)[0] == f"{name} enabled\n"
    assert sign_in(stack, name, password).name == name
    assert _ok(stack, "tokens", "list", "--user", name)[0] == ""  # revoked for good


def test_ending_every_session_revokes_the_users_tokens_too(stack: Stack) -> None:
    name, password = new_user(stack)
    sign_in(stack, name, password)
    token = _ok(stack, "tokens", "create", "--user", name, "--name", "mine")[0].strip()
    out, _ = _ok(stack, "sessions", "end-all", name)
    assert out == f"1 session(s) of {name} ended, 1 token(s) revoked\n"
    refused = eventually(
        lambda: bearer(stack, ECHO, token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    assert_refused_alone(refused, 401)


def test_revoke_all_of_a_user_stops_every_token(stack: Stack) -> None:
    bot = f"bot-{secrets.token_hex(3)}"
    _ok(stack, "users", "add", bot, "--service")
    tokens = [
        _ok(stack, "tokens", "create", "--user", bot, "--name", f"t{n}")[0].strip()
        for n in range(2)
    ]
    assert _ok(stack, "tokens", "revoke", "--user", bot, "--all")[0] == (
        f"2 token(s) of {bot} revoked\n"
    )
    for token in tokens:
        refused = eventually(
            lambda t=token: bearer(stack, ECHO, t),
            lambda r: r.status_code == 401,
            what="the token refused (401)",
        )
        assert_refused_alone(refused, 401)
