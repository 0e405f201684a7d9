"""A throwaway OpenLDAP directory (Debian's slapd) for `make demo SOURCES=ldap` and the tests.

It runs from a plain slapd.conf in a temporary directory, its data loaded offline with
slapadd from directory.ldif (beside this module), on two free ports of 127.0.0.1: LDAP (with
StartTLS) and LDAPS, with a certificate for 127.0.0.1 (an IP SAN: libldap checks the name it
dialled) from a CA made for this run. Overlays: dynlist (memberOf through nested groups) and
ppolicy (locked accounts). Every password is made fresh at each start.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import secrets
import shutil
import signal
import string
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from verifier.demo.processes import LOOPBACK, ManagedProcess, ProcessStartError, free_port

BASE_DN = "dc=corp,dc=example"
SERVICE_DN = f"cn=verifier,ou=services,{BASE_DN}"
ROOT_DN = f"cn=admin,{BASE_DN}"
LDIF_TEMPLATE = Path(__file__).with_name("directory.ldif")
# The accounts of directory.ldif whose passwords are made at start-up (uid or sAMAccountName).
ACCOUNTS = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "gina",
    "hank",
    "locked",
    "jurgen",
    "twin",
    "localclash",
    "ann",
    "dan",
    "ed",
)
GUID_ACCOUNTS = ("ann", "dan", "ed")
_SBIN = (Path("/usr/sbin"), Path("/usr/local/sbin"))
_MODULE_DIRS = (Path("/usr/lib/ldap"), Path("/usr/lib/x86_64-linux-gnu/ldap"))

# Active Directory's attributes, with AD's own OIDs, as far as the AD preset needs them:
# enough for its user filter, disabled bit, expiry and objectGUID to be tried for real.
_AD_SCHEMA = """
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.159 NAME 'accountExpires'
  EQUALITY integerMatch ORDERING integerOrderingMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.782 NAME 'objectCategory'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP top AUXILIARY
  MAY ( sAMAccountName $ userAccountControl $ objectGUID $ accountExpires $ objectCategory ) )
objectclass ( 1.2.840.113556.1.5.8 NAME 'group' SUP top AUXILIARY
  MAY ( sAMAccountName $ objectGUID $ objectCategory ) )
"""


def find_slapd() -> tuple[Path, Path]:
    """slapd and slapadd (Debian's `slapd` package); FileNotFoundError naming the package."""
    for directory in _SBIN:
        slapd, slapadd = directory / "slapd", directory / "slapadd"
        if slapd.is_file() and slapadd.is_file():
            return slapd, slapadd
    raise FileNotFoundError("slapd is not installed (Debian: apt-get install slapd ldap-utils)")


@dataclass
class DemoDirectory:
    """One slapd with directory.ldif's accounts; stopped by its PID."""

    workdir: Path
    ldap_port: int = field(default_factory=free_port)
    ldaps_port: int = field(default_factory=free_port)
    # A port nobody listens on unless a test does: where the referral entry points.
    referral_port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=dict)
    guids: dict[str, str] = field(default_factory=dict)
    service_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    root_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    process: ManagedProcess | None = None

    @property
    def ldaps_url(self) -> str:
        """ldaps://127.0.0.1:PORT."""
        return f"ldaps://{LOOPBACK}:{self.ldaps_port}"

    @property
    def ldap_url(self) -> str:
        """ldap://127.0.0.1:PORT (StartTLS, or plain)."""
        return f"ldap://{LOOPBACK}:{self.ldap_port}"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the server's certificate."""
        return self.workdir / "ca.pem"

    @property
    def service_password_file(self) -> Path:
        """The service account's password, in a file (as the sources file wants it)."""
        return self.workdir / "bind-password"

    def setup(self) -> None:
        """Write the configuration, the certificates and the data (slapadd)."""
        _, slapadd = find_slapd()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.passwords = {account: secrets.token_urlsafe(12) for account in ACCOUNTS}
        self.guids = {account: str(uuid.uuid4()) for account in GUID_ACCOUNTS}
        _write_certificates(self.workdir)
        self.service_password_file.write_text(self.service_password + "\n", encoding="utf-8")
        self.service_password_file.chmod(0o600)
        (self.workdir / "slapd.conf").write_text(self._config(), encoding="utf-8")
        (self.workdir / "data").mkdir(exist_ok=True)
        ldif = self.workdir / "data.ldif"
        ldif.write_text(self._data(), encoding="utf-8")
        loaded = subprocess.run(
            [str(slapadd), "-q", "-f", str(self.workdir / "slapd.conf"), "-l", str(ldif)],
            capture_output=True,
            text=True,
            check=False,
        )
        if loaded.returncode != 0:
            raise ProcessStartError("slapadd", f"exited {loaded.returncode}", loaded.stderr)

    def start(self, timeout: float = 15.0) -> ManagedProcess:
        """Start slapd (after setup()) and wait until both ports listen; its process."""
        slapd, _ = find_slapd()
        urls = f"{self.ldap_url}/ {self.ldaps_url}/"
        argv = [str(slapd), "-h", urls, "-f", str(self.workdir / "slapd.conf"), "-d", "0"]
        process = self.process = ManagedProcess("slapd", argv, self.workdir)
        try:
            process.wait_until_listening(self.ldap_port, timeout)
            process.wait_until_listening(self.ldaps_port, timeout)
        except ProcessStartError:
            process.stop()
            raise
        return process

    def stop(self) -> None:
        """Stop slapd (SIGTERM by PID); its data stays for start() again."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: it keeps its ports but answers nothing (a hung server)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after freeze()."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        """Stop and delete everything."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def user_dn(self, uid: str) -> str:
        """The DN of one of the people entries."""
        return f"uid={uid},ou=people,{BASE_DN}"

    def modify(self, dn: str, changes: list[tuple[int, str, list[bytes] | None]]) -> None:
        """Change an entry as the directory's administrator (python-ldap's modify_s)."""
        import ldap  # noqa: PLC0415 (only the tests change entries: python-ldap is optional)

        conn: Any = ldap.initialize(self.ldap_url)
        try:
            conn.simple_bind_s(ROOT_DN, self.root_password)
            conn.modify_s(dn, changes)
        finally:
            conn.unbind_s()

    def add_member(self, group_dn: str, uid: str) -> None:
        """Put a people entry into a groupOfNames."""
        import ldap  # noqa: PLC0415

        self.modify(group_dn, [(ldap.MOD_ADD, "member", [self.user_dn(uid).encode()])])

    def lock(self, uid: str) -> None:
        """Lock an account as an administrator would (ppolicy's pwdAccountLockedTime)."""
        import ldap  # noqa: PLC0415

        self.modify(
            self.user_dn(uid), [(ldap.MOD_REPLACE, "pwdAccountLockedTime", [b"000001010000Z"])]
        )

    def unlock(self, uid: str) -> None:
        """Undo lock()."""
        import ldap  # noqa: PLC0415

        self.modify(self.user_dn(uid), [(ldap.MOD_DELETE, "pwdAccountLockedTime", None)])

    def sources_entry(self, source_id: str = "corp", **settings: object) -> str:
        """A `[[ldap]]` table of a sources file for this directory (LDAPS, its CA)."""
        values: dict[str, object] = {
            "id": source_id,
            "preset": "openldap",
            "url": self.ldaps_url,
            "ca_file": str(self.ca_file),
            "bind_dn": SERVICE_DN,
            "bind_password_file": str(self.service_password_file),
            "base_dn": BASE_DN,
            **settings,
        }
        return "[[ldap]]\n" + "".join(
            f"{key} = {toml_value(value)}\n" for key, value in values.items()
        )

    def _config(self) -> str:
        modules = next((d for d in _MODULE_DIRS if (d / "back_mdb.so").exists()), _MODULE_DIRS[0])
        schema = Path("/etc/ldap/schema")
        workdir = self.workdir
        includes = "\n".join(
            f"include {schema / name}.schema"
            for name in ("core", "cosine", "inetorgperson", "nis", "dyngroup")
        )
        return f"""# A test directory: made by verifier.demo.directory, removed with its directory.
{includes}
{_AD_SCHEMA}
pidfile {workdir / "slapd.pid"}
argsfile {workdir / "slapd.args"}
modulepath {modules}
moduleload back_mdb
moduleload dynlist
moduleload ppolicy
TLSCACertificateFile {workdir / "ca.pem"}
TLSCertificateFile {workdir / "server.pem"}
TLSCertificateKeyFile {workdir / "server.key"}

database mdb
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw {self.root_password}
directory {workdir / "data"}
# memberOf, computed through nested groupOfNames (slapd 2.5's dynlist).
overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames*
# Locked accounts (pwdAccountLockedTime): their binds fail.
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{BASE_DN}"
# Users may bind and change their own password; the service account reads; nobody else.
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by dn.exact="{SERVICE_DN}" read
  by self read
  by * none
"""

    def _data(self) -> str:
        values = {
            "base": BASE_DN,
            "service_password": self.service_password,
            "referral_port": str(self.referral_port),
            **{f"password_{account}": password for account, password in self.passwords.items()},
            **{
                f"guid_{account}": base64.b64encode(uuid.UUID(guid).bytes_le).decode()
                for account, guid in self.guids.items()
            },
        }
        return string.Template(LDIF_TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def toml_value(value: object) -> str:
    """A value as TOML writes it (strings quoted and escaped, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        pairs = ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _write_certificates(directory: Path) -> None:
    """A CA made for this run, and the server's certificate for 127.0.0.1 (an IP SAN)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "verifier demo directory CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        # libldap checks the name it dialled: the address must be in the certificate.
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    server_key = directory / "server.key"
    server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_key.chmod(0o600)
