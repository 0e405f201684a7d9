"""The demo app's home page through nginx (issue 25, point 6): it no longer tells every user
to "Set up an authenticator app" (the app cannot know who has one); it links to the account
page's sign-in methods and says how this session signed in, read from the signed identity
assertion."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from e2e_helpers import PAGE_HEADERS, TIMEOUT, new_user
from factor_helpers import enrolled_user, password_step, post_code

if TYPE_CHECKING:
    import requests
    from conftest import Stack

pytestmark = pytest.mark.one_nginx


def _home(stack: Stack, session: requests.Session) -> str:
    page = session.get(stack.url("/"), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 200, page.status_code
    return page.text


def _links(text: str) -> dict[str, str]:
    return {words: href for href, words in re.findall(r'<a href="([^"]+)">([^<]+)</a>', text)}


def test_a_user_with_an_authenticator_app_is_not_asked_to_set_one_up(stack: Stack) -> None:
    user = enrolled_user(stack, "home-totp")
    session = password_step(stack, user.name, user.password)
    assert post_code(session, stack, code=user.app.code()).status_code == 303

    home = _home(stack, session)

    assert "Set up an authenticator app" not in home
    assert _links(home)["Two-step sign-in"] == "/auth/account#factors-heading"
    assert '<dt>Signed in with</dt><dd id="methods">password, authenticator app</dd>' in home


def test_a_password_only_session_is_shown_as_such(stack: Stack) -> None:
    name, password = new_user(stack, "home-password")
    session = stack.login(name, password)

    home = _home(stack, session)

    assert "Set up an authenticator app" not in home
    assert _links(home)["Two-step sign-in"] == "/auth/account#factors-heading"
    assert '<dt>Signed in with</dt><dd id="methods">password</dd>' in home
