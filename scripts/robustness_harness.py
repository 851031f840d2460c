"""smscd as a child process for the robustness scripts (fuzz_smpp.py, flood_smpp.py,
throttle_smpp.py): started as users start it, on a free port, its JSON log lines read and
counted by event, its memory and file descriptors read from /proc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter, deque
from pathlib import Path
from typing import Any

from bench import DaemonProcess, proc_memory_kb


class Smscd(DaemonProcess):
    """`python -m smscd run` with ``config`` (TOML text), logging at ``log_level``.

    bench.DaemonProcess with another command line: the benchmark's runs at level info, where a
    fuzz run would print a line for every bad PDU. Its waiting and stopping are reused; its
    __init__ is not called, since it would start the benchmark's command. Lifecycle events
    such as ``smscd_ready`` are printed at any level.
    """

    def __init__(self, config: str, log_level: str = "warning") -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="smscd-robustness-")
        path = Path(self._dir.name) / "smscd.toml"
        path.write_text(config, encoding="utf-8")
        self.command = [
            *(sys.executable, "-m", "smscd", "run", "--config", str(path)),
            *("--smpp-listen", "127.0.0.1:0", "--http-listen", "off"),
            *("--log-format", "json", "--log-level", log_level),
        ]
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        self.tail: deque[str] = deque(maxlen=40)
        self.levels: Counter[str] = Counter()
        self.ready_line: dict[str, Any] | None = None
        #: Log events by name, and every line as printed (few at level warning).
        self.events: Counter[str] = Counter()
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            self.tail.append(line.rstrip("\n"))
            try:
                record = json.loads(line)
            except ValueError:
                self.levels["unparsed"] += 1
                continue
            self.levels[str(record.get("level"))] += 1
            self.events[str(record.get("event"))] += 1
            if record.get("event") == "smscd_ready":
                self.ready_line = record
                self._ready.set()
        self._ready.set()

    def rss_mb(self) -> float:
        return proc_memory_kb(self.pid).get("VmRSS", 0) / 1024

    def peak_rss_mb(self) -> float:
        return proc_memory_kb(self.pid).get("VmHWM", 0) / 1024

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self, timeout: float = 15.0) -> int | str:
        try:
            return super().stop(timeout)
        finally:
            self._dir.cleanup()


def base_config(max_finished: int = 10_000) -> str:
    """What every robustness config shares: nothing kept on disk, receipts due at once, and
    ``max_finished`` finished messages kept for query_sm."""
    return f"""
[store]
backend = "memory"
max_finished = {max_finished}
[[carriers]]
name = "instant"
type = "instant"
delay = "0ms"
"""
