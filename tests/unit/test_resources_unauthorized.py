"""verifier.resources.unauthorized: browser page loads versus API calls, and step-up answers."""

from __future__ import annotations

import falcon.asgi
import falcon.testing
import pytest

from verifier.resources.unauthorized import STEP_UP_HEADER, Unauthorized, is_page_navigation

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


def _client() -> falcon.testing.TestClient:
    app = falcon.asgi.App()
    app.add_route("/auth/unauthorized", Unauthorized("/auth/login"))
    return falcon.testing.TestClient(app)


def _ask(step: str | None, uri: str = "/admin/x?y=1", **headers: str) -> falcon.testing.Result:
    sent = {"X-Original-URI": uri, **headers}
    if step is not None:
        sent[STEP_UP_HEADER] = step
    return _client().simulate_get("/auth/unauthorized", headers=sent)


@pytest.mark.parametrize("step", ["mfa", "max_age"])
def test_a_browser_needing_a_step_up_is_sent_to_that_step_and_back(step: str) -> None:
    result = _ask(step, **{"Sec-Fetch-Mode": "navigate", "Accept": BROWSER_ACCEPT})
    assert result.status_code == 302
    assert result.headers["location"] == f"/auth/login?step_up={step}&next=/admin/x%3Fy%3D1"
    assert result.headers["cache-control"] == "no-store"


def test_an_api_call_needing_a_step_up_gets_401_json_naming_the_step_up_url() -> None:
    result = _ask("mfa", Accept="application/json")
    assert result.status_code == 401
    url = "/auth/login?step_up=mfa&next=/admin/x%3Fy%3D1"
    assert result.json == {"error": "step_up_required", "step_up": url, "login_url": url}


def test_a_step_up_to_the_front_page_names_no_next() -> None:
    result = _ask("mfa", uri="/", Accept="application/json")
    assert result.json["step_up"] == "/auth/login?step_up=mfa"


@pytest.mark.parametrize("step", ["", "MFA", "otp", "mfa,max_age", "max_age=5", "mfa\u00e9"])
def test_an_unknown_step_header_is_a_plain_sign_in(step: str) -> None:
    result = _ask(step, Accept="application/json")
    assert result.status_code == 401
    assert result.json == {
        "error": "unauthenticated",
        "login_url": "/auth/login?next=/admin/x%3Fy%3D1",
    }
    page = _ask(step, Accept=BROWSER_ACCEPT)
    assert page.headers["location"] == "/auth/login?next=/admin/x%3Fy%3D1"


def test_without_a_step_header_the_answer_is_as_before() -> None:
    assert _ask(None, Accept="application/json").json == {
        "error": "unauthenticated",
        "login_url": "/auth/login?next=/admin/x%3Fy%3D1",
    }


def test_a_step_up_keeps_the_safe_next_rule() -> None:
    result = _ask("mfa", uri="//evil.example/x", Accept="application/json")
    assert result.json["step_up"] == "/auth/login?step_up=mfa"
