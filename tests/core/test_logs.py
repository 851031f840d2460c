"""Logging set-up: JSON lines, redaction, escaping, context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from smscd import logs


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    if logs._installed_handler is not None:
        root.removeHandler(logs._installed_handler)
        logs._installed_handler = None
    root.setLevel(level)


def json_lines(level: str = "debug") -> tuple[io.StringIO, structlog.typing.FilteringBoundLogger]:
    stream = io.StringIO()
    logs.configure_logging(level, "json", stream, cache_loggers=False)
    return stream, structlog.get_logger()


def parse(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_parse() -> None:
    stream, log = json_lines()
    log.info("session_bound", system_id="smppclient1", window=10)
    log.warning("throttled", rate=2.5)
    first, second = parse(stream)
    assert first["event"] == "session_bound"
    assert first["level"] == "info"
    assert first["system_id"] == "smppclient1"
    assert first["window"] == 10
    assert str(first["timestamp"]).endswith("Z")
    assert "T" in str(first["timestamp"])
    assert second["level"] == "warning"


def test_level_filters() -> None:
    stream, log = json_lines("warning")
    log.info("dropped")
    log.error("kept")
    assert [e["event"] for e in parse(stream)] == ["kept"]


def test_contextvars_appear_on_every_event() -> None:
    stream, log = json_lines()
    structlog.contextvars.bind_contextvars(session_id="s1", system_id="esme")
    log.info("a")
    log.info("b", extra=1)
    events = parse(stream)
    assert all(e["session_id"] == "s1" and e["system_id"] == "esme" for e in events)


def test_passwords_never_appear() -> None:
    stream, log = json_lines()
    structlog.contextvars.bind_contextvars(bind_password="hunter2")
    log.info(
        "bind_requested",
        password="hunter2",
        Passwd="hunter2",
        pdu={"system_id": "x", "password": "hunter2", "nested": [{"client_secret": "hunter2"}]},
        api_key="hunter2",
    )
    out = stream.getvalue()
    assert "hunter2" not in out
    [event] = parse(stream)
    assert event["password"] == "***"
    assert event["bind_password"] == "***"
    assert event["pdu"] == {
        "system_id": "x",
        "password": "***",
        "nested": [{"client_secret": "***"}],
    }


def test_control_characters_escaped() -> None:
    stream, log = json_lines()
    log.info("bind_rejected", system_id="\x1b[31mred\x1b[0m", note="a\nlevel=error\r\tb\x00\x7f")
    [event] = parse(stream)
    assert event["system_id"] == "\\x1b[31mred\\x1b[0m"
    assert event["note"] == "a\\x0alevel=error\\x0d\\x09b\\x00\\x7f"
    assert "\x1b" not in stream.getvalue()
    assert len(stream.getvalue().splitlines()) == 1


def test_newline_in_event_and_keys_escaped() -> None:
    stream, log = json_lines()
    log.info("two\nlines", **{"k\ney": "v"})
    [event] = parse(stream)
    assert event["event"] == "two\\x0alines"
    assert event["k\\x0aey"] == "v"


def test_surrogates_unicode_separators_and_bytes() -> None:
    stream, log = json_lines()
    undecodable = b"ok\xff\xfe".decode("utf-8", "surrogateescape")
    log.info(
        "text",
        raw=undecodable,
        lone="\ud800",
        sep="a\u2028b",
        bidi="\u202eevil",
        data=b"\x1b\xff",
        kept="Hej på dig 👋",
    )
    [event] = parse(stream)
    assert event["raw"] == "ok\\xff\\xfe"
    assert event["lone"] == "\\ud800"
    assert event["sep"] == "a\\u2028b"
    assert event["bidi"] == "\\u202eevil"
    assert event["data"] == "\\x1b\\xff"
    assert event["kept"] == "Hej på dig 👋"
    stream.getvalue().encode("utf-8")  # always valid UTF-8


def test_objects_rendered_escaped() -> None:
    class Sneaky:
        def __repr__(self) -> str:
            return "Sneaky(\x1b[2J)"

    stream, log = json_lines()
    log.info("obj", thing=Sneaky(), items=("a\n", 1, None))
    [event] = parse(stream)
    assert event["thing"] == "Sneaky(\\x1b[2J)"
    assert event["items"] == ["a\\x0a", 1, None]


def test_exception_is_one_line_in_json() -> None:
    stream, log = json_lines()
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("failed")
    assert len(stream.getvalue().splitlines()) == 1
    [event] = parse(stream)
    assert "ValueError" in str(event["exception"])


def test_auto_is_json_off_a_terminal_and_console_on_one() -> None:
    plain = io.StringIO()
    logs.configure_logging("info", "auto", plain, cache_loggers=False)
    structlog.get_logger().info("hello", a=1)
    assert json.loads(plain.getvalue())["event"] == "hello"

    tty = FakeTTY()
    logs.configure_logging("info", "auto", tty, cache_loggers=False)
    structlog.get_logger().info("hello", a=1)
    line = tty.getvalue()
    assert "hello" in line
    assert not line.startswith("{")


def test_console_format_escapes_and_redacts() -> None:
    stream = io.StringIO()
    logs.configure_logging("info", "console", stream, cache_loggers=False)
    structlog.get_logger().info("bind", system_id="\x1b[31mx\ny", password="hunter2")
    out = stream.getvalue()
    assert "\x1b" not in out  # not a terminal: no colours, and the value is escaped
    assert "\\x1b[31mx\\x0ay" in out
    assert "hunter2" not in out
    assert out.count("\n") == 1


def test_stdlib_records_use_the_same_pipeline() -> None:
    stream = io.StringIO()
    logs.configure_logging("info", "json", stream, cache_loggers=False)
    logging.getLogger("hypercorn.error").warning("bad request from %s", "1.2.3.4\n")
    logging.getLogger("hypercorn.error").debug("filtered out")
    [event] = parse(stream)
    assert event["event"] == "bad request from 1.2.3.4\\x0a"
    assert event["level"] == "warning"
    assert "timestamp" in event


def test_reconfiguring_does_not_duplicate_handlers() -> None:
    stream = io.StringIO()
    logs.configure_logging("info", "json", io.StringIO(), cache_loggers=False)
    logs.configure_logging("info", "json", stream, cache_loggers=False)
    logging.getLogger("x").warning("once")
    assert len(parse(stream)) == 1


@pytest.mark.parametrize(("level", "fmt"), [("verbose", "json"), ("info", "xml")])
def test_bad_arguments(level: str, fmt: str) -> None:
    with pytest.raises(ValueError, match="unknown log"):
        logs.configure_logging(level, fmt, io.StringIO())


def test_escape_value_fast_path_returns_same_object() -> None:
    text = "plain text with spaces and ünicode"
    assert logs.escape_value(text) is text
    assert logs.escape_value("a\u200db") == "a\u200db"  # ZWJ kept (emoji sequences)
    assert logs.escape_value("\U000e0001") == "\\U000e0001"
