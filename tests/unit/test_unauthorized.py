"""verifier.resources.unauthorized.is_page_navigation: browser page loads versus API calls."""

from __future__ import annotations

import falcon.testing
import pytest

from verifier.resources.unauthorized import is_page_navigation

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def navigation(**headers: str) -> bool:
    return is_page_navigation(falcon.testing.create_asgi_req(headers=headers))


def test_browser_page_load_is_a_navigation() -> None:
    assert navigation(**{"Sec-Fetch-Mode": "navigate", "Accept": BROWSER_ACCEPT})


def test_request_without_hints_is_treated_as_a_navigation() -> None:
    # Old browsers and plain links: the redirect to the login page is the useful answer.
    assert navigation()
    assert navigation(Accept="*/*")


@pytest.mark.parametrize("mode", ["cors", "no-cors", "same-origin", "websocket", ""])
def test_fetch_that_is_not_a_navigation_is_an_api_call(mode: str) -> None:
    assert not navigation(**{"Sec-Fetch-Mode": mode, "Accept": BROWSER_ACCEPT})


def test_navigate_mode_is_matched_case_insensitively() -> None:
    assert navigation(**{"Sec-Fetch-Mode": "Navigate"})


@pytest.mark.parametrize("value", ["XMLHttpRequest", "xmlhttprequest"])
def test_xhr_marker_makes_an_api_call(value: str) -> None:
    assert not navigation(**{"X-Requested-With": value, "Accept": BROWSER_ACCEPT})


def test_json_only_accept_makes_an_api_call() -> None:
    assert not navigation(Accept="application/json")
    assert not navigation(Accept="Application/JSON, */*;q=0.1")


def test_accept_listing_html_and_json_is_a_navigation() -> None:
    assert navigation(Accept="text/html, application/json")
