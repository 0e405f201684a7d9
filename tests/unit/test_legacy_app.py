"""The demo app's error pages: a page of the demo for browsers, JSON for API clients."""

import falcon.testing

from verifier.demo.legacy_app import create_app

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_an_unknown_path_shows_a_browser_an_html_page_of_the_demo() -> None:
    client = falcon.testing.TestClient(create_app())

    result = client.simulate_get("/no/such/<page>", headers={"Accept": BROWSER_ACCEPT})

    assert result.status_code == 404
    assert result.headers["content-type"].startswith("text/html")
    assert "<?xml" not in result.text
    assert "<h1>404 Not Found</h1>" in result.text
    assert "<code>/no/such/&lt;page&gt;</code>" in result.text  # the path, escaped
    assert '<a href="/">' in result.text


def test_an_unknown_path_gives_an_api_client_json() -> None:
    client = falcon.testing.TestClient(create_app())

    result = client.simulate_get("/api/nothing", headers={"Accept": "application/json"})

    assert result.status_code == 404
    assert result.headers["content-type"].startswith("application/json")
    assert result.json == {"title": "404 Not Found"}


def test_a_wrong_method_is_a_page_too_and_never_xml() -> None:
    client = falcon.testing.TestClient(create_app())

    result = client.simulate_delete("/public/", headers={"Accept": BROWSER_ACCEPT})

    assert result.status_code == 405
    assert result.headers["content-type"].startswith("text/html")
    assert "<h1>405 Method Not Allowed</h1>" in result.text


def test_whoami_without_assertions_lists_no_groups_as_an_empty_list() -> None:
    client = falcon.testing.TestClient(create_app())

    result = client.simulate_get("/api/whoami", headers={"X-Auth-User": "guest"})

    assert result.status_code == 200
    assert result.json["user"] == "guest"
    assert result.json["groups"] == []


def test_whoami_without_assertions_lists_the_header_groups() -> None:
    client = falcon.testing.TestClient(create_app())

    result = client.simulate_get(
        "/api/whoami", headers={"X-Auth-User": "demo", "X-Auth-Groups": "admins,ops"}
    )

    assert result.json["groups"] == ["admins", "ops"]
