"""The sources file: every source checked at start-up, every problem named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.errors import SourcesFileError
from verifier.upstream.config import load_sources, parse_sources
from verifier.upstream.presets import ACTIVE_DIRECTORY, OPENLDAP, PRESETS


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """A directory with the secret files the examples name (relative to the sources file)."""
    (tmp_path / "bind-password").write_text("service-password\n", encoding="utf-8")
    (tmp_path / "client-secret").write_text("client-secret-value\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    return tmp_path


LDAP = """\
[[ldap]]
id = "corp"
preset = "active_directory"
url = "ldaps://dc1.corp.example.com"
ca_file = "ca.pem"
bind_dn = "CN=verifier,OU=Services,DC=corp,DC=example,DC=com"
bind_password_file = "bind-password"
base_dn = "DC=corp,DC=example,DC=com"
group_map = { "VPN Users" = "staff", "Domain Admins" = "admins" }
"""

OIDC = """\
[[oidc]]
id = "keycloak"
title = "Sign in with Keycloak"
issuer = "https://sso.example.com/realms/corp"
client_id = "verifier"
client_secret_file = "client-secret"
redirect_uri = "https://app.example.com/auth/oidc/keycloak/callback"
"""


def parse(text: str, base: Path) -> object:
    return parse_sources(text, "sources.toml", base)


def refusal(text: str, base: Path) -> SourcesFileError:
    with pytest.raises(SourcesFileError) as raised:
        parse_sources(text, "sources.toml", base)
    return raised.value


def test_an_ldap_source_starts_from_its_preset_and_reads_its_secret_from_a_file(
    secrets_dir: Path,
) -> None:
    config = parse_sources(LDAP, "sources.toml", secrets_dir)

    (source,) = config.ldap
    assert source.name == "ldap:corp"
    assert source.bind_password == "service-password"
    assert "service-password" not in repr(source)
    assert source.user_filter == PRESETS[ACTIVE_DIRECTORY]["user_filter"]
    assert source.id_attribute == "objectGUID" and source.id_binary
    assert source.groups.ours(["vpn users", "Domain Admins", "Other"]).groups == (
        "admins",
        "staff",
    )
    assert source.recheck.interval_seconds == 300
    assert source.recheck.max_stale_seconds == 0
    assert source.ca_file == secrets_dir / "ca.pem"
    assert config.warnings() == ()


def test_every_preset_value_can_be_overridden_key_by_key(secrets_dir: Path) -> None:
    text = LDAP.replace("active_directory", "openldap") + 'name_attribute = "cn"\n'
    (source,) = parse_sources(text, "sources.toml", secrets_dir).ldap
    assert source.name_attribute == "cn"
    assert source.active_filter == PRESETS[OPENLDAP]["active_filter"]


def test_an_oidc_source_pins_rs256_and_asks_for_openid(secrets_dir: Path) -> None:
    (source,) = parse_sources(OIDC, "sources.toml", secrets_dir).oidc
    assert source.name == "oidc:keycloak"
    assert source.algorithms == ("RS256",)
    assert "openid" in source.scopes
    assert source.token_auth_method == "client_secret_basic"
    assert source.callback_path == "/auth/oidc/keycloak/callback"
    assert source.backchannel_path == "/auth/oidc/keycloak/backchannel-logout"
    assert "client-secret-value" not in repr(source)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourcesFileError, match="cannot read"):
        load_sources(tmp_path / "nowhere.toml")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("x = 1\n", 1, "unknown setting 'x'"),
        ("password_form = 1\n", 1, "password_form must be true or false"),
        ("[[ldap]]\nid = 'corp'\n[[ldap\n", 3, "not valid TOML"),
        (LDAP + 'colour = "red"\n', 10, "unknown key 'colour'"),
        (LDAP.replace('bind_password_file = "bind-password"', 'bind_password = "x"'), 7,
         "bind_password must not be written here"),
        (LDAP.replace('preset = "active_directory"', 'preset = "ad"'), 3,
         "preset 'ad' is not one of"),
        (LDAP.replace("ldaps://dc1.corp.example.com", "ldap://dc1.corp.example.com"), 4,
         "ldap:// without start_tls sends passwords unencrypted"),
        (LDAP + "start_tls = true\n", 10, "start_tls is for ldap:// URLs"),
        (LDAP.replace("ldaps://dc1.corp.example.com", "ldaps://dc1/DC=corp"), 4,
         "must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]"),
        (LDAP + 'user_filter = "(uid={username}"\n', 10, "is not an LDAP filter"),
        (LDAP + 'user_filter = "(uid=alice)"\n', 10, "user_filter must contain {username}"),
        (LDAP + 'active_filter = "(x={user})"\n', 10, "unknown placeholder {user}"),
        (LDAP + 'groups = "search"\ngroups_filter = "(objectClass=group)"\n', 11,
         "groups_filter must contain {dn} or {username}"),
        (LDAP + 'name_attribute = "s AM"\n', 10, "is not an attribute name"),
        (LDAP.replace('bind_password_file = "bind-password"', 'bind_password_file = "empty"'),
         7, "is empty"),
        (LDAP.replace('bind_password_file = "bind-password"', 'bind_password_file = "nope"'),
         7, "is not a readable file"),
        (LDAP.replace('id = "corp"', 'id = "Corp"'), 2, "id 'Corp' must be 1-32 of a-z"),
        (LDAP + LDAP, 10, "id 'corp' is used twice (also at line 1)"),
        (LDAP + "refresh_interval_seconds = 0\n", 10, "refresh_interval_seconds must be"),
        (LDAP + "refresh_interval_seconds = 60\nmax_stale_seconds = 30\n", 11,
         "max_stale_seconds must be 0 (off) or at least refresh_interval_seconds"),
        (LDAP + "timeout_seconds = 0\n", 10, "timeout_seconds must be a number of seconds"),
        (LDAP.replace('"Domain Admins" = "admins"', '"Domain Admins" = "dom admins"'), 9,
         "group_map: 'dom admins' is not a group name"),
        (LDAP + 'group_prefix = "-x"\n', 10, "group_prefix must be"),
        (LDAP + 'password_change_url = "http://x.example"\n', 10, "must be an https:// URL"),
        (OIDC.replace("https://sso", "http://sso"), 4, "must be a https:// URL"),
        (OIDC + 'algorithms = ["none"]\n', 8, "algorithms: 'none' is not allowed"),
        (OIDC + 'algorithms = ["HS256"]\n', 8, "never none or an HMAC"),
        (OIDC + "algorithms = []\n", 8, "algorithms is empty"),
        (OIDC + 'scopes = ["profile"]\n', 8, 'scopes must include "openid"'),
        (OIDC.replace("/auth/oidc/keycloak/callback", "/callback"), 7,
         "redirect_uri must be an absolute URL of this site whose path is "
         "/auth/oidc/keycloak/callback"),
        (OIDC + 'token_auth_method = "none"\n', 8, "token_auth_method none is for a public client"),
        (OIDC.replace('client_secret_file = "client-secret"', 'client_secret = "s3cret"'), 6,
         "client_secret must not be written here"),
        (OIDC + 'name_claim = "a b"\n', 8, "is not a claim name"),
        (OIDC + "clock_skew_seconds = 600\n", 8, "clock_skew_seconds must be"),
        (OIDC.replace('client_id = "verifier"\n', ""), 1, "needs client_id"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_the_line(
    secrets_dir: Path, text: str, line: int, message: str
) -> None:
    error = refusal(text, secrets_dir)
    assert error.line == line, str(error)
    assert message in str(error)
    assert str(error).startswith(f"sources.toml:{line}: ")


def test_no_secret_ever_appears_in_a_message(secrets_dir: Path) -> None:
    error = refusal(LDAP + "pool_size = 0\n", secrets_dir)
    assert "service-password" not in str(error)


def test_plain_ldap_and_http_providers_are_allowed_only_when_said_and_warned_about(
    secrets_dir: Path,
) -> None:
    text = LDAP.replace("ldaps://", "ldap://") + "allow_plain = true\n"
    text += (
        OIDC.replace("https://sso", "http://sso").replace("https://app", "http://app")
        + "allow_http = true\n"
    )

    config = parse_sources(text, "sources.toml", secrets_dir)

    assert config.ldap[0].plain
    warnings = config.warnings()
    assert len(warnings) == 2
    assert warnings[0].startswith("sources.toml:1: ldap source 'corp' sends passwords")
    assert "oidc source 'keycloak' talks to its provider over plain http" in warnings[1]


def test_a_public_client_uses_pkce_alone(secrets_dir: Path) -> None:
    text = OIDC.replace('client_secret_file = "client-secret"\n', "")
    (source,) = parse_sources(text, "sources.toml", secrets_dir).oidc
    assert source.token_auth_method == "none"
    assert source.client_secret == ""


def test_names_list_every_source_in_file_order(secrets_dir: Path) -> None:
    config = parse_sources(LDAP + OIDC, "sources.toml", secrets_dir)
    assert config.names() == ("ldap:corp", "oidc:keycloak")
    assert config.password_form
    assert config.any


def test_every_sources_example_of_the_docs_is_accepted_as_written(tmp_path: Path) -> None:
    # docs/sources.md's TOML blocks, with only the secret and CA paths moved into tmp_path.
    page = Path(__file__).parents[2] / "docs" / "sources.md"
    blocks = page.read_text(encoding="utf-8").split("```toml\n")[1:]
    assert len(blocks) == 4, "docs/sources.md: one example for each preset and provider"
    kinds = []
    for block in blocks:
        text = block.split("```", 1)[0]
        for folder in ("/etc/verifier/", "/run/secrets/"):
            text = text.replace(folder, f"{tmp_path}/")
        for name in ("corp-ca.pem", "ldap-ca.pem"):
            (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
        for name in ("corp-bind-password", "ldap-bind-password"):
            (tmp_path / name).write_text("service-password\n", encoding="utf-8")
        for name in ("keycloak-client-secret", "entra-client-secret"):
            (tmp_path / name).write_text("client-secret\n", encoding="utf-8")

        config = parse_sources(text, "sources.toml", tmp_path)

        for source in config.ldap:
            assert source.bind_password == "service-password"
            assert source.preset in PRESETS
        for provider in config.oidc:
            assert provider.client_secret == "client-secret"
        kinds += [s.name.split(":")[0] for s in (*config.ldap, *config.oidc)]
    assert kinds == ["ldap", "ldap", "oidc", "oidc"]
