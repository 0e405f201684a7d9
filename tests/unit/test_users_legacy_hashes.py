"""verifier.users.legacy_hashes: recognising and checking imported htpasswd hashes."""

from __future__ import annotations

import bcrypt
import pytest

from verifier.users.legacy_hashes import (
    LegacyDummies,
    LegacyScheme,
    bcrypt_cost,
    legacy_scheme,
    verify_legacy,
)

# (hash, its password): htpasswd -B / -m / -s from Debian's apache2-utils, and the bcrypt
# library for the $2b$ and $2a$ prefixes.
KNOWN = [
    ("$2y$05$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW", "pw-bcrypt-1"),
    ("$2b$04$WyY2C12X.cKz7xCDrVwDuu926HWJwmi.BIkZ287.OWuizYHdrfEIa", "pw-2b-password"),
    ("$2a$04$nVRV84wrMuK9DU08.SVpzuIwvds/9SlmCvAvol.oFVHk7mk9TIbd2", "pw-2a-password"),
    ("$apr1$WUuMzysm$2dLGSMAsdI9ObxfZfYXCt/", "pw-apr1-1"),
    ("{SHA}4w1sdKqeiAjlXDN4mcF3DXVTuSI=", "pw-sha-1"),
]
SCHEMES = [LegacyScheme.BCRYPT] * 3 + [LegacyScheme.APR1, LegacyScheme.SHA1]


@pytest.mark.parametrize(("known", "scheme"), list(zip(KNOWN, SCHEMES, strict=True)))
def test_each_scheme_is_recognised_and_checks_its_password(
    known: tuple[str, str], scheme: LegacyScheme
) -> None:
    stored, password = known

    assert legacy_scheme(stored) is scheme
    assert verify_legacy(scheme, stored, password)
    assert not verify_legacy(scheme, stored, password + "x")
    assert not verify_legacy(scheme, stored, "")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$2x$05$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW",
        "$2y$05$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/q",
        "$2y$03$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW",
        "$2y$13$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW",
        "$2y$31$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW",
        "$apr1$$2dLGSMAsdI9ObxfZfYXCt/",
        "{SHA}4w1sdKqeiAjlXDN4mcF3DXVTuSI",
        "{sha}4w1sdKqeiAjlXDN4mcF3DXVTuSI=",
        "plaintext",
    ],
)
def test_anything_else_is_not_a_legacy_hash(stored: str) -> None:
    assert legacy_scheme(stored) is None


@pytest.mark.parametrize("scheme", list(LegacyScheme))
@pytest.mark.parametrize("stored", ["", "garbage", "$2y$05$!!", "$apr1$x$y", "{SHA}===", "\x00"])
def test_a_malformed_stored_hash_fails_without_raising(scheme: LegacyScheme, stored: str) -> None:
    assert verify_legacy(scheme, stored, "anything") is False


def test_bcrypt_reads_the_first_72_bytes_like_htpasswd_did() -> None:
    password = "é" * 40  # 80 bytes of UTF-8
    stored = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4)).decode()

    assert verify_legacy(LegacyScheme.BCRYPT, stored, password)
    assert not verify_legacy(LegacyScheme.BCRYPT, stored, "é" * 35)


def test_bcrypt_cost_is_read_from_the_hash() -> None:
    assert bcrypt_cost(KNOWN[0][0]) == 5
    assert bcrypt_cost(KNOWN[1][0]) == 4
    assert bcrypt_cost(KNOWN[3][0]) is None


def test_dummies_are_well_formed_and_match_no_real_password() -> None:
    dummies = LegacyDummies.make()

    for cost in (4, 5, 12):
        dummy = dummies.bcrypt(cost)
        assert legacy_scheme(dummy) is LegacyScheme.BCRYPT
        assert bcrypt_cost(dummy) == cost
    assert legacy_scheme(dummies.apr1) is LegacyScheme.APR1
    assert legacy_scheme(dummies.sha1) is LegacyScheme.SHA1
    for _, password in KNOWN:
        assert not verify_legacy(LegacyScheme.BCRYPT, dummies.bcrypt(5), password)
        assert not verify_legacy(LegacyScheme.APR1, dummies.apr1, password)
        assert not verify_legacy(LegacyScheme.SHA1, dummies.sha1, password)
