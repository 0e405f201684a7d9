"""The central rules file through nginx: precedence with locations, methods, normalized
paths, reload without a restart (see E2E_RULES in conftest.py for the rules in force)."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import requests
from conftest import E2E_RULES
from e2e_helpers import (
    TIMEOUT,
    burst,
    cookie_header,
    eventually,
    get_page,
    new_user,
    sign_in,
    wait_until,
)
from session_helpers import two_factor_cookie

if TYPE_CHECKING:
    from conftest import Stack

# What the legacy app answers for a path it has no page for: the request got past nginx.
REACHED_THE_APP = 404
# The number of a rule the tests append to E2E_RULES (and so the count of rules after it).
ADDED_RULE = E2E_RULES.count("[[rules]]") + 1


def _cookie(stack: Stack, *groups: str) -> str:
    name, password = f"rules-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    options = [option for group in groups for option in ("--group", group)]
    assert stack.cli("users", "add", name, *options, stdin=password + "\n").returncode == 0
    signed = sign_in(stack, name, password)
    return cookie_header(stack, signed.access, signed.refresh)


def _log_count(stack: Stack, text: str) -> int:
    return stack.processes["verifier"].log_path.read_text(errors="replace").count(text)


def _write_rules(stack: Stack, text: str) -> None:
    # Replaced in one step (a new inode), as an editor or a deployment tool does.
    temporary = stack.rules_file.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, stack.rules_file)


@pytest.fixture
def rules_restored(stack: Stack) -> Iterator[None]:
    """Put the stack's own rules back after a test that rewrote them."""
    yield
    _write_rules(stack, E2E_RULES)
    cookie = _cookie(stack)
    eventually(
        lambda: burst(stack, cookie, path="/ruled/open"),
        lambda answered: answered.every_worker(stack, 204),
        what="every worker to admit /ruled/open again",
    )


def test_a_central_deny_refuses_every_user(stack: Stack) -> None:
    response = get_page(stack, "/ruled/closed", cookie=_cookie(stack, "admins"))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    "spelling",
    [
        "/ruled/%63losed",
        "/ruled//closed",
        "/ruled/x/../closed",
        "/ruled/./closed/",
        "//ruled/closed",
    ],
)
def test_another_spelling_of_a_denied_path_is_denied_too(stack: Stack, spelling: str) -> None:
    response = get_page(stack, spelling, cookie=_cookie(stack))
    assert response.status_code == 403


def test_first_match_wins_the_group_rule_before_the_deny_below_it(stack: Stack) -> None:
    assert get_page(stack, "/ruled/staff", cookie=_cookie(stack, "staff")).status_code == 404
    assert get_page(stack, "/ruled/staff", cookie=_cookie(stack, "ops")).status_code == 403


def test_a_central_deny_wins_over_a_location_that_would_admit(stack: Stack) -> None:
    # /admin/ asks admins for a second factor too (`group:admins mfa`).
    name, _password = new_user(stack, "rules")
    assert stack.cli("users", "groups", name, "--add", "admins").returncode == 0
    cookie = two_factor_cookie(stack, name)
    assert get_page(stack, "/admin/", cookie=cookie).status_code == 200
    assert get_page(stack, "/admin/staff-only", cookie=cookie).status_code == 403


def test_a_central_allow_does_not_widen_a_location(stack: Stack) -> None:
    # Rule 2 allows group staff on /ruled/staff, but /admin/ still requires admins.
    assert get_page(stack, "/admin/", cookie=_cookie(stack, "staff")).status_code == 403


def test_a_rule_can_deny_one_method_only(stack: Stack) -> None:
    cookie = _cookie(stack)
    headers = {"Cookie": cookie, "Accept": "application/json"}
    deleted = requests.delete(stack.url("/api/headers"), headers=headers, timeout=TIMEOUT)
    read = requests.get(stack.url("/api/headers"), headers=headers, timeout=TIMEOUT)
    posted = requests.post(stack.url("/api/headers"), headers=headers, timeout=TIMEOUT)

    assert deleted.status_code == 403
    assert read.status_code == 200
    assert posted.status_code == 405  # the app's own answer: the rule let it through


@pytest.mark.usefixtures("rules_restored")
def test_an_edited_rules_file_is_in_force_without_a_restart(stack: Stack) -> None:
    cookie = _cookie(stack)
    pid = stack.processes["verifier"].pid
    reloads_before = _log_count(stack, f": {ADDED_RULE} rule(s)")
    assert get_page(stack, "/ruled/open", cookie=cookie).status_code == REACHED_THE_APP
    during: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        # Requests in flight all through the reload: each gets the old or the new answer.
        while not stop.is_set():
            during.append(get_page(stack, "/ruled/open", cookie=cookie).status_code)

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        _write_rules(stack, E2E_RULES + '\n[[rules]]\npaths = ["/ruled/open"]\npolicy = "deny"\n')
        # Each of the two workers reloads on its own, within a second, and says so.
        wait_until(
            lambda: _log_count(stack, f": {ADDED_RULE} rule(s)") >= reloads_before + 2,
            "both workers to reload the rules",
        )
    finally:
        stop.set()
        asking.join()

    answered = burst(stack, cookie, path="/ruled/open")
    assert answered.every_worker(stack, 403), answered.answers
    assert set(answered.statuses) == {403}
    assert during and set(during) <= {REACHED_THE_APP, 403}, sorted(set(during))
    assert stack.processes["verifier"].pid == pid
    assert stack.processes["verifier"].is_running()


@pytest.mark.usefixtures("rules_restored")
def test_a_broken_rules_file_is_logged_and_the_rules_in_force_are_kept(stack: Stack) -> None:
    cookie = _cookie(stack)
    log = stack.processes["verifier"].log_path
    errors_before = _log_count(stack, "rules file not reloaded")

    broken = E2E_RULES + "\n[[rules]]\npaths = ['/ruled/open']\npolicy = 'nope'\n"
    _write_rules(stack, broken)

    # Each of the two workers reads the file and says why it keeps the old rules.
    wait_until(
        lambda: (
            log.read_text(errors="replace").count("rules file not reloaded") >= errors_before + 2
        ),
        "both workers to log the broken rules file",
    )
    policy_line = len(broken.splitlines())
    problem = f"rules.toml:{policy_line}: rule {ADDED_RULE}: policy must be"
    assert problem in log.read_text(errors="replace")
    assert get_page(stack, "/ruled/closed", cookie=cookie).status_code == 403
    assert get_page(stack, "/ruled/open", cookie=cookie).status_code == REACHED_THE_APP
