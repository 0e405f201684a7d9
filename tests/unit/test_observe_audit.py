"""Audit records: the request id joins every record, names are shown safely."""

from __future__ import annotations

import contextvars

from verifier.observe.audit import (
    CLI_ACTOR,
    AuditRecord,
    RecordingAuditLog,
    TaggedAuditLog,
    current_request_id,
    record_revocation,
    set_request_id,
    shown_name,
    valid_request_id,
)
from verifier.observe.causes import RevocationCause


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


def test_a_tagged_audit_log_adds_its_fields_to_every_record() -> None:
    recorded = RecordingAuditLog()
    audit = TaggedAuditLog(recorded, actor=CLI_ACTOR)

    audit.record("user.removed", user="alice")
    audit.record("user.created", user="bob", actor="forged")  # the tag wins

    assert recorded.records == [
        AuditRecord("user.removed", {"user": "alice", "actor": "cli"}),
        AuditRecord("user.created", {"user": "bob", "actor": "cli"}),
    ]


def test_a_revocation_lists_the_ended_sessions_and_their_count() -> None:
    audit = RecordingAuditLog()

    record_revocation(audit, RevocationCause.PASSWORD_CHANGE, "alice", ["s1", "s2"])

    assert audit.records == [
        AuditRecord(
            "session.revoked",
            {"cause": "password_change", "user": "alice", "sessions": "s1,s2", "count": 2},
        )
    ]
    assert type(audit.records[0].fields["cause"]) is str  # plain text in any log formatter


def test_no_revocation_is_recorded_when_no_session_ended() -> None:
    audit = RecordingAuditLog()

    record_revocation(audit, RevocationCause.ADMIN, "alice", [])

    assert audit.records == []
