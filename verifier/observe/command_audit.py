"""The audit log of a `verifier` command: records on stderr, each with `actor=cli`."""

from __future__ import annotations

from verifier.observe.audit import CLI_ACTOR, AuditLog, LoggingAuditLog, TaggedAuditLog
from verifier.observe.logs import configure_command_logging


def command_audit_log(level: str, log_format: str) -> AuditLog:
    """Configure the command's logging (VERIFIER_LOG_LEVEL/FORMAT) and return its audit log."""
    # The same logger and formatter as the service, so one log shipper reads both; stderr,
    # because scripts parse what the commands print on stdout.
    configure_command_logging(level, log_format)
    return TaggedAuditLog(LoggingAuditLog(), actor=CLI_ACTOR)
