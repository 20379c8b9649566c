"""Logging set-up: plain or JSON lines, with the request id. Never log secrets or full personal inputs.

* ``[AI] Response time: X seconds`` (logger ``medipersona.ai``, one line per provider call) carries provider, model,
  task, outcome (and attempt, error_code, status) as ``extra`` fields: in JSON mode they become keys, and
  ``seconds`` is lifted from the message.
* ``medipersona.access``: one line per request (method, route template, status, duration, request id), written by
  ``ops.http_metrics.MetricsMiddleware``; no query strings, no raw paths of matched routes.
* Last line of defence: anything that looks like an API key or a bearer token is masked before it is written
  (``medipersona.redact``).
"""

from __future__ import annotations

import json
import logging
import os
import sys

from medipersona.redact import redact
from medipersona.settings import Settings


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from medipersona.web.middleware import request_id_var

        record.request_id = request_id_var.get()
        return True


# ``extra`` fields copied into JSON lines (the providers, jobs and access log set them).
EXTRA_KEYS = ("provider", "model", "task", "outcome", "seconds", "attempt", "error_code", "status",
              "method", "route", "duration_ms", "job_id", "kind")
AI_RESPONSE_PREFIX = "[AI] Response time"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": getattr(record, "request_id", "-"),
            "message": redact(record.getMessage()),
        }
        for key in EXTRA_KEYS:
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if ("seconds" not in data and isinstance(record.msg, str) and record.msg.startswith(AI_RESPONSE_PREFIX)
                and isinstance(record.args, tuple) and record.args):
            try:
                data["seconds"] = round(float(record.args[0]), 3)  # type: ignore[arg-type]  # checked by except
            except (TypeError, ValueError):
                pass
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        text = super().format(record)
        if record.name == "medipersona.ai" and hasattr(record, "provider"):
            text += " provider={} model={} task={} outcome={}".format(
                getattr(record, "provider", "-"), getattr(record, "model", "-"), getattr(record, "task", "-"),
                getattr(record, "outcome", "-"))
        return redact(text)


def json_logs_requested() -> bool:
    """MEDIPERSONA_LOG_JSON without building Settings (the gunicorn config reads it in the arbiter)."""
    return os.environ.get("MEDIPERSONA_LOG_JSON", "").strip().lower() in {"1", "true", "yes", "on"}


def gunicorn_logconfig_dict() -> dict:
    """gunicorn's own loggers (arbiter, uvicorn under the worker) as JSON lines, for ``logconfig_dict``."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "medipersona.ops.logging.JsonFormatter"}},
        "handlers": {"error_console": handler, "console": handler},
        "root": {"level": "WARNING", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            # uvicorn's access logger copies this level and these handlers under the worker: its lines carry the
            # query string, so they stay off; the app writes its own access line (ops.http_metrics.MetricsMiddleware).
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


_configured = False


def configure_logging(settings: Settings) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(PlainFormatter())
    root = logging.getLogger("medipersona")
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    root.propagate = False
