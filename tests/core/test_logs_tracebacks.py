"""Tracebacks on the console: the renderer prints them itself, after the escaping processor,
so a peer's text quoted in an exception message must be escaped there too."""

from __future__ import annotations

import logging

import structlog

# _reset_logging is autouse: importing it puts the same clean slate around these tests.
from test_logs import FakeTTY, _reset_logging  # noqa: F401

from smscd import logs

HOSTILE = "bad id \x1b]0;owned\x07\x9b2J end"


def console() -> FakeTTY:
    stream = FakeTTY()
    logs.configure_logging("info", "console", stream, cache_loggers=False)
    return stream


def assert_escaped(text: str) -> None:
    # The renderer's own colours are CSI sequences (ESC [); the hostile ones must not survive.
    assert "\x1b]" not in text and "\x07" not in text and "\x9b" not in text
    assert "\\x1b]0;owned\\x07\\x9b2J" in text


def test_exception_text_is_escaped_in_the_console_traceback() -> None:
    stream = console()
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        structlog.get_logger().exception("connection_crashed")
    output = stream.getvalue()
    assert_escaped(output)
    assert "Traceback (most recent call last):\n" in output  # still a readable traceback


def test_stdlib_records_with_tracebacks_are_escaped_too() -> None:
    stream = console()
    try:
        raise RuntimeError(HOSTILE)
    except RuntimeError:
        logging.getLogger("hypercorn.error").exception("worker failed")
    assert_escaped(stream.getvalue())
