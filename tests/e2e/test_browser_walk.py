"""A real Chromium, 320 px wide, walks every page of the verifier in each shipped language
(and in the pseudo language, where every catalog string is marked) and leaves each by its
way back: the sign-in page with its error and its notice; "no access"; the second step of
a sign-in (a code; a wrong recovery code; the enrolment a group demands; a recovery code
used); the account page and both of its confirmations; the authenticator app's set-up,
status, reset confirmation and "nothing to activate"; the recovery codes (none yet, a new
set, the set shown after enrolment, with the other sessions offered to end); the passkeys,
a passkey added and its removal's confirmation; the API tokens page, a token made and its
secret shown; and the step-up, with and without a factor. On a single sign-on stack, the
hand-off's pages: a host not served, a sign-in request the portal refuses, a page a host
does not serve (on the portal and on an app host), and a refused hand-off, restarting and
not restarting again.

Every page is checked as page_walk.PageChecks says (language, way back, labels, live
region, no inline script or style, visible focus, 320 px, light and dark); the pseudo walk
also fails on any text that is not in the catalog. The selectors are the pages' ids and
classes, never their words, so one walk serves every language. A failure leaves a
screenshot of the page under the test's temp dir.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from browser_helpers import NARROW, VIRTUAL_AUTHENTICATOR, launch_chromium
from e2e_helpers import new_user
from factor_helpers import ENFORCED_GROUP, RECOVERY_PATH, TOTP_PATH, Authenticator
from page_walk import PageChecks, write_pseudo_catalog
from sso_helpers import PASSWORD as SSO_PASSWORD
from sso_helpers import PORTAL, WIKI, SsoStack, running_sso_stack

from tests.parts import nginx_build, nginx_builds
from verifier.demo import processes
from verifier.demo.processes import NginxBinary
from verifier.resources.second_factor import FACTOR_PATH
from verifier.sso.config import AUTHORIZE_PATH, CALLBACK_PATH

if TYPE_CHECKING:
    from conftest import RedisServer, Stack, StackFactory
    from playwright.sync_api import Browser, BrowserContext, Page, Route

# A walk loads some 40 pages and checks each in two colour schemes: a minute or more on a
# busy machine, beside the stack it may start.
pytestmark = [pytest.mark.browser, pytest.mark.one_nginx, pytest.mark.timeout(360)]

ACCOUNT = "/auth/account"
PASSKEYS = "/auth/account/passkeys"
TOKENS = "/auth/account/tokens"
LOGIN = "/auth/login"
# Browsers' Accept-Language for each language walked: a regional variant, as browsers send.
BROWSER_LOCALES = {"en": "en-US", "de": "de-DE", "fr": "fr-FR"}
# Where a signed-out visitor lands on the portal when a way back leads to the account.
PORTAL_SIGN_IN = f"{LOGIN}?next={ACCOUNT}"
# The shape of a hand-off code (256 bits, base64url), never issued.
UNISSUED_CODE = "A" * 43
# A name under the portal's parent domain that the portal does not list.
UNLISTED_HOST = "unlisted.corp.localhost"
SSO_PAGES = 6


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, as in test_browser.py."""
    yield from launch_chromium()


@pytest.fixture
def pseudo_locale_dir() -> Iterator[Path]:
    """A directory of catalogs whose "en" is the pseudo language (page_walk)."""
    locale_dir = Path(tempfile.mkdtemp(prefix="verifier-pseudo-"))
    try:
        write_pseudo_catalog(locale_dir)
        yield locale_dir
    finally:
        shutil.rmtree(locale_dir, ignore_errors=True)


def _navigating(page: Page, act: Callable[[], object]) -> None:
    with page.expect_navigation():
        act()


def _sign_in(page: Page, name: str, password: str) -> None:
    page.fill("#username", name)
    page.fill("#password", password)
    _navigating(page, lambda: page.click("main form button[type=submit]"))


def _log_out(page: Page, stack: Stack) -> None:
    page.goto(stack.localhost_url("/"))
    _navigating(page, lambda: page.click('form[action="/auth/logout"] button'))


def _back(page: Page, checks: PageChecks, name: str, expect: str) -> None:
    """Check the page, leave it by its way back, and land where `expect` says."""
    href = checks.check(page, name)
    assert href is not None, checks.problems
    _navigating(page, lambda: page.click(f'a.back-link[href="{href}"], a.continue[href="{href}"]'))
    assert page.url.split("#")[0].endswith(expect), (name, page.url, expect)


def _walk(stack: Stack, context: BrowserContext, page: Page, checks: PageChecks) -> None:
    url = stack.localhost_url
    guest, guest_password = new_user(stack, "walk-guest")
    enforced, enforced_password = new_user(stack, "walk-enforced")
    assert stack.cli("users", "groups", enforced, "--add", ENFORCED_GROUP).returncode == 0
    name, password = new_user(stack, "walk")

    # The sign-in page: where every way back ends, with none of its own.
    page.goto(url("/"))
    checks.check(page, "sign-in", way_back=False)
    page.fill("#username", guest)
    page.fill("#password", "not the password")
    _navigating(page, lambda: page.click("main form button[type=submit]"))
    checks.check(page, "sign-in with an error", way_back=False)
    _sign_in(page, guest, guest_password)
    page.goto(url("/admin/"))
    _back(page, checks, "no access", "/")
    _log_out(page, stack)
    checks.check(page, "signed out", way_back=False)

    # A member of a group that demands a second factor, at its enrolment: Cancel sign-in.
    _sign_in(page, enforced, enforced_password)
    _back(page, checks, "enrolment during sign-in", LOGIN)

    # The account page and its confirmations, with a second session of the same user.
    stack.login(name, password)
    _sign_in(page, name, password)
    page.goto(url(ACCOUNT))
    checks.check(page, "account")
    _navigating(page, lambda: page.click("ul.sessions li:not(.this-device) form button"))
    _back(page, checks, "end one session?", ACCOUNT)
    _navigating(page, lambda: page.click('form:has(input[value="end_others"]) button'))
    _back(page, checks, "end all other sessions?", ACCOUNT)
    page.goto(url(RECOVERY_PATH))
    _back(page, checks, "recovery codes before any factor", ACCOUNT)
    page.goto(url(PASSKEYS))
    _back(page, checks, "passkeys, none yet", ACCOUNT)

    # The step-up of an admin without a factor.
    assert stack.cli("users", "groups", name, "--add", "admins").returncode == 0
    page.goto(url("/admin/"))
    _back(page, checks, "step-up without a factor", "/")

    # The authenticator app: set up in a second tab while the first still shows the form.
    page.goto(url(ACCOUNT))
    _navigating(page, lambda: page.click("#factor-totp a"))
    checks.check(page, "enrolment on the account")
    app = Authenticator(page.locator("#totp-secret").inner_text().replace(" ", ""))
    second = context.new_page()
    checks.watch(second)
    second.goto(url(TOTP_PATH))
    second.fill("#code", app.code())
    _navigating(second, lambda: second.click("main form button[type=submit]"))
    recovery_codes = second.locator("#recovery-codes li").all_inner_texts()
    assert len(recovery_codes) == 10
    assert second.locator("section.offer ul.brief li").count() == 1  # the other session
    _back(second, checks, "recovery codes after enrolment", TOTP_PATH)
    second.close()
    page.fill("#code", "123456")
    _navigating(page, lambda: page.click("main form button[type=submit]"))
    _back(page, checks, "nothing to activate", TOTP_PATH)
    checks.check(page, "authenticator app on")
    _navigating(page, lambda: page.click('form:has(input[value="reset"]) button'))
    checks.check(page, "reset the authenticator app?")
    page.fill("#current_code", app.wrong_code())
    _navigating(page, lambda: page.click("main form button[type=submit]"))
    _back(page, checks, "reset with a wrong code", ACCOUNT)
    page.goto(url(RECOVERY_PATH))
    _back(page, checks, "a new set of recovery codes", ACCOUNT)
    page.goto(url("/admin/"))
    checks.check(page, "step-up")
    page.fill("#code", app.wrong_code())
    _navigating(page, lambda: page.click("main form button[type=submit]"))
    _back(page, checks, "step-up with a wrong code", "/")

    # The second step of a sign-in: a wrong recovery code, Cancel, then a right one.
    _log_out(page, stack)
    _sign_in(page, name, password)
    checks.check(page, "second step")
    page.click("details summary")
    page.fill("#recovery_code", "wrong-wrong")
    _navigating(page, lambda: page.click("details form button[type=submit]"))
    _back(page, checks, "second step with a wrong recovery code", LOGIN)
    _sign_in(page, name, password)
    page.click("details summary")
    page.fill("#recovery_code", recovery_codes[0])
    _navigating(page, lambda: page.click("details form button[type=submit]"))
    _back(page, checks, "signed in with a recovery code", "/")

    # Passkeys: one added, then its removal asked and cancelled.
    page.goto(url(PASSKEYS))
    checks.check(page, "passkeys, before adding one")
    page.fill("#passkey-name", "Laptop")
    _navigating(page, lambda: page.click(".passkey-create button[type=button]"))
    assert page.locator("#passkeys li").count() == 1
    checks.check(page, "passkeys, one added")
    _navigating(page, lambda: page.click("#passkeys form button"))
    checks.check(page, "remove this passkey?")
    _navigating(page, lambda: page.click("a.button-link"))
    assert page.url.endswith(PASSKEYS)
    assert page.locator("#passkeys li").count() == 1

    # API tokens (signed in a moment ago, so making one asks for nothing more): the empty
    # list, one made and its secret shown once, the list with it.
    page.goto(url(TOKENS))
    checks.check(page, "API tokens, none yet")
    page.fill("#token-name", "walk")
    _navigating(page, lambda: page.click('form[aria-labelledby="create-heading"] button'))
    _back(page, checks, "a new API token", TOKENS)
    assert page.locator("#tokens li").count() == 1
    _back(page, checks, "API tokens, one made", ACCOUNT)


def _answered_without(route: Route, header: str) -> None:
    """Let the verifier answer, and hand the browser its answer minus one header.

    Playwright fetches it itself, and its resolver does not map *.localhost to loopback as
    browsers do: the request goes to nginx on 127.0.0.1 with the host name as Host.
    """
    address = urlsplit(route.request.url)
    loopback = address._replace(netloc=f"127.0.0.1:{address.port}").geturl()
    headers = {**route.request.headers, "host": address.netloc}
    response = route.fetch(url=loopback, headers=headers, max_redirects=0)
    kept = {name: value for name, value in response.headers.items() if name != header}
    route.fulfill(response=response, headers=kept)


def _sso_walk(stack: SsoStack, page: Page, checks: PageChecks, user: str) -> None:
    def url(host: str, path: str) -> str:
        return f"http://{host}:{stack.port}{path}"

    # Signed out. A host the portal does not list: nginx's first server refuses every name
    # it does not list, so the verifier's own answer (for a proxy that forwards anything) is
    # reached past nginx. Its way back is the portal.
    page.goto(f"http://{UNLISTED_HOST}:{stack.verifier_port}{LOGIN}")
    _back(page, checks, "a host not served", PORTAL_SIGN_IN)
    page.goto(url(PORTAL, f"{AUTHORIZE_PATH}?host={UNLISTED_HOST}&challenge={UNISSUED_CODE}"))
    _back(page, checks, "a sign-in request the portal refuses", PORTAL_SIGN_IN)
    page.goto(url(PORTAL, f"{CALLBACK_PATH}?code={UNISSUED_CODE}"))
    _back(page, checks, "the callback asked of the portal", PORTAL_SIGN_IN)
    _sign_in(page, user, SSO_PASSWORD)
    assert page.url.endswith(ACCOUNT), page.url

    # Signed in on the portal: each way back on an app host ends there, handed off.
    page.goto(url(WIKI, FACTOR_PATH))
    _back(page, checks, "a portal's form asked of an app host", "/")

    # A refused hand-off restarts by itself (a Refresh header, followed at once): the
    # header held back, the page stays on screen to be checked and left by its link.
    callback = url(WIKI, f"{CALLBACK_PATH}?code={UNISSUED_CODE}")

    def hold(route: Route) -> None:
        _answered_without(route, "refresh")

    page.route(callback, hold)
    page.goto(callback)
    page.unroute(callback, hold)
    assert page.locator("main p[role=status]").count() == 1  # "signing you in again"
    _back(page, checks, "a refused hand-off, restarting", "/")

    # A browser that cannot keep the state cookie: its restart fails too, and the page then
    # offers a link, never another restart.
    restart = re.compile(r".*/auth/login\?.*sso_restart=1.*")

    def lose_state(route: Route) -> None:
        _answered_without(route, "set-cookie")

    page.route(restart, lose_state)
    page.goto(callback, wait_until="commit")
    page.wait_for_url(lambda seen: CALLBACK_PATH in seen and UNISSUED_CODE not in seen)
    page.unroute(restart, lose_state)
    assert checks.last_response is not None and "refresh" not in checks.last_response.headers
    assert page.locator("main p[role=alert]").count() == 1  # "expired, used, or not yours"
    _back(page, checks, "a refused hand-off, not restarted again", "/")


def _walk_in(
    browser: Browser,
    language: str,
    tmp_path: Path,
    pseudo: bool,
    walk: Callable[[BrowserContext, Page, PageChecks], None],
) -> list[str]:
    """Walk in a fresh 320 px browser in `language`; return the pages checked."""
    context = browser.new_context(viewport=NARROW, locale=BROWSER_LOCALES[language])
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    checks = PageChecks(language, pseudo=pseudo)
    checks.watch(page)
    try:
        walk(context, page, checks)
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
    assert checks.problems == [], "\n".join(checks.problems)
    return checks.checked


def _walk_verifier(
    browser: Browser, stack: Stack, language: str, tmp_path: Path, pseudo: bool
) -> None:
    checked = _walk_in(
        browser,
        language,
        tmp_path,
        pseudo,
        lambda context, page, checks: _walk(stack, context, page, checks),
    )
    assert len(checked) >= 25, checked


def _walk_sso(
    browser: Browser, stack: SsoStack, language: str, tmp_path: Path, pseudo: bool
) -> None:
    user = f"sso-walk-{language}{'-pseudo' if pseudo else ''}"
    processes.add_user(stack.env, user, SSO_PASSWORD)
    checked = _walk_in(
        browser,
        language,
        tmp_path,
        pseudo,
        lambda _context, page, checks: _sso_walk(stack, page, checks, user),
    )
    assert len(checked) == SSO_PAGES, checked


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_every_page_in_each_language_has_a_way_back_and_passes_the_checks(
    stack: Stack, chromium: Browser, language: str, tmp_path: Path
) -> None:
    _walk_verifier(chromium, stack, language, tmp_path, pseudo=False)


def test_every_page_shows_only_strings_from_the_catalog(
    fresh_stack: StackFactory, pseudo_locale_dir: Path, chromium: Browser, tmp_path: Path
) -> None:
    stack = fresh_stack(VERIFIER_LOCALE_DIR=str(pseudo_locale_dir))
    _walk_verifier(chromium, stack, "en", tmp_path, pseudo=True)


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_every_single_sign_on_page_in_each_language_has_a_way_back_and_passes_the_checks(
    sso_stack: SsoStack, chromium: Browser, language: str, tmp_path: Path
) -> None:
    _walk_sso(chromium, sso_stack, language, tmp_path, pseudo=False)


# A stack of its own (its catalogs are the pseudo language's), on each nginx build like
# `sso_stack` (the first only: one_nginx).
@pytest.mark.parametrize("nginx", nginx_builds())
def test_every_single_sign_on_page_shows_only_strings_from_the_catalog(
    nginx: NginxBinary | str,
    redis_server: RedisServer,
    pseudo_locale_dir: Path,
    chromium: Browser,
    tmp_path: Path,
) -> None:
    settings = {"VERIFIER_LOCALE_DIR": str(pseudo_locale_dir)}
    with running_sso_stack(nginx_build(nginx), redis_server.url, settings) as stack:
        _walk_sso(chromium, stack, "en", tmp_path, pseudo=True)
