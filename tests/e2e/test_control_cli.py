"""`smscd handset`, `smscd mo`, `smscd clock` and their client, against a stub of the API.

The stub is a plain ``http.server`` in a thread that records each request and answers with
bodies of the API's contract, so these tests pin what the commands send (method, path,
JSON body), what they print and how they exit, independent of the daemon.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
import pytest
from click.testing import CliRunner, Result

from smscd.cli import main
from smscd.control import (
    UNSET,
    ControlClient,
    ControlError,
    format_duration,
)

HANDSET = {
    "number": "46700000001",
    "state": "offline",
    "state_until": "2024-05-01T12:00:00Z",
    "max_message_age": 7200.0,
    "pending": 2,
    "inbox": [
        {"from": "72000", "text": "Hello", "at": "2024-05-01T10:00:00Z", "parts": 1, "missing": []},
        {
            "from": "Bank",
            "text": "Your code is [part 2 missing]",
            "at": "2024-05-01T10:05:00Z",
            "parts": 3,
            "missing": [2],
        },
    ],
}
MO = {"mo_id": "17", "system_id": "smppclient1", "parts": 2}
CLOCK = {"now": "2024-05-04T10:00:00+00:00", "epoch": 1714816800.0, "rate": 60.0, "paused": False}


@attrs.frozen
class Request:
    method: str
    path: str
    body: object
    content_type: str | None


@attrs.define
class Stub:
    """Answers (method, path) with a canned (status, body); records every request."""

    url: str = ""
    requests: list[Request] = attrs.Factory(list)
    answers: dict[tuple[str, str], tuple[int, object]] = attrs.Factory(dict)

    def answer(self, method: str, path: str, status: int, body: object) -> None:
        self.answers[method, path] = (status, body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        stub = self.server.stub
        stub.requests.append(
            Request(
                self.command,
                self.path,
                json.loads(raw) if raw else None,
                self.headers.get("Content-Type"),
            )
        )
        status, body = stub.answers.get(
            (self.command, self.path), (404, {"error": f"no route {self.path}"})
        )
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows stderr of failing tests, and requests are asserted anyway."""


class _Server(ThreadingHTTPServer):
    stub: Stub


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stub = Stub(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smscd(stub: Stub | None, *args: str, env: dict[str, str] | None = None) -> Result:
    api = ["--api", stub.url] if stub is not None else []
    return CliRunner().invoke(main, [*args, *api], env=env)


# ---------------------------------------------------------------------------------------------
# smscd handset


def test_handset_shows_state_and_inbox(stub: Stub) -> None:
    stub.answer("GET", "/api/v1/handsets/46700000001", 200, HANDSET)
    result = smscd(stub, "handset", "46700000001")
    assert result.exit_code == 0, result.output
    assert stub.requests == [Request("GET", "/api/v1/handsets/46700000001", None, None)]
    assert result.stdout.splitlines() == [
        "46700000001: offline until 2024-05-01T12:00:00Z",
        "max message age: 2h",
        "pending at the carrier: 2",
        "inbox: 2 message(s)",
        "  2024-05-01T10:00:00Z  from 72000  (1 part): Hello",
        "  2024-05-01T10:05:00Z  from Bank  (3 parts, missing 2): Your code is [part 2 missing]",
    ]


def test_handset_sets_a_glob_for_a_while(stub: Stub) -> None:
    # For a glob the API has no one state, age limit or inbox to show.
    view = {
        "number": "4670*",
        "state": None,
        "state_until": None,
        "max_message_age": None,
        "pending": 5,
        "inbox": [],
    }
    stub.answer("PUT", "/api/v1/handsets/4670%2A", 200, view)
    result = smscd(stub, "handset", "4670*", "--state", "offline", "--for", "2h", "--max-age", "1h")
    assert result.exit_code == 0, result.output
    assert stub.requests == [
        Request(
            "PUT",
            "/api/v1/handsets/4670%2A",
            {"state": "offline", "for": 7200.0, "max_message_age": 3600.0},
            "application/json",
        )
    ]
    assert result.stdout == "4670*: pattern\npending at the carrier: 5\n"


@pytest.mark.parametrize(
    ("args", "body"),
    [
        (["--state", "no_coverage"], {"state": "no_coverage"}),
        (["--max-age", "none"], {"max_message_age": None}),
        (["--max-age", "90"], {"max_message_age": 90.0}),
    ],
)
def test_handset_sends_only_what_was_given(stub: Stub, args: list[str], body: object) -> None:
    stub.answer("PUT", "/api/v1/handsets/%2B46700000001", 200, HANDSET)
    result = smscd(stub, "handset", "+46700000001", *args)
    assert result.exit_code == 0, result.output
    assert [r.body for r in stub.requests] == [body]


def test_handset_json_prints_the_answer(stub: Stub) -> None:
    stub.answer("GET", "/api/v1/handsets/46700000001", 200, HANDSET)
    result = smscd(stub, "handset", "46700000001", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == HANDSET


def test_handset_api_error(stub: Stub) -> None:
    stub.answer("PUT", "/api/v1/handsets/1", 400, {"error": "unknown state 'asleep'"})
    result = smscd(stub, "handset", "1", "--state", "online")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "smscd handset: unknown state 'asleep' (HTTP 400)\n"


# ---------------------------------------------------------------------------------------------
# smscd mo


def test_mo_posts_the_message(stub: Stub) -> None:
    stub.answer("POST", "/api/v1/mo", 202, MO)
    result = smscd(stub, "mo", "--from", "46700000002", "--to", "72000", "--text", "STOP")
    assert result.exit_code == 0, result.output
    assert stub.requests == [
        Request(
            "POST",
            "/api/v1/mo",
            {"from": "46700000002", "to": "72000", "text": "STOP"},
            "application/json",
        )
    ]
    assert result.stdout == "MO accepted: id 17 for system_id smppclient1 (2 parts)\n"


def test_mo_with_coding_and_json(stub: Stub) -> None:
    stub.answer("POST", "/api/v1/mo", 202, MO)
    result = smscd(
        stub, "mo", "--from", "1", "--to", "2", "--text", "Hej 🙂", "--coding", "8", "--json"
    )
    assert result.exit_code == 0, result.output
    assert stub.requests[0].body == {"from": "1", "to": "2", "text": "Hej 🙂", "data_coding": 8}
    assert json.loads(result.stdout) == MO


@pytest.mark.parametrize(
    ("coding", "sent"), [("ucs2", 8), ("GSM", 0), ("latin1", 3), ("4", 4), ("auto", None)]
)
def test_mo_coding_by_name_as_send_takes_it_or_by_number(
    stub: Stub, coding: str, sent: int | None
) -> None:
    stub.answer("POST", "/api/v1/mo", 202, MO)
    result = smscd(stub, "mo", "--from", "1", "--to", "2", "--text", "hi", "--coding", coding)
    assert result.exit_code == 0, result.output
    assert stub.requests[0].body.get("data_coding") == sent


def test_mo_error_is_the_apis_text(stub: Stub) -> None:
    error = "a handset cannot send to an alphanumeric sender"
    stub.answer("POST", "/api/v1/mo", 422, {"error": error})
    result = smscd(stub, "mo", "--from", "1", "--to", "Bank", "--text", "hi")
    assert result.exit_code == 1
    assert result.stderr == f"smscd mo: {error} (HTTP 422)\n"


# ---------------------------------------------------------------------------------------------
# smscd clock


def test_clock_shows(stub: Stub) -> None:
    stub.answer("GET", "/api/v1/clock", 200, {**CLOCK, "rate": 0.0, "paused": True})
    result = smscd(stub, "clock")
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path, r.body) for r in stub.requests] == [("GET", "/api/v1/clock", None)]
    assert result.stdout == "now: 2024-05-04T10:00:00+00:00\nrate: 0x real time (paused)\n"


@pytest.mark.parametrize(("advance", "seconds"), [("72h", 259200.0), ("30", 30.0), ("1.5s", 1.5)])
def test_clock_advance(stub: Stub, advance: str, seconds: float) -> None:
    stub.answer("POST", "/api/v1/clock/advance", 200, CLOCK)
    result = smscd(stub, "clock", "--advance", advance)
    assert result.exit_code == 0, result.output
    assert stub.requests == [
        Request("POST", "/api/v1/clock/advance", {"seconds": seconds}, "application/json")
    ]
    assert result.stdout == "now: 2024-05-04T10:00:00+00:00\nrate: 60x real time\n"


def test_clock_rate_json(stub: Stub) -> None:
    stub.answer("PUT", "/api/v1/clock", 200, CLOCK)
    result = smscd(stub, "clock", "--rate", "60", "--json")
    assert result.exit_code == 0, result.output
    assert stub.requests == [Request("PUT", "/api/v1/clock", {"rate": 60.0}, "application/json")]
    assert json.loads(result.stdout) == CLOCK


# ---------------------------------------------------------------------------------------------
# Where the API is, and what goes wrong on the way


def test_smscd_api_environment_variable(stub: Stub) -> None:
    stub.answer("GET", "/api/v1/clock", 200, CLOCK)
    result = smscd(None, "clock", env={"SMSCD_API": stub.url + "/"})
    assert result.exit_code == 0, result.output
    assert stub.requests[0].path == "/api/v1/clock"


def test_api_option_wins_over_the_environment(stub: Stub, closed_port: int) -> None:
    stub.answer("GET", "/api/v1/clock", 200, CLOCK)
    result = smscd(stub, "clock", env={"SMSCD_API": f"http://127.0.0.1:{closed_port}"})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "command", [["handset", "1"], ["mo", "--from", "1", "--to", "2", "--text", "x"], ["clock"]]
)
def test_connection_refused(closed_port: int, command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--api", f"http://127.0.0.1:{closed_port}"])
    assert result.exit_code == 1
    assert f"cannot connect to http://127.0.0.1:{closed_port}" in result.stderr
    assert "is smscd running? (http.listen" in result.stderr


def test_a_proxy_in_the_environment_is_not_used(stub: Stub, closed_port: int) -> None:
    stub.answer("GET", "/api/v1/clock", 200, CLOCK)
    proxy = f"http://127.0.0.1:{closed_port}"
    result = smscd(stub, "clock", env={"http_proxy": proxy, "HTTP_PROXY": proxy, "no_proxy": ""})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["handset", "1", "--for", "2h"], "--for goes with --state"),
        (["handset", "1", "--state", "asleep"], "'asleep' is not one of"),
        (["handset", "1", "--state", "offline", "--for", "soon"], "not a duration"),
        (["handset", "1", "--state", "offline", "--for", "0"], "> 0"),
        (["handset", "1", "--max-age", "-1h"], "not a duration"),
        (["mo", "--from", "1", "--to", "2"], "Missing option '--text'"),
        (["mo", "--from", "1", "--to", "2", "--text", "x", "--coding", "300"], "number 0..255"),
        (["mo", "--from", "1", "--to", "2", "--text", "x", "--coding", "utf8"], "one of auto"),
        (["clock", "--advance", "1h", "--rate", "2"], "not both"),
        (["clock", "--rate", "-1"], "x>=0"),
        (["clock", "--rate", "inf"], "finite"),
        (["clock", "--api", "ftp://example"], "not an http:// or https:// URL"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(stub: Stub, args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        main, [*args, *(["--api", stub.url] if "--api" not in args else [])]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert stub.requests == []


# ---------------------------------------------------------------------------------------------
# The client on its own


def test_client_methods(stub: Stub) -> None:
    stub.answer("GET", "/api/v1/handsets/46700000001", 200, HANDSET)
    stub.answer("PUT", "/api/v1/handsets/4670%3F1", 200, HANDSET)
    stub.answer("POST", "/api/v1/mo", 202, MO)
    stub.answer("GET", "/api/v1/clock", 200, CLOCK)
    stub.answer("PUT", "/api/v1/clock", 200, CLOCK)
    stub.answer("POST", "/api/v1/clock/advance", 200, CLOCK)
    client = ControlClient(stub.url + "/")
    assert client.handset("46700000001") == HANDSET
    assert client.set_handset("4670?1", max_message_age=UNSET, state="barred") == HANDSET
    assert client.send_mo("1", "72000", "STOP", data_coding=0) == MO
    assert client.clock() == client.set_clock_rate(2.5) == client.advance_clock(60) == CLOCK
    assert [(r.method, r.path, r.body) for r in stub.requests] == [
        ("GET", "/api/v1/handsets/46700000001", None),
        ("PUT", "/api/v1/handsets/4670%3F1", {"state": "barred"}),
        ("POST", "/api/v1/mo", {"from": "1", "to": "72000", "text": "STOP", "data_coding": 0}),
        ("GET", "/api/v1/clock", None),
        ("PUT", "/api/v1/clock", {"rate": 2.5}),
        ("POST", "/api/v1/clock/advance", {"seconds": 60}),
    ]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, {"error": "no handset 1"}, "no handset 1 (HTTP 404)"),
        (500, b"Internal Server Error", "Internal Server Error (HTTP 500)"),
        (503, b"", "(HTTP 503)"),
        (200, b"<html>", "not a JSON object"),
        (200, [1, 2], "not a JSON object"),
        (
            200,
            {"now": "x", "rate": 1},
            "unexpected answer from GET /api/v1/clock: no epoch, paused",
        ),
    ],
)
def test_client_errors(stub: Stub, status: int, body: object, message: str) -> None:
    stub.answer("GET", "/api/v1/clock", status, body)
    with pytest.raises(ControlError) as caught:
        ControlClient(stub.url).clock()
    assert str(caught.value).endswith(message)
    assert caught.value.status == (status if status >= 400 else None)


def test_client_refuses_a_non_http_url() -> None:
    with pytest.raises(ValueError, match="not an http"):
        ControlClient("127.0.0.1:8775")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (1.5, "1.5s"),
        (45, "45s"),
        (5400, "90m"),
        (7200, "2h"),
        (259200, "3d"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
