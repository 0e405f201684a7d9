"""`make demo SOURCES=ldap,oidc`: the tests' slapd and OpenID Provider beside the demo.

Each named source starts in the demo's directory (stopped by PID with the rest), goes into
one sources file (VERIFIER_SOURCES_FILE), and its users are printed with the welcome. Plain
`make demo` never imports this module's optional parts: python-ldap only with `ldap`, Node
only with `oidc`; a missing one is one line saying what to install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verifier.demo import directory as ldap_directory
from verifier.demo import provider as oidc_provider
from verifier.demo.processes import ManagedProcess

KNOWN = ("ldap", "oidc")
# The directory's accounts the welcome names (directory.ldif): alice is staff through a
# nested group, bob is in the directory's admins, mapped to ours.
LDAP_USERS = (("alice", "staff"), ("bob", "admins"))
LDAP_GROUP_MAP = {"Staff": "staff", "admins": "admins"}


def parse(value: str) -> tuple[str, ...]:
    """`ldap,oidc` (any subset, any order) as a tuple; ValueError naming an unknown one."""
    names = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r}: SOURCES takes ldap, oidc or both")
    return names


def missing_parts(sources: Sequence[str], *, sso: bool = False) -> str:
    """One line naming the first part a requested source lacks; empty when all are there."""
    if "ldap" in sources:
        if importlib.util.find_spec("ldap") is None:
            return (
                "SOURCES=ldap needs python-ldap, which `make demo` installs with SOURCES=ldap "
                "(Debian: apt-get install libldap2-dev libsasl2-dev first)"
            )
        try:
            ldap_directory.find_slapd()
        except FileNotFoundError as error:
            return f"SOURCES=ldap: {error}"
    if "oidc" in sources:
        if sso:
            return "SOURCES=oidc does not run with SSO=1 yet: the portal has no OIDC hand-off"
        try:
            oidc_provider.find_provider()
        except FileNotFoundError as error:
            return str(error)
    return ""


@dataclass
class Upstreams:
    """The started sources: their sources file and who may sign in through them."""

    sources_file: Path
    directory: ldap_directory.DemoDirectory | None
    provider: oidc_provider.DemoProvider | None

    def welcome(self) -> str:
        """The users of each source, for the welcome text."""
        lines = []
        if self.directory is not None:
            lines.append(f"LDAP (slapd at {self.directory.ldaps_url}, source ldap:corp):")
            for name, group in LDAP_USERS:
                password = self.directory.passwords[name]
                lines.append(f"  user name   {name:<8} password  {password:<18} groups  {group}")
        if self.provider is not None:
            lines.append(
                f"OpenID Connect (oidc-provider at {self.provider.issuer}, source "
                f"oidc:{oidc_provider.PROVIDER_ID}): the sign-in page's button, then at the "
                "provider"
            )
            for sub, groups in oidc_provider.DEMO_GROUPS.items():
                shown = ", ".join(groups) or "(none)"
                lines.append(
                    f"  login       {sub:<8} password  (any: a test provider)   groups  {shown}"
                )
        return "\n" + "\n".join(lines)


def start(
    sources: Sequence[str], workdir: Path, site_url: str, started: list[ManagedProcess]
) -> Upstreams | None:
    """Start each named source (its process joins `started`); None when none is named."""
    if not sources:
        return None
    entries: list[str] = []
    directory = provider = None
    if "ldap" in sources:
        directory = ldap_directory.DemoDirectory(workdir / "slapd")
        directory.setup()
        started.append(directory.start())
        entries.append(directory.sources_entry("corp", group_map=LDAP_GROUP_MAP))
    if "oidc" in sources:
        print("Starting the OpenID Provider (Node)...", flush=True)
        provider = oidc_provider.DemoProvider(workdir / "openid-provider", site_url)
        started.append(provider.start())
        entries.append(provider.sources_entry())
    sources_file = workdir / "sources.toml"
    sources_file.write_text("\n".join(entries), encoding="utf-8")
    return Upstreams(sources_file, directory, provider)
