"""Helpers of the second-factor tests: TOTP codes of unused steps, enrolment through the
account page, the password step of a sign-in, and reading our pages."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyotp
import requests
from e2e_helpers import PAGE_HEADERS, TIMEOUT, new_user, set_cookies

from verifier.factors import STEP_SECONDS
from verifier.sessions.pending_signin import pending_id_hash
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack

FACTOR_PATH = "/auth/login/factor"
TOTP_PATH = "/auth/account/totp"
RECOVERY_PATH = "/auth/account/recovery-codes"
# The group the e2e stacks name in VERIFIER_MFA_REQUIRED_GROUPS (tests/e2e/conftest.py).
ENFORCED_GROUP = "mfa-enforced"
_SECRET = re.compile(r'<code class="secret" id="totp-secret">([A-Z2-7 ]+)</code>')
_CODES = re.compile(r'<ol class="codes" id="recovery-codes">(.*?)</ol>', re.S)
_ITEM = re.compile(r"<li>([^<]+)</li>")


@dataclass
class Authenticator:
    """An authenticator app: codes of time steps this test has not used yet.

    Each step works once per user and a code is accepted one step either side of now, so
    up to three codes are available at any moment; a fourth waits for the next step.
    """

    secret: str
    used: set[int] = field(default_factory=set)

    def code(self) -> str:
        """A right code of a step not used yet."""
        while True:
            current = int(time.time() // STEP_SECONDS)
            # The newest first: it stays acceptable the longest.
            for step in (current + 1, current, current - 1):
                if step not in self.used:
                    self.used.add(step)
                    return pyotp.HOTP(self.secret).at(step)
            time.sleep(0.5)

    def wrong_code(self) -> str:
        """A code that no step near now has."""
        near = int(time.time() // STEP_SECONDS)
        rights = {pyotp.HOTP(self.secret).at(step) for step in range(near - 3, near + 4)}
        return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in rights)


@dataclass
class Enrolled:
    """A user with TOTP, as the account page enrolled them."""

    name: str
    password: str
    app: Authenticator
    recovery_codes: list[str]


def forget_used_steps(stack: Stack, user: str, *apps: Authenticator) -> None:
    """Drop the user's spent time steps, as if every one of them had left the window.

    Each step works once per user and only three are in the window at any moment; a test
    that needs more codes than that moves the steps' expiry to now instead of waiting.
    """
    for key in stack.redis.scan_iter(KeySpace(stack.key_prefix).totp_step(user, 0)[:-1] + "*"):
        stack.redis.delete(key)
    for app in apps:
        app.used.clear()


def page_secret(text: str) -> str:
    """The TOTP secret an enrolment page shows for manual entry."""
    found = _SECRET.search(text)
    assert found is not None, text[:500]
    return found.group(1).replace(" ", "")


def page_recovery_codes(text: str) -> list[str]:
    """The recovery codes a page lists."""
    found = _CODES.search(text)
    assert found is not None, text[:500]
    return [html.unescape(code) for code in _ITEM.findall(found.group(1))]


def enrol(stack: Stack, session: requests.Session) -> tuple[Authenticator, list[str]]:
    """Enrol TOTP for the signed-in `session` through the account page."""
    shown = session.get(stack.url(TOTP_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert shown.status_code == 200, shown.text[:300]
    app = Authenticator(page_secret(shown.text))
    confirmed = session.post(
        stack.url(TOTP_PATH),
        data={"action": "confirm", "code": app.code()},
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert confirmed.status_code == 200, confirmed.text[:300]
    codes = page_recovery_codes(confirmed.text)
    assert len(codes) == 10
    return app, codes


def enrolled_user(stack: Stack, label: str = "totp") -> Enrolled:
    """A new user who enrolled TOTP on the account page (from a session that stays live)."""
    name, password = new_user(stack, label)
    session = stack.login(name, password)
    app, codes = enrol(stack, session)
    return Enrolled(name, password, app, codes)


def password_step(stack: Stack, name: str, password: str, next_path: str = "/") -> requests.Session:
    """Sign in with the password form; return the session holding the pending cookie."""
    session = stack.new_session()
    response = session.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password, "next": next_path},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 303, response.text[:300]
    assert response.headers["Location"] == FACTOR_PATH
    assert set(set_cookies(response)) == {pending_cookie_name(stack)}
    return session


def post_code(session: requests.Session, stack: Stack, **fields: str) -> requests.Response:
    """POST the second-factor form (`code=` or `recovery_code=`), no redirect followed."""
    return session.post(
        stack.url(FACTOR_PATH),
        data=fields,
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def pending_cookie_name(stack: Stack) -> str:
    """The pending cookie's name (__Secure- with the production cookie settings)."""
    return stack.pending_cookie


def pending_value(session: requests.Session) -> str:
    """The raw pending id a session's jar holds (under either name)."""
    value = session.cookies.get("verifier-pending", path="/auth/") or session.cookies.get(
        "__Secure-verifier-pending", path="/auth/"
    )
    assert value, session.cookies
    return str(value)


def pending_key(stack: Stack, pending_id: str) -> str:
    """The Redis key of a pending sign-in."""
    return KeySpace(stack.key_prefix).pending_signin(pending_id_hash(pending_id))


def session_cookie_names(stack: Stack, response: requests.Response) -> set[str]:
    """Which of our two session cookies the response sets to a value."""
    return {
        name
        for name, value in set_cookies(response).items()
        if name in {stack.access_cookie, stack.refresh_cookie} and value
    }
