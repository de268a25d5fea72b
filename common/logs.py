"""Structured logs: with LOG_FORMAT=json one JSON object a line, each naming what it belongs to.

A request's lines carry its request id (the caller's `X-Request-ID` when it is a plain token,
else a new one, sent back in the answer's `X-Request-ID`); a Celery task's lines carry the task's
id and name, and the SET's trace id (`transaction.id` in the System Log) where the task has it.
The ids live in context variables, so every logger (ours, Django's, Celery's) gets them.

Nothing here logs headers, bodies or query strings: an Authorization header or a push secret
never reaches a log line. Django attaches the request object to some records; it is left out.
"""

import logging
import logging.config
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# What we take from a caller: what proxies and tracers send (hex, uuids, base64); anything
# else (spaces, quotes, newlines, 200 characters) could forge or break a log line.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")

_context: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"log_{name}", default=None)
    for name in ("request_id", "task_id", "task_name", "trace_id")
}
access_logger = logging.getLogger("ssf.request")


def log_context() -> dict[str, str]:
    """The ids the current log line belongs to (only those that are set)."""
    values = {name: var.get() for name, var in _context.items()}
    return {name: value for name, value in values.items() if value}


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Set log context for the block; the previous values come back after it."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def request_id_for(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Give each request an id for its log lines and its answer, and log one line for it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        started = time.perf_counter()
        with bound(request_id=request_id, trace_id=None):
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if settings.LOG_REQUESTS:
                duration_ms = round((time.perf_counter() - started) * 1000, 2)
                access_logger.info(
                    "%s %s %s %.2fms", request.method, request.path, response.status_code,
                    duration_ms,
                    extra={"method": request.method, "path": request.path,
                           "status": response.status_code, "duration_ms": duration_ms},
                )  # fmt: skip
        return response


class JsonFormatter(BaseJsonFormatter):
    """One JSON object a line: timestamp, level, logger, message, the ids, extra fields."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        # Django puts the request object on some records: never serialise it (its repr is
        # harmless, but what a future Django puts there may not be).
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:  # fmt: skip
        super().add_fields(log_data, record, message_dict)
        log_data.update(log_context())


class PlainFormatter(logging.Formatter):
    """The plain line, followed by the ids it belongs to."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = log_context()
        return f"{line} [{' '.join(f'{k}={v}' for k, v in context.items())}]" if context else line


# --- Celery: connected in config/celery.py ----------------------------------------------------

_task_tokens: dict[str, list[tuple[ContextVar[str | None], Token[str | None]]]] = {}


def task_started(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    """task_prerun: the task's lines carry its id and name (and no trace id of a previous task)."""
    values = {"task_id": task_id, "task_name": getattr(task, "name", None), "trace_id": None}
    _task_tokens[task_id] = [(_context[k], _context[k].set(v)) for k, v in values.items()]


def task_finished(task_id: str = "", **kwargs: Any) -> None:
    """task_postrun: back to what was bound before the task (an eager task inside a request)."""
    for var, token in reversed(_task_tokens.pop(task_id, [])):
        var.reset(token)


def worker_logging_setup(loglevel: Any = None, **kwargs: Any) -> None:
    """setup_logging: a worker logs as Django is configured to (LOG_FORMAT), not Celery's way;
    `celery worker --loglevel` still sets the level."""
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
