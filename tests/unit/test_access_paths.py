"""The fallback path normalization matches what nginx does to `$uri`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.access.paths import normalized_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("", "/"),
        ("/admin/x?next=/y", "/admin/x"),
        ("/%61dmin/", "/admin/"),
        ("//admin///x", "/admin/x"),
        ("/a/./b/../admin/", "/a/admin/"),
        ("/../../admin", "/admin"),
        ("/public/..%2Fadmin/x", "/admin/x"),
        ("/admin/..", "/"),
        ("/caf%C3%A9/", "/café/"),
    ],
)
def test_paths_are_decoded_merged_and_resolved(raw: str, expected: str) -> None:
    assert normalized_path(raw) == expected


@given(st.text())
def test_the_result_always_starts_with_one_slash_and_has_no_dot_segments(raw: str) -> None:
    path = normalized_path(raw)
    assert path.startswith("/")
    assert not path.startswith("//")
    assert "/../" not in path + "/"
    assert "/./" not in path + "/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Only what comes before the first `?`, then before the first `#`, is the path.
        ("/admin?a?b", "/admin"),
        ("/admin#a#b", "/admin"),
        ("/admin#x?y", "/admin"),
        # A trailing dot segment leaves the path a directory, as nginx resolves it.
        ("/a/b/.", "/a/b/"),
        ("/a/b/..", "/a/"),
        # Bytes that are not UTF-8 become U+FFFD, never an error.
        ("/%ff/x", "/\ufffd/x"),
    ],
)
def test_queries_fragments_dot_endings_and_bad_bytes(raw: str, expected: str) -> None:
    assert normalized_path(raw) == expected
