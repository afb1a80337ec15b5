"""worker.logs: every line on stderr is one clean JSON object, whichever library wrote the record."""
from __future__ import annotations

import json
import logging
import threading

import pytest
import requests
import structlog
from werkzeug.serving import make_server

from worker.logs import configure_logging
from worker.settings import Settings
from worker.web import create_app


@pytest.fixture
def restore_logging():
    """configure_logging changes process-wide state; put the root handlers and structlog back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_werkzeug_access_log_is_json_without_colour_codes(capsys, restore_logging) -> None:
    # The server `deskhand serve` runs. Werkzeug colours a 404 line yellow and a 405 line bold red;
    # neither answer logs through Deskhand's own (cached) structlog loggers, so nothing outlives the test.
    configure_logging("INFO", json=True)
    settings = Settings(zendesk_webhook_secret="c2VjcmV0", embedding_model="unused")
    server = make_server("127.0.0.1", 0, create_app(settings, enqueue=lambda event: "job-1"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        missing = requests.get(f"{base}/no-such-page", timeout=10)
        wrong_method = requests.get(f"{base}/webhooks/zendesk", timeout=10)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert (missing.status_code, wrong_method.status_code) == (404, 405)

    records = json_lines(capsys.readouterr().err)  # raises if any line is not JSON
    access = [r for r in records if r.get("logger") == "werkzeug"]
    assert [r["event"].split('"')[1] for r in access] == ["GET /no-such-page HTTP/1.1", "GET /webhooks/zendesk HTTP/1.1"]
    assert all("\x1b" not in r["event"] for r in records)
    assert '" 404 ' in access[0]["event"] and '" 405 ' in access[1]["event"]


def test_a_library_logger_set_to_debug_stays_at_log_level(capsys):
    import logging

    import structlog

    from worker.logs import configure_logging

    root = logging.getLogger()
    saved = (structlog.get_config(), root.handlers[:], root.level)
    try:
        configure_logging("INFO")
        chatty = logging.getLogger("deskhand.test.chatty")
        chatty.setLevel(logging.DEBUG)  # as bm25s does for its own logger
        chatty.debug("building index from tokens")
        chatty.info("index built")
        err = capsys.readouterr().err
        assert "index built" in err and "building index from tokens" not in err
    finally:  # later tests must not write to this test's captured stderr
        structlog.configure(**saved[0])
        root.handlers[:], root.level = saved[1], saved[2]
