"""The hub's log lines: plain text for people, or one JSON object per line for a log collector."""

from __future__ import annotations

import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.settings import Settings

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, the record's ``fields`` and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def log_config(settings: Settings) -> dict[str, Any]:
    """The logging set-up (``logging.config.dictConfig``) of the settings' format, uvicorn's loggers included;
    uvicorn applies it again in each worker process."""
    formatter: dict[str, Any] = {"()": JsonFormatter} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hub": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "hub"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(settings: Settings) -> dict[str, Any]:
    """Apply ``log_config`` in this process unless logging is set up already (as ``basicConfig`` would; the CLI
    run inside a test keeps the test's handlers), and return it."""
    config = log_config(settings)
    if not logging.getLogger().handlers:
        logging.config.dictConfig(config)
    return config
