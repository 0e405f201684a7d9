"""The pages' one stylesheet and the app's name, through nginx: no inline style anywhere."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import TIMEOUT

if TYPE_CHECKING:
    from conftest import Stack, StackFactory

pytestmark = pytest.mark.one_nginx

STYLESHEET = "/auth/static/verifier.css"
PAGES = ["/auth/login", "/auth/login?step_up=mfa&next=/", "/auth/login/factor"]


def _csp(response: requests.Response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in policy.split(";")
        if part.strip()
    }


@pytest.mark.parametrize("path", PAGES)
def test_every_page_links_the_stylesheet_and_allows_no_inline_style(
    stack: Stack, path: str
) -> None:
    page = requests.get(stack.url(path), timeout=TIMEOUT, allow_redirects=True)

    assert page.headers["Content-Type"].startswith("text/html")
    assert f'<link rel="stylesheet" href="{STYLESHEET}">' in page.text
    assert "<style" not in page.text
    assert not re.search(r"\sstyle=", page.text)
    assert _csp(page)["style-src"] == "'self'"
    assert _csp(page)["default-src"] == "'none'"


def test_the_stylesheet_is_served_by_the_verifier_as_css(stack: Stack) -> None:
    sheet = requests.get(stack.url(STYLESHEET), timeout=TIMEOUT)

    assert sheet.status_code == 200
    assert sheet.headers["Content-Type"] == "text/css; charset=utf-8"
    assert sheet.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=" in sheet.headers["Cache-Control"]
    assert ":focus-visible" in sheet.text  # keyboard focus is always shown


def test_the_app_name_heads_every_page_escaped(fresh_stack: StackFactory) -> None:
    stack = fresh_stack(VERIFIER_APP_NAME="Acme <Intranet>")

    page = requests.get(stack.url("/auth/login"), timeout=TIMEOUT)

    assert "<title>Sign in · Acme &lt;Intranet&gt;</title>" in page.text
    assert '<header class="brand" translate="no">Acme &lt;Intranet&gt;</header>' in page.text
    assert "Acme <Intranet>" not in page.text
