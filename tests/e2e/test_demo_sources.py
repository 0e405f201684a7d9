"""`make demo SOURCES=ldap,oidc` as a user runs it: the demo starts the tests' slapd and
OpenID Provider beside its stack and prints their users; each printed LDAP password signs in
through nginx, each printed provider login signs in through the provider's pages, and Ctrl-C
stops slapd and the provider with the rest.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import requests
from conftest import Stack
from e2e_helpers import TIMEOUT
from oidc_fixtures import callback_url, sign_in_at_provider
from test_demo_sso import Demo

from tests.parts import require
from verifier.demo import processes
from verifier.demo.provider import PROVIDER_ID

ROOT = Path(__file__).resolve().parents[2]
_LDAP_USER = re.compile(r"user name\s+(alice|bob)\s+password\s+(\S+)\s+groups\s+(\S+)")
_PROVIDER_LOGIN = re.compile(r"login\s+(\S+)\s+password\s+\(any")
_LOGS = re.compile(r"^Logs:\s+(\S+)$", re.MULTILINE)
_PROVIDER = re.compile(r"oidc-provider at (http://\S+),")


class _Site:
    """The demo's address, as the provider helpers want a stack's."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://localhost:{port}"


@pytest.fixture
def demo() -> Iterator[Demo]:
    require("redis-server")
    require("slapd")
    require("openid-provider")
    if not processes.available_nginx_binaries():
        require("nginx")
    running = Demo(processes.free_port(), ("--sources", "ldap,oidc"))
    try:
        yield running
    finally:
        running.stop()


def _headers(client: requests.Session, site: _Site) -> requests.Response:
    return client.get(f"{site.base_url}/api/headers", allow_redirects=False, timeout=TIMEOUT)


def test_the_sources_demo_signs_in_each_printed_user_through_its_source(demo: Demo) -> None:
    welcome = demo.wait_for_welcome()
    site = _Site(demo.port)
    ldap_users = _LDAP_USER.findall(welcome)
    logins = _PROVIDER_LOGIN.findall(welcome)
    provider = _PROVIDER.search(welcome)
    workdir = _LOGS.search(welcome)
    assert len(ldap_users) == 2 and logins == ["olivia", "oscar"], welcome
    assert provider is not None and workdir is not None, welcome

    for name, password, group in ldap_users:
        client = requests.Session()
        signed_in = client.post(
            f"{site.base_url}/auth/login",
            json={"username": name, "password": password},
            timeout=TIMEOUT,
        )
        assert signed_in.status_code == 200, signed_in.text
        seen = _headers(client, site)
        assert seen.status_code == 200 and seen.json()["x-auth-user"] == name
        assert group in seen.json()["x-auth-groups"].split(","), seen.json()

    for login in logins:
        client = requests.Session()
        redirect = sign_in_at_provider(
            client, cast(Stack, site), login, "/api/headers", PROVIDER_ID
        )
        back = client.get(callback_url(redirect), allow_redirects=False, timeout=TIMEOUT)
        assert back.status_code == 303, back.text[:300]
        seen = _headers(client, site)
        assert seen.status_code == 200 and seen.json()["x-auth-user"] == login

    assert demo.interrupt() == 0
    assert not Path(workdir.group(1)).exists()
    # slapd and the provider went with the rest: their ports answer nothing any more.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{provider.group(1)}/.well-known/openid-configuration", timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("sources", "complaint"),
    [("ldap,saml", "unknown source 'saml'"), ("oidc", "does not run with SSO=1 yet")],
)
def test_the_demo_refuses_sources_it_cannot_start_in_one_line(sources: str, complaint: str) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "verifier", "demo", "--port", "1", "--sso", "--sources", sources],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 6,
        check=False,
    )
    assert answer.returncode != 0
    assert complaint in answer.stderr and answer.stdout == "", answer.stderr
