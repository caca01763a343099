"""The services' log lines: JSON, one object a line, our lines and foreign ones alike."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
import structlog

from services.runtime.logging import configure_logging, get_logger


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Configure logging as a service does (its handler writes to the captured stderr); read the
    lines back as JSON; put the test session's logging back afterwards."""
    root = logging.getLogger()
    handlers, level, srcfile = root.handlers[:], root.level, logging._srcfile

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield read
    root.handlers[:] = handlers
    root.setLevel(level)
    logging._srcfile = srcfile
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_our_line_is_one_json_object_with_its_bound_context(lines: Any) -> None:
    configure_logging("INFO", "json", service="intake")
    structlog.contextvars.bind_contextvars(consumer="intake-referrals")
    get_logger("commande.intake").info(
        "referral accepted", situation_id=UUID("01a23aee-112e-7ba9-a693-9d12668af2ed"),
        urgent=False, anything=object())
    (line,) = lines()
    assert line["event"] == "referral accepted"
    assert line["situation_id"] == "01a23aee-112e-7ba9-a693-9d12668af2ed"
    assert line["urgent"] is False
    assert line["anything"].startswith("<object object at ")  # not JSON: its repr, no crash
    assert (line["service"], line["consumer"]) == ("intake", "intake-referrals")
    assert (line["level"], line["logger"]) == ("info", "commande.intake")
    assert line["timestamp"].endswith("Z")


def test_a_line_below_the_level_is_not_written(lines: Any) -> None:
    configure_logging("INFO", "json", service="convening")
    log = get_logger("commande.convening")
    log.debug("placing")
    log.warning("conclusion does not fit the situation")
    assert [line["event"] for line in lines()] == ["conclusion does not fit the situation"]


def test_an_exception_is_rendered_into_the_line(lines: Any) -> None:
    configure_logging("INFO", "json", service="notifier")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        get_logger("commande.notifier").exception("delivery attempt crashed")
    (line,) = lines()
    assert line["level"] == "error"
    assert "ZeroDivisionError: division by zero" in line["exception"]


def test_foreign_lines_are_json_and_below_the_level_are_not_written(lines: Any) -> None:
    configure_logging("INFO", "json", service="intake")
    logging.getLogger("aiokafka.conn").warning("connection to %s lost", "broker-1")
    faststream = logging.getLogger("commande.intake.faststream")
    faststream.debug("Received")  # FastStream's per message, at the DEBUG Service gives its broker
    (line,) = lines()
    assert line == {"event": "connection to broker-1 lost", "service": "intake",
                    "level": "warning", "logger": "aiokafka.conn",
                    "timestamp": line["timestamp"]}


def test_no_line_looks_up_where_it_was_logged_from(lines: Any) -> None:
    configure_logging("INFO", "json", service="intake")
    seen: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    logging.getLogger().handlers[0].addFilter(keep)
    get_logger("commande.intake").info("referral accepted")
    logging.getLogger("aiokafka.conn").warning("connection lost")
    assert [r.funcName for r in seen] == ["(unknown function)"] * 2  # no walk up the stack
    assert [line["event"] for line in lines()] == ["referral accepted", "connection lost"]
