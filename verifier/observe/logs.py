"""Log lines on stderr, as text or as one JSON object per line (VERIFIER_LOG_FORMAT)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger
from pythonjsonlogger.json import JsonFormatter

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger, message, extras.

    Extras are the fields an audit record carries (`event`, `user`, `request_id`...).
    """
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
    )


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send the verifier's records (the root logger's) to stderr in the given format."""
    _install_stderr_handler(log_format)
    logging.getLogger().setLevel(level)


def configure_command_logging(level: str, log_format: str = "text") -> None:
    """Send a `verifier` command's records to stderr, keeping stdout for its output.

    The verifier's own records at `level`, other libraries' from WARNING.
    """
    _install_stderr_handler(log_format)
    # At DEBUG, asyncio's and redis-py's chatter would bury the few lines a command makes.
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("verifier").setLevel(level)


def _install_stderr_handler(log_format: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    # Replaces what a previous call installed, so a worker never writes each line twice.
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


class JsonGunicornLogger(GunicornLogger):  # type: ignore[misc]  # untyped base class
    """gunicorn's logger with JSON lines: `verifier serve` names it when the format is json.

    uvicorn's worker hands gunicorn's handlers to the `uvicorn.error` and `uvicorn.access`
    loggers, so their lines come out as JSON too.
    """

    def setup(self, cfg: Any) -> None:
        """Configure as gunicorn does, then put the JSON formatter on every handler."""
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(json_formatter())
