"""Logging, configured in one place: one JSON object a line (a log store's format) or plain text (the demo).

Every line carries time, level, logger and message. A line written while a request is served also carries that
request's id and route (the URL rule, "/patients/<patient_id>", never the path with its ids), so a log store can
gather one request's lines. The access line (logger `app.access`) adds method, status and duration_ms. What goes
into a line is still the caller's job: ids, counts, codes and timings, never names, values or tokens.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# An incoming X-Request-ID (from a balancer or proxy) is kept only when it is a short token of these characters,
# so a client cannot put arbitrary text (or a newline, or PHI) into every line of a request.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("sentinel_request_id", default=None)
_route: contextvars.ContextVar[str | None] = contextvars.ContextVar("sentinel_route", default=None)
_MARK = "_sentinel_handler"  # on the handler this module installed, so configuring twice replaces it


def request_id_from(incoming: str | None) -> str:
    """The incoming id when it is a safe short token, else a new random one."""
    if incoming and SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def bind_request(request_id: str, route: str | None) -> list[contextvars.Token]:
    """From here on, lines written in this context carry the request's id and route; `unbind` ends that."""
    return [_request_id.set(request_id), _route.set(route)]


def set_route(route: str | None) -> None:
    _route.set(route)


def unbind(tokens: list[contextvars.Token]) -> None:
    request_token, route_token = tokens
    _route.reset(route_token)
    _request_id.reset(request_token)


def current_request_id() -> str | None:
    return _request_id.get()


class JsonFormatter(_LibraryJsonFormatter):
    """python-json-logger's formatter with the field names a log store expects and the request context added."""

    def __init__(self, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")  # ISO 8601, UTC
        super().__init__("%(levelname)s %(name)s %(message)s", **kwargs)

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        request_id = _request_id.get()
        if request_id is not None:
            log_data.setdefault("request_id", request_id)
            log_data.setdefault("route", _route.get())


class TextFormatter(logging.Formatter):
    """The demo's plain lines; a request's lines end with its id."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = _request_id.get()
        return f"{line} [request_id={request_id}]" if request_id else line


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


class _AlembicContextNoise(logging.Filter):
    """Drops alembic's two lines per migration check ("Context impl ...", "Will assume ..."): /readyz checks the
    migrations on every probe, and they would be most of the log. Its "Running upgrade" lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


_ALEMBIC_FILTER = _AlembicContextNoise()


def configure(fmt: str = "text", level: str = "INFO") -> None:
    """Root logger: one handler to stderr in the chosen format, at `level`. Like logging.basicConfig, it leaves
    alone a root logger someone else configured first (gunicorn's dictConfig, pytest, a test's log file)."""
    logging.getLogger("alembic.runtime.migration").addFilter(_ALEMBIC_FILTER)  # once: filters are a set
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if ours:
        root.setLevel(level)
        for handler in ours:
            handler.setFormatter(formatter(fmt))
        return
    if root.handlers:
        return
    root.setLevel(level)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)


def gunicorn_logconfig(fmt: str, level: str = "INFO") -> dict | None:
    """gunicorn's `logconfig_dict` for JSON: its own lines (boot, worker exits) go through the root handler in
    JSON, like the app's. None for text: gunicorn's defaults."""
    if fmt != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.ops.logs.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json",
                                 "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": level, "handlers": [], "propagate": True, "qualname": "gunicorn.access"},
        },
    }
