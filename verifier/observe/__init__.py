"""What the verifier tells its operators: log lines (text or JSON) and audit records."""

from verifier.observe.audit import AuditLog, LoggingAuditLog, RecordingAuditLog
from verifier.observe.logs import LOG_FORMATS, configure_logging, json_formatter

__all__ = [
    "LOG_FORMATS",
    "AuditLog",
    "LoggingAuditLog",
    "RecordingAuditLog",
    "configure_logging",
    "json_formatter",
]
