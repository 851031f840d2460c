"""The carrier simulator end to end: `smscd run`, smpplib, the HTTP control API."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import smpplib.client
import smpplib.consts

from tests.e2e.conftest import RunningDaemon, SmpplibEsme, start_daemon, wait_until

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def call(daemon: RunningDaemon, method: str, path: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        daemon.http_url(path),
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Receiver(SmpplibEsme):
    """An smpplib transceiver of smppclient1 that records every deliver_sm."""

    def __init__(self, daemon: RunningDaemon) -> None:
        super().__init__(daemon)
        self.client.bind_transceiver(system_id="smppclient1", password="password")

    def submit(self, destination: str, text: bytes = b"Hello") -> str:
        before = len(self.sent)
        self.client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_INTL,
            source_addr="46700000099",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            destination_addr=destination,
            short_message=text,
            registered_delivery=True,
        )
        while len(self.sent) == before:
            self.client.read_once()
        message_id: bytes = self.sent[before].message_id
        return message_id.decode()

    def read_for(self, seconds: float) -> None:
        """Read whatever arrives in the next `seconds`."""
        self.client._socket.settimeout(0.2)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.client.read_once()
            except (TimeoutError, OSError):
                continue

    def until(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self.read_for(0.2)
        assert len(self.received) >= count, self.received
        return self.received

    def close(self) -> None:
        self.client.unbind()
        self.client.disconnect()


@pytest.fixture
def receiver(daemon: RunningDaemon) -> Iterator[Receiver]:
    esme = Receiver(daemon)
    yield esme
    esme.close()


def test_offline_handset_expires_after_72_hours_of_simulated_time(
    daemon: RunningDaemon, receiver: Receiver
) -> None:
    number = "46700000123"
    status, view = call(daemon, "PUT", f"/api/v1/handsets/{number}", {"state": "offline"})
    assert (status, view["state"], view["state_until"]) == (200, "offline", None)
    message_id = receiver.submit(number)

    def waiting_at_carrier() -> bool:
        history = call(daemon, "GET", f"/api/v1/messages/{message_id}")[1]["history"]
        return history[-1]["code"] == 112

    wait_until(waiting_at_carrier)
    # Why it waits (the code the carrier would end it with), beside its status (112), and
    # until when: switched off until further notice, no attempt can reach it before it
    # expires, 72 h after its submission.
    view = call(daemon, "GET", f"/api/v1/messages/{message_id}")[1]
    waiting = view["waiting"]
    expires = dt.datetime.fromisoformat(waiting.pop("expires"))
    submitted = dt.datetime.fromisoformat(view["submit_time"])
    assert abs(expires - submitted - dt.timedelta(hours=72)) <= dt.timedelta(milliseconds=1)
    assert waiting == {
        "code": 503,
        "name": "SubscriberOffline",
        "group": "error",
        "next_attempt": None,
    }
    assert call(daemon, "GET", f"/api/v1/handsets/{number}")[1]["pending"] == 1
    before = call(daemon, "GET", "/api/v1/clock")[1]
    status, after = call(daemon, "POST", "/api/v1/clock/advance", {"seconds": 72 * 3600})
    assert status == 200
    assert after["epoch"] - before["epoch"] >= 72 * 3600

    [receipt] = receiver.until(1)
    text = receipt.short_message.decode()
    assert f"id:{message_id} " in text
    assert "stat:EXPIRED err:202" in text
    receiver.read_for(0.5)
    assert len(receiver.received) == 1  # one final receipt, nothing after it
    view = call(daemon, "GET", f"/api/v1/messages/{message_id}")[1]
    assert (view["status"]["code"], view["waiting"]) == (202, None)
    # The default validity period, to the millisecond the view shows: submit + 72 h.
    lifetime = dt.datetime.fromisoformat(view["done_time"]) - dt.datetime.fromisoformat(
        view["submit_time"]
    )
    assert abs(lifetime - dt.timedelta(hours=72)) <= dt.timedelta(milliseconds=1)


def test_mo_reaches_a_bound_esme_and_waits_for_an_unbound_one(daemon: RunningDaemon) -> None:
    status, body = call(
        daemon, "POST", "/api/v1/mo", {"from": "46709999999", "to": "72000", "text": "STOP"}
    )
    assert (status, body["system_id"], body["parts"]) == (202, "smppclient1", 1)
    esme = Receiver(daemon)  # binds after the MO was sent: it was held
    try:
        [held] = esme.until(1)
        assert (held.source_addr, held.destination_addr, held.short_message) == (
            b"46709999999",
            b"72000",
            b"STOP",
        )
        assert held.esm_class == 0
        call(daemon, "POST", "/api/v1/mo", {"from": "46709999998", "to": "72000", "text": "Å 👋"})
        live = esme.until(2)[1]
        assert live.data_coding == 8
        assert live.short_message.decode("utf-16-be") == "Å 👋"
    finally:
        esme.close()


def test_handset_inbox_and_clock_over_http(daemon: RunningDaemon, receiver: Receiver) -> None:
    number = "46700000456"
    receiver.submit(number, b"Hi there")
    receiver.until(1)  # the receipt: the phone has it
    view = call(daemon, "GET", f"/api/v1/handsets/{number}")[1]
    assert (view["state"], view["state_until"]) == ("online", None)
    assert [entry["text"] for entry in view["inbox"]] == ["Hi there"]
    assert view["inbox"][0]["from"] == "46700000099"
    status, clock = call(daemon, "PUT", "/api/v1/clock", {"rate": 0})
    assert (status, clock["paused"], clock["rate"]) == (200, True, 0)
    # Switched off for two hours (of the paused clock): the view says until when.
    status, view = call(
        daemon, "PUT", f"/api/v1/handsets/{number}", {"state": "offline", "for": 7200}
    )
    until = dt.datetime.fromisoformat(view["state_until"])
    assert (status, view["state"]) == (200, "offline")
    assert until - dt.datetime.fromisoformat(clock["now"]) == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("PUT", "/api/v1/handsets/46700000001", {"state": "asleep"}, 400, "not one of"),
        ("PUT", "/api/v1/handsets/46700000001", {"colour": "red"}, 400, "unknown field"),
        ("PUT", "/api/v1/handsets/Shop", {"state": "offline"}, 400, "not a number"),
        ("POST", "/api/v1/mo", {"from": "46700000001", "to": "Shop", "text": "x"}, 422, "alpha"),
        ("POST", "/api/v1/mo", {"from": "46700000001", "to": "5555", "text": "x"}, 404, "owns"),
        ("POST", "/api/v1/mo", {"from": "46700000001", "to": "72000"}, 400, "text"),
        ("POST", "/api/v1/clock/advance", {"seconds": -5}, 400, "seconds"),
        ("PUT", "/api/v1/clock", {"rate": "fast"}, 400, "rate: must be a finite number"),
        ("PUT", "/api/v1/clock", {"rate": -1}, 400, "got -1"),
        ("PUT", "/api/v1/clock", {}, 400, "missing"),
    ],
)
def test_control_api_errors_say_what_is_wrong(
    daemon: RunningDaemon, method: str, path: str, body: object, status: int, words: str
) -> None:
    got, answer = call(daemon, method, path, body)
    assert got == status
    assert words in answer["error"]


def test_scenario_plays_on_the_simulation_clock() -> None:
    # stop-opt-out sends HELP at +2 min and STOP at +10 min: at 600 times real speed, within
    # about a second of real time.
    scenario = ROOT / "simulator" / "scenarios" / "stop-opt-out.toml"
    daemon = start_daemon("--scenario", str(scenario), "--time-scale", "600", "--seed", "3")
    try:
        esme = Receiver(daemon)
        try:
            texts = [pdu.short_message for pdu in esme.until(4, timeout=20)]
        finally:
            esme.close()
        assert texts[:3] == [b"HELP", b"STOP", b"stop please!!"]
        assert texts[3].decode("utf-16-be") == "Sluta skicka 🙅"
        events = [event["event"] for event in daemon.log_events()]
        assert "scenario_finished" in events
    finally:
        assert daemon.stop() == 0
