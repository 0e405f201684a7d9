"""The Active Directory preset: the filters a sign-in, a re-check and a group lookup send
(sAMAccountName, the disabled bit, accountExpires, nested groups by the in-chain rule), hostile
names escaped in them (RFC 4515), and how the answers are judged.

Whether an entry is disabled or expired is decided by the directory, which evaluates the
filter: these tests pin the filter text that decides it, with a recording stand-in for the
connection pool. tests/e2e/test_ldap_active_directory.py has a real slapd evaluate the disabled
bit and accountExpires on AD-shaped entries (slapd has no in-chain rule: only here is that one
pinned).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from verifier.errors import InvalidCredentials
from verifier.upstream.config import LdapSourceConfig, parse_sources
from verifier.users.sources.interface import UpstreamLink, UserGone
from verifier.users.sources.ldap_pool import Entry
from verifier.users.sources.ldap_source import LdapSource, now_filetime

T = TypeVar("T")

NOW = 1_700_000_000.0
BASE = "DC=corp,DC=example,DC=com"
GUID = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
GUID_FILTER = "\\33\\22\\11\\00\\55\\44\\77\\66\\88\\99\\aa\\bb\\cc\\dd\\ee\\ff"
DISABLED_BIT = "(!(userAccountControl:1.2.840.113556.1.4.803:=2))"
SOURCES = f"""\
[[ldap]]
id = "corp"
preset = "active_directory"
url = "ldaps://dc1.corp.example.com"
bind_dn = "CN=verifier,OU=Services,{BASE}"
bind_password_file = "bind-password"
base_dn = "{BASE}"
group_map = {{ "VPN Users" = "staff" }}
"""


class Directory:
    """Answers searches with the entries given, records every search and bind."""

    def __init__(
        self, entries: list[Entry], groups: tuple[str, ...] = (), bind_ok: bool = True
    ) -> None:
        self.entries = entries
        self.groups = list(groups)
        self.bind_ok = bind_ok
        self.searches: list[tuple[str, str]] = []
        self.binds: list[str] = []

    def search(
        self, base: str, filterstr: str, attributes: list[str], *, size_limit: int = 0
    ) -> list[Entry]:
        self.searches.append((base, filterstr))
        if "objectClass=group" in filterstr:
            return [(f"CN={name},{BASE}", {"cn": [name.encode()]}) for name in self.groups]
        return self.entries

    def bind_as(self, dn: str, password: str) -> bool:
        self.binds.append(dn)
        return self.bind_ok

    async def run(self, work: Callable[[Any], T]) -> T:
        return work(self)

    def close(self) -> None:
        pass


@pytest.fixture
def config(tmp_path: Path) -> LdapSourceConfig:
    (tmp_path / "bind-password").write_text("service-password\n", encoding="utf-8")
    (source,) = parse_sources(SOURCES, "sources.toml", tmp_path).ldap
    return source


def source_on(config: LdapSourceConfig, directory: Directory) -> LdapSource:
    return LdapSource(config, connections=directory, clock=lambda: NOW)  # type: ignore[arg-type]


def alice(**extra: list[bytes]) -> Entry:
    return (
        f"CN=Alice Liddell,OU=People,{BASE}",
        {"sAMAccountName": [b"alice"], "objectGUID": [GUID.bytes_le], **extra},
    )


def test_a_sign_in_searches_sam_account_name_among_active_enabled_users(
    config: LdapSourceConfig,
) -> None:
    directory = Directory([alice()], groups=("VPN Users",))
    user = asyncio.run(source_on(config, directory).authenticate("alice", "pw"))

    (base, sent), _groups = directory.searches
    assert base == BASE
    assert sent == (
        "(&(&(objectCategory=person)(objectClass=user)(sAMAccountName=alice))"
        f"(&{DISABLED_BIT}"
        "(|(accountExpires=0)(accountExpires=9223372036854775807)"
        f"(accountExpires>={now_filetime(NOW)}))))"
    )
    assert directory.binds == [f"CN=Alice Liddell,OU=People,{BASE}"]
    assert user.name == "alice"
    assert user.upstream_id == str(GUID)
    assert user.groups == ("staff",)


def test_never_expiring_accounts_are_admitted_by_both_of_ad_s_never_values(
    config: LdapSourceConfig,
) -> None:
    # accountExpires is 0 or 0x7FFFFFFFFFFFFFFF for "never"; any other value is a moment,
    # admitted while it is not in the past (>= now, in AD's 100 ns ticks since 1601).
    assert "(accountExpires=0)" in config.active_filter
    assert f"(accountExpires={0x7FFFFFFFFFFFFFFF})" in config.active_filter
    assert "(accountExpires>={now_filetime})" in config.active_filter
    assert now_filetime(NOW) == str((int(NOW) + 11_644_473_600) * 10_000_000)


def test_nested_groups_are_searched_with_the_in_chain_rule_on_the_escaped_dn(
    config: LdapSourceConfig,
) -> None:
    dn = f"CN=Evil*)(cn=*,OU=People,{BASE}"
    entry = (dn, {"sAMAccountName": [b"evil"], "objectGUID": [GUID.bytes_le]})
    directory = Directory([entry])
    asyncio.run(source_on(config, directory).authenticate("evil", "pw"))

    _, (base, sent) = directory.searches
    assert base == BASE
    assert sent == (
        "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:="
        f"CN=Evil\\2a\\29\\28cn=\\2a,OU=People,{BASE}))"
    )


@pytest.mark.parametrize(
    ("typed", "in_filter"),
    [
        ("*", "(sAMAccountName=\\2a)"),
        ("admin*", "(sAMAccountName=admin\\2a)"),
        ("x)(userAccountControl=*", "(sAMAccountName=x\\29\\28userAccountControl=\\2a)"),
        ("*)(|(objectClass=*", "(sAMAccountName=\\2a\\29\\28|\\28objectClass=\\2a)"),
        ("a\\5c", "(sAMAccountName=a\\5c5c)"),
        ("nul\x00", "(sAMAccountName=nul\\00)"),
    ],
)
def test_a_hostile_name_reaches_the_filter_escaped_and_changes_nothing_else(
    config: LdapSourceConfig, typed: str, in_filter: str
) -> None:
    directory = Directory([])
    with pytest.raises(InvalidCredentials):
        asyncio.run(source_on(config, directory).authenticate(typed, "pw"))

    ((_, sent),) = directory.searches
    assert in_filter in sent
    # The rest of the filter is the preset's, clause for clause: the disabled bit still applies.
    assert sent.count(DISABLED_BIT) == 1
    assert sent.startswith("(&(&(objectCategory=person)(objectClass=user)(sAMAccountName=")


def test_no_entry_refuses_after_binding_as_nobody(config: LdapSourceConfig) -> None:
    # Disabled or expired accounts are not found (the filter); the answer and the work are
    # those of a wrong password: one search, one bind as a DN that cannot exist.
    directory = Directory([])
    with pytest.raises(InvalidCredentials):
        asyncio.run(source_on(config, directory).authenticate("disabled-user", "pw"))
    (bound,) = directory.binds
    assert bound.startswith("cn=verifier-nobody-") and bound.endswith(f",{BASE}")


def test_two_entries_for_one_name_refuse_the_sign_in(config: LdapSourceConfig) -> None:
    directory = Directory([alice(), alice()])
    with pytest.raises(InvalidCredentials):
        asyncio.run(source_on(config, directory).authenticate("alice", "pw"))
    (bound,) = directory.binds
    assert bound.startswith("cn=verifier-nobody-")


def test_a_wrong_password_for_an_enabled_user_is_refused(config: LdapSourceConfig) -> None:
    directory = Directory([alice()], bind_ok=False)
    with pytest.raises(InvalidCredentials):
        asyncio.run(source_on(config, directory).authenticate("alice", "wrong"))


def test_an_empty_password_is_refused_before_any_search_or_bind(config: LdapSourceConfig) -> None:
    directory = Directory([alice()])
    with pytest.raises(InvalidCredentials):
        asyncio.run(source_on(config, directory).authenticate("alice", ""))
    assert directory.searches == [] and directory.binds == []


def test_the_recheck_finds_the_user_by_object_guid_bytes_among_active_users(
    config: LdapSourceConfig,
) -> None:
    directory = Directory([alice()], groups=("VPN Users",))
    link = UpstreamLink(source="ldap:corp", upstream_id=str(GUID), checked_at=NOW - 600)
    rechecked = asyncio.run(source_on(config, directory).recheck(link, NOW))

    (_, sent), _groups = directory.searches
    assert f"(objectGUID={GUID_FILTER})" in sent
    assert "(sAMAccountName=*)" in sent
    assert DISABLED_BIT in sent
    assert f"(accountExpires>={now_filetime(NOW)})" in sent
    assert rechecked.groups == ("staff",)
    assert directory.binds == []


def test_a_user_disabled_or_expired_since_sign_in_is_gone_at_the_recheck(
    config: LdapSourceConfig,
) -> None:
    link = UpstreamLink(source="ldap:corp", upstream_id=str(GUID), checked_at=NOW - 600)
    with pytest.raises(UserGone):
        asyncio.run(source_on(config, Directory([])).recheck(link, NOW))


def test_a_session_id_that_is_not_a_guid_is_gone_without_a_search(
    config: LdapSourceConfig,
) -> None:
    directory = Directory([alice()])
    link = UpstreamLink(source="ldap:corp", upstream_id="*)(objectGUID=*", checked_at=NOW)
    with pytest.raises(UserGone):
        asyncio.run(source_on(config, directory).recheck(link, NOW))
    assert directory.searches == []
