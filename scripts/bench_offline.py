"""The carrier simulator's worst everyday case, in the daemon as users run it.

Starts `smscd run` (carrier simulator, default profile, paused simulation clock, the memory
store, so that the figure is the simulator's and not the durable store's), switches
every handset under 4670 off over HTTP, submits N messages to N different numbers with receipts
requested (4 binds, window 100), and reports the daemon's RSS with all of them queued for
offline handsets, each with its retry timer and validity deadline. Then it advances the
simulation clock 72 hours with one POST /api/v1/clock/advance and times how long until every
EXPIRED receipt (err:202) has arrived.

``--durable`` runs the same on the default durable store (a SQLite file in a temporary
directory, ``durability = "normal"``): the figures then include the store's memory, and the
RSS peak during the advance shows whether 100,000 expiries and receipts pile up ahead of the
writer (the carrier waits for room between slices; see the README's "Durable store").

Usage: .venv/bin/python scripts/bench_offline.py [--messages 100000] [--durable]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path

import trio
from bench import DaemonProcess

from smscd.client import Esme
from smscd.smpp.constants import BindType, CommandStatus
from smscd.smpp.pdus import DeliverSm, SubmitSm
from smscd.smpp.session import SessionConfig

CONFIG = """
[smpp]
listen = "127.0.0.1:0"
window = 100
[http]
listen = "127.0.0.1:0"
[log]
level = "warning"
[store]
{store}
[simulation]
rate = 0
seed = 1
[[accounts]]
system_id = "bench"
password = "bench"
max_binds = 8
max_queued = 2000000
"""
BINDS = 4


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def http(base: str, method: str, path: str, body: object) -> object:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def start(config_path: Path) -> tuple[DaemonProcess, tuple[str, int], str]:
    daemon = DaemonProcess(["--config", str(config_path)])
    address = daemon.wait_ready(60)
    assert daemon.ready_line is not None
    return daemon, address, "http://" + str(daemon.ready_line["http"])


async def count_receipts(clients: list[Esme], expected: int) -> tuple[int, int]:
    received = expired = 0
    done = trio.Event()

    async def drain(client: Esme) -> None:
        nonlocal received, expired
        pdu: DeliverSm
        async for pdu in client.deliveries:
            received += 1
            expired += b"stat:EXPIRED err:202" in pdu.short_message
            if received >= expected:
                done.set()

    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(drain, client)
        await done.wait()
        nursery.cancel_scope.cancel()
    return received, expired


async def scenario(address: tuple[str, int], base: str, pid: int, messages: int) -> None:
    baseline = rss_mb(pid)
    http(base, "PUT", "/api/v1/handsets/4670*", {"state": "offline"})
    # Let the gateway and carrier hops (under a minute of simulated time) happen, so every
    # message waits at the carrier for its retries: 5 minutes of simulation time.
    started = time.perf_counter()
    clients: list[Esme] = []
    async with trio.open_nursery() as nursery:
        for _ in range(BINDS):
            client = await Esme.open(
                *address, config=SessionConfig(window=1000, enquire_link_interval=0)
            )
            await nursery.start(client.run)
            await client.bind("bench", "bench", BindType.TRANSCEIVER)
            clients.append(client)
        per_bind = messages // BINDS

        async def submitter(index: int, client: Esme) -> None:
            window = trio.CapacityLimiter(100)

            async def one(n: int) -> None:
                try:
                    response = await client.request(
                        SubmitSm(
                            source_addr="Bench",
                            source_addr_ton=5,
                            destination_addr=f"4670{index * per_bind + n:07d}",
                            dest_addr_ton=1,
                            dest_addr_npi=1,
                            registered_delivery=1,
                            short_message=b"hello",
                        )
                    )
                    assert response.command_status == CommandStatus.ESME_ROK, response
                finally:
                    window.release_on_behalf_of(n)

            async with trio.open_nursery() as inner:
                for n in range(per_bind):
                    await window.acquire_on_behalf_of(n)
                    inner.start_soon(one, n)

        async with trio.open_nursery() as submitters:
            for index, client in enumerate(clients):
                submitters.start_soon(submitter, index, client)
        submitted = time.perf_counter()
        http(base, "POST", "/api/v1/clock/advance", {"seconds": 300})
        await trio.sleep(2)
        queued_rss = rss_mb(pid)
        advanced = time.perf_counter()
        peak = queued_rss

        async def sample_peak() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_mb(pid))
                await trio.sleep(0.05)

        nursery.start_soon(sample_peak)
        http(base, "POST", "/api/v1/clock/advance", {"seconds": 72 * 3600})
        received, expired = await count_receipts(clients, per_bind * BINDS)
        finished = time.perf_counter()
        nursery.cancel_scope.cancel()
    total = per_bind * BINDS
    print(f"messages                  {total}")
    elapsed = submitted - started
    print(f"submit                    {elapsed:.1f} s ({total / elapsed:,.0f}/s)")
    print(f"daemon RSS before/queued  {baseline:.0f} MB / {queued_rss:.0f} MB")
    print(
        f"advance 72 h -> receipts  {finished - advanced:.1f} s "
        f"({received} receipts, {expired} EXPIRED err:202)"
    )
    print(f"daemon RSS peak (advance) {peak:.0f} MB (sampled every 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--durable", action="store_true", help="the durable store (normal) instead of memory"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "offline.toml"
        store = (
            f'backend = "sqlite"\npath = "{Path(tmp) / "smscd.db"}"\ndurability = "normal"'
            if args.durable
            else 'backend = "memory"'
        )
        config_path.write_text(CONFIG.format(store=store))
        daemon, address, base = start(config_path)
        try:
            trio.run(scenario, address, base, daemon.pid, args.messages)
        finally:
            daemon.stop(30)


if __name__ == "__main__":
    main()
