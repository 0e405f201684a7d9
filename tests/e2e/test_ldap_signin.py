"""LDAP users sign in through real nginx beside local users, from a real slapd (ldap:corp).

Every refused sign-in answers its exact status and makes no session and no cookie; names
that try to inject into the LDAP filter match nobody, even with a real user's password.
"""

from __future__ import annotations

import secrets
import socket
import threading

import pytest
import requests
from conftest import Stack
from e2e_helpers import TIMEOUT, new_user, set_cookie_headers
from upstream_fixtures import LDAP_GROUPS, SourcesStacks, audit_records, session_keys

from verifier.demo.directory import ROOT_DN, DemoDirectory

pytestmark = pytest.mark.one_nginx


def post_login(stack: Stack, name: str, password: str) -> requests.Response:
    """The JSON sign-in through nginx, with a client that keeps no cookie of its own."""
    session = stack.new_session()
    return session.post(
        stack.url("/auth/login"),
        json={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def whoami(stack: Stack, session: requests.Session) -> dict[str, object]:
    """What the app behind nginx was told (from the signed assertion)."""
    response = session.get(stack.url("/api/whoami"), timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def refused_without_session(
    stack: Stack, name: str, password: str, status: int, user: str | None = None
) -> requests.Response:
    """Post a sign-in; assert the exact status, no cookie, and no new session in Redis for
    the user it names (`user`, default the name typed)."""
    before = session_keys(stack, user or name)
    response = post_login(stack, name, password)
    assert response.status_code == status, response.text
    assert set_cookie_headers(response) == []
    assert session_keys(stack, user or name) == before
    return response


def test_a_directory_user_signs_in_through_nginx_with_mapped_groups(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    session = ldap_stack.login("alice", directory.passwords["alice"])

    identity = whoami(ldap_stack, session)
    assert identity["user"] == "alice"
    # Staff reaches alice through engineers (nested); engineers and Release Managers are not
    # mapped by name: the prefix admits engineers, and drops a name with a space.
    assert identity["groups"] == ["corp-engineers", "staff"]
    claims = identity["claims"]
    assert isinstance(claims, dict)
    assert claims["source"] == "ldap:corp"
    assert claims["amr"] == ["pwd"]
    record = ldap_stack.redis.hgetall(f"{ldap_stack.key_prefix}:{{alice}}:user")
    assert record["source"] == "ldap:corp"
    assert "password_hash" not in record
    assert len(session_keys(ldap_stack, "alice")) >= 1


def test_an_upstream_admins_group_never_becomes_the_local_admins_group(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    session = ldap_stack.login("bob", directory.passwords["bob"])

    assert whoami(ldap_stack, session)["groups"] == ["corp-admins"]
    # The demo app's /admin/ is for the local group admins.
    assert session.get(ldap_stack.url("/admin/"), timeout=TIMEOUT).status_code == 403


def test_local_and_directory_users_sign_in_side_by_side(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    name, password = new_user(ldap_stack, "local")

    local = ldap_stack.login(name, password)
    upstream = ldap_stack.login("carol", directory.passwords["carol"])

    assert whoami(ldap_stack, local)["user"] == name
    local_claims = whoami(ldap_stack, local)["claims"]
    assert isinstance(local_claims, dict) and local_claims["source"] == "local"
    # Upper case in the directory (uid=Carol): our names are case-insensitive.
    assert whoami(ldap_stack, upstream)["user"] == "carol"


@pytest.mark.parametrize(
    ("name", "password_of"),
    [
        ("alice", None),  # a wrong password
        ("nobody-here", "alice"),  # a name the directory does not have
        ("locked", "locked"),  # locked by an administrator (ppolicy): disabled
        ("twin", "twin"),  # two entries for one name: exactly one or nobody
    ],
)
def test_a_refused_directory_sign_in_answers_401_and_makes_no_session(
    ldap_stack: Stack, directory: DemoDirectory, name: str, password_of: str | None
) -> None:
    password = directory.passwords[password_of] if password_of else "not-" + secrets.token_hex(8)

    response = refused_without_session(ldap_stack, name, password, 401)

    assert response.json() == {"error": "Invalid user name or password."}


def test_an_empty_password_is_refused_before_any_bind(ldap_stack: Stack) -> None:
    refused_without_session(ldap_stack, "alice", "", 400)


@pytest.mark.parametrize(
    "injected",
    [
        "*",
        "al*",
        "alice*",
        "*)(uid=*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice)(|(objectClass=*)",
        "(uid=alice)",
        "\\2a",
        "alice\\29",
        "*)(&",
    ],
)
def test_ldap_injection_in_the_name_matches_nobody(
    ldap_stack: Stack, directory: DemoDirectory, injected: str
) -> None:
    # alice's real password: a filter that matched her would sign the attacker in as her.
    refused_without_session(ldap_stack, injected, directory.passwords["alice"], 401, "alice")


def test_a_name_our_rules_refuse_is_told_so_and_never_transliterated(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    response = refused_without_session(
        ldap_stack, "jürgen", directory.passwords["jurgen"], 403, "jurgen"
    )

    assert "'jürgen'" in response.json()["error"]
    assert "not a valid user name here" in response.json()["error"]
    assert not ldap_stack.redis.exists(f"{ldap_stack.key_prefix}:{{jurgen}}:user")
    assert audit_records(ldap_stack, "signin.name_refused", source="ldap:corp")


def test_a_name_held_by_a_local_user_is_checked_as_the_local_users_password(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    local_password = secrets.token_urlsafe(16)
    ldap_stack.create_user("localclash", local_password)

    # The directory's password is not the local user's: it reaches the local check only.
    refused_without_session(ldap_stack, "localclash", directory.passwords["localclash"], 401)
    record = ldap_stack.redis.hgetall(f"{ldap_stack.key_prefix}:{{localclash}}:user")
    assert "source" not in record
    # The local user still signs in with their own password.
    assert post_login(ldap_stack, "localclash", local_password).status_code == 200


def test_a_second_source_presenting_a_name_already_held_is_refused_and_audited(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    password = directory.passwords["alice"]
    assert post_login(ldap_stack, "alice", password).status_code == 200  # alice is ldap:corp's

    # ldap:corpmail finds the same person by e-mail address, and presents the name alice.
    response = refused_without_session(ldap_stack, "alice@corp.example", password, 403, "alice")

    assert "belongs to another account" in response.json()["error"]
    (taken, *_) = audit_records(ldap_stack, "signin.name_taken", user="alice")
    assert taken["owner"] == "ldap:corp"
    assert taken["source"] == "ldap:corpmail"
    assert taken["upstream_id"]  # what an administrator links with `verifier users link`
    record = ldap_stack.redis.hgetall(f"{ldap_stack.key_prefix}:{{alice}}:user")
    assert record["source"] == "ldap:corp"


def test_a_search_reference_is_never_followed(ldap_stack: Stack, directory: DemoDirectory) -> None:
    # The directory has a referral to 127.0.0.1:referral_port: listen there, and see that
    # nobody (with the service account's credentials or otherwise) ever connects.
    connected = threading.Event()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", directory.referral_port))
        listener.listen()
        listener.settimeout(0.2)

        def accept() -> None:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connected.set()
            conn.close()

        watcher = threading.Thread(target=accept)
        watcher.start()
        # Every sign-in searches the whole tree, which holds the referral.
        response = post_login(ldap_stack, "erin", directory.passwords["erin"])
        watcher.join()

    assert response.status_code == 200, response.text
    assert not connected.is_set()


def entry_uuid(directory: DemoDirectory, uid: str) -> str:
    """A people entry's entryUUID, read as the directory's administrator."""
    import ldap  # noqa: PLC0415 (python-ldap: the LDAP tests' own dependency)

    conn = ldap.initialize(directory.ldap_url)
    try:
        conn.simple_bind_s(ROOT_DN, directory.root_password)
        ((_, attributes),) = conn.search_s(
            directory.user_dn(uid), ldap.SCOPE_BASE, attrlist=["entryUUID"]
        )
    finally:
        conn.unbind_s()
    return str(attributes["entryUUID"][0].decode())


def test_an_administrator_links_a_local_name_to_its_directory_identity(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    stack = sources_stack(directory.sources_entry("corp", **LDAP_GROUPS))
    password = directory.passwords["bob"]
    stack.create_user("bob", secrets.token_urlsafe(16))
    # The name is a local user's: the directory's password is checked against theirs only.
    refused_without_session(stack, "bob", password, 401)
    unknown = stack.cli("users", "link", "bob", "ldap:elsewhere", "some-id", expect=1)
    assert unknown.returncode == 1
    assert "no source ldap:elsewhere in the sources file (sources: ldap:corp)" in unknown.stderr

    linked = stack.cli("users", "link", "bob", "ldap:corp", entry_uuid(directory, "bob"))

    assert linked.returncode == 0, linked.stderr
    assert "user bob linked to ldap:corp (was local); 0 session(s) ended" in linked.stdout
    identity = whoami(stack, stack.login("bob", password))
    assert identity["user"] == "bob"
    claims = identity["claims"]
    assert isinstance(claims, dict)
    assert claims["source"] == "ldap:corp"
    record = stack.redis.hgetall(f"{stack.key_prefix}:{{bob}}:user")
    assert "password_hash" not in record
