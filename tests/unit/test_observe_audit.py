"""Audit records: the request id joins every record, names are shown safely."""

from __future__ import annotations

import contextvars

from verifier.observe.audit import (
    RecordingAuditLog,
    current_request_id,
    set_request_id,
    shown_name,
    valid_request_id,
)


def test_a_hex_request_id_is_kept_and_anything_else_ignored() -> None:
    assert valid_request_id(b"0123456789abcdef0123456789abcdef") == "0123456789abcdef" * 2
    assert valid_request_id("not hex at all") is None
    assert valid_request_id("ab" * 40) is None
    assert valid_request_id(None) is None


def test_every_record_of_a_request_carries_its_id() -> None:
    audit = RecordingAuditLog()

    def one_request() -> None:
        set_request_id(b"feedfacefeedface")
        audit.record("logout", user="alice")

    contextvars.copy_context().run(one_request)
    audit.record("logout", user="bob")  # outside that request: no id
    assert audit.records[0].fields == {"user": "alice", "request_id": "feedfacefeedface"}
    assert audit.records[1].fields == {"user": "bob"}
    assert current_request_id() is None


def test_a_typed_name_is_shown_printable_and_truncated() -> None:
    assert shown_name("alice") == "alice"
    assert shown_name("a\nb\x00c") == "a?b?c"
    assert shown_name("x" * 100) == "x" * 64 + "..."
