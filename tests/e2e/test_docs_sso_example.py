"""docs/sso.md's nginx example, as written, over TLS: a sign-in on the portal handed to an
app host and to another root domain, and an unlisted name refused at the handshake.

Only what test_docs_examples localizes changes (ports, certificate and log paths): the
verifier runs with the page's own VERIFIER_SSO_* lines, its portal URL given the local port.
Every request is made to 127.0.0.1 with the host's name as TLS SNI and Host, as a browser
resolving those names there would.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from test_docs_examples import (
    NGINX_BINARIES,
    ROOT,
    SSO_EXAMPLE_MARK,
    Example,
    Install,
    examples,
    fenced_blocks,
    install,  # noqa: F401 (the fixture)
    nginx_conf,
    nginx_test,
)

from verifier.demo import processes

PAGE = ROOT / "docs" / "sso.md"
PASSWORD = "a long password"


def _sso_example() -> Example:
    (block,) = [b for b in examples("nginx") if SSO_EXAMPLE_MARK in b.text]
    assert block.path == PAGE
    return block


def _page_settings(port: int) -> dict[str, str]:
    # The page's VERIFIER_SSO_* lines, as written; the portal URL gets the local port.
    (text,) = [b.text for b in fenced_blocks(PAGE) if "VERIFIER_SSO_PORTAL_URL=" in b.text]
    settings = dict(line.split("=", 1) for line in text.splitlines() if line.strip())
    settings["VERIFIER_SSO_PORTAL_URL"] += f":{port}"
    return settings


@dataclass
class TlsBrowser:
    """Cookies per host (host-only: ours never carry Domain) over TLS with SNI."""

    port: int
    jar: dict[str, dict[str, str]] = field(default_factory=dict)

    def request(
        self, method: str, url: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        """One request, no redirect followed; cookies sent and kept."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        connection = http.client.HTTPConnection(host, self.port, timeout=10)
        connection.sock = context.wrap_socket(raw, server_hostname=host)
        sent = {"Host": parts.netloc, "Sec-Fetch-Mode": "navigate", **(headers or {})}
        cookies = self.jar.get(host, {})
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        target = parts.path + ("?" + parts.query if parts.query else "")
        connection.request(method, target, body=body, headers=sent)
        response = connection.getresponse()
        response.read()
        connection.close()
        for line in response.headers.get_all("Set-Cookie") or []:
            assert "domain=" not in line.lower()
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in line:
                cookies.pop(name, None)
            else:
                cookies[name] = value
        self.jar[host] = cookies
        return response

    def follow(self, url: str) -> tuple[str, http.client.HTTPResponse]:
        """GET, following redirects: the last URL and its answer."""
        for _ in range(8):
            response = self.request("GET", url)
            if response.status not in (302, 303):
                return url, response
            location = response.headers["Location"]
            parts = urlsplit(url)
            url = location if "://" in location else f"https://{parts.netloc}{location}"
        pytest.fail("too many redirects")


@pytest.fixture
def served(install: Install) -> Iterator[Install]:  # noqa: F811 (the fixture)
    """The example in front of a verifier with the page's settings and the demo app."""
    env = {
        "VERIFIER_REDIS_URL": install.redis_url,
        "VERIFIER_KEYS_DIR": str(install.root / "keys"),
        "VERIFIER_METRICS_BIND": "off",
        **_page_settings(install.nginx_port),
    }
    started: list[processes.ManagedProcess] = []
    try:
        processes.run_verifier_command(env, "keys", "generate", "--use", "all")
        processes.add_user(env, "alice", PASSWORD)
        started.append(
            processes.start_verifier(env, install.verifier_port, 1, log_dir=install.root)
        )
        started.append(processes.start_legacy_app(install.app_port, log_dir=install.root))
        binary = NGINX_BINARIES[0]
        conf = nginx_conf(install, _sso_example().text)
        result = nginx_test(binary, install, conf)
        assert result.returncode == 0, result.stderr
        started.append(
            processes.start_nginx(
                binary.path,
                install.root / "nginx",
                install.root / "nginx" / "nginx.conf",
                port=install.nginx_port,
            )
        )
        yield install
    finally:
        for process in reversed(started):
            process.stop()


def test_the_sso_example_hands_one_sign_in_to_each_host_over_tls(served: Install) -> None:
    port = served.nginx_port
    browser = TlsBrowser(port)
    landed, page = browser.follow(f"https://wiki.corp.example:{port}/api/headers")
    assert landed.startswith(f"https://auth.corp.example:{port}/auth/login?next=")
    assert page.status == 200
    next_path = parse_qs(urlsplit(landed).query)["next"][0]
    form = urlencode({"username": "alice", "password": PASSWORD, "next": next_path})
    signed_in = browser.request(
        "POST",
        f"https://auth.corp.example:{port}/auth/login",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert signed_in.status == 303
    landed, page = browser.follow(
        f"https://auth.corp.example:{port}{signed_in.headers['Location']}"
    )
    assert landed == f"https://wiki.corp.example:{port}/api/headers"
    assert page.status == 200
    # Another root domain: no password asked.
    landed, page = browser.follow(f"https://app.example.org:{port}/api/headers")
    assert landed == f"https://app.example.org:{port}/api/headers"
    assert page.status == 200
    # The code never reached the example's log.
    log = (served.root / "nginx" / "example-access.log").read_text()
    assert "/auth/sso/callback" in log and "code=" not in log


def test_the_sso_example_refuses_unlisted_names_at_the_handshake(served: Install) -> None:
    with pytest.raises(ssl.SSLError):
        TlsBrowser(served.nginx_port).request(
            "GET", f"https://evil.corp.example:{served.nginx_port}/"
        )
