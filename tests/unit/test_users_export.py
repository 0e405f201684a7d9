"""verifier.users.export: the export document, its validation, and the 0600 file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import argon2
import pytest

from verifier.users.export import (
    CONTAINS,
    FORMAT,
    FORMAT_VERSION,
    ExportRefused,
    parse_document,
    render_document,
    write_export_file,
)
from verifier.users.store import UserRecord

ARGON2 = argon2.PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1).hash("pw-1")
BCRYPT = "$2y$05$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW"
APR1 = "$apr1$WUuMzysm$2dLGSMAsdI9ObxfZfYXCt/"
RECORDS = [
    UserRecord("alice", ("admins", "staff"), 1_700_000_000, ARGON2),
    UserRecord("bob", (), 1_700_000_001, BCRYPT),
    UserRecord("carol@example.org", ("ops",), 1_700_000_002, APR1),
]


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_document(RECORDS, 1_800_000_000))
    document.update(changes)
    return document


def _problems(document: object) -> tuple[str, ...]:
    with pytest.raises(ExportRefused) as refused:
        parse_document(json.dumps(document).encode())
    return refused.value.problems


def test_a_rendered_document_reads_back_as_the_same_users() -> None:
    assert parse_document(render_document(RECORDS, 1_800_000_000).encode()) == RECORDS


def test_the_document_says_it_holds_password_hashes_and_holds_nothing_else() -> None:
    document = _document()
    assert document["format"] == FORMAT
    assert document["version"] == FORMAT_VERSION
    assert document["exported_at"] == 1_800_000_000
    assert document["contains"] == CONTAINS
    assert "secret" in document["contains"]
    assert set(document) == {"format", "version", "exported_at", "contains", "users"}
    for entry in document["users"]:
        assert set(entry) == {"name", "groups", "created", "password_hash"}


def test_an_unsupported_version_is_refused() -> None:
    assert _problems(_document(version=2)) == (
        "version 2 is not supported (this verifier reads version 1)",
    )


@pytest.mark.parametrize("data", [b"", b"{", b"\xff", b"[]", b'"users"'])
def test_something_other_than_a_json_object_is_refused(data: bytes) -> None:
    with pytest.raises(ExportRefused):
        parse_document(data)


def test_every_problem_is_listed_with_its_user_and_no_hash_is_quoted() -> None:
    users = _document()["users"]
    users[0]["name"] = "Alice"  # not canonical: folding could merge two accounts
    users[1]["password_hash"] = "$6$salt$digest"
    users[2]["groups"] = ["ops", "bad group"]
    users.append(dict(users[1], password_hash=BCRYPT))  # bob again
    users.append({"name": "dave", "groups": [], "password_hash": "plaintext", "extra": 1})
    problems = _problems(_document(users=users))
    assert [problem.split(":", 1)[0] for problem in problems] == [
        "user 1",
        "user 2 (bob)",
        "user 3 (carol@example.org)",
        "user 4 (bob)",
        "user 5 (dave)",
        "user 5 (dave)",
        "user 5 (dave)",
    ]
    assert "appears more than once" in problems[3]
    joined = "\n".join(problems)
    for secret in ("$6$salt$digest", "plaintext", BCRYPT):
        assert secret not in joined


def test_costlier_argon2_and_bcrypt_hashes_are_refused() -> None:
    costly_argon2 = argon2.PasswordHasher(time_cost=4).hash("pw")
    costly_bcrypt = BCRYPT.replace("$05$", "$13$")
    users = _document()["users"]
    users[0]["password_hash"] = costly_argon2
    users[1]["password_hash"] = costly_bcrypt
    assert len(_problems(_document(users=users))) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("created", -1), ("created", "yesterday"), ("created", True), ("groups", "admins")],
)
def test_bad_field_values_are_refused(field: str, value: object) -> None:
    users = _document()["users"]
    users[0][field] = value
    assert len(_problems(_document(users=users))) == 1


def test_the_export_file_is_written_0600_even_over_a_readable_one(tmp_path: Path) -> None:
    target = tmp_path / "users.json"
    target.write_text("old")
    target.chmod(0o644)
    old_umask = os.umask(0)
    try:
        write_export_file(target, render_document(RECORDS, 1))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert parse_document(target.read_bytes()) == RECORDS
    assert [path.name for path in tmp_path.iterdir()] == ["users.json"]
