"""Key files: one `<kid>.json` per key, mode 0600, written atomically in a 0700 directory.

A file holds `kid`, `use` (access | assertion), `alg`, `created` and `activates_at` (unix
seconds), and the key material: `secret` (HS256, text of >= 32 characters, used as its UTF-8
bytes) or `private_key_pem` (PKCS#8 PEM of an Ed25519 or P-256 key). A withdrawn key keeps
its file as a tombstone: `retired_at` set and no material. Operators back the directory up
as it is; the service only ever reads it.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.errors import KeyFileError
from verifier.keyring.material import (
    ALGORITHMS_BY_USE,
    KID_PATTERN,
    USES,
    Key,
    KeyUse,
    check_secret,
    load_private_key,
    private_key_pem,
)
from verifier.private_files import write_private_file

KEY_FILE_SUFFIX = ".json"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
# Key files are far smaller; anything larger is not one of ours.
MAX_KEY_FILE_BYTES = 64 * 1024
# Group or others may not read key material, nor write the directory (a planted file
# would be a key every verifier trusts).
_PRIVATE_BITS = stat.S_IRWXG | stat.S_IRWXO
_SHARED_WRITE_BITS = stat.S_IWGRP | stat.S_IWOTH

# What a directory looked like: (file name, mtime ns, size, inode) of every key file.
# Writes are temp file + rename, so any change shows in one of these.
DirectorySignature = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True)
class KeyDirectory:
    """The keys read from a directory, with the signature of what was read."""

    keys: tuple[Key, ...]
    signature: DirectorySignature


def directory_signature(directory: Path) -> DirectorySignature:
    """Names, mtimes, sizes and inodes of the key files; raise KeyFileError if unreadable."""
    entries: list[tuple[str, int, int, int]] = []
    for path in _key_file_paths(directory):
        try:
            status = path.stat()
        except OSError as error:
            raise KeyFileError(path, f"cannot read: {error.strerror}") from None
        entries.append((path.name, status.st_mtime_ns, status.st_size, status.st_ino))
    return tuple(entries)


def read_key_directory(directory: Path) -> KeyDirectory:
    """Read and check every key file; raise KeyFileError naming the first bad one."""
    _check_directory(directory)
    # Taken first: a file changed while we read shows up as a change on the next check.
    signature = directory_signature(directory)
    keys = tuple(read_key_file(path) for path in _key_file_paths(directory))
    return KeyDirectory(keys=keys, signature=signature)


def read_key_file(path: Path) -> Key:
    """Read one key file; raise KeyFileError if it is unreadable, exposed or malformed."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise KeyFileError(path, "is not a regular file")
        if status.st_mode & _PRIVATE_BITS:
            raise KeyFileError(
                path,
                f"is accessible to group or others (mode {stat.S_IMODE(status.st_mode):04o}): "
                f"chmod 600 it",
            )
        if status.st_size > MAX_KEY_FILE_BYTES:
            raise KeyFileError(path, "is too large to be a key file")
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise KeyFileError(path, f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise KeyFileError(path, "is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise KeyFileError(path, f"is not valid JSON ({error.msg}, line {error.lineno})") from None
    key = parse_key_document(document, path)
    if path.name != key.kid + KEY_FILE_SUFFIX:
        raise KeyFileError(path, f"holds kid {key.kid!r}: the file must be named {key.kid}.json")
    return key


def parse_key_document(document: object, path: Path) -> Key:
    """The Key a parsed key file describes; raise KeyFileError on any bad field."""
    if not isinstance(document, Mapping):
        raise KeyFileError(path, "must hold a JSON object")
    fields = _Fields(document, path)
    kid = fields.text("kid")
    if not KID_PATTERN.fullmatch(kid):
        raise KeyFileError(path, f"kid {kid!r} must be 1-64 of [A-Za-z0-9._-], not starting '.'")
    use = fields.text("use")
    if use not in USES:
        raise KeyFileError(path, f"use {use!r} must be one of {', '.join(USES)}")
    key_use: KeyUse = "access" if use == "access" else "assertion"
    alg = fields.text("alg")
    if alg not in ALGORITHMS_BY_USE[key_use]:
        allowed = ", ".join(ALGORITHMS_BY_USE[key_use])
        raise KeyFileError(path, f"alg {alg!r} is not allowed for {use} keys ({allowed})")
    created = fields.seconds("created")
    activates_at = fields.seconds("activates_at")
    retired_at = fields.seconds("retired_at") if "retired_at" in document else None
    if retired_at is not None:
        # A tombstone: the material is gone on purpose, and none may be left behind.
        if "secret" in document or "private_key_pem" in document:
            raise KeyFileError(path, "a retired key must not hold key material")
        return Key(kid, key_use, alg, created, activates_at, retired_at=retired_at)
    if key_use == "access":
        try:
            secret = check_secret(fields.text("secret"))
        except ValueError as error:
            raise KeyFileError(path, str(error)) from None
        return Key(kid, key_use, alg, created, activates_at, secret=secret)
    try:
        private_key = load_private_key(fields.text("private_key_pem"), alg)
    except (ValueError, TypeError) as error:
        raise KeyFileError(path, f"private_key_pem: {error}") from None
    return Key(kid, key_use, alg, created, activates_at, private_key=private_key)


def key_document(key: Key) -> dict[str, Any]:
    """The JSON object a key file holds."""
    document: dict[str, Any] = {
        "kid": key.kid,
        "use": key.use,
        "alg": key.alg,
        "created": key.created,
        "activates_at": key.activates_at,
    }
    if key.retired_at is not None:
        document["retired_at"] = key.retired_at
    elif key.secret is not None:
        document["secret"] = key.secret.decode("utf-8")
    elif key.private_key is not None:
        document["private_key_pem"] = private_key_pem(key.private_key)
    return document


def ensure_directory(directory: Path) -> None:
    """Create the keys directory (mode 0700) if missing; refuse one others may write."""
    if not directory.exists():
        directory.mkdir(parents=True, mode=DIRECTORY_MODE)
        directory.chmod(DIRECTORY_MODE)  # mkdir's mode is filtered by the umask
    _check_directory(directory)


def write_key_file(directory: Path, key: Key, *, replace: bool = False) -> Path:
    """Write `<kid>.json` (0600) atomically: a temp file, fsynced, renamed into place.

    Without `replace`, an existing file of that kid is an error: a key is never overwritten
    by accident.
    """
    ensure_directory(directory)
    final = directory / (key.kid + KEY_FILE_SUFFIX)
    if not replace and final.exists():
        raise KeyFileError(final, "exists already")
    data = (json.dumps(key_document(key), indent=2) + "\n").encode("utf-8")
    write_private_file(final, data, FILE_MODE)
    _fsync_directory(directory)
    return final


def remove_key_file(directory: Path, kid: str) -> None:
    """Delete `<kid>.json`."""
    (directory / (kid + KEY_FILE_SUFFIX)).unlink()
    _fsync_directory(directory)


def _check_directory(directory: Path) -> None:
    try:
        status = directory.stat()
    except OSError as error:
        raise KeyFileError(directory, f"cannot read the keys directory: {error.strerror}") from None
    if not stat.S_ISDIR(status.st_mode):
        raise KeyFileError(directory, "is not a directory")
    if status.st_mode & _SHARED_WRITE_BITS:
        raise KeyFileError(
            directory,
            f"is writable by group or others (mode {stat.S_IMODE(status.st_mode):04o}): "
            "chmod 700 it",
        )


def _key_file_paths(directory: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as error:
        raise KeyFileError(directory, f"cannot read the keys directory: {error.strerror}") from None
    # Dot files are our temp files (and editors' swap files); other suffixes are not keys.
    return [
        directory / name
        for name in names
        if name.endswith(KEY_FILE_SUFFIX) and not name.startswith(".")
    ]


def _fsync_directory(directory: Path) -> None:
    # The rename (or unlink) is durable only once the directory itself is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Fields:
    """Typed reads of a key file's fields, each error naming the file and the field."""

    def __init__(self, document: Mapping[str, Any], path: Path) -> None:
        self._document = document
        self._path = path

    def text(self, name: str) -> str:
        value = self._document.get(name)
        if not isinstance(value, str) or not value:
            raise KeyFileError(self._path, f"{name} must be a non-empty string")
        return value

    def seconds(self, name: str) -> int:
        value = self._document.get(name)
        # bool is an int subclass; `true` is not a time.
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise KeyFileError(self._path, f"{name} must be unix seconds (a whole number >= 0)")
        return value
