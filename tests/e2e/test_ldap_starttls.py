"""LDAP over StartTLS against a real slapd (its ldap:// port, with the TLS configuration it
serves LDAPS with): a sign-in works with the directory's CA file; a CA that did not sign the
server's certificate, or a host name the certificate does not carry, fails the sign-in closed
(503 and a clear error, no cookie, no session) and never falls back to plain LDAP."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from conftest import Stack
from e2e_helpers import TIMEOUT, set_cookie_headers
from upstream_fixtures import SourcesStacks, session_keys

from verifier.demo.directory import DemoDirectory, _write_certificates

pytestmark = pytest.mark.one_nginx


def post_login(stack: Stack, name: str, password: str) -> requests.Response:
    """The JSON sign-in through nginx, with a client that keeps no cookie of its own."""
    return stack.new_session().post(
        stack.url("/auth/login"),
        json={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def starttls_sources(directory: DemoDirectory, url: str, ca_file: Path) -> str:
    """A sources file naming the directory's ldap:// port with StartTLS."""
    return directory.sources_entry(
        "corp", url=url, start_tls=True, ca_file=str(ca_file), timeout_seconds=2
    )


def refused_closed(stack: Stack, directory: DemoDirectory, name: str) -> None:
    """The user's right password is refused with 503 and a clear error; nothing is set."""
    answer = post_login(stack, name, directory.passwords[name])
    assert answer.status_code == 503, answer.text
    assert "directory cannot be reached" in answer.json()["error"]
    assert answer.headers["Retry-After"] == "30"
    assert set_cookie_headers(answer) == []
    assert session_keys(stack, name) == []
    # No user record either: the first sign-in of a directory user writes one.
    assert not stack.redis.exists(f"{stack.key_prefix}:{{{name}}}:user")


def test_a_directory_user_signs_in_over_starttls_with_the_directorys_ca(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    stack = sources_stack(starttls_sources(directory, directory.ldap_url, directory.ca_file))

    answer = post_login(stack, "carol", directory.passwords["carol"])

    assert answer.status_code == 200, answer.text
    assert any(cookie.startswith("verifier-access=") for cookie in set_cookie_headers(answer))
    assert len(session_keys(stack, "carol")) == 1
    assert stack.redis.hget(f"{stack.key_prefix}:{{carol}}:user", "source") == "ldap:corp"
    assert post_login(stack, "carol", "not-carols-password").status_code == 401


def test_starttls_with_a_ca_that_did_not_sign_the_server_fails_the_sign_in_closed(
    sources_stack: SourcesStacks, directory: DemoDirectory, tmp_path: Path
) -> None:
    # A CA of its own (and a certificate it signed), unrelated to the directory's.
    _write_certificates(tmp_path)
    stack = sources_stack(starttls_sources(directory, directory.ldap_url, tmp_path / "ca.pem"))

    refused_closed(stack, directory, "carol")


def test_starttls_to_a_host_name_the_certificate_does_not_carry_fails_the_sign_in_closed(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    # localhost reaches the same slapd, but its certificate names 127.0.0.1 only.
    url = f"ldap://localhost:{directory.ldap_port}"
    stack = sources_stack(starttls_sources(directory, url, directory.ca_file))

    refused_closed(stack, directory, "carol")
