"""JSON log lines: one object per record, with the fields operators and parsers rely on."""

from __future__ import annotations

import io
import json
import logging

from verifier.observe.audit import LoggingAuditLog
from verifier.observe.logs import json_formatter


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("verifier.test-json")
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


def test_each_record_is_one_json_object_on_its_own_line() -> None:
    logger, stream = _capture()
    logger.info("first %s", "line")
    logger.warning("second\nwith a newline")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "first line"
    assert first["level"] == "INFO"
    assert first["logger"] == "verifier.test-json"
    assert first["timestamp"].endswith("+00:00")
    assert second["message"] == "second\nwith a newline"
    assert second["level"] == "WARNING"


def test_audit_fields_become_keys_of_the_json_object() -> None:
    logger, stream = _capture()
    LoggingAuditLog(logger).record("signin.failed", user="alice", reason="bad_credentials")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "signin.failed"
    assert record["user"] == "alice"
    assert record["reason"] == "bad_credentials"
    assert record["level"] == "INFO"
    assert record["message"] == "signin.failed user=alice reason=bad_credentials"
