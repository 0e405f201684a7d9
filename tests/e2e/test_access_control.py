"""Who may enter what, through nginx: a location's `$verifier_require`, groups, and 403.

The demo nginx conf (nginx/demo.conf.template) protects `/admin/` with
`set $verifier_require "group:admins mfa";` and everything else with no declaration; the
sessions here are two-factor ones, so only the group decides (test_step_up*.py do the rest).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import (
    PAGE_HEADERS,
    TIMEOUT,
    burst,
    cookie_header,
    eventually,
    expired_access_token,
    get_page,
    set_cookie_headers,
    set_cookies,
    sign_in,
)
from session_helpers import two_factor_cookie

from verifier.demo.processes import verifier_environment

if TYPE_CHECKING:
    from conftest import Stack

HAMMER = 40


def _user(stack: Stack, *groups: str, label: str = "acl") -> tuple[str, str]:
    name, password = f"{label}-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    options = [option for group in groups for option in ("--group", group)]
    result = stack.cli("users", "add", name, *options, stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    return name, password


def _groups(stack: Stack, name: str, *options: str) -> None:
    result = stack.cli("users", "groups", name, *options)
    assert result.returncode == 0, result.stderr


def _signed_in_cookie(stack: Stack, *groups: str) -> tuple[str, str]:
    name, _password = _user(stack, *groups)
    return name, two_factor_cookie(stack, name)


def test_a_member_of_the_required_group_enters_the_admin_area(stack: Stack) -> None:
    name, cookie = _signed_in_cookie(stack, "admins", "ops")

    response = get_page(stack, "/admin/", cookie=cookie, **PAGE_HEADERS)

    assert response.status_code == 200, response.text
    assert f'<dd id="user">{name}</dd>' in response.text
    assert '<dd id="groups">admins,ops</dd>' in response.text


def test_a_signed_in_non_member_gets_the_no_access_page_not_a_login_redirect(
    stack: Stack,
) -> None:
    name, cookie = _signed_in_cookie(stack, "ops")

    response = get_page(stack, "/admin/reports?x=1", cookie=cookie, **PAGE_HEADERS)

    assert response.status_code == 403
    assert "Location" not in response.headers
    assert set_cookie_headers(response) == []
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>No access</h1>" in response.text
    assert f'<strong><span translate="no">{name}</span></strong>' in response.text
    assert '<code><span translate="no">/admin/reports?x=1</span></code>' in response.text
    assert 'action="/auth/logout?next=/admin/reports%3Fx%3D1"' in response.text
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_an_api_call_of_a_non_member_gets_403_json(stack: Stack) -> None:
    name, cookie = _signed_in_cookie(stack)

    response = get_page(stack, "/admin/", cookie=cookie)  # Accept: application/json

    assert response.status_code == 403
    assert set_cookie_headers(response) == []
    assert response.json() == {
        "error": "forbidden",
        "user": name,
        "login_url": "/auth/login?next=/admin/",
    }


def test_a_signed_out_visitor_of_the_admin_area_is_asked_to_sign_in(stack: Stack) -> None:
    page = get_page(stack, "/admin/", **PAGE_HEADERS)
    api = get_page(stack, "/admin/")

    assert page.status_code == 302
    assert page.headers["Location"] == "/auth/login?next=/admin/"
    assert api.status_code == 401
    assert api.json()["error"] == "unauthenticated"
    assert set_cookie_headers(page) == set_cookie_headers(api) == []


def test_a_location_without_a_declaration_admits_every_signed_in_user(stack: Stack) -> None:
    name, cookie = _signed_in_cookie(stack)

    response = get_page(stack, "/api/whoami", cookie=cookie)

    assert response.status_code == 200
    assert response.json()["user"] == name
    assert response.json()["groups"] == []


def test_a_refused_request_that_silently_refreshed_still_hands_back_the_new_cookies(
    stack: Stack,
) -> None:
    name, password = _user(stack)
    signed = sign_in(stack, name, password)
    expired = expired_access_token(stack, name, signed.session_id)

    refused = get_page(
        stack, "/admin/", cookie=cookie_header(stack, expired, signed.refresh), **PAGE_HEADERS
    )

    assert refused.status_code == 403
    rotated = set_cookies(refused)
    assert set(rotated) == {stack.access_cookie, stack.refresh_cookie}
    assert rotated[stack.refresh_cookie] != signed.refresh
    # The rotated pair is the session now: it works where the user may go.
    follow_up = get_page(
        stack,
        "/api/whoami",
        cookie=cookie_header(stack, rotated[stack.access_cookie], rotated[stack.refresh_cookie]),
    )
    assert follow_up.status_code == 200
    assert follow_up.json()["session"] == signed.session_id


def test_the_app_gets_the_groups_and_never_a_clients_own_identity_headers(stack: Stack) -> None:
    name, cookie = _signed_in_cookie(stack, "ops")

    response = get_page(
        stack,
        "/api/headers",
        cookie=cookie,
        **{"X-Auth-Groups": "admins", "X-Auth-User": "root", "X-Auth-Assertion": "forged"},
    )

    headers = response.json()
    assert headers["x-auth-user"] == name
    assert headers["x-auth-groups"] == "ops"
    assert headers.get("x-auth-assertion") != "forged"


def test_a_user_without_groups_sends_the_app_no_groups_header(stack: Stack) -> None:
    _, cookie = _signed_in_cookie(stack)
    headers = get_page(stack, "/api/headers", cookie=cookie, **{"X-Auth-Groups": "admins"}).json()
    assert "x-auth-groups" not in headers


@pytest.mark.parametrize(
    ("before", "change", "after"),
    [
        ((), ("--add", "admins"), 200),
        (("admins",), ("--remove", "admins"), 403),
    ],
    ids=["granted", "revoked"],
)
def test_a_group_change_takes_effect_on_the_next_requests_of_every_worker(
    stack: Stack, before: Sequence[str], change: Sequence[str], after: int
) -> None:
    name, cookie = _signed_in_cookie(stack, *before)
    first = 200 if before else 403
    # Every worker has now cached the session with its old groups (for up to 60 s here).
    cached = burst(stack, cookie, HAMMER, path="/admin/")
    assert cached.every_worker(stack, 204 if before else 403), cached.answers
    # A burst that missed a worker is sent again, larger: every request of it counts.
    assert len(cached.statuses) >= HAMMER
    assert set(cached.statuses) == {first}

    _groups(stack, name, *change)

    # The change is published on the revocation channel; wait for it to land (it takes
    # milliseconds; the cache alone would hold the old groups for a minute), then every
    # request on every worker sees it.
    changed = eventually(
        lambda: burst(stack, cookie, HAMMER, path="/admin/"),
        lambda answered: answered.every_worker(stack, 204 if after == 200 else 403),
        what=f"every worker to answer {after} after the group change",
    )
    assert len(changed.statuses) >= HAMMER
    assert set(changed.statuses) == {after}


def test_sign_in_as_someone_else_signs_out_and_keeps_the_destination(stack: Stack) -> None:
    _, cookie = _signed_in_cookie(stack)

    response = requests.post(
        stack.url("/auth/logout?next=/admin/reports"),
        headers={"Cookie": cookie, "Origin": stack.base_url},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/login?signed_out=1&next=/admin/reports"
    assert get_page(stack, "/api/whoami", cookie=cookie).status_code == 401


def test_logout_next_is_held_to_the_safe_next_rule(stack: Stack) -> None:
    response = requests.post(
        stack.url("/auth/logout?next=//evil.example"),
        headers={"Origin": stack.base_url},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/login?signed_out=1"


def test_the_forbidden_page_ignores_a_user_name_a_client_sends_itself(stack: Stack) -> None:
    response = requests.get(
        stack.url("/auth/forbidden"),
        headers={"X-Verifier-User": "ceo", "Accept": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 403
    assert response.json()["user"] is None


def test_access_check_prints_the_decision_and_what_made_it(stack: Stack) -> None:
    name, _ = _user(stack, "ops")

    refused = stack.cli("access", "check", "--user", name, "--uri", "/admin/x?y=1",
                        "--require", "group:admins", expect=1)  # fmt: skip
    admitted = stack.cli("access", "check", "--user", name, "--uri", "/ruled/staff",
                         "--groups", "staff")  # fmt: skip
    central = stack.cli("access", "check", "--user", name, "--method", "delete",
                        "--uri", "/api/%68eaders", expect=1)  # fmt: skip

    assert refused.returncode == 1, refused.stderr
    assert refused.stdout.strip() == (
        f'DENY GET /admin/x with $verifier_require "group:admins" for {name} (groups: ops): '
        "no central rule; location requires group:admins"
    )
    assert admitted.returncode == 0, admitted.stderr
    assert admitted.stdout.strip() == (
        f"ALLOW GET /ruled/staff for {name} (groups: staff): rule 2 ({stack.rules_file} line 5): "
        "allow; location admits any signed-in user"
    )
    assert central.returncode == 1
    assert central.stdout.startswith(f"DENY DELETE /api/headers for {name} (groups: ops): rule 4")


def test_access_check_refuses_an_unknown_user_and_a_bad_rules_file(stack: Stack) -> None:
    unknown = stack.cli(
        "access", "check", "--user", "nobody-" + secrets.token_hex(4), "--uri", "/", expect=1
    )
    assert unknown.returncode == 1
    assert "does not exist" in unknown.stderr

    bad = stack.workdir / "bad-rules.toml"
    bad.write_text("[[rules]]\npolicy = 'deny'\nmethods = ['get']\n", encoding="utf-8")
    env = {**stack.env, "VERIFIER_RULES_FILE": str(bad)}
    result = subprocess.run(
        [sys.executable, "-m", "verifier", "access", "check", "--user", "x", "--uri", "/",
         "--groups", ""],
        capture_output=True, text=True, env=verifier_environment(env), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"VERIFIER_RULES_FILE: {bad}:3: rule 1: methods: 'get' must be upper case" in (
        result.stderr
    )
