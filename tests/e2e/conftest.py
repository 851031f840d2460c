"""End-to-end fixtures: the daemon started exactly as users start it (`smscd run`), on port 0."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import smpplib.client


@attrs.define
class RunningDaemon:
    process: subprocess.Popen[str]
    smpp: tuple[str, int]
    http: tuple[str, int] | None
    lines: list[str]

    def http_url(self, path: str) -> str:
        assert self.http is not None
        return f"http://{self.http[0]}:{self.http[1]}{path}"

    def log_events(self) -> list[dict[str, object]]:
        events = []
        for line in list(self.lines):
            with contextlib.suppress(json.JSONDecodeError):
                events.append(json.loads(line))
        return events

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def start_daemon(*extra: str, config: Path | None = None, timeout: float = 20.0) -> RunningDaemon:
    """Start `python -m smscd run` on free ports and wait for its ready line."""
    args = [
        sys.executable,
        "-m",
        "smscd",
        "run",
        "--smpp-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        *extra,
    ]
    if config is not None:
        args += ["--config", str(config)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines: list[str] = []
    ready: dict[str, object] = {}
    got_ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if not got_ready.is_set() and '"smscd_ready"' in line:
                ready.update(json.loads(line))
                got_ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not got_ready.wait(timeout):
        process.kill()
        raise AssertionError("daemon did not become ready:\n" + "".join(lines))
    http = ready.get("http")
    return RunningDaemon(
        process, _split(str(ready["smpp"])), _split(str(http)) if http else None, lines
    )


class SmpplibEsme:
    """An smpplib client connected to the daemon that records what it sends and receives."""

    def __init__(self, daemon: RunningDaemon) -> None:
        host, port = daemon.smpp
        self.client = smpplib.client.Client(host, port, timeout=10, allow_unknown_opt_params=True)
        self.sent: list[Any] = []
        self.received: list[Any] = []
        # smpplib calls handlers with pdu= as a keyword, which list.append refuses.
        self.client.set_message_sent_handler(lambda pdu: self.sent.append(pdu))  # noqa: PLW0108
        self.client.set_message_received_handler(lambda pdu: self.received.append(pdu))  # noqa: PLW0108
        self.client.connect()


@pytest.fixture
def daemon() -> Iterator[RunningDaemon]:
    # The carrier simulator's latencies (about 2.5 s to a handset) at 20 times real speed.
    running = start_daemon("--log-level", "info", "--time-scale", "20")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=5)


def wait_until(predicate: object, timeout: float = 10.0, interval: float = 0.02) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")
