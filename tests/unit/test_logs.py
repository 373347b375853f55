"""Log lines: human, or one JSON object per line with the fields operators filter on; the HTTP server's
access lines without query string nor client address."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from hypothesis import given
from hypothesis import strategies as st

from adapters.logs import UVICORN_LOGGERS, AccessLineFilter, logging_config
from adapters.metrics import reason_code
from adapters.settings import Settings


def _capture(settings: Settings, process: str, emit) -> str:
    stream = io.StringIO()
    config = logging_config(settings, process)
    config["handlers"]["stderr"]["stream"] = stream
    for name in UVICORN_LOGGERS:  # as uvicorn sets them at start (an earlier server may have left others)
        config["loggers"][name]["level"] = "INFO"
    root, servers = logging.getLogger(), [logging.getLogger(name) for name in UVICORN_LOGGERS]
    saved = (root.handlers[:], root.level, [(s.handlers[:], s.level, s.propagate, s.filters[:]) for s in servers])
    try:
        logging.config.dictConfig(config)
        emit()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for logger, (handlers, level, propagate, filters) in zip(servers, saved[2], strict=True):
            logger.handlers[:], logger.propagate, logger.filters[:] = handlers, propagate, filters
            logger.setLevel(level)
    return stream.getvalue()


def test_json_lines_carry_timestamp_level_process_logger_event_and_ids():
    settings = Settings.from_env({"TOCSIN_LOG_FORMAT": "json", "TOCSIN_LOG_LEVEL": "INFO"})

    def emit() -> None:
        logging.getLogger("adapters.ingest.ingestion").warning(
            "message quarantined (%s): %s", "nats:nexsis.x#3", "content at $", extra={"distribution_id": "d-1"})
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "192.0.2.7:5000", "GET",
                                                 "/api/v1/cases?q=Dupont", "1.1", 200)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 1, extra={"color_message": "\x1b[36m"})

    lines = [json.loads(line) for line in _capture(settings, "ingester", emit).splitlines()]
    assert len(lines) == 3
    first, access, server = lines
    assert {"timestamp", "level", "process", "logger", "event"} <= first.keys()
    assert first["level"] == "WARNING" and first["process"] == "ingester" and first["distribution_id"] == "d-1"
    assert first["event"] == "message quarantined (nats:nexsis.x#3): content at $"
    assert access["http_path"] == "/api/v1/cases" and access["http_status"] == 200
    assert "Dupont" not in json.dumps(access) and "192.0.2.7" not in json.dumps(access)
    assert "color_message" not in server


def test_human_lines_by_default():
    text = _capture(Settings.from_env({}), "api", lambda: logging.getLogger("api.app").warning("demo mode"))
    assert text.rstrip().endswith("WARNING api.app: demo mode") and not text.startswith("{")


@given(st.text(max_size=200))
def test_access_filter_never_keeps_a_query_string(path):
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.1:1", "GET", path, "1.1", 200), None)
    AccessLineFilter().filter(record)
    assert "?" not in record.getMessage().split('"')[1] and "10.0.0.1" not in record.getMessage()


@given(st.sampled_from(["/acquittement/", "/reponse/", "/invitation/"]),
       st.text(alphabet=st.characters(blacklist_characters="/?"), min_size=1, max_size=80))
def test_access_filter_masks_the_single_use_tokens_of_emailed_links(page, token):
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.1:1", "POST", page + token, "1.1", 200), None)
    AccessLineFilter().filter(record)
    assert record.getMessage().split('"')[1] == f"POST {page}… HTTP/1.1"


@given(st.text(max_size=100))
def test_reason_codes_are_bounded_labels(code):
    label = reason_code(code)
    assert label == "other" or (label == code and len(label) <= 41 and label.replace("-", "").isalnum())


def test_an_error_on_a_message_is_logged_by_type_and_place_not_by_its_text():
    from adapters.logs import error_site

    def normalise() -> None:
        raise KeyError("Raymonde Leccia, 0612345678")

    try:
        normalise()
    except KeyError as error:
        site = error_site(error)
    assert site.startswith("KeyError at test_logs.py:") and site.endswith("in normalise")
    assert "Leccia" not in site and "0612345678" not in site


def test_a_librarys_warning_is_a_log_line_in_the_processs_format():
    """urllib3 warns on stderr when an optional dependency is missing: in a JSON-logging process that line
    must be JSON too (tests/e2e/test_observability.py reads every line of a server's stderr as JSON)."""
    import os
    import subprocess
    import sys

    code = ("import warnings; from adapters.logs import configure; from adapters.settings import Settings; "
            "configure(Settings.from_env(), 'api'); warnings.warn('dépendance facultative absente')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TOCSIN_LOG_FORMAT": "json"})
    [line] = done.stderr.strip().splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING" and "dépendance facultative absente" in record["event"], record
