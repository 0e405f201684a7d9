"""The CA certificates the container run passes to the image build (CA_CERTIFICATES).

Two kinds, for two reasons:
- this machine's local additions to Debian's CA bundle (certificates in
  /etc/ssl/certs/ca-certificates.crt that no package under /usr/share/ca-certificates
  provides), such as a TLS-intercepting proxy's CA: without them the build cannot reach PyPI
  from here, exactly as a user's build behind such a proxy;
- one throwaway CA made here, whose private key is discarded at once: trusting it changes
  nothing, and it marks the build argument, so the tests can check that it reaches no layer,
  history line or environment of the image, even on a machine without local additions.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PACKAGED_CERTIFICATES = Path("/usr/share/ca-certificates")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def _blocks(text: str) -> list[str]:
    return _PEM.findall(text)


def _normal(block: str) -> str:
    return "".join(block.split())


def local_additions(
    bundle: Path = HOST_BUNDLE, packaged: Path = PACKAGED_CERTIFICATES
) -> list[str]:
    """PEM blocks of the bundle that no packaged certificate file holds."""
    if not bundle.is_file():
        return []
    known = {
        _normal(block)
        for path in packaged.rglob("*.crt")
        for block in _blocks(path.read_text(errors="replace"))
    }
    return [block for block in _blocks(bundle.read_text()) if _normal(block) not in known]


def throwaway_ca(common_name: str) -> str:
    """A self-signed CA certificate, PEM; its key is never kept."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def body_lines(block: str) -> list[str]:
    """The base64 lines of a PEM block: any one of them showing somewhere means it leaked."""
    return block.strip().splitlines()[1:-1]
