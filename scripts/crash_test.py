"""kill -9 under load, several times in a row: no message acknowledged with ESME_ROK is lost.

Each round starts `smscd run --store FILE` (durability "full", the instant carrier with a
delay long enough that messages are in every state when the daemon dies), drives it at a
steady rate from 4 binds with receipts requested (a transceiver per bind, so receipts flow
and are acknowledged while it runs), and after a few seconds kills it with SIGKILL. After the
last round the daemon is started once more with a carrier that delivers at once, and the
script collects every receipt. It prints, per round, the submits acknowledged and, at the end:
acknowledged in total, final receipts received (during the rounds and after), lost (an
acknowledged id that never got a final receipt: must be 0), duplicated final receipts, and
`PRAGMA integrity_check`.

Usage: .venv/bin/python scripts/crash_test.py [--rounds 5] [--rate 2000] [--seconds 4]
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import tempfile
from collections import Counter
from pathlib import Path

import trio
from bench import DaemonProcess

from smscd.client import Esme, EsmeError
from smscd.smpp.constants import BindType, CommandStatus, EsmClass
from smscd.smpp.pdus import DeliverSm, SubmitSm
from smscd.smpp.session import SessionConfig

CONFIG = """
[smpp]
listen = "127.0.0.1:0"
window = 100
[http]
listen = ""
[log]
level = "warning"
[store]
durability = "full"
[[carriers]]
name = "instant"
type = "instant"
delay = "{delay}"
[[accounts]]
system_id = "crash"
password = "crash"
max_binds = 8
max_queued = 10000000
"""
BINDS = 4
Broken = (EsmeError, trio.BrokenResourceError, trio.ClosedResourceError)


def start(config: Path, store: Path) -> tuple[DaemonProcess, tuple[str, int]]:
    daemon = DaemonProcess(["--config", str(config), "--store", str(store)])
    return daemon, daemon.wait_ready(60)


class Tally:
    def __init__(self) -> None:
        self.acknowledged: set[str] = set()
        self.final_receipts: Counter[str] = Counter()

    def count(self, pdu: DeliverSm) -> int:
        """The client's ``on_deliver``: a receipt is counted as it is acknowledged. Counting
        later, where the client hands deliveries on, missed the ones acknowledged just before
        a round ended: the daemon rightly dropped them, and the tally called them lost."""
        if pdu.esm_class & EsmClass.TYPE_SMSC_DELIVERY_RECEIPT:
            self.final_receipts[pdu.tlvs.receipted_message_id or ""] += 1
        return CommandStatus.ESME_ROK


async def drain(client: Esme) -> None:
    """Read the deliveries the client hands on (``Tally.count`` counted them already)."""
    async for _ in client.deliveries:
        pass


async def drive(address: tuple[str, int], tally: Tally, rate: float, seconds: float) -> None:
    """Submit at `rate` per second in total until cancelled, recording what is answered."""

    async def one_bind(index: int) -> None:
        try:
            client = await Esme.open(
                *address, config=SessionConfig(window=1000, enquire_link_interval=0)
            )
        except OSError:
            return
        client.on_deliver = tally.count
        async with trio.open_nursery() as nursery:
            await nursery.start(client.run)
            nursery.start_soon(drain, client)
            try:
                await client.bind("crash", "crash", BindType.TRANSCEIVER)
            except Broken:
                nursery.cancel_scope.cancel()
                return

            async def submit(n: int) -> None:
                try:
                    response = await client.request(
                        SubmitSm(
                            source_addr="Crash",
                            destination_addr=f"467{index}{n:07d}",
                            registered_delivery=1,
                            short_message=b"crash test",
                        )
                    )
                except Broken:
                    return
                if response.command_status == CommandStatus.ESME_ROK:
                    tally.acknowledged.add(response.message_id)  # type: ignore[union-attr]

            interval = BINDS / rate
            n = 0
            async with trio.open_nursery() as submits:
                while True:
                    submits.start_soon(submit, n)
                    n += 1
                    await trio.sleep(interval)

    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for index in range(BINDS):
                nursery.start_soon(one_bind, index)


async def collect(address: tuple[str, int], tally: Tally) -> None:
    client = await Esme.open(*address, config=SessionConfig(window=1000, enquire_link_interval=0))
    client.on_deliver = tally.count
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        await client.bind("crash", "crash", BindType.RECEIVER)
        quiet = 0
        while quiet < 3:
            with trio.move_on_after(1) as scope:
                await client.deliveries.receive()
            quiet = quiet + 1 if scope.cancelled_caught else 0
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "smscd.db"
        slow = Path(tmp) / "slow.toml"
        slow.write_text(CONFIG.format(delay="2s"))
        fast = Path(tmp) / "fast.toml"
        fast.write_text(CONFIG.format(delay="0s"))
        for round_number in range(1, args.rounds + 1):
            daemon, address = start(slow, store)
            before = len(tally.acknowledged)
            trio.run(drive, address, tally, args.rate, args.seconds)
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait(timeout=30)
            print(
                f"round {round_number}: {len(tally.acknowledged) - before} acknowledged, "
                f"killed (exit {daemon.proc.returncode})",
                flush=True,
            )
        with sqlite3.connect(store) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        daemon, address = start(fast, store)
        try:
            trio.run(collect, address, tally)
        finally:
            daemon.stop(30)
    lost = tally.acknowledged - set(tally.final_receipts)
    duplicated = sum(count - 1 for count in tally.final_receipts.values() if count > 1)
    print(f"acknowledged      {len(tally.acknowledged)}")
    print(f"final receipts    {sum(tally.final_receipts.values())}")
    print(f"lost              {len(lost)}")
    print(f"duplicated        {duplicated} (at-least-once: unacknowledged receipts are resent)")
    print(f"integrity_check   {integrity}")
    sys.exit(1 if lost or integrity != "ok" else 0)


if __name__ == "__main__":
    main()
