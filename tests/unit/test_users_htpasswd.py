"""verifier.users.htpasswd: the strict parser behind `users import-htpasswd`."""

from __future__ import annotations

import pytest

from verifier.users.htpasswd import HtpasswdRefused, parse_htpasswd
from verifier.users.legacy_hashes import LegacyScheme

# Made with Debian's htpasswd (apache2-utils) and the bcrypt library; the passwords do not
# matter here (test_legacy_hashes.py checks them).
BCRYPT_2Y = "$2y$05$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW"
BCRYPT_2B = "$2b$04$WyY2C12X.cKz7xCDrVwDuu926HWJwmi.BIkZ287.OWuizYHdrfEIa"
BCRYPT_2A = "$2a$04$nVRV84wrMuK9DU08.SVpzuIwvds/9SlmCvAvol.oFVHk7mk9TIbd2"
APR1 = "$apr1$WUuMzysm$2dLGSMAsdI9ObxfZfYXCt/"
SHA1 = "{SHA}4w1sdKqeiAjlXDN4mcF3DXVTuSI="


def _refusal(text: str) -> dict[int, str]:
    with pytest.raises(HtpasswdRefused) as refused:
        parse_htpasswd(text.encode())
    return {problem.line: problem.reason for problem in refused.value.problems}


def test_each_supported_scheme_is_read_with_its_line_number() -> None:
    lines = ["# users", "", f"alice:{BCRYPT_2Y}", f"bob:{BCRYPT_2B}", f"carol:{BCRYPT_2A}"]
    text = "\n".join([*lines, f"dan:{APR1}", f"erin:{SHA1}", ""])

    entries = parse_htpasswd(text.encode())

    assert [(e.line, e.name, e.scheme) for e in entries] == [
        (3, "alice", LegacyScheme.BCRYPT),
        (4, "bob", LegacyScheme.BCRYPT),
        (5, "carol", LegacyScheme.BCRYPT),
        (6, "dan", LegacyScheme.APR1),
        (7, "erin", LegacyScheme.SHA1),
    ]
    assert entries[0].password_hash == BCRYPT_2Y


def test_crlf_surrounding_spaces_and_an_nginx_comment_field_are_accepted() -> None:
    text = f"  Alice:{APR1}  \r\nbob:{SHA1}:Bob from accounting\r\n   # indented comment\r\n"

    entries = parse_htpasswd(text.encode())

    assert [(e.name, e.password_hash) for e in entries] == [("alice", APR1), ("bob", SHA1)]


@pytest.mark.parametrize(
    ("hash_text", "reason"),
    [
        ("secret-password", "plaintext password"),
        ("{PLAIN}secret", "plaintext password"),
        ("bAGq1YF4s.rm2", "DES crypt"),
        ("$1$abcdefgh$0123456789abcdefghijkl", "MD5-crypt ($1$)"),
        ("$5$c/U1Tp7ebY7eouMz$zCg8WQsRCOaiH4P4A8ZEsGbsn44RF7bfMQcFAaHVfD9", "SHA-256-crypt"),
        ("$6$salt$digest", "SHA-512-crypt ($6$)"),
        ("{SSHA}abcdefabcdef", "unsupported scheme {SSHA}"),
        ("$9z$whatever", "unknown $...$ marker"),
        ("", "empty password hash"),
        ("$2y$05$short", "malformed bcrypt hash"),
        ("$apr1$toolongsalt$2dLGSMAsdI9ObxfZfYXCt/", "malformed apr1 hash"),
        ("{SHA}abc=", "malformed {SHA} hash"),
        (BCRYPT_2Y.replace("$05$", "$13$"), "bcrypt cost 13 is outside 4-12"),
        (BCRYPT_2Y.replace("$05$", "$03$"), "bcrypt cost 3 is outside 4-12"),
    ],
)
def test_lines_that_cannot_be_imported_are_refused_with_their_number(
    hash_text: str, reason: str
) -> None:
    problems = _refusal(f"alice:{APR1}\n\nbob:{hash_text}\n")

    assert list(problems) == [3]
    assert reason in problems[3]
    assert problems[3].startswith("user bob: ")


def test_a_refusal_never_quotes_the_hash_or_password() -> None:
    with pytest.raises(HtpasswdRefused) as refused:
        parse_htpasswd(b"alice:my-plaintext-password\nbob:$6$pepper$x\n")

    assert "my-plaintext-password" not in str(refused.value)
    assert "pepper" not in str(refused.value)


def test_every_bad_line_is_listed_not_only_the_first() -> None:
    text = "\n".join(
        [
            f"alice:{APR1}",
            "plain:hunter22",
            "no colon here",
            f"bad name:{SHA1}",
            f"ALICE:{SHA1}",
            f"{'x' * 65}:{SHA1}",
            f"ok:{BCRYPT_2Y}",
        ]
    )

    problems = _refusal(text)

    assert sorted(problems) == [2, 3, 4, 5, 6]
    assert "plaintext" in problems[2]
    assert "no ':'" in problems[3]
    assert "bad user name 'bad name'" in problems[4]
    assert "already on line 1" in problems[5]
    assert "bad user name" in problems[6]


def test_invalid_utf8_is_refused_by_line() -> None:
    with pytest.raises(HtpasswdRefused) as refused:
        parse_htpasswd(f"alice:{APR1}\n".encode() + b"b\xffb:" + SHA1.encode())

    assert [(p.line, p.reason) for p in refused.value.problems] == [(2, "not valid UTF-8")]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_a_file_without_users_is_refused(text: str) -> None:
    with pytest.raises(HtpasswdRefused, match="no users"):
        parse_htpasswd(text.encode())


def test_the_refusal_message_lists_lines_and_what_can_be_imported() -> None:
    with pytest.raises(HtpasswdRefused) as refused:
        parse_htpasswd(b"alice:plain-text\n")

    assert str(refused.value).splitlines() == [
        "1 bad line(s), nothing imported:",
        "  line 1: user alice: plaintext password (not a hash of any known scheme)",
        "importable hashes: bcrypt ($2y$, $2b$, $2a$; cost 4-12), Apache apr1 ($apr1$), {SHA}",
    ]
