"""structlog JSON logs: one line per event, FastStream's and aiokafka's own logs rendered alike.

Per-message context (``correlation_id``, ``event_id``, ``consumer``) is bound with
``structlog.contextvars`` by the consumer runtime, so every line a handler logs carries it.
Never log payloads: they may carry identity. Log ids, types, counts and codes.

Our own lines are rendered once, by structlog (a line below the level is dropped before any
processor runs; JSON by msgspec), and handed to the standard library's handler as finished text,
which the formatter passes through; only foreign lines (FastStream's, aiokafka's, uvicorn's) go
through structlog's ``ProcessorFormatter``. Rendering ours there too cost a second ``LogRecord``
and the whole chain again per line: about 50 µs a line, several lines per referral. FastStream's
"Received"/"Processed" per message are logged at DEBUG (``Service`` gives its broker
``log_level=DEBUG``). No line says where it was logged from, so the standard library is told not
to look it up (``logging._srcfile = None``, the logging HOWTO's "Optimization"): structlog's
walk up the stack for each line's caller was 2% of intake's CPU in the pipeline bench (py-spy).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import msgspec
import structlog

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


def _flatten_extra(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """FastStream passes its per-message context as ``extra={...}``: lift it to top-level keys."""
    record = event.get("_record")
    if record is not None:
        for key in ("topic", "group_id", "message_id"):
            value = getattr(record, key, None)
            if value:
                event.setdefault(key, value)
    return event


_RENDERED = "_commande_rendered"
"""The ``LogRecord`` attribute marking a line structlog has already rendered."""

_JSON = msgspec.json.Encoder(enc_hook=repr)


def _json(obj: Any, **_: Any) -> str:
    """structlog's serializer: msgspec (about 5x ``json.dumps``); what it cannot encode, by repr."""
    return _JSON.encode(obj).decode()


def _to_stdlib(_: Any, __: str, line: Any) -> tuple[tuple[str], dict[str, Any]]:
    """Hand the rendered line (the renderer's ``str``; typed as structlog types an event dict)
    to the standard library's logger, marked as finished."""
    return (str(line),), {"extra": {_RENDERED: True}}


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """Our rendered lines as they are; a foreign line through structlog's chain."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _RENDERED, False):
            return str(record.msg)
        return super().format(record)


def configure_logging(level: str = "INFO", fmt: str = "json", service: str | None = None) -> None:
    """Route structlog and the standard library (FastStream, aiokafka) through one renderer."""
    renderer: Any = (structlog.processors.JSONRenderer(serializer=_json) if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *_SHARED,
                    structlog.processors.format_exc_info, renderer, _to_stdlib],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = _Formatter(
        foreign_pre_chain=[*_SHARED, _flatten_extra],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging._srcfile = None  # no caller looked up per line: none is rendered
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    if service is not None:
        structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger named ``name``."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
