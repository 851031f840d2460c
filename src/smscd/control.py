"""A client for the daemon's control API, and the text the CLI shows for its answers.

``smscd handset``, ``smscd mo`` and ``smscd clock`` call the running daemon over HTTP
(``/api/v1/handsets/{number}``, ``/api/v1/mo``, ``/api/v1/clock``). The client uses only
the standard library: a control command should not pull an HTTP stack into the install, and
it talks to one local daemon with small JSON bodies.

Every failure is one ``ControlError``: the API's own ``{"error": ...}`` text with the HTTP
status, or, when nothing answered, what was tried and what to check.
"""

from __future__ import annotations

import enum
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias, TypedDict, TypeVar, cast

__all__ = [
    "API_ENV",
    "DEFAULT_API",
    "UNSET",
    "ClockState",
    "ControlClient",
    "ControlError",
    "HandsetView",
    "InboxMessage",
    "MoAccepted",
    "Unset",
    "format_clock",
    "format_duration",
    "format_handset",
    "format_mo",
]

_T = TypeVar("_T")

#: The daemon's default ``http.listen``, as a URL.
DEFAULT_API = "http://127.0.0.1:8775"
#: The environment variable that overrides the API's base URL.
API_ENV = "SMSCD_API"

InboxMessage = TypedDict(
    "InboxMessage", {"from": str, "text": str, "at": str, "parts": int, "missing": list[int]}
)


class HandsetView(TypedDict):
    """``GET``/``PUT /api/v1/handsets/{number}``; ``state`` is None for a glob."""

    number: str
    state: str | None
    state_until: str | None
    max_message_age: float | None
    pending: int
    inbox: list[InboxMessage]


class MoAccepted(TypedDict):
    """``POST /api/v1/mo``."""

    mo_id: str
    system_id: str
    parts: int


class ClockState(TypedDict):
    """``GET /api/v1/clock`` and the clock changes."""

    now: str
    epoch: float
    rate: float
    paused: bool


class _Unset(enum.Enum):
    UNSET = enum.auto()


#: "Leave this value alone", where None is itself a value (no age limit).
UNSET: Final = _Unset.UNSET
#: The type of ``UNSET``.
Unset: TypeAlias = Literal[_Unset.UNSET]


class ControlError(Exception):
    """The API refused a request, or could not be reached.

    Attributes:
        message: the API's ``error`` text, or what went wrong on the way.
        status: the HTTP status, None when no answer came.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message, status)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message if self.status is None else f"{self.message} (HTTP {self.status})"


class ControlClient:
    """One method per control endpoint; each returns the answer's JSON body.

    Args:
        base_url: the API's address, e.g. ``http://127.0.0.1:8775``.
        timeout: seconds to wait for each answer.

    Raises:
        ValueError: ``base_url`` is not an http(s) URL.
    """

    def __init__(self, base_url: str = DEFAULT_API, timeout: float = 10.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # The API listens on loopback; an http_proxy in the environment would send the
        # request somewhere that cannot reach it.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def handset(self, number: str) -> HandsetView:
        """``GET /api/v1/handsets/{number}``: the state, age limit, pending count and inbox."""
        return self._call("GET", _handset_path(number), None, HandsetView)

    def set_handset(
        self,
        number: str,
        *,
        state: str | None = None,
        duration: float | None = None,
        max_message_age: float | Unset | None = UNSET,
    ) -> HandsetView:
        """``PUT /api/v1/handsets/{number}``.

        Args:
            number: a number or a glob such as ``4670*`` (sent URL-encoded).
            state: the new state; None leaves it.
            duration: seconds the state lasts (``for``); None for until changed.
            max_message_age: seconds, None for no limit, ``UNSET`` to leave it.
        """
        body: dict[str, object] = {}
        if state is not None:
            body["state"] = state
        if duration is not None:
            body["for"] = duration
        if max_message_age is not UNSET:
            body["max_message_age"] = max_message_age
        return self._call("PUT", _handset_path(number), body, HandsetView)

    def send_mo(
        self, source: str, destination: str, text: str, data_coding: int | None = None
    ) -> MoAccepted:
        """``POST /api/v1/mo``: the handset ``source`` texts ``destination``."""
        body: dict[str, object] = {"from": source, "to": destination, "text": text}
        if data_coding is not None:
            body["data_coding"] = data_coding
        return self._call("POST", "/api/v1/mo", body, MoAccepted)

    def clock(self) -> ClockState:
        """``GET /api/v1/clock``."""
        return self._call("GET", "/api/v1/clock", None, ClockState)

    def advance_clock(self, seconds: float) -> ClockState:
        """``POST /api/v1/clock/advance``: move simulation time forward at once."""
        body = {"seconds": seconds}
        return self._call("POST", "/api/v1/clock/advance", body, ClockState)

    def set_clock_rate(self, rate: float) -> ClockState:
        """``PUT /api/v1/clock``: simulated seconds per real second from now on."""
        return self._call("PUT", "/api/v1/clock", {"rate": rate}, ClockState)

    def _call(
        self, method: str, path: str, body: Mapping[str, object] | None, shape: type[_T]
    ) -> _T:
        answer = self._request(method, path, body)
        # A daemon of another version could answer differently; say so here rather than
        # fail with a KeyError while printing.
        missing = [key for key in shape.__annotations__ if key not in answer]
        if missing:
            raise ControlError(f"unexpected answer from {method} {path}: no {', '.join(missing)}")
        return cast(_T, answer)

    def _request(self, method: str, path: str, body: Mapping[str, object] | None) -> dict[str, Any]:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ControlError(_error_text(exc), exc.code) from None
        except urllib.error.URLError as exc:
            raise _unreachable(self.base_url, exc.reason) from None
        except OSError as exc:  # timeouts and resets after the connection was made
            raise _unreachable(self.base_url, exc) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ControlError(f"unexpected answer from {method} {path}: not a JSON object")
        return cast(dict[str, Any], answer)


def _handset_path(number: str) -> str:
    # safe="": a glob's * and ? and a leading + must reach the API as the characters typed.
    return "/api/v1/handsets/" + urllib.parse.quote(number, safe="")


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        # An HTTPError made without a response body has no fp, and read() would fail.
        raw = exc.read() if exc.fp is not None else b""
    except OSError:
        raw = b""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    text = raw.decode("utf-8", "replace").strip()
    return text[:200] if text else str(exc.reason)


def _unreachable(base_url: str, reason: object) -> ControlError:
    if isinstance(reason, ConnectionRefusedError):
        return ControlError(
            f"cannot connect to {base_url}: connection refused; is smscd running? "
            f"(http.listen in its configuration is the address; --api URL or {API_ENV} "
            "points here)"
        )
    if isinstance(reason, TimeoutError):
        return ControlError(f"no answer from {base_url}: timed out")
    return ControlError(f"cannot reach {base_url}: {reason}")


# ---------------------------------------------------------------------------------------------
# Text for people

_UNITS = (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))


def format_duration(seconds: float) -> str:
    """Seconds in the configuration's syntax, in the largest unit that is exact: ``"90m"``,
    ``"2h"``, ``"1.5s"``, ``"250ms"`` (so what is shown can be typed back)."""
    for unit, size in _UNITS:
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    if 0 < seconds < 1 and (seconds * 1000).is_integer():
        return f"{int(seconds * 1000)}ms"
    return f"{seconds:g}s"


def format_handset(view: HandsetView) -> str:
    """A handset's state, age limit, pending messages and inbox, as lines of text."""
    if view["state"] is None:
        # A glob: no one phone's state or inbox to show, only what waits for all of them.
        return f"{view['number']}: pattern\npending at the carrier: {view['pending']}"
    age = view["max_message_age"]
    until = view.get("state_until")  # .get: a daemon older than state_until leaves it out
    lines = [
        f"{view['number']}: {view['state']}" + ("" if until is None else f" until {until}"),
        f"max message age: {'no limit' if age is None else format_duration(age)}",
        f"pending at the carrier: {view['pending']}",
        f"inbox: {len(view['inbox'])} message(s)",
    ]
    for message in view["inbox"]:
        parts = f"{message['parts']} part{'s' if message['parts'] != 1 else ''}"
        if message["missing"]:
            parts += f", missing {', '.join(map(str, message['missing']))}"
        lines.append(f"  {message['at']}  from {message['from']}  ({parts}): {message['text']}")
    return "\n".join(lines)


def format_mo(answer: MoAccepted) -> str:
    """An accepted MO message, as one line."""
    parts = answer["parts"]
    return (
        f"MO accepted: id {answer['mo_id']} for system_id {answer['system_id']} "
        f"({parts} part{'s' if parts != 1 else ''})"
    )


def format_clock(clock: ClockState) -> str:
    """The simulation clock, as lines of text."""
    rate = f"{clock['rate']:g}x real time"
    return "\n".join(
        [
            f"now: {clock['now']}",
            f"rate: {rate}{' (paused)' if clock['paused'] else ''}",
        ]
    )
