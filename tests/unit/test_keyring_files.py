"""verifier.keyring.files: 0600 atomic writes, round trips, and every bad file named."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.unprivileged import (
    Raised,
    give_to_unprivileged,
    raised_as_unprivileged,
    unprivileged_dir,
)
from verifier.errors import KeyFileError
from verifier.keyring.files import (
    directory_signature,
    ensure_directory,
    key_document,
    read_key_directory,
    read_key_file,
    remove_key_file,
    write_key_file,
)
from verifier.keyring.material import Key, generate_key

NOW = 1_700_000_000


def keys_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    ensure_directory(directory)
    return directory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_document(directory: Path, name: str, document: Any) -> Path:
    """A key file written by hand (mode 0600), as an operator's edit would be."""
    path = directory / name
    path.write_text(json.dumps(document), encoding="utf-8")
    path.chmod(0o600)
    return path


def access_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "kid": "a1",
        "use": "access",
        "alg": "HS256",
        "created": NOW,
        "activates_at": NOW,
        "secret": "s" * 40,
    }
    document.update(changes)
    return {name: value for name, value in document.items() if value is not None}


# --- writing --------------------------------------------------------------------------------------


def test_new_directory_is_0700_and_key_files_0600(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # a permissive umask must not loosen either mode
    try:
        directory = tmp_path / "nested" / "keys"
        path = write_key_file(directory, generate_key("access", "HS256", NOW, NOW))
    finally:
        os.umask(old_umask)
    assert mode(directory) == 0o700
    assert mode(path) == 0o600


def test_written_keys_of_every_kind_read_back_equal(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    written = [
        generate_key("access", "HS256", NOW, NOW),
        generate_key("assertion", "EdDSA", NOW, NOW + 60),
        generate_key("assertion", "ES256", NOW, NOW + 120),
    ]
    for key in written:
        write_key_file(directory, key)

    read = {key.kid: key for key in read_key_directory(directory).keys}

    for key in written:
        assert key_document(read[key.kid]) == key_document(key)


def test_write_leaves_no_temp_file_and_never_overwrites_by_accident(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    key = generate_key("access", "HS256", NOW, NOW)
    write_key_file(directory, key)

    with pytest.raises(KeyFileError, match="exists already"):
        write_key_file(directory, key)
    assert os.listdir(directory) == [f"{key.kid}.json"]


def test_replace_rewrites_a_key_in_one_rename(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    key = generate_key("access", "HS256", NOW, NOW)
    path = write_key_file(directory, key)
    inode_before = path.stat().st_ino

    write_key_file(directory, key.withdrawn(NOW + 5), replace=True)

    # A new inode: the old file was replaced by a rename, never truncated in place, so a
    # reader sees either the whole old file or the whole new one.
    assert path.stat().st_ino != inode_before
    assert mode(path) == 0o600
    tombstone = read_key_file(path)
    assert tombstone.retired_at == NOW + 5
    assert tombstone.secret is None
    assert "secret" not in json.loads(path.read_text())


def test_half_written_temp_files_are_not_read_as_keys(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    write_key_file(directory, generate_key("access", "HS256", NOW, NOW))
    (directory / ".a2.1234.tmp").write_text("{", encoding="utf-8")
    (directory / "README").write_text("backups of this directory are secret", encoding="utf-8")

    assert len(read_key_directory(directory).keys) == 1


def test_remove_deletes_the_file(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    key = generate_key("access", "HS256", NOW, NOW)
    write_key_file(directory, key)

    remove_key_file(directory, key.kid)

    assert os.listdir(directory) == []


def test_secrets_stay_out_of_repr() -> None:
    access = generate_key("access", "HS256", NOW, NOW)
    assertion = generate_key("assertion", "EdDSA", NOW, NOW)
    assert access.secret is not None
    assert access.secret.decode() not in repr(access)
    assert "private_key" not in repr(assertion)


# --- reading: every bad file is named -------------------------------------------------------------


def test_file_readable_by_group_or_others_is_refused(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    path = write_key_file(directory, generate_key("assertion", "EdDSA", NOW, NOW))
    path.chmod(0o640)

    with pytest.raises(KeyFileError) as caught:
        read_key_directory(directory)

    assert str(caught.value) == (
        f"{path}: is accessible to group or others (mode 0640): chmod 600 it"
    )


def test_directory_writable_by_others_is_refused(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    directory.chmod(0o777)

    with pytest.raises(KeyFileError) as caught:
        read_key_directory(directory)

    assert str(caught.value) == (
        f"{directory}: is writable by group or others (mode 0777): chmod 700 it"
    )


def test_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(KeyFileError) as caught:
        read_key_directory(missing)
    assert str(caught.value) == (
        f"{missing}: cannot read the keys directory: No such file or directory"
    )


def test_unreadable_file_is_named() -> None:
    # Read by an ordinary user, even when the suite runs as root (who reads any file).
    with unprivileged_dir() as base:
        directory = keys_dir(base)
        path = write_key_file(directory, generate_key("access", "HS256", NOW, NOW))
        path.chmod(0o000)
        for owned in (directory, path):
            give_to_unprivileged(owned)

        raised = raised_as_unprivileged(read_key_directory, directory)

    assert raised == Raised(KeyFileError, f"{path}: cannot read: Permission denied")


def test_bad_json_is_named_with_its_line(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    path = directory / "a1.json"
    path.write_text('{\n  "kid": "a1",\n  oops\n}', encoding="utf-8")
    path.chmod(0o600)

    with pytest.raises(KeyFileError) as caught:
        read_key_directory(directory)

    assert str(caught.value).startswith(f"{path}: is not valid JSON (")
    assert "line 3" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"kid": "a2"}, "holds kid 'a2': the file must be named a2.json"),
        ({"use": "refresh"}, "use 'refresh' must be one of access, assertion"),
        ({"alg": "HS512"}, "alg 'HS512' is not allowed for access keys (HS256)"),
        ({"alg": "none"}, "alg 'none' is not allowed for access keys (HS256)"),
        ({"created": "yesterday"}, "created must be unix seconds (a whole number >= 0)"),
        ({"activates_at": True}, "activates_at must be unix seconds (a whole number >= 0)"),
        ({"activates_at": -1}, "activates_at must be unix seconds (a whole number >= 0)"),
        ({"secret": "short"}, "the secret is shorter than 32 characters"),
        ({"secret": None}, "secret must be a non-empty string"),
        ({"retired_at": NOW}, "a retired key must not hold key material"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, changes: dict[str, Any], problem: str) -> None:
    directory = keys_dir(tmp_path)
    path = write_document(directory, "a1.json", access_document(**changes))

    with pytest.raises(KeyFileError) as caught:
        read_key_directory(directory)

    assert str(caught.value) == f"{path}: {problem}"


@pytest.mark.parametrize("kid", ["../a1", ".hidden", "a b", "k" * 65])
def test_kid_that_could_not_be_a_file_name_is_refused(tmp_path: Path, kid: str) -> None:
    path = write_document(keys_dir(tmp_path), "x.json", access_document(kid=kid))
    with pytest.raises(KeyFileError, match="must be 1-64 of"):
        read_key_file(path)


def test_document_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = write_document(keys_dir(tmp_path), "a1.json", ["a1"])
    with pytest.raises(KeyFileError, match="must hold a JSON object"):
        read_key_file(path)


def test_private_key_of_the_wrong_type_for_its_alg_is_refused(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    ed25519_key = generate_key("assertion", "EdDSA", NOW, NOW)
    document = key_document(ed25519_key) | {"kid": "x1", "alg": "ES256"}
    path = write_document(directory, "x1.json", document)

    with pytest.raises(KeyFileError) as caught:
        read_key_file(path)

    assert str(caught.value) == f"{path}: private_key_pem: the private key is not an EC P-256 key"


def test_garbage_pem_is_refused(tmp_path: Path) -> None:
    document = {
        "kid": "x1",
        "use": "assertion",
        "alg": "EdDSA",
        "created": NOW,
        "activates_at": NOW,
        "private_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    }
    path = write_document(keys_dir(tmp_path), "x1.json", document)
    with pytest.raises(KeyFileError, match=r"x1\.json: private_key_pem: "):
        read_key_file(path)


def test_tombstone_reads_without_material(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    document = access_document(secret=None, retired_at=NOW + 9)
    write_document(directory, "a1.json", document)

    (key,) = read_key_directory(directory).keys

    assert isinstance(key, Key)
    assert key.retired
    assert key.secret is None


# --- signature ------------------------------------------------------------------------------------


def test_signature_changes_when_a_key_is_added_replaced_or_removed(tmp_path: Path) -> None:
    directory = keys_dir(tmp_path)
    key = generate_key("access", "HS256", NOW, NOW)
    empty = directory_signature(directory)
    write_key_file(directory, key)
    one = directory_signature(directory)
    write_key_file(directory, key.withdrawn(NOW), replace=True)
    replaced = directory_signature(directory)
    remove_key_file(directory, key.kid)

    assert len({empty, one, replaced}) == 3
    assert directory_signature(directory) == empty
    assert read_key_directory(directory).signature == empty
