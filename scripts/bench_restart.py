"""Restart the daemon as users do on a store holding many messages; print how long until it
serves and how much memory it holds.

1. A store of ``--messages`` messages (``--pending`` of them not final, as a long run leaves
   them) is filled with ``bench_store.fill``.
2. ``smscd run --store FILE`` starts on it (embedded default configuration: the carrier
   simulator takes the pending messages back). Printed: seconds from the process start to
   its ``smscd_ready`` line, the pending messages it resumed (``store_resumed``), its RSS then
   and after ``--settle`` seconds, and the round trip of a bind and a submit_sm over SMPP
   right after ready.
3. SIGTERM; printed: the seconds to exit and the exit code.

The issue's bar: 1,000,000 messages in the store, restart to serving in under 30 s and RSS
under 300 MB.

Usage: .venv/bin/python scripts/bench_restart.py [--messages N] [--pending F] [--dir DIR]
           [--settle S]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

from bench import DaemonProcess
from bench_store import fill

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import status_name
from smscd.smpp.pdus import BindTransceiver, SubmitSm, SubmitSmResp


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def submit_once(port: int) -> tuple[float, str]:
    """Bind as the default account, submit one message; the seconds it took and the answer
    (ESME_RMSGQFUL when the resumed messages fill the account's max_queued)."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = PduReader()

        def answer() -> object:
            while (pdu := reader.next_pdu()) is None:
                reader.feed(sock.recv(65536))
            return pdu

        bind = BindTransceiver(sequence_number=1, system_id="smppclient1", password="password")
        sock.sendall(encode(bind))
        bound = answer()
        assert getattr(bound, "command_status", 1) == 0, bound
        submit = SubmitSm(sequence_number=2, destination_addr="46700000001", short_message=b"hi")
        sock.sendall(encode(submit))
        while not isinstance(response := answer(), SubmitSmResp):
            pass
    return time.perf_counter() - started, status_name(response.command_status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--pending", type=float, default=0.1)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as name:
        path = Path(name) / "restart.sqlite"
        took = fill(path, args.messages, args.pending)
        size = sum(p.stat().st_size for p in Path(name).glob("restart.sqlite*"))
        print(
            f"fill: {args.messages:,} messages ({args.pending:.0%} pending) in {took:.1f} s;"
            f" file {size / 2**20:.0f} MB",
            flush=True,
        )
        started = time.perf_counter()
        daemon = DaemonProcess(
            ["--store", str(path), "--smpp-listen", "127.0.0.1:0", "--http-listen", "off"]
        )
        _, port = daemon.wait_ready(300)
        serving = time.perf_counter() - started
        resumed = daemon.records.get("store_resumed", {})
        rss_ready = rss_mb(daemon.pid)
        round_trip, answer = submit_once(port)
        time.sleep(args.settle)
        rss_settled = rss_mb(daemon.pid)
        print(
            f"restart: serving {serving:.1f} s after start; resumed"
            f" {resumed.get('pending_messages')} pending messages; RSS {rss_ready:.0f} MB at"
            f" ready, {rss_settled:.0f} MB {args.settle:.0f} s later; bind + submit_sm"
            f" {round_trip * 1e3:.0f} ms ({answer})",
            flush=True,
        )
        stopping = time.perf_counter()
        code = daemon.stop(120)
        print(f"stop: SIGTERM to exit {time.perf_counter() - stopping:.1f} s, exit code {code}")
        if code:
            sys.exit(code)


if __name__ == "__main__":
    main()
