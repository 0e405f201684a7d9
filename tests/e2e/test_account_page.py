"""The account page `/auth/account` through nginx: the user's live sessions with their
device, ending one or all others (at once, on every worker), changing the password, the
factors listed, what a visitor without a session gets, cross-site POSTs and fuzzed POSTs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from e2e_helpers import (
    PAGE_HEADERS,
    TIMEOUT,
    cookie_header,
    every_worker_admits,
    every_worker_denies,
    new_user,
    set_cookie_headers,
    wait_until_every_worker_listens,
)
from factor_helpers import RECOVERY_PATH, TOTP_PATH, enrolled_user, password_step, post_code
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.one_nginx

ACCOUNT = "/auth/account"
PASSKEYS = "/auth/account/passkeys"
JSON = {"Accept": "application/json"}
CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
CROSS_SITE = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://evil.example"},
    {"Referer": "http://evil.example/form"},
]


def _browser(stack: Stack, name: str, password: str, user_agent: str) -> requests.Session:
    """A signed-in requests.Session that says it is `user_agent` on every request."""
    session = stack.new_session()
    session.headers["User-Agent"] = user_agent
    answer = session.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 303, answer.text
    return session


def _session_id(stack: Stack, session: requests.Session) -> str:
    return str(session.cookies.get(stack.refresh_cookie)).rsplit(".", 2)[1]


def _access_only(stack: Stack, session: requests.Session) -> str:
    return cookie_header(stack, access=session.cookies.get(stack.access_cookie))


def _account(stack: Stack, session: requests.Session) -> dict[str, Any]:
    answer = session.get(stack.url(ACCOUNT), headers=JSON, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    media: dict[str, Any] = answer.json()
    return media


def _post(
    stack: Stack,
    session: requests.Session,
    fields: dict[str, str],
    headers: dict[str, str] | None = None,
    as_json: bool = True,
) -> requests.Response:
    return session.post(
        stack.url(ACCOUNT),
        data=fields,
        headers=headers or (JSON if as_json else PAGE_HEADERS),
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def test_the_page_lists_each_session_with_its_device_and_marks_this_one(stack: Stack) -> None:
    name, password = new_user(stack, "acct")
    laptop = _browser(stack, name, password, CHROME_LINUX)
    desktop = _browser(stack, name, password, FIREFOX_WINDOWS + "<b>x</b>")

    page = laptop.get(stack.url(ACCOUNT + "?next=/api/whoami"), headers=PAGE_HEADERS)
    media = _account(stack, laptop)

    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.text
    assert 'aria-live="assertive"' in page.text
    assert "Chrome on Linux" in page.text and "Firefox on Windows" in page.text
    assert "<b>x</b>" not in page.text  # nothing of the raw header is stored or shown
    assert '<li class="this-device"><strong>Chrome on Linux</strong>' in page.text
    assert 'href="/api/whoami" id="back-to-app"' in page.text
    assert 'action="/auth/logout"' in page.text
    assert f'name="session" value="{_session_id(stack, desktop)}"' in page.text
    assert f'value="{_session_id(stack, laptop)}"' not in page.text  # no "End" for this one
    for field in ("current_password", "new_password", "new_password_again"):
        assert f'<label for="{field}">' in page.text
    shown = {s["session"]: s for s in media["sessions"]}
    assert set(shown) == {_session_id(stack, laptop), _session_id(stack, desktop)}
    this = shown[_session_id(stack, laptop)]
    assert this["current"] is True and this["device"] == "Chrome on Linux"
    assert this["address"] == "127.0.0.1"
    assert this["started"] <= this["last_used"]
    assert shown[_session_id(stack, desktop)]["current"] is False
    assert shown[_session_id(stack, desktop)]["device"] == "Firefox on Windows"
    assert media["user"] == name


def test_the_factors_section_links_to_the_authenticator_app_page(stack: Stack) -> None:
    name, password = new_user(stack, "acctf")
    session = _browser(stack, name, password, CHROME_LINUX)

    media = _account(stack, session)
    page = session.get(stack.url(ACCOUNT), headers=PAGE_HEADERS, timeout=TIMEOUT)

    assert media["factors"] == [
        {"key": "totp", "title": "Authenticator app", "state": "Off.", "url": "/auth/account/totp"},
        # The e2e stacks have passkeys on: the page lists them, with where to add one.
        {"key": "passkeys", "title": "Passkeys", "state": "None yet.", "url": PASSKEYS},
    ]
    assert 'id="factor-totp"' in page.text
    assert 'href="/auth/account/totp"' in page.text


def test_a_two_step_sign_in_records_its_device_and_the_factors_show_totp_on(
    stack: Stack,
) -> None:
    user = enrolled_user(stack, "acct-totp")
    session = password_step(stack, user.name, user.password)
    session.headers["User-Agent"] = FIREFOX_WINDOWS
    assert post_code(session, stack, code=user.app.code()).status_code == 303

    media = _account(stack, session)
    page = session.get(stack.url(ACCOUNT), headers=PAGE_HEADERS, timeout=TIMEOUT)

    this = [s for s in media["sessions"] if s["current"]]
    assert [s["device"] for s in this] == ["Firefox on Windows"]
    assert media["factors"] == [
        {"key": "totp", "title": "Authenticator app", "state": "On.", "url": TOTP_PATH},
        {
            "key": "recovery_codes",
            "title": "Recovery codes",
            "state": "10 left.",
            "url": RECOVERY_PATH,
        },
        {"key": "passkeys", "title": "Passkeys", "state": "None yet.", "url": PASSKEYS},
    ]
    assert f'href="{RECOVERY_PATH}">Make a new set</a>' in page.text


def test_ending_the_other_session_denies_it_at_once_on_every_worker(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    name, password = new_user(stack, "acct-end")
    mine = _browser(stack, name, password, CHROME_LINUX)
    other = _browser(stack, name, password, FIREFOX_WINDOWS)
    other_cookie = _access_only(stack, other)
    # Cached as live by every worker first, so only the revocation can deny it.
    every_worker_admits(stack, other_cookie)

    ended = _post(stack, mine, {"action": "end_session", "session": _session_id(stack, other)})

    assert ended.status_code == 200
    assert ended.json() == {"sessions_ended": 1}
    every_worker_denies(stack, other_cookie)
    # Its refresh token is dead too: the browser is sent to sign in.
    back = other.get(stack.url("/"), headers=PAGE_HEADERS, allow_redirects=False)
    assert back.status_code == 302
    assert "/auth/login" in back.headers["Location"]
    assert [s["session"] for s in _account(stack, mine)["sessions"]] == [_session_id(stack, mine)]
    every_worker_admits(stack, _access_only(stack, mine))


def test_the_html_form_ends_a_session_and_comes_back_with_a_notice(stack: Stack) -> None:
    name, password = new_user(stack, "acct-form")
    mine = _browser(stack, name, password, CHROME_LINUX)
    other = _browser(stack, name, password, FIREFOX_WINDOWS)

    answer = _post(
        stack, mine, {"action": "end_session", "session": _session_id(stack, other)}, as_json=False
    )
    page = mine.get(stack.url(answer.headers["Location"]), headers=PAGE_HEADERS)

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/auth/account?done=ended"
    assert '<p class="notice" role="status">The session has ended.</p>' in page.text
    assert "Firefox on Windows" not in page.text


def test_end_all_others_keeps_only_this_session(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    name, password = new_user(stack, "acct-all")
    mine = _browser(stack, name, password, CHROME_LINUX)
    others = [_browser(stack, name, password, FIREFOX_WINDOWS) for _ in range(3)]
    for other in others:
        every_worker_admits(stack, _access_only(stack, other))

    answer = _post(stack, mine, {"action": "end_others"})

    assert answer.status_code == 200
    assert answer.json() == {"sessions_ended": 3}
    for other in others:
        every_worker_denies(stack, _access_only(stack, other))
    assert [s["session"] for s in _account(stack, mine)["sessions"]] == [_session_id(stack, mine)]
    every_worker_admits(stack, _access_only(stack, mine))


def test_a_session_of_another_user_cannot_be_ended(stack: Stack) -> None:
    attacker = _browser(stack, *new_user(stack, "acct-a"), CHROME_LINUX)
    victim = _browser(stack, *new_user(stack, "acct-v"), CHROME_LINUX)
    victim_id = _session_id(stack, victim)

    answer = _post(stack, attacker, {"action": "end_session", "session": victim_id})
    page = _post(stack, attacker, {"action": "end_session", "session": victim_id}, as_json=False)

    assert answer.status_code == 404
    assert answer.json() == {"error": "No such session: it may have ended already."}
    assert page.status_code == 404
    assert 'role="alert">No such session' in page.text
    every_worker_admits(stack, _access_only(stack, victim))
    assert [s["session"] for s in _account(stack, victim)["sessions"]] == [victim_id]


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"action": "end_session", "session": "not-a-session"}, 400, "That is not a session."),
        ({"action": "end_session"}, 400, "That is not a session."),
        (
            {"action": "end_session", "session": "A" * 22},
            404,
            "No such session: it may have ended already.",
        ),
        ({"action": "wipe"}, 400, "Unknown action."),
        ({"x": "1"}, 400, "Unknown action."),
    ],
)
def test_bad_end_requests_are_refused_and_end_nothing(
    stack: Stack, fields: dict[str, str], status: int, error: str
) -> None:
    name, password = new_user(stack, "acct-bad")
    mine = _browser(stack, name, password, CHROME_LINUX)
    other = _browser(stack, name, password, FIREFOX_WINDOWS)

    answer = _post(stack, mine, fields)

    assert answer.status_code == status
    assert answer.json() == {"error": error}
    assert set_cookie_headers(answer) == []
    assert len(_account(stack, mine)["sessions"]) == 2
    every_worker_admits(stack, _access_only(stack, other))


def test_this_session_is_ended_by_signing_out_not_from_the_list(stack: Stack) -> None:
    name, password = new_user(stack, "acct-self")
    mine = _browser(stack, name, password, CHROME_LINUX)

    answer = _post(stack, mine, {"action": "end_session", "session": _session_id(stack, mine)})

    assert answer.status_code == 400
    assert answer.json() == {"error": "That is the session you are using: sign out instead."}
    assert len(_account(stack, mine)["sessions"]) == 1


def _login_status(stack: Stack, name: str, password: str) -> int:
    return requests.post(
        stack.url("/auth/login"),
        json={"username": name, "password": password},
        timeout=TIMEOUT,
    ).status_code


def test_a_wrong_current_password_changes_nothing(stack: Stack) -> None:
    name, password = new_user(stack, "acct-pw")
    mine = _browser(stack, name, password, CHROME_LINUX)
    other = _browser(stack, name, password, FIREFOX_WINDOWS)
    new = "a brand new password"

    answer = _post(
        stack,
        mine,
        {
            "action": "change_password",
            "current_password": password + "x",
            "new_password": new,
            "new_password_again": new,
        },
    )

    assert answer.status_code == 403
    assert answer.json() == {"error": "Your current password is not right."}
    assert len(_account(stack, mine)["sessions"]) == 2
    every_worker_admits(stack, _access_only(stack, other))
    assert _login_status(stack, name, new) == 401
    assert _login_status(stack, name, password) == 200


@pytest.mark.parametrize(
    ("new", "again", "status", "error"),
    [
        ("", "", 400, "Enter your current password and the new one twice."),
        ("long enough 1", "long enough 2", 400, "The two new passwords differ."),
        ("short", "short", 400, "Passwords need at least 8 characters."),
        ("x" * 5000, "x" * 5000, 400, "The password is too long."),
        ("nul\x00nul\x00", "nul\x00nul\x00", 400, "The password contains a forbidden character."),
    ],
)
def test_an_unusable_new_password_is_refused_and_changes_nothing(
    stack: Stack, new: str, again: str, status: int, error: str
) -> None:
    name, password = new_user(stack, "acct-pwbad")
    mine = _browser(stack, name, password, CHROME_LINUX)
    _browser(stack, name, password, FIREFOX_WINDOWS)

    answer = mine.post(
        stack.url(ACCOUNT),
        json={
            "action": "change_password",
            "current_password": password,
            "new_password": new,
            "new_password_again": again,
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert answer.status_code == status
    assert answer.json() == {"error": error}
    assert len(_account(stack, mine)["sessions"]) == 2
    assert _login_status(stack, name, password) == 200


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    name, password = new_user(stack, "acct-chg")
    mine = _browser(stack, name, password, CHROME_LINUX)
    other = _browser(stack, name, password, FIREFOX_WINDOWS)
    every_worker_admits(stack, _access_only(stack, other))
    new = "correct horse battery staple"

    answer = _post(
        stack,
        mine,
        {
            "action": "change_password",
            "current_password": password,
            "new_password": new,
            "new_password_again": new,
        },
        as_json=False,
    )

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/auth/account?done=password"
    every_worker_denies(stack, _access_only(stack, other))
    every_worker_admits(stack, _access_only(stack, mine))
    assert [s["session"] for s in _account(stack, mine)["sessions"]] == [_session_id(stack, mine)]
    assert _login_status(stack, name, new) == 200
    assert _login_status(stack, name, password) == 401


def test_wrong_current_passwords_are_throttled_like_sign_ins(stack: Stack) -> None:
    name, password = new_user(stack, "acct-thr")
    mine = _browser(stack, name, password, CHROME_LINUX)
    wrong = {
        "action": "change_password",
        "current_password": "not the password",
        "new_password": "whatever new one",
        "new_password_again": "whatever new one",
    }
    limit = int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))

    statuses = [_post(stack, mine, wrong).status_code for _ in range(limit)]
    throttled = _post(stack, mine, {**wrong, "current_password": password})

    assert statuses == [403] * limit
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert _login_status(stack, name, "whatever new one") in {401, 429}


@pytest.mark.parametrize("headers", CROSS_SITE)
@pytest.mark.parametrize(
    "fields",
    [
        {"action": "end_others"},
        {"action": "end_session", "session": "A" * 22},
        {"action": "change_password", "current_password": "x", "new_password": "yyyyyyyy"},
    ],
)
def test_every_account_post_refuses_cross_site_requests(
    stack: Stack, headers: dict[str, str], fields: dict[str, str]
) -> None:
    name, password = new_user(stack, "acct-csrf")
    mine = _browser(stack, name, password, CHROME_LINUX)
    _browser(stack, name, password, FIREFOX_WINDOWS)

    answer = _post(stack, mine, fields, headers=headers)

    assert answer.status_code == 403
    assert answer.text == "Cross-site request refused.\n"
    assert set_cookie_headers(answer) == []
    assert len(_account(stack, mine)["sessions"]) == 2


def test_without_a_session_the_page_sends_to_sign_in_and_the_api_answers_401(
    stack: Stack,
) -> None:
    anonymous = stack.new_session()

    page = anonymous.get(
        stack.url(ACCOUNT), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
    )
    api = anonymous.get(stack.url(ACCOUNT), headers=JSON, allow_redirects=False, timeout=TIMEOUT)
    posted = _post(stack, anonymous, {"action": "end_others"})

    assert page.status_code == 303
    assert page.headers["Location"] == "/auth/login?next=/auth/account"
    assert api.status_code == 401
    assert api.json()["login_url"] == "/auth/login?next=/auth/account"
    assert posted.status_code == 401
    assert set_cookie_headers(posted) == []
    name, password = new_user(stack, "acct-next")
    signed_in = anonymous.post(
        stack.url(page.headers["Location"]),
        data={"username": name, "password": password, "next": "/auth/account"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/auth/account"  # back where the visitor was going


def test_the_demo_home_page_links_to_the_account_page(stack: Stack) -> None:
    session = _browser(stack, *new_user(stack, "acct-home"), CHROME_LINUX)

    home = session.get(stack.url("/"), headers=PAGE_HEADERS, timeout=TIMEOUT)

    assert '<a href="/auth/account">' in home.text


@pytest.fixture(scope="module")
def fuzzed(stack: Stack) -> tuple[requests.Session, requests.Session]:
    name, password = new_user(stack, "acct-fuzz")
    return _browser(stack, name, password, CHROME_LINUX), _browser(
        stack, name, password, FIREFOX_WINDOWS
    )


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["action", "session", "current_password", "new_password", "new_password_again", "x"]
        ),
        st.one_of(
            _TEXT,
            st.sampled_from(["end_session", "end_others", "change_password"]),
        ),
        max_size=5,
    ).filter(lambda f: f.get("action") != "end_others"),
    as_json=st.booleans(),
)
def test_fuzzed_account_posts_get_a_4xx_and_change_nothing(
    stack: Stack,
    fuzzed: tuple[requests.Session, requests.Session],
    fields: dict[str, str],
    as_json: bool,
) -> None:
    mine, _other = fuzzed
    if as_json:
        answer = mine.post(stack.url(ACCOUNT), json=fields, headers=JSON, timeout=TIMEOUT)
    else:
        answer = _post(stack, mine, fields, as_json=False)

    assert 400 <= answer.status_code < 500, (fields, answer.status_code, answer.text)
    assert set_cookie_headers(answer) == []
    assert len(_account(stack, mine)["sessions"]) == 2
