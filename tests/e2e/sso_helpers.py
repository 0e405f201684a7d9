"""A single sign-on stack (a portal and app hosts on *.localhost behind one nginx) and a
small browser for it.

Python's resolver does not map *.localhost to loopback and `requests` never sends a Secure
cookie over http, so `HostBrowser` does what Chromium does here (checked in Chromium 156,
see shared NOTES): it connects to 127.0.0.1 with the host name in the Host header, keeps
cookies per RFC 6265bis (host-only unless Domain, Path, Max-Age, the __Host- and __Secure-
prefixes, Secure accepted on http://*.localhost) and follows redirects only when told to.
Every Set-Cookie line it ever received is kept, so a test can check them all.
"""

from __future__ import annotations

import contextlib
import http.client
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests

from verifier.demo import processes
from verifier.demo.processes import ManagedProcess, NginxBinary, ProcessStartError
from verifier.demo.sso import APP_HOSTS, HOSTILE_SIBLING, PORTAL_HOST, SSO_TEMPLATE, sso_settings

WIKI, GRAFANA, ORG2 = APP_HOSTS
PORTAL = PORTAL_HOST
EVIL = HOSTILE_SIBLING
PASSWORD = "correct horse battery staple"


@dataclass
class Cookie:
    """One stored cookie."""

    name: str
    value: str
    domain: str
    host_only: bool
    path: str


@dataclass
class HostBrowser:
    """Cookies per host, requests to 127.0.0.1 with the right Host header."""

    port: int
    cookies: list[Cookie] = field(default_factory=list)
    # Every Set-Cookie line received, with the host that sent it.
    set_cookie_lines: list[tuple[str, str]] = field(default_factory=list)
    user_agent: str = "sso-e2e-browser"

    def __post_init__(self) -> None:
        self._http = requests.Session()
        self._http.trust_env = False

    def url(self, host: str, path: str) -> str:
        """The URL of `path` on `host` as a browser writes it."""
        return f"http://{host}:{self.port}{path}"

    def cookie_header(self, host: str, path: str) -> str:
        """What this browser would send to `host` for `path`."""
        sent = [
            f"{c.name}={c.value}"
            for c in sorted(self.cookies, key=lambda c: -len(c.path))
            if _domain_matches(host, c) and _path_matches(path, c.path)
        ]
        return "; ".join(sent)

    def cookie(self, host: str, name: str) -> str | None:
        """The value of a host-only cookie of `host`, if stored."""
        for c in self.cookies:
            if c.host_only and c.domain == host and c.name == name:
                return c.value
        return None

    def drop(self, host: str, name: str) -> None:
        """Forget one host-only cookie (as if it expired)."""
        self.cookies = [
            c for c in self.cookies if not (c.host_only and c.domain == host and c.name == name)
        ]

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One request, cookies sent and stored, no redirect followed."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        path = parts.path or "/"
        target = path + ("?" + parts.query if parts.query else "")
        sent = {"Host": parts.netloc, "User-Agent": self.user_agent, "Accept": "text/html"}
        cookie = self.cookie_header(host, path)
        if cookie:
            sent["Cookie"] = cookie
        sent.update(headers or {})
        response = self._http.request(
            method,
            f"http://127.0.0.1:{self.port}{target}",
            headers=sent,
            data=data,
            allow_redirects=False,
            timeout=10,
        )
        for line in response.raw.headers.getlist("Set-Cookie"):
            self.set_cookie_lines.append((host, line))
            self._store(host, path, line)
        return response

    def get(self, host: str, path: str, **kwargs: object) -> requests.Response:
        """GET `path` on `host` (no redirect followed)."""
        return self.request("GET", self.url(host, path), **kwargs)  # type: ignore[arg-type]

    def navigate(self, url: str, limit: int = 10) -> list[requests.Response]:
        """A page navigation: GET, following redirects (303/302/Refresh-less) up to `limit`."""
        chain = []
        for _ in range(limit):
            response = self.request(
                "GET", url, headers={"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none"}
            )
            chain.append(response)
            if response.status_code not in (301, 302, 303, 307, 308):
                return chain
            location = response.headers["Location"]
            if location.startswith("/"):
                parts = urlsplit(url)
                location = f"{parts.scheme}://{parts.netloc}{location}"
            url = location
        pytest.fail(f"more than {limit} redirects: {[r.headers.get('Location') for r in chain]}")

    def raw_get(self, host: str, target: str) -> tuple[int, dict[str, list[str]]]:
        """GET `target` sent byte for byte (requests would decode %2e and the like):
        the status and the headers, each name (lower case) with all its values."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", f"{host}:{self.port}")
            cookie = self.cookie_header(host, target.split("?", 1)[0])
            if cookie:
                connection.putheader("Cookie", cookie)
            connection.putheader("Sec-Fetch-Mode", "navigate")
            connection.endheaders()
            response = connection.getresponse()
            response.read()
            headers: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                headers.setdefault(name.lower(), []).append(value)
            return response.status, headers
        finally:
            connection.close()

    def sign_in_on_portal(
        self, login_page: requests.Response, user: str, password: str = PASSWORD
    ) -> list[requests.Response]:
        """Post the portal's sign-in form shown in `login_page`; follow on to the app."""
        next_path = _hidden_next(login_page.text)
        response = self.request(
            "POST",
            self.url(PORTAL, "/auth/login"),
            headers={"Origin": f"http://{PORTAL}:{self.port}", "Sec-Fetch-Site": "same-origin"},
            data={"username": user, "password": password, "next": next_path},
        )
        assert response.status_code == 303, response.text
        return [response, *self.navigate(self.url(PORTAL, response.headers["Location"]))]

    def _store(self, host: str, request_path: str, line: str) -> None:
        name_value, *attributes = [part.strip() for part in line.split(";")]
        name, _, value = name_value.partition("=")
        attrs: dict[str, str] = {}
        for attribute in attributes:
            key, _, attr_value = attribute.partition("=")
            attrs[key.lower()] = attr_value
        domain = attrs.get("domain", "").lstrip(".").lower()
        path = attrs.get("path") or _default_path(request_path)
        if domain and not (host == domain or host.endswith("." + domain)):
            return  # a cookie for a domain the host is not in: refused
        if name.startswith("__Host-") and (domain or path != "/" or "secure" not in attrs):
            return  # the prefix's rules: Secure, Path=/, no Domain
        if name.startswith("__Secure-") and "secure" not in attrs:
            return
        host_only = not domain
        key_domain = domain or host
        self.cookies = [
            c
            for c in self.cookies
            if not (c.name == name and c.domain == key_domain and c.path == path)
        ]
        if attrs.get("max-age") == "0":
            return
        self.cookies.append(Cookie(name, value, key_domain, host_only, path))


def _domain_matches(host: str, cookie: Cookie) -> bool:
    if cookie.host_only:
        return host == cookie.domain
    return host == cookie.domain or host.endswith("." + cookie.domain)


def _path_matches(path: str, cookie_path: str) -> bool:
    return path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/")


def _default_path(request_path: str) -> str:
    directory = request_path.rsplit("/", 1)[0]
    return directory or "/"


def _hidden_next(html: str) -> str:
    marker = 'name="next" value="'
    start = html.index(marker) + len(marker)
    value = html[start : html.index('"', start)]
    return value.replace("&amp;", "&")


def query_param(url: str, name: str) -> str:
    """One parameter of a URL's query."""
    return parse_qs(urlsplit(url).query)[name][0]


@dataclass
class SsoStack:
    """The portal and app hosts: the verifier, the demo app, nginx, and handles."""

    port: int
    env: dict[str, str]
    key_prefix: str
    redis: redis.Redis
    workdir: Path
    processes: dict[str, ManagedProcess]
    # The verifier itself, past nginx: for what nginx never forwards (a host not listed).
    verifier_port: int = 0

    def browser(self) -> HostBrowser:
        """A fresh browser with no cookies."""
        return HostBrowser(self.port)

    def logs(self) -> str:
        """Every log the stack wrote: nginx's access and error logs, the verifier's, the app's."""
        texts = []
        for path in sorted(self.workdir.glob("*.log")):
            texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)


@contextlib.contextmanager
def running_sso_stack(
    binary: NginxBinary, redis_url: str, settings: Mapping[str, str] | None = None
) -> Iterator[SsoStack]:
    """Start keys, the verifier with single sign-on, the demo app and nginx; stop them after."""
    workdir = Path(tempfile.mkdtemp(prefix=f"verifier-e2e-sso-{binary.label}-"))
    port = processes.free_port()
    key_prefix = f"sso-{binary.version}-{secrets.token_hex(4)}"
    env = {
        "VERIFIER_REDIS_URL": redis_url,
        "VERIFIER_KEYS_DIR": str(workdir / "keys"),
        "VERIFIER_KEY_PREFIX": key_prefix,
        "VERIFIER_ACCESS_TTL_SECONDS": "300",
        "VERIFIER_REFRESH_GRACE_SECONDS": "60",
        "VERIFIER_LOG_LEVEL": "DEBUG",
        "VERIFIER_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000",
        "VERIFIER_LIVENESS_CACHE_SECONDS": "60",
        "VERIFIER_METRICS_BIND": "off",
        **sso_settings(port),
        **(settings or {}),
    }
    started: dict[str, ManagedProcess] = {}
    try:
        processes.run_verifier_command(env, "keys", "generate", "--use", "all")
        verifier_port = processes.free_port()
        started["verifier"] = processes.start_verifier(env, verifier_port, 2, log_dir=workdir)
        app_port = processes.free_port()
        started["legacy-app"] = processes.start_legacy_app(
            app_port,
            log_dir=workdir,
            jwks_url=f"http://127.0.0.1:{verifier_port}/.well-known/jwks.json",
        )
        conf = workdir / "nginx.conf"
        conf.write_text(
            processes.render_nginx_conf(
                prefix=workdir,
                listen_port=port,
                verifier_port=verifier_port,
                app_port=app_port,
                template=SSO_TEMPLATE,
            ),
            encoding="utf-8",
        )
        started["nginx"] = processes.start_nginx(binary.path, workdir, conf, port=port)
    except (ProcessStartError, PermissionError, processes.CommandFailed) as error:
        for process in reversed(list(started.values())):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"single sign-on stack did not start: {error}", pytrace=False)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield SsoStack(port, env, key_prefix, client, workdir, started, verifier_port)
    finally:
        client.close()
        for process in reversed(list(started.values())):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
