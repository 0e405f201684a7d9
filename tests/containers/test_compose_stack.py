"""The docker-compose demo stack, built and run for real and used as a person would use it.

One compose project for the whole module (conftest.py): `docker-compose up -d` of the
unchanged docker-compose.yml builds the image and starts the stack; the tests then sign in,
browse, restart and stop services, and finish with `down -v`. They run in the order written,
each leaving the stack as the next one expects (a scenario, like a user's session).
`make test-containers` runs them (marker `containers`, outside `make test`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from build_certificates import body_lines
from compose_stack import ComposeStack, image_env, printed_passwords, wait_for
from conftest import LONG_RUNNING

pytestmark = [pytest.mark.containers, pytest.mark.timeout(900)]

ACCESS_COOKIE = "verifier-access"
REFRESH_COOKIE = "verifier-refresh"
SERVICE_UID = "10001"
# Per request: the stack runs in containers on a machine other suites may share, and a
# request given up on while the verifier still rotates leaves the client with a spent token
# (its later checks would fail for that, not for what they test). A bound, not a figure.
TIMEOUT = 30
PAGE_HEADERS = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
# Enough requests that nginx asks every DNS server it was given at least once.
RESOLVE_ROUNDS = 12


def sign_in(stack: ComposeStack, name: str, password: str) -> requests.Session:
    """A browser-like session signed in with the JSON API through nginx."""
    session = requests.Session()
    response = session.post(
        stack.url("/auth/login"),
        json={"username": name, "password": password},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert {ACCESS_COOKIE, REFRESH_COOKIE} <= set(session.cookies.keys())
    return session


def whoami(stack: ComposeStack, session: requests.Session) -> requests.Response:
    return session.get(
        stack.url("/api/whoami"),
        headers={"Accept": "application/json"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def refresh_only(session: requests.Session) -> requests.Session:
    """The same session with its access cookie dropped: the next check must ask Redis."""
    session.cookies.clear(domain="127.0.0.1", path="/", name=ACCESS_COOKIE)
    return session


@pytest.fixture(scope="module")
def guest(stack: ComposeStack, passwords: dict[str, str]) -> requests.Session:
    return sign_in(stack, "guest", passwords["guest"])


def test_up_alone_builds_the_image_and_brings_every_service_up_healthy(
    stack: ComposeStack,
) -> None:
    for service in LONG_RUNNING:
        assert stack.health(service) == "healthy", service
    # init ran to its end, successfully, before the verifier started.
    assert stack.inspect("init", "{{.State.Status}} {{.State.ExitCode}}") == "exited 0"


def test_first_up_prints_both_demo_users_with_a_password_each(
    passwords: dict[str, str],
) -> None:
    assert set(passwords) == {"demo", "guest"}
    assert all(len(password) >= 16 for password in passwords.values()), passwords


def test_nginx_asks_only_the_engines_dns_which_knows_the_services(stack: ComposeStack) -> None:
    rendered = stack.compose("exec", "-T", "nginx", "cat", "/etc/nginx/conf.d/default.conf")
    resolv = stack.compose("exec", "-T", "nginx", "cat", "/etc/resolv.conf").stdout
    nameservers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    resolvers = [
        line.split()[1:] for line in rendered.stdout.splitlines() if line.startswith("resolver ")
    ]
    # Podman lists the host's servers after its own here; nginx would ask them by turns.
    assert resolvers == [[nameservers[0], "ipv6=off", "valid=10s;"]], (resolvers, resolv)
    for _ in range(RESOLVE_ROUNDS):
        assert requests.get(stack.url("/public/"), timeout=TIMEOUT).status_code == 200
        anonymous = requests.get(
            stack.url("/"), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
        )
        assert anonymous.status_code == 302


def test_a_page_without_a_session_redirects_to_the_sign_in_page(stack: ComposeStack) -> None:
    response = requests.get(
        stack.url("/reports/?year=2024"),
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"


def test_json_sign_in_opens_the_protected_page(
    stack: ComposeStack, passwords: dict[str, str]
) -> None:
    session = sign_in(stack, "demo", passwords["demo"])

    page = session.get(stack.url("/"), allow_redirects=False, timeout=TIMEOUT)

    assert page.status_code == 200
    assert '<strong id="user">demo</strong>' in page.text


def test_whoami_shows_the_identity_the_app_verified(
    stack: ComposeStack, guest: requests.Session
) -> None:
    response = whoami(stack, guest)

    assert response.status_code == 200, response.text
    identity = response.json()
    assert identity["user"] == "guest"
    # From the signed X-Auth-Assertion, checked against nginx's JWKS by the app.
    assert identity["verified"] is True


def test_the_admin_area_answers_403_to_guest(stack: ComposeStack, guest: requests.Session) -> None:
    response = guest.get(
        stack.url("/admin/"), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 403


def test_the_verifier_and_the_app_run_every_process_as_uid_10001(stack: ComposeStack) -> None:
    for service in ("verifier", "app"):
        listing = stack.podman("top", stack.container(service), "huser").stdout.split()
        # A header line, then one user per process (the gunicorn master and its workers).
        users = listing[1:]
        assert len(users) >= 2, listing
        assert set(users) == {SERVICE_UID}, (service, listing)


def test_the_image_holds_no_installer_compiler_or_build_argument(
    stack: ComposeStack, marker_ca: str
) -> None:
    image = stack.image("verifier")
    probe = stack.podman(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        image,
        "-c",
        # Each line prints a finding; silence means none.
        "for module in pip setuptools wheel pkg_resources; do"
        "  for python in python /usr/local/bin/python3; do"
        '    $python -c "import $module" 2>/dev/null && echo "$python imports $module";'
        "  done;"
        " done;"
        " for tool in pip pip3 gcc cc; do command -v $tool; done;"
        " ls /tmp/build-ca.pem 2>/dev/null; true",
    )
    assert probe.stdout.strip() == "", probe.stdout

    history = stack.podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    inspected = stack.podman("image", "inspect", image).stdout
    for line in body_lines(marker_ca):
        assert line not in history
        assert line not in inspected
    assert "CA_CERTIFICATES" not in history
    variables = {entry.split("=", 1)[0] for entry in image_env(stack, image)}
    assert not variables & {"PIP_CERT", "SSL_CERT_FILE", "UV_DEFAULT_INDEX", "PIP_INDEX_URL"}


def test_a_session_survives_a_restart_of_the_verifier_and_of_redis(
    stack: ComposeStack, guest: requests.Session
) -> None:
    stack.compose("restart", "verifier", "redis")
    stack.wait_healthy("redis", "verifier", "nginx")

    # Without its access cookie, the session must be found in Redis's append-only file.
    response = whoami(stack, refresh_only(guest))

    assert response.status_code == 200, response.text
    assert response.json()["user"] == "guest"
    assert ACCESS_COOKIE in guest.cookies


def test_a_stopped_verifier_gives_503_not_a_sign_out_and_nginx_turns_unhealthy(
    stack: ComposeStack, guest: requests.Session
) -> None:
    stack.compose("stop", "verifier")
    try:
        refused = guest.get(
            stack.url("/"), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
        )
        # nginx's health check goes through the verifier: without it, nginx is not healthy.
        stack.wait_unhealthy("nginx")
    finally:
        stack.compose("start", "verifier")
    stack.wait_healthy("verifier", "nginx")

    assert refused.status_code == 503, refused.text
    assert "Set-Cookie" not in refused.headers
    assert whoami(stack, guest).status_code == 200


def test_a_second_up_keeps_the_keys_the_users_and_the_sessions(
    stack: ComposeStack, passwords: dict[str, str], guest: requests.Session
) -> None:
    keys_before = stack.compose("exec", "-T", "verifier", "verifier", "keys", "list").stdout
    previous_log = stack.logs("init")

    stack.compose("up", "--detach")
    wait_for(
        "init to run again",
        lambda: True if len(stack.logs("init")) > len(previous_log) else None,
    )
    stack.wait_healthy(*LONG_RUNNING)

    second_run = stack.logs("init")[len(previous_log) :]
    assert "user demo kept" in second_run and "user guest kept" in second_run, second_run
    assert printed_passwords(second_run) == {}, "passwords printed twice"
    keys_after = stack.compose("exec", "-T", "verifier", "verifier", "keys", "list").stdout
    assert keys_after == keys_before
    assert whoami(stack, guest).status_code == 200
    sign_in(stack, "demo", passwords["demo"])


def test_down_v_leaves_no_container_volume_or_network(stack: ComposeStack) -> None:
    stack.compose("down", "--volumes", "--timeout", "10")

    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
