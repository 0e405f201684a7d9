"""Audit records: one per security event, with a stable `event` name and fields.

Emitted where the decision is made (login, logout, the gate, the reloaders, the CLI),
through an `AuditLog` passed in like the clock. `LoggingAuditLog` writes each record to the
`verifier.audit` logger at INFO, the fields as structured extras (JSON keys with
VERIFIER_LOG_FORMAT=json); `RecordingAuditLog` keeps them in a list for tests.

Never pass a token, cookie value, password or key as a field.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from verifier.observe.causes import RevocationCause

AUDIT_LOGGER = "verifier.audit"
FieldValue = str | int | None
# The `actor` of records made by the `verifier` command (the service's records have none:
# their `user` is who acted, or the service itself for a replay).
CLI_ACTOR = "cli"

# The id nginx made for this request ($request_id, sent as X-Request-ID); set per request
# (each ASGI request runs in its own task, so its own context) and put in every record.
# Kept raw and checked only when a record is written: nothing more per allowed /auth request.
_REQUEST_ID: contextvars.ContextVar[str | bytes | None] = contextvars.ContextVar(
    "verifier_request_id", default=None
)
# nginx's $request_id is 32 hex digits; accept a little more, never arbitrary text.
_REQUEST_ID_SHAPE = re.compile(r"[0-9A-Fa-f]{8,64}")
_MAX_NAME_SHOWN = 64
# Keys a LogRecord already has: an extra with one of these names would be refused.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def valid_request_id(raw: str | bytes | None) -> str | None:
    """The request id if it looks like nginx's (hex, 8 to 64 digits), else None."""
    if raw is None:
        return None
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    return text if _REQUEST_ID_SHAPE.fullmatch(text) else None


def set_request_id(raw: str | bytes | None) -> None:
    """Remember this request's id as sent (checked when a record uses it)."""
    _REQUEST_ID.set(raw)


def current_request_id() -> str | None:
    """The id of the request being handled, if nginx sent a valid one."""
    return valid_request_id(_REQUEST_ID.get())


def shown_name(typed: str) -> str:
    """A user name as typed, safe for a log line: printable characters only, truncated."""
    printable = "".join(char if char.isprintable() else "?" for char in typed[:_MAX_NAME_SHOWN])
    return printable + ("..." if len(typed) > _MAX_NAME_SHOWN else "")


class AuditLog(Protocol):
    """Where security events go."""

    def record(self, event: str, **fields: FieldValue) -> None:
        """Record one event with its fields (never a secret)."""


class LoggingAuditLog:
    """Audit records as INFO lines of the `verifier.audit` logger."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(AUDIT_LOGGER)

    def record(self, event: str, **fields: FieldValue) -> None:
        """Log the event; the text line says it all, the JSON line has each field as a key."""
        extras = _with_request_id(fields)
        clashes = _RESERVED.intersection(extras)
        if clashes:
            raise ValueError(f"audit field names clash with log record attributes: {clashes}")
        described = " ".join(f"{key}={value}" for key, value in extras.items())
        self._log.info("%s %s", event, described, extra={"event": event, **extras})


class TaggedAuditLog:
    """Adds the same fields (e.g. `actor=cli`) to every record of another AuditLog."""

    def __init__(self, inner: AuditLog, **tags: FieldValue) -> None:
        self._inner = inner
        self._tags = tags

    def record(self, event: str, **fields: FieldValue) -> None:
        """Record the event with its fields and the tags."""
        self._inner.record(event, **{**fields, **self._tags})


def record_revocation(
    audit: AuditLog, cause: RevocationCause, user: str, session_ids: Sequence[str]
) -> None:
    """Record `session.revoked` for the sessions just ended; nothing when none was live."""
    # A state change, not an action: the action (logout, `users passwd`...) has its own
    # record, made even when it ended nothing.
    if session_ids:
        audit.record(
            "session.revoked",
            cause=cause.value,
            user=user,
            sessions=",".join(session_ids),
            count=len(session_ids),
        )


@dataclass(frozen=True)
class AuditRecord:
    """One recorded event (RecordingAuditLog)."""

    event: str
    fields: dict[str, FieldValue]


@dataclass
class RecordingAuditLog:
    """Keeps every record in `records`, for tests to read."""

    records: list[AuditRecord] = field(default_factory=list)

    def record(self, event: str, **fields: FieldValue) -> None:
        """Keep the event and its fields (with the request id, as LoggingAuditLog logs it)."""
        self.records.append(AuditRecord(event, _with_request_id(fields)))

    def events(self) -> list[str]:
        """The recorded event names, in order."""
        return [record.event for record in self.records]


def _with_request_id(fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
    request_id = current_request_id()
    if request_id is None or "request_id" in fields:
        return dict(fields)
    return {**fields, "request_id": request_id}
