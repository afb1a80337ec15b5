"""Logging set-up: one JSON object per line on stderr, for structlog and stdlib loggers alike.

Celery's, werkzeug's and gunicorn's own records go through the same renderer, so a log shipper sees
one format. Callers bind ticket and job ids; logs carry ids and decisions, never ticket text or
secrets (invariant 7).
"""
from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# An ANSI "select graphic rendition" or other CSI sequence, e.g. "\x1b[1m\x1b[31m" … "\x1b[0m".
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def strip_ansi(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: remove terminal colour codes from the record's `event` text.

    Werkzeug colours its access log lines (a 401 in bold red, a 404 in yellow) on every POSIX system,
    whether or not it writes to a terminal, and those codes would otherwise land inside the JSON
    `event` field. Returns `event_dict` with `event` cleaned when it is a string.
    """
    event = event_dict.get("event")
    if isinstance(event, str) and "\x1b" in event:
        event_dict["event"] = _ANSI_ESCAPE.sub("", event)
    return event_dict


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the stdlib root logger to stderr through one renderer (JSON or console)."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        # Not cached: a module-level logger then always follows the latest configuration (Celery's
        # setup_logging, each CLI command, tests' capture_logs) instead of the one of its first call.
        # Deskhand logs a few lines per job, so re-binding per call costs nothing that matters.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Other libraries' records (Celery, werkzeug, gunicorn): their colour codes stripped.
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, strip_ansi],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info, renderer],
        )
    )
    # The handler filters too: a library that sets its own logger to DEBUG (bm25s does) stays at LOG_LEVEL.
    handler.setLevel(level.upper())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python warnings (e.g. Celery's SecurityWarning) as JSON records too
