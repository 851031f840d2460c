"""smscd as a child process for the robustness scripts (fuzz_smpp.py, flood_smpp.py,
throttle_smpp.py): started as users start it, on a free port, its JSON log lines read and
counted by event, its memory and file descriptors read from /proc.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench import DaemonProcess, proc_memory_kb


class Smscd(DaemonProcess):
    """`python -m smscd run` with ``config`` (TOML text), logging at ``log_level``, on a free
    port: bench.DaemonProcess with the config in a temporary file. The benchmark's runs at
    level info, where a fuzz run would print a line for every bad PDU; lifecycle events such
    as ``smscd_ready`` are printed at any level.
    """

    def __init__(self, config: str, log_level: str = "warning") -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="smscd-robustness-")
        path = Path(self._dir.name) / "smscd.toml"
        path.write_text(config, encoding="utf-8")
        arguments = ["--config", str(path), "--smpp-listen", "127.0.0.1:0", "--http-listen", "off"]
        super().__init__(arguments, log_level=log_level)

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
