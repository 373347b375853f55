"""How every Tocsin process logs: human lines, or one JSON object per line (TOCSIN_LOG_FORMAT=json).

One configuration (`logging_config`, a `logging.config.dictConfig` dictionary) for the command line and
for uvicorn, which takes it as its `log_config`: the HTTP server's own lines (start-up, errors, access)
then go through the same handler and format as Tocsin's. In JSON, each line has `timestamp` (ISO 8601,
UTC), `level`, `process` (which Tocsin process: api, ingester, worker…), `logger`, `event` (the
message, in English) and the ids a line passes as `extra` (`distribution_id`, `case_id`…).

No personal data in logs: Tocsin's own lines name messages by their source, distributionID and reason
codes, never by their content. The access lines of the HTTP server are rewritten before any handler
sees them (`AccessLineFilter`): the path without its query string (a search may hold a name), the
single-use tokens of emailed links masked (an acknowledgement, a call-out answer: whoever reads the log
could otherwise use them), and no client address.
"""

from __future__ import annotations

import logging
import logging.config
import re
import traceback
from pathlib import Path
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from adapters.settings import Settings

HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# The pages whose path carries a single-use token sent by email (api/routes/alerts.py, callouts.py).
_TOKEN_PATH = re.compile(r"^(/(?:acquittement|reponse|invitation)/)[^/]+")


class AccessLineFilter(logging.Filter):
    """uvicorn's access line (`'%s - "%s %s HTTP/%s" %d'`, client, method, path, version, status) without the
    client address nor the query string; in JSON, method, route path and status become fields too."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, path, version, status = args
            path = _TOKEN_PATH.sub(r"\1…", str(path).split("?", 1)[0])
            record.args = ("-", method, path, version, status)
            record.http_method, record.http_path, record.http_status = method, path, status
        return True


def error_site(error: BaseException) -> str:
    """An exception as a log may name it when it was raised on a message's content: its type and where it
    was raised (file, line, function), not its text nor a traceback, which may quote the values at fault
    (a name, a phone number)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    last = frames[-1]
    return f"{type(error).__name__} at {Path(last.filename).name}:{last.lineno} in {last.name}"


def logging_config(settings: Settings, process: str) -> dict[str, Any]:
    """The configuration of a process named `process`. TOCSIN_LOG_LEVEL is the root logger's level
    (uvicorn's own loggers keep the level uvicorn gives them)."""
    if settings.log_format == "json":
        formatter: dict[str, Any] = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger", "message": "event"},
            "static_fields": {"process": process},
            "timestamp": True,
            # uvicorn's lines carry a copy of their text with terminal colours: not for a log collector.
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
            "json_ensure_ascii": False,
        }
    else:
        formatter = {"format": HUMAN_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"access": {"()": "adapters.logs.AccessLineFilter"}},
        "formatters": {"tocsin": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "tocsin", "stream": "ext://sys.stderr"}},
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        # uvicorn's loggers hand their lines to the root's handler, in the same format as every other line.
        "loggers": {
            name: {"handlers": [], "propagate": True, **({"filters": ["access"]} if name == "uvicorn.access" else {})}
            for name in UVICORN_LOGGERS
        },
    }


def configure(settings: Settings, process: str) -> None:
    logging.config.dictConfig(logging_config(settings, process))
    # Python's warnings (a library's, such as urllib3's about an optional dependency) go through logging
    # too, so that every line a process writes is in its format: one JSON object a line, when asked.
    logging.captureWarnings(True)
