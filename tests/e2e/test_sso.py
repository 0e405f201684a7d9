"""Single sign-on through real nginx: a portal and app hosts on *.localhost, two root domains.

The stack is nginx/sso-demo.conf.template as `make demo SSO=1` runs it: the portal
auth.corp.localhost, the app hosts wiki.corp.localhost, grafana.corp.localhost and
app.org2.localhost, a hostile sibling evil.corp.localhost that tosses Domain cookies, and a
catch-all that refuses every other name. Every refused hand-off is checked for its exact
status and for setting no cookie at all.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
import requests
from sso_helpers import (
    EVIL,
    GRAFANA,
    ORG2,
    PASSWORD,
    PORTAL,
    WIKI,
    HostBrowser,
    SsoStack,
    query_param,
)

from verifier.sso.handoff import challenge_of

STATE = "__Host-verifier-sso-state"
ACCESS = "__Host-verifier-access"
REFRESH = "__Host-verifier-refresh"
_NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none"}


def signed_in(stack: SsoStack, user: str = "alice", host: str = WIKI) -> HostBrowser:
    """A browser that signed in on the portal once, starting from `host`."""
    browser = stack.browser()
    chain = browser.navigate(browser.url(host, "/api/headers"))
    assert chain[-1].status_code == 200 and 'name="password"' in chain[-1].text
    landed = browser.sign_in_on_portal(chain[-1], user)[-1]
    assert landed.status_code == 200, landed.text
    assert landed.json()["x-auth-user"] == user
    return browser


def code_for(browser: HostBrowser, host: str) -> tuple[str, str]:
    """Start a hand-off on `host` and let the portal answer: (its code, the callback URL)."""
    start = browser.get(host, "/api/headers", headers=_NAVIGATE)
    assert start.status_code == 302
    authorize = browser.request("GET", start.headers["Location"])
    assert authorize.status_code == 302, authorize.text
    assert_private(authorize)
    callback = authorize.headers["Location"]
    assert callback.startswith(browser.url(host, "/auth/sso/callback?code="))
    return query_param(callback, "code"), callback


def assert_private(response: requests.Response) -> None:
    """A hand-off's redirect: its URL (a code in it or in the page it left) is sent to no
    Referer and kept by no cache."""
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]


def assert_refused(response: requests.Response) -> None:
    """A refused hand-off: 400, no cookie set, no redirect off this host."""
    assert response.status_code == 400, response.text
    assert response.raw.headers.getlist("Set-Cookie") == []
    assert "Location" not in response.headers


def post_same_origin(
    browser: HostBrowser, host: str, path: str, data: dict[str, str] | None = None
) -> requests.Response:
    """A POST a page of `host` makes to `host` (what a browser says of it)."""
    return browser.request(
        "POST",
        browser.url(host, path),
        headers={"Origin": f"http://{host}:{browser.port}", "Sec-Fetch-Site": "same-origin"},
        data=data,
    )


def app_user(browser: HostBrowser, host: str) -> str | None:
    """Who the app on `host` sees, without following any redirect (None: not signed in)."""
    response = browser.get(host, "/api/headers", headers={"Accept": "application/json"})
    if response.status_code == 401:
        return None
    assert response.status_code == 200, response.text
    user: str = response.json()["x-auth-user"]
    return user


def test_one_sign_in_then_every_host_and_another_root_domain_without_a_password(
    sso_stack: SsoStack,
) -> None:
    browser = signed_in(sso_stack)
    for host in (GRAFANA, ORG2):
        chain = browser.navigate(browser.url(host, "/api/headers"))
        assert [r.status_code for r in chain] == [302, 302, 303, 200]
        assert chain[-1].json()["x-auth-user"] == "alice"
    # Each host holds a session of its own, in its own host-only cookies.
    sessions = {browser.cookie(host, REFRESH).split(".")[1] for host in (WIKI, GRAFANA, ORG2)}
    assert len(sessions) == 3
    # The account page on the portal lists one session, with the hosts it has entered.
    account = browser.request(
        "GET", browser.url(PORTAL, "/auth/account"), headers={"Accept": "application/json"}
    )
    (session,) = account.json()["sessions"]
    assert session["hosts"] == sorted([WIKI, GRAFANA, ORG2])


def test_no_set_cookie_anywhere_carries_domain_and_every_cookie_is_host_prefixed(
    sso_stack: SsoStack,
) -> None:
    browser = signed_in(sso_stack)
    browser.navigate(browser.url(GRAFANA, "/"))
    post_same_origin(browser, GRAFANA, "/auth/logout")
    ours = [line for host, line in browser.set_cookie_lines if host != EVIL]
    assert len(ours) >= 10
    for line in ours:
        assert "domain=" not in line.lower()
        assert line.startswith("__Host-") and "Path=/;" in line and "Secure" in line


def test_logout_on_one_host_signs_out_every_host_and_the_portal(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    for host in (GRAFANA, ORG2):
        browser.navigate(browser.url(host, "/"))
    logout = post_same_origin(browser, GRAFANA, "/auth/logout")
    assert logout.status_code == 303
    for host in (WIKI, ORG2, GRAFANA):
        assert app_user(browser, host) is None
    # The portal session ended too: a hand-off now asks for the password again.
    chain = browser.navigate(browser.url(WIKI, "/"))
    assert chain[-1].status_code == 200 and 'name="password"' in chain[-1].text


def test_logout_on_the_portal_ends_every_child(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    browser.navigate(browser.url(ORG2, "/"))
    logout = post_same_origin(browser, PORTAL, "/auth/logout")
    assert logout.status_code == 303
    assert app_user(browser, WIKI) is None
    assert app_user(browser, ORG2) is None


def test_replayed_refresh_token_on_one_host_ends_the_whole_family(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    browser.navigate(browser.url(GRAFANA, "/"))
    first = browser.cookie(WIKI, REFRESH)
    # Two silent refreshes on wiki: the first token is then out of the grace window.
    for _ in range(2):
        browser.drop(WIKI, ACCESS)
        assert app_user(browser, WIKI) == "alice"
    thief = HostBrowser(sso_stack.port)
    response = thief.get(WIKI, "/api/headers", headers={"Cookie": f"{REFRESH}={first}"})
    assert response.status_code == 302  # the 401 page's hand-off, not the app
    for host in (WIKI, GRAFANA):
        assert app_user(browser, host) is None
    chain = browser.navigate(browser.url(GRAFANA, "/"))
    assert 'name="password"' in chain[-1].text


def test_refresh_token_of_one_host_is_refused_on_another_and_not_rotated(
    sso_stack: SsoStack,
) -> None:
    browser = signed_in(sso_stack)
    refresh = browser.cookie(WIKI, REFRESH)
    access = browser.cookie(WIKI, ACCESS)
    other = HostBrowser(sso_stack.port)
    for cookie in (f"{REFRESH}={refresh}", f"{ACCESS}={access}"):
        response = other.get(
            GRAFANA, "/api/headers", headers={"Cookie": cookie, "Accept": "application/json"}
        )
        assert response.status_code == 401
        assert not any(
            line.startswith((ACCESS, REFRESH))
            for line in response.raw.headers.getlist("Set-Cookie")
        )
    # Not rotated: the token still works on its own host.
    browser.drop(WIKI, ACCESS)
    assert app_user(browser, WIKI) == "alice"


def test_a_code_presented_again_is_refused_and_ends_the_child_it_made(
    sso_stack: SsoStack,
) -> None:
    browser = signed_in(sso_stack)
    _, callback = code_for(browser, GRAFANA)
    redeemed = browser.request("GET", callback)
    assert redeemed.status_code == 303
    assert_private(redeemed)
    assert app_user(browser, GRAFANA) == "alice"
    child = browser.cookie(GRAFANA, REFRESH).split(".")[1]
    replayed = browser.request("GET", callback)
    assert_refused(replayed)
    assert app_user(browser, GRAFANA) is None
    # Only that child: the rest of the family stays signed in.
    assert app_user(browser, WIKI) == "alice"
    assert any(
        "sso.code_replayed" in line and f"session={child}" in line
        for line in sso_stack.logs().splitlines()
    )


def test_a_code_refused_once_is_spent_even_with_everything_right_the_next_time(
    sso_stack: SsoStack,
) -> None:
    browser = signed_in(sso_stack)
    _, callback = code_for(browser, GRAFANA)
    state = browser.cookie(GRAFANA, STATE)
    # Refused for want of this browser's state cookie...
    browser.drop(GRAFANA, STATE)
    assert_refused(browser.request("GET", callback))
    # ...and the same code with that very cookie back is refused too: taken, not peeked at.
    retried = browser.request("GET", callback, headers={"Cookie": f"{STATE}={state}"})
    assert_refused(retried)
    assert app_user(browser, GRAFANA) is None


def test_an_expired_code_is_refused(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    _, callback = code_for(browser, GRAFANA)
    keys = sso_stack.redis.keys(f"{sso_stack.key_prefix}:sso-code:*")
    assert len(keys) == 1
    sso_stack.redis.pexpire(keys[0], 1)
    deadline = time.monotonic() + 10
    while sso_stack.redis.exists(keys[0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert_refused(browser.request("GET", callback))
    assert app_user(browser, GRAFANA) is None


def test_a_code_for_another_host_is_refused(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    code, _ = code_for(browser, GRAFANA)
    # wiki's own hand-off under way, so wiki has a state cookie of its own.
    browser.get(WIKI, "/auth/login", headers=_NAVIGATE)
    assert browser.cookie(WIKI, STATE) is not None
    assert_refused(browser.get(WIKI, f"/auth/sso/callback?code={code}"))


def test_a_code_without_the_state_cookie_is_refused(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    _, callback = code_for(browser, GRAFANA)
    browser.drop(GRAFANA, STATE)
    assert_refused(browser.request("GET", callback))
    assert app_user(browser, GRAFANA) is None


def test_a_code_with_another_browsers_state_cookie_is_refused(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    _, callback = code_for(browser, GRAFANA)
    other = stack_browser_with_state(sso_stack, GRAFANA)
    assert_refused(other.request("GET", callback))
    assert app_user(other, GRAFANA) is None


def stack_browser_with_state(stack: SsoStack, host: str) -> HostBrowser:
    """A browser that started a hand-off of its own on `host` (holds a state cookie)."""
    other = stack.browser()
    assert other.get(host, "/auth/login", headers=_NAVIGATE).status_code == 302
    assert other.cookie(host, STATE) is not None
    return other


def test_a_code_from_an_attackers_sign_in_injected_into_a_victims_browser_is_refused(
    sso_stack: SsoStack,
) -> None:
    attacker = signed_in(sso_stack, "mallory")
    _, callback = code_for(attacker, GRAFANA)
    # The victim has just been sent to sign in on grafana (a state of their own), or not.
    for victim in (stack_browser_with_state(sso_stack, GRAFANA), sso_stack.browser()):
        assert_refused(victim.request("GET", callback))
        assert app_user(victim, GRAFANA) is None


def test_a_sibling_tossing_domain_cookies_changes_nothing(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    tossed = browser.get(EVIL, "/")
    assert tossed.status_code == 200
    # What a browser keeps of it: the Domain cookies without __Host- (refused with Domain).
    assert any(not c.host_only and c.domain == "corp.localhost" for c in browser.cookies)
    assert "tossed" in browser.cookie_header(WIKI, "/auth/sso/callback")
    assert app_user(browser, WIKI) == "alice"
    chain = browser.navigate(browser.url(GRAFANA, "/api/headers"))
    assert chain[-1].json()["x-auth-user"] == "alice"
    # The app never sees the verifier's cookies, nor the hand-off's state.
    cookie_seen = chain[-1].json().get("cookie") or ""
    assert "__Host-" not in cookie_seen


@pytest.mark.parametrize(
    "host",
    [
        "evil.corp.localhost",
        "wiki.corp.localhost@evil.corp.localhost",
        "evil.corp.localhost%5Cwiki.corp.localhost",
        "wiki%2ecorp%2elocalhost",
        "wiki%2Ecorp.localhost",
        quote("wiki\uff0ecorp\uff0elocalhost"),
        quote("wiki\u3002corp\u3002localhost"),
        "wiki.corp.localhost.",
        "wiki.corp.localhost:443",
        "wiki.corp.localhost%3A1",
        "WIKI.corp.localhost",
        "wiki.corp.localhost.evil.localhost",
        "evilwiki.corp.localhost",
        "corp.localhost",
        "auth.corp.localhost",
        "*.corp.localhost",
        "//evil.corp.localhost",
        "https://evil.corp.localhost",
        "127.0.0.1",
        "",
    ],
)
def test_unlisted_hosts_and_redirect_tricks_never_get_a_redirect(
    sso_stack: SsoStack, host: str
) -> None:
    browser = signed_in(sso_stack)
    challenge = challenge_of("x" * 43)
    for query in (
        f"host={host}&challenge={challenge}",
        f"challenge={challenge}&host={host}",
        # A repeated host (one listed, one not) is no host at all.
        f"host={WIKI}&host={host}&challenge={challenge}",
    ):
        status, headers = browser.raw_get(PORTAL, f"/auth/sso/authorize?{query}")
        assert status == 400
        assert "location" not in headers and "set-cookie" not in headers


def test_the_portal_refuses_a_malformed_challenge_without_a_redirect(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    for challenge in ("", "short", "x" * 44, "%41" * 43, "x" * 42 + "."):
        status, headers = browser.raw_get(
            PORTAL, f"/auth/sso/authorize?host={WIKI}&challenge={challenge}"
        )
        assert status == 400
        assert "location" not in headers and "set-cookie" not in headers


def test_an_unlisted_name_gets_no_answer_and_the_verifier_refuses_it_too(
    sso_stack: SsoStack,
) -> None:
    browser = sso_stack.browser()
    with pytest.raises(requests.ConnectionError):
        browser.get("unknown.corp.localhost", "/auth/login", headers=_NAVIGATE)
    # Behind nginx, the verifier itself answers an unlisted Host with a page, no redirect.
    verifier = sso_stack.processes["verifier"]
    port = int(verifier.argv[verifier.argv.index("--bind") + 1].rsplit(":", 1)[1])
    direct = requests.get(
        f"http://127.0.0.1:{port}/auth/unauthorized",
        headers={"Host": "evil.corp.localhost", "X-Original-URI": "/", **_NAVIGATE},
        allow_redirects=False,
        timeout=10,
    )
    assert_refused(direct)


def test_sign_in_pages_live_only_on_the_portal(sso_stack: SsoStack) -> None:
    browser = sso_stack.browser()
    posted = browser.request(
        "POST",
        browser.url(WIKI, "/auth/login"),
        headers={"Origin": f"http://{WIKI}:{sso_stack.port}", "Sec-Fetch-Site": "same-origin"},
        data={"username": "alice", "password": PASSWORD},
    )
    assert posted.status_code == 404
    assert posted.raw.headers.getlist("Set-Cookie") == []
    account = browser.get(WIKI, "/auth/account", headers=_NAVIGATE)
    assert account.status_code == 303
    assert account.headers["Location"] == browser.url(PORTAL, "/auth/account")
    # A signed-out page navigation keeps its path on wiki, under the same-site rule.
    start = browser.get(WIKI, "/auth/login?next=//evil.corp.localhost/x", headers=_NAVIGATE)
    assert start.status_code == 302
    assert start.headers["Location"].startswith(browser.url(PORTAL, "/auth/sso/authorize?"))


def test_the_path_to_return_to_stays_on_the_app_host(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    for asked, back_to in (
        ("/wiki/page?x=1", "/wiki/page?x=1"),
        ("//evil.corp.localhost/x", "/"),
        ("https://evil.corp.localhost/", "/"),
        ("/\\evil.corp.localhost", "/"),
        ("/%2F%2Fevil.corp.localhost", "/"),
    ):
        start = browser.get(GRAFANA, f"/auth/login?next={quote(asked, safe='')}", headers=_NAVIGATE)
        authorize = browser.request("GET", start.headers["Location"])
        # The portal never sees the path: only the host and the challenge.
        assert "next" not in authorize.request.url and quote(asked, safe="") not in str(
            authorize.request.url
        )
        callback = browser.request("GET", authorize.headers["Location"])
        assert callback.status_code == 303, asked
        assert callback.headers["Location"] == back_to, asked


def test_api_calls_get_401_json_with_the_portal_url(sso_stack: SsoStack) -> None:
    browser = sso_stack.browser()
    response = browser.get(WIKI, "/api/headers?x=1", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.raw.headers.getlist("Set-Cookie") == []
    assert response.json() == {
        "error": "unauthenticated",
        "login_url": "/auth/login?next=/api/headers%3Fx%3D1",
        "portal_url": f"http://{PORTAL}:{sso_stack.port}",
    }


def test_a_sibling_cannot_post_logout_cross_origin(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    for site in ("same-site", "cross-site"):
        refused = browser.request(
            "POST",
            browser.url(WIKI, "/auth/logout"),
            headers={"Origin": f"http://{EVIL}:{sso_stack.port}", "Sec-Fetch-Site": site},
        )
        assert refused.status_code == 403
    assert app_user(browser, WIKI) == "alice"


def test_the_portals_forms_refuse_posts_from_its_sibling_hosts(sso_stack: SsoStack) -> None:
    # Same-site is not same-origin: a listed app host, a hostile sibling and another root
    # domain may not sign anyone in on the portal (login CSRF) nor sign them out.
    browser = signed_in(sso_stack)
    for origin, site in ((WIKI, "same-site"), (EVIL, "same-site"), (ORG2, "cross-site")):
        headers = {"Origin": f"http://{origin}:{sso_stack.port}", "Sec-Fetch-Site": site}
        for path, data in (
            ("/auth/login", {"username": "mallory", "password": PASSWORD, "next": "/"}),
            ("/auth/logout", None),
        ):
            refused = browser.request("POST", browser.url(PORTAL, path), headers=headers, data=data)
            assert refused.status_code == 403, (origin, path)
            assert refused.raw.headers.getlist("Set-Cookie") == []
    # The portal session is alice's still: the next host is handed her session, no password.
    chain = browser.navigate(browser.url(GRAFANA, "/api/headers"))
    assert chain[-1].status_code == 200 and chain[-1].json()["x-auth-user"] == "alice"


def test_a_failed_hand_off_restarts_once_and_never_loops(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    _, callback = code_for(browser, GRAFANA)
    browser.drop(GRAFANA, STATE)
    first = browser.request("GET", callback)
    assert_refused(first)
    restart = first.headers["Refresh"].split("url=", 1)[1]
    # The state (and the path it kept) is gone with its cookie: back to the front page.
    assert restart == "/auth/login?next=/&sso_restart=1"
    # The restart is a new hand-off marked as such; fail it as well: no second restart.
    start = browser.get(GRAFANA, restart, headers=_NAVIGATE)
    authorize = browser.request("GET", start.headers["Location"])
    browser.drop(GRAFANA, STATE)
    second = browser.request("GET", authorize.headers["Location"])
    assert_refused(second)
    assert "Refresh" not in second.headers


def test_codes_never_reach_a_log_line(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    code, callback = code_for(browser, GRAFANA)
    assert browser.request("GET", callback).status_code == 303
    state_value = "y" * 43
    assert challenge_of(state_value) not in sso_stack.logs()
    logs = sso_stack.logs()
    assert "/auth/sso/callback" in logs
    assert code not in logs


def test_a_step_up_happens_on_the_portal_and_reaches_the_host_at_its_next_hand_off(
    sso_stack: SsoStack,
) -> None:
    browser = signed_in(sso_stack)
    portal_id = browser.cookie(PORTAL, REFRESH).split(".")[1]
    wiki_id = browser.cookie(WIKI, REFRESH).split(".")[1]
    # As if both had signed in an hour ago; wiki's next refresh carries that into its token.
    an_hour_ago = int(time.time()) - 3600
    for session_id in (portal_id, wiki_id):
        key = f"{sso_stack.key_prefix}:{{alice}}:session:{session_id}"
        sso_stack.redis.hset(key, "auth_time", an_hour_ago)
    browser.drop(WIKI, ACCESS)
    asked = browser.navigate(browser.url(WIKI, "/recent"))
    # wiki's 401 names the step; the hand-off carries it; the portal asks for the password.
    assert "step_up=max_age" in asked[0].headers["Location"]
    page, login_path = asked[-1], asked[-2].headers["Location"]
    assert page.status_code == 200 and 'name="password"' in page.text
    assert login_path.startswith("/auth/login?step_up=max_age&next=/auth/sso/authorize")
    form = {"password": PASSWORD, "next": query_param(login_path, "next")}
    stepped = post_same_origin(browser, PORTAL, login_path, form)
    assert stepped.status_code == 303
    landed = browser.navigate(browser.url(PORTAL, stepped.headers["Location"]))
    assert landed[-1].status_code == 200 and landed[-1].json()["x-auth-user"] == "alice"
    assert landed[-2].headers["Location"] == "/recent"
    # The new hand-off replaced wiki's stale child; the family is the same.
    assert browser.cookie(WIKI, REFRESH).split(".")[1] != wiki_id
    assert browser.cookie(PORTAL, REFRESH).split(".")[1] == portal_id


def test_a_code_whose_portal_session_ended_meanwhile_is_refused(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    _, callback = code_for(browser, GRAFANA)
    # Signed out on the portal (another tab) between the code and the callback.
    portal_id = browser.cookie(PORTAL, REFRESH).split(".")[1]
    sso_stack.redis.delete(f"{sso_stack.key_prefix}:{{alice}}:session:{portal_id}")
    assert_refused(browser.request("GET", callback))
    assert app_user(browser, GRAFANA) is None


def test_the_app_never_sees_the_state_cookie_nor_the_tokens(sso_stack: SsoStack) -> None:
    browser = signed_in(sso_stack)
    # A hand-off started (a second tab signed out?) leaves a state cookie on wiki.
    assert browser.get(WIKI, "/auth/login", headers=_NAVIGATE).status_code == 302
    assert browser.cookie(WIKI, STATE) is not None
    browser.get(EVIL, "/")  # and a sibling's cookies, which are not ours to hide
    seen = browser.get(WIKI, "/api/headers", headers={"Accept": "application/json"})
    assert seen.status_code == 200
    cookie_seen = seen.json()["cookie"]
    assert "tossed" in cookie_seen
    assert "__Host-verifier" not in cookie_seen
