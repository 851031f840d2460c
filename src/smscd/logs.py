"""structlog set-up: JSON lines off a terminal, readable output on one, nothing unsafe in either.

Two guarantees hold for every event, whichever renderer is used:

- secrets never reach the output: any key named like a password or secret, at any depth, has
  its value replaced by ``"***"``;
- a log line cannot be broken or hijacked: control characters (newline, escape...), Unicode
  line separators and undecodable data in string values and keys are escaped as ``\\xNN`` /
  ``\\uNNNN`` text, so a client sending ``"\\x1b[31m"`` or ``"x\\nlevel=error"`` as a system_id
  shows up literally instead of colouring a terminal or forging a line.

Values bound with ``structlog.contextvars.bind_contextvars`` (``session_id``, ``system_id``,
once per session) are merged into every event. Records from libraries that log through the
standard library (hypercorn, trio) go through the same processors and renderer.

Timestamps are real UTC time in ISO 8601, not simulation time.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

__all__ = ["configure_logging", "escape_controls", "escape_value", "redact_secrets"]

_LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_FORMATS = ("auto", "json", "console")

# Key names whose values are secrets: password, passwd, bind_password, pwd, client_secret,
# secret_key, api_key, credentials...
_SECRET_KEY = re.compile(r"pass(?:wd|word)|pwd|secret|api_?key|credential", re.IGNORECASE)
_REDACTED = "***"

# Characters kept although str.isprintable() says no: the zero-width joiner builds emoji
# sequences and carries no control meaning.
_KEEP = frozenset("\u200d")


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        # surrogateescape keeps an undecodable byte b as U+DC00+b: show the byte itself.
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_value(text: str) -> str:
    """Escapes everything in ``text`` that is not printable (per ``str.isprintable``).

    That is control characters (C0, DEL, C1), separators other than the ASCII space, format
    characters such as bidirectional overrides, and lone surrogates. Printable non-ASCII text
    (accents, CJK, emoji) is kept. Backslashes are not doubled: readability of paths and
    messages was preferred over an unambiguous reverse mapping.
    """
    if text.isprintable():
        return text  # the common case: one C-level scan, no copy
    return "".join(ch if ch.isprintable() or ch in _KEEP else _escape_char(ch) for ch in text)


def _escape_any(value: object) -> object:
    if isinstance(value, str):
        return escape_value(value)
    if isinstance(value, bytes | bytearray):
        # Bytes render as their repr elsewhere; decode what is text so the line stays useful.
        return escape_value(bytes(value).decode("utf-8", "surrogateescape"))
    if isinstance(value, Mapping):
        return {escape_value(str(k)): _escape_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape_any(v) for v in value]
    if value is None or isinstance(value, int | float):
        return value
    # Any other object would be rendered through its repr or str, which this processor cannot
    # vouch for (a custom __str__ may return raw escapes); render it here, escaped.
    return escape_value(repr(value))


def _redact_any(value: object) -> object:
    if isinstance(value, Mapping):
        return {
            k: (_REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else _redact_any(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_any(v) for v in value]
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: replaces the value of every secret-named key, at any depth."""
    for key, value in event_dict.items():
        if _SECRET_KEY.search(key):
            event_dict[key] = _REDACTED
        elif isinstance(value, Mapping | list | tuple):
            event_dict[key] = _redact_any(value)
    return event_dict


def escape_controls(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: escapes unsafe characters in every string key and value.

    ``exc_info`` is left alone so the renderer can still format the exception; tracebacks are
    rendered by ``format_exc_info`` (JSON) before this processor runs.
    """
    out: MutableMapping[str, Any] = {}
    for key, value in event_dict.items():
        out[escape_value(key)] = value if key == "exc_info" else _escape_any(value)
    return out


def _escaped_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    """The console's traceback, with what a peer may have put in an exception's text escaped.

    The console renderer prints tracebacks itself, after ``escape_controls`` has run; an
    exception message quoting a system_id would otherwise reach the terminal raw. The lines of
    the traceback stay lines.
    """
    text = io.StringIO()
    structlog.dev.plain_traceback(text, exc_info)
    sio.write("\n".join(escape_value(line) for line in text.getvalue().split("\n")))


_installed_handler: logging.Handler | None = None


def configure_logging(
    level: str,
    fmt: str,
    stream: TextIO | None = None,
    *,
    cache_loggers: bool = True,
) -> None:
    """Configures structlog and the standard library's root logger.

    Args:
        level: ``debug``, ``info``, ``warning``, ``error`` or ``critical``.
        fmt: ``json``, ``console``, or ``auto`` (JSON unless ``stream`` is a terminal).
        stream: where lines go; ``sys.stderr`` (looked up at call time) by default.
        cache_loggers: let structlog cache bound loggers on first use (faster); tests that
            reconfigure logging repeatedly pass False.

    Raises:
        ValueError: for an unknown level or format.
    """
    global _installed_handler  # noqa: PLW0603 - logging configuration is process-global

    if stream is None:
        stream = sys.stderr
    try:
        numeric_level = _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}") from None
    if fmt not in _FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use one of {', '.join(_FORMATS)}")
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    as_json = fmt == "json" or (fmt == "auto" and not is_tty)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if as_json:
        # Tracebacks become one escaped string, so a JSON line stays one line.
        shared += [structlog.processors.format_exc_info]
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=is_tty, exception_formatter=_escaped_traceback
        )
    safety: list[Processor] = [redact_secrets, escape_controls]

    structlog.configure(
        processors=[*shared, *safety, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=cache_loggers,
    )

    # Standard-library records (hypercorn, trio) get the same treatment.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *safety,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    if _installed_handler is not None:
        root.removeHandler(_installed_handler)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    _installed_handler = handler


def lifecycle_logger(name: str) -> Any:
    """A logger for the daemon's lifecycle events (ready, signal, shutdown).

    They are printed whatever ``log.level`` says: scripts and test suites wait for the
    ``smscd_ready`` line to learn the ports the daemon bound, even at ``--log-level warning``.
    """
    return structlog.wrap_logger(
        None,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_name=name,
    )
