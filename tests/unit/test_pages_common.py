"""verifier.pages.common: the login page escapes what it echoes and is an accessible form."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser

import pytest

from verifier.pages.common import (
    PAGE_SECURITY_HEADERS,
    STYLESHEET_PATH,
    forbidden_page,
    login_page,
    set_app_name,
)

XSS = "\"><script>alert(1)</script><img src=x onerror=alert(2) x='"


class Page(HTMLParser):
    """Collects every start tag and its attributes, and the text of the page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def one(self, tag: str, **match: str) -> dict[str, str | None]:
        found = [a for a in self.all(tag) if all(a.get(k) == v for k, v in match.items())]
        assert len(found) == 1, (tag, match, found)
        return found[0]


def render(**overrides: str | None) -> Page:
    values: dict[str, str | None] = {"action": "/auth/login", "next_path": "/app"}
    values.update(overrides)
    return Page(login_page(**values))  # type: ignore[arg-type]


# --- escaping -------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["action", "next_path", "user_name", "error", "notice"])
def test_user_supplied_value_is_html_escaped(field: str) -> None:
    html = login_page(**{"action": "/auth/login", "next_path": "/app", field: XSS})
    assert "<script" not in html
    assert "<img" not in html
    page = Page(html)
    assert [name for name, _ in page.tags if name in {"script", "img"}] == []
    # No attribute was injected anywhere: every tag keeps only the attributes we wrote.
    assert not any("onerror" in attrs for _, attrs in page.tags)


def test_escaped_values_read_back_unchanged() -> None:
    page = render(action=XSS, next_path=XSS, user_name=XSS)
    assert page.one("form")["action"] == XSS
    assert page.one("input", name="next")["value"] == XSS
    assert page.one("input", name="username")["value"] == XSS


def test_error_text_is_escaped_and_shown_as_an_alert() -> None:
    page = render(error=XSS)
    alert = page.one("p", role="alert")
    assert alert["id"] == "form-error"
    assert XSS in "".join(page.text)


def test_notice_text_is_escaped_and_shown_as_a_status() -> None:
    page = render(notice="You & me <b>")
    page.one("p", role="status")
    assert "You & me <b>" in "".join(page.text)
    assert page.all("b") == []


def test_single_quotes_are_escaped_too() -> None:
    html = login_page("/auth/login", "/app", user_name="o'brien")
    assert "o'brien" not in html
    assert Page(html).one("input", name="username")["value"] == "o'brien"


# --- form structure -------------------------------------------------------------------------------


def test_form_posts_to_the_action_with_the_next_path() -> None:
    page = render(action="/auth/login", next_path="/app?x=1&y=2")
    assert page.one("form") == {"method": "post", "action": "/auth/login"}
    assert page.one("input", name="next") == {
        "type": "hidden",
        "name": "next",
        "value": "/app?x=1&y=2",
    }


def test_every_visible_input_has_a_label() -> None:
    page = render()
    labelled = {attrs["for"] for attrs in page.all("label")}
    visible = [a for a in page.all("input") if a.get("type") != "hidden"]
    assert [a["id"] for a in visible] == ["username", "password"]
    assert labelled == {"username", "password"}


def test_inputs_carry_autocomplete_hints() -> None:
    page = render()
    username = page.one("input", name="username")
    password = page.one("input", name="password")
    assert username["autocomplete"] == "username"
    assert username["type"] == "text"
    assert password["autocomplete"] == "current-password"
    assert password["type"] == "password"
    assert "required" in username
    assert "required" in password


def test_password_is_never_prefilled() -> None:
    assert "value" not in render(user_name="alice").one("input", name="password")


def test_user_name_is_prefilled_after_a_failed_attempt() -> None:
    assert render(user_name="alice").one("input", name="username")["value"] == "alice"


def test_error_is_linked_to_the_form_for_screen_readers() -> None:
    assert render(error="Wrong user name or password.").one("form")["aria-describedby"] == (
        "form-error"
    )
    assert "aria-describedby" not in render().one("form")


def test_error_takes_precedence_over_notice() -> None:
    page = render(error="bad", notice="signed out")
    page.one("p", role="alert")
    assert [a for a in page.all("p") if a.get("role") == "status"] == []


def test_page_has_a_language_title_and_no_script() -> None:
    html = login_page("/auth/login", "/")
    page = Page(html)
    assert page.one("html") == {"lang": "en"}
    assert "Sign in" in page.text
    assert page.all("script") == []


# --- headers --------------------------------------------------------------------------------------


def test_security_headers_forbid_scripts_framing_and_caching() -> None:
    csp = PAGE_SECURITY_HEADERS["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split("; ")}
    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert "script-src" not in directives
    assert PAGE_SECURITY_HEADERS["X-Frame-Options"] == "DENY"
    assert PAGE_SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert PAGE_SECURITY_HEADERS["Cache-Control"] == "no-store"


def test_forbidden_page_escapes_the_user_and_the_path() -> None:
    html = forbidden_page(XSS, "/admin/" + XSS, "/auth/logout")
    assert "<script>" not in html
    page = Page(html)
    assert page.all("script") == []
    assert "".join(page.text).count(XSS) == 2


def test_forbidden_page_offers_switching_account_and_signing_out_as_posts() -> None:
    page = Page(forbidden_page("alice", "/admin/x?y=1", "/auth/logout"))
    forms = page.all("form")
    assert [form["method"] for form in forms] == ["post", "post"]
    assert [form["action"] for form in forms] == [
        "/auth/logout?next=/admin/x%3Fy%3D1",
        "/auth/logout",
    ]
    assert page.one("p", role="alert") is not None
    # No link signs anyone out: the one link is the way back to the app.
    assert page.all("a") == [{"class": "back-link", "href": "/"}]


def test_forbidden_page_for_the_apps_home_leads_back_to_the_account_instead() -> None:
    page = Page(forbidden_page("alice", "/", "/auth/logout"))
    assert page.all("a") == [{"class": "back-link", "href": "/auth/account"}]


def test_a_page_names_the_app_of_its_request_and_links_the_one_stylesheet() -> None:
    async def render() -> str:
        set_app_name("Ops & Co")
        return login_page("/auth/login", "/")

    # Each asyncio task has its own context: the name set for one request stays there.
    page = asyncio.run(render())
    assert "<title>Sign in · Ops &amp; Co</title>" in page
    assert '<header class="brand" translate="no">Ops &amp; Co</header>' in page
    assert f'<link rel="stylesheet" href="{STYLESHEET_PATH}">' in page
    assert "<style" not in page
    assert "Ops &amp; Co" not in login_page("/auth/login", "/")  # outside it: the default
