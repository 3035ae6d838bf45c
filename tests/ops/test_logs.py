"""The log formats: one JSON object a line with the fields a log store indexes; a request's context on its lines."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.config import ConfigError, load_settings
from app.ops import logs


def emit(fmt: str, *, bound: tuple[str, str] | None = None, exc: bool = False, **extra) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(fmt))
    logger = logging.getLogger("tests.ops.emit")
    logger.addHandler(handler)
    logger.propagate = False
    context = logs.bind_request(*bound) if bound else None
    try:
        if exc:
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed: code=%s", "x1")
        else:
            logger.warning("FHIR GET %s -> %d", "Observation", 200, extra=extra)
    finally:
        if context:
            logs.unbind(context)
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_a_json_line_has_time_level_logger_and_message():
    line = emit("json")
    assert line.count("\n") == 1
    doc = json.loads(line)
    assert doc["level"] == "WARNING" and doc["logger"] == "tests.ops.emit"
    assert doc["message"] == "FHIR GET Observation -> 200"
    assert doc["time"].endswith("+00:00") and "request_id" not in doc


def test_a_line_written_during_a_request_carries_its_id_and_route_and_the_extra_fields():
    doc = json.loads(emit("json", bound=("abc123", "/patients/<patient_id>"), status=200, duration_ms=12.5))
    assert (doc["request_id"], doc["route"], doc["status"], doc["duration_ms"]) == (
        "abc123", "/patients/<patient_id>", 200, 12.5)
    assert logs.current_request_id() is None  # unbound afterwards


def test_a_traceback_stays_inside_its_one_json_line():
    out = emit("json", exc=True)
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert "ValueError: boom" in doc["exc_info"] and doc["message"] == "failed: code=x1"


def test_text_lines_are_the_demos_and_end_with_the_request_id():
    out = emit("text", bound=("abc123", "/x"))
    assert " WARNING tests.ops.emit FHIR GET Observation -> 200 [request_id=abc123]" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


@pytest.mark.parametrize("incoming, kept", [
    ("req-1234.abc:5_x", True), ("a" * 64, True), ("a" * 65, False), ("", False), (None, False),
    ("id with space", False), ("x\nforged line", False), ('{"a":1}', False), ("-starts-with-dash", False),
])
def test_an_incoming_request_id_is_kept_only_when_it_is_a_safe_short_token(incoming, kept):
    got = logs.request_id_from(incoming)
    assert (got == incoming) is kept
    assert logs.SAFE_REQUEST_ID.fullmatch(got)


def test_the_format_setting_is_json_or_text():
    assert load_settings(environ={"SENTINEL_LOG_FORMAT": "json"}).log_format == "json"
    assert load_settings(environ={}).log_format == "text"
    with pytest.raises(ConfigError, match="SENTINEL_LOG_FORMAT must be json or text"):
        load_settings(environ={"SENTINEL_LOG_FORMAT": "xml"})


def test_gunicorns_own_lines_go_through_the_json_root_handler():
    config = logs.gunicorn_logconfig("json", "INFO")
    assert config["formatters"]["json"]["()"] == "app.ops.logs.JsonFormatter"
    assert config["loggers"]["gunicorn.error"]["propagate"] is True and config["root"]["handlers"] == ["console"]
    assert logs.gunicorn_logconfig("text") is None


def test_alembics_per_check_context_lines_are_dropped_and_its_upgrade_lines_kept():
    logs.configure("text", "INFO")
    alembic = logging.getLogger("alembic.runtime.migration")

    def kept(msg: str, *args) -> bool:
        return alembic.filter(logging.LogRecord(alembic.name, logging.INFO, __file__, 1, msg, args, None))

    assert not kept("Context impl %s.", "SQLiteImpl") and not kept("Will assume %s DDL.", "transactional")
    assert kept("Running upgrade %s -> %s, %s", "0005", "0006", "x")
