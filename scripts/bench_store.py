"""Time the SQLite store's group commit and its recovery of a large file; print the figures.

1. Throughput, for durability ``full`` and ``normal``: messages go through the life the router
   gives them (added and queued in one batch, finished in the next) in batches of ``--batch``;
   printed: messages a second end to end, with each batch written before the next is built
   and with writes on a worker thread meanwhile (as the daemon will), and the split between
   ``take_batch`` (the event loop's share) and ``write_batch`` (the worker's), per message.
2. Latency: the median time of one ``write_batch`` of 50, 200 and 500 messages, with another
   thread idle and busy (a busy event loop holds the GIL the writer thread needs).
3. Recovery: a file of ``--messages`` messages (``--pending`` of them not final) is filled,
   then opened in a fresh process, as a restarted daemon opens it. Printed: the time to open
   (recovery included), the messages loaded, the resident set size after it (and the
   interpreter's own before opening, for comparison), the file size, and the cost of a read
   from disk and of ``counts()``.

The issue's bar: with 1,000,000 messages in the store, restart to serving in under 30 s and
RSS under 300 MB.

Usage: .venv/bin/python scripts/bench_store.py [--messages N] [--pending F] [--batch N]
           [--throughput-messages N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from smscd.message import Address, Message
from smscd.status import Code
from smscd.store.sqlite import Durability, SqliteStore

T0 = 1_800_000_000.0
FIRST_ID = 1_800_000_000_000_000
SOURCE = Address(1, 1, "46700000001")
DURABILITIES: tuple[Durability, ...] = ("full", "normal")


def new_message(n: int) -> Message:
    return Message(
        message_id=str(FIRST_ID + n),
        system_id="smppclient1",
        source=SOURCE,
        destination=Address(1, 1, f"467{n % 100_000_000:08d}"),
        payload=b"Hello from the store benchmark, message " + str(n).encode(),
        text=f"Hello from the store benchmark, message {n}",
        registered_delivery=1,
        submit_time=T0 + n / 1000,
    )


class Committer:
    """Takes and writes batches: in turn, or (``pipelined``) as the daemon will, writing each
    on a worker thread while the next one builds. Sums the time spent in each step."""

    def __init__(self, *, pipelined: bool) -> None:
        self.pool = ThreadPoolExecutor(1) if pipelined else None
        self.writing: Future[None] | None = None
        self.take = self.write = 0.0

    def commit(self, store: SqliteStore) -> None:
        if self.writing is not None:
            self.writing.result()
        started = time.perf_counter()
        batch = store.take_batch()
        taken = time.perf_counter()
        self.take += taken - started
        if self.pool is None:
            store.write_batch(batch)
            self.write += time.perf_counter() - taken
        else:
            self.writing = self.pool.submit(store.write_batch, batch)

    def finish(self) -> None:
        if self.writing is not None:
            self.writing.result()
        if self.pool is not None:
            self.pool.shutdown()


def run_batches(
    store: SqliteStore, count: int, batch: int, pending: float, committer: Committer
) -> None:
    """Each batch adds ``batch`` new messages and finishes those of the batch before, except
    a ``pending`` fraction; the final receipt of each finished message is acknowledged in the
    same batch (as an ESME bound throughout would, a moment later), so the store owes none."""
    previous: list[Message] = []
    keep_every = round(1 / pending) if pending else 0
    for start in range(0, count, batch):
        current = [new_message(n) for n in range(start, min(start + batch, count))]
        for message in current:
            store.add(message)
            message.record(Code.QUEUED, message.submit_time)
            store.update(message, message.submit_time)
        for message in previous:
            if keep_every and int(message.message_id) % keep_every == 0:
                continue
            message.record(Code.DELIVERED_TO_HANDSET, message.submit_time + 1)
            store.update(message, message.submit_time + 1)
            store.ack_receipt(message.message_id)
        committer.commit(store)
        previous = current
    for message in previous:
        message.record(Code.DELIVERED_TO_HANDSET, message.submit_time + 1)
        store.update(message, message.submit_time + 1)
        store.ack_receipt(message.message_id)
    committer.commit(store)
    committer.finish()


def throughput(directory: Path, durability: Durability, count: int, batch: int) -> None:
    rates = []
    for pipelined in (False, True):
        path = directory / f"throughput-{durability}-{pipelined}.sqlite"
        store = SqliteStore(path, durability=durability, retention=3600.0, max_finished=100_000)
        committer = Committer(pipelined=pipelined)
        started = time.perf_counter()
        run_batches(store, count, batch, 0.0, committer)
        rates.append(count / (time.perf_counter() - started))
        store.close()
        if not pipelined:
            take, write = committer.take, committer.write
    print(
        f"throughput {durability:6}: {rates[0]:7,.0f} msg/s in turn, {rates[1]:7,.0f} msg/s"
        f" with writes on a worker thread ({count:,} messages, batches of {batch}, each"
        f" written twice); take_batch {take / count * 1e6:.1f} us/msg, write_batch"
        f" {write / count * 1e6:.1f} us/msg ({count / write:,.0f} msg/s on the writer thread)"
    )


def latency(directory: Path, durability: Durability) -> None:
    """The time one write_batch takes, by batch size, with the calling thread's peer idle and
    busy: a busy event loop holds the GIL the writer needs between rows."""
    store = SqliteStore(
        directory / f"latency-{durability}.sqlite",
        durability=durability,
        retention=3600.0,
        max_finished=100_000,
    )
    first = 0
    figures = []
    for busy in (False, True):
        stop = threading.Event()
        spinner = threading.Thread(target=_spin, args=(stop,))
        if busy:
            spinner.start()
        for size in (50, 200, 500):
            times = []
            for _ in range(21):
                for n in range(first, first + size):
                    store.add(new_message(n))
                first += size
                batch = store.take_batch()
                started = time.perf_counter()
                store.write_batch(batch)
                times.append(time.perf_counter() - started)
            figures.append(f"{size}: {statistics.median(times) * 1e3:.1f}")
        stop.set()
        if busy:
            spinner.join()
    store.close()
    print(
        f"write_batch {durability:6} median ms by batch size, other thread idle:"
        f" {', '.join(figures[:3])}; busy: {', '.join(figures[3:])}"
    )


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(100))


def fill(path: Path, count: int, pending: float) -> float:
    store = SqliteStore(path, durability="normal", retention=1e9, max_finished=10_000)
    started = time.perf_counter()
    run_batches(store, count, 5_000, pending, Committer(pipelined=True))
    store.close()
    return time.perf_counter() - started


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reopen(path: str) -> None:
    """Runs in a fresh process: open the filled store as a restarting daemon would."""
    before = rss_mb()
    started = time.perf_counter()
    store = SqliteStore(path, retention=1e9, max_finished=100_000)
    opened = time.perf_counter() - started
    loaded = store.statistics().pending
    after = rss_mb()
    span = (store.max_message_id() or FIRST_ID) - FIRST_ID + 1
    started = time.perf_counter()
    for n in range(10_000):
        # Spread over the whole file; one in ten is pending, served from the cache.
        assert store.get(str(FIRST_ID + n * 7919 % span)) is not None
    read = (time.perf_counter() - started) / 10_000
    started = time.perf_counter()
    counts = store.counts()
    counted = time.perf_counter() - started
    store.close()
    figures: dict[str, object] = {"opened": opened, "loaded": loaded}
    figures |= {"rss_before": before, "rss_after": after}
    figures |= {"read": read, "counts": counts, "counted": counted}
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--pending", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--throughput-messages", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reopen", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reopen:
        reopen(args.reopen)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as name:
        directory = Path(name)
        for durability in DURABILITIES:
            throughput(directory, durability, args.throughput_messages, args.batch)
        for durability in DURABILITIES:
            latency(directory, durability)

        path = directory / "recovery.sqlite"
        took = fill(path, args.messages, args.pending)
        size = sum(p.stat().st_size for p in directory.glob("recovery.sqlite*"))
        print(
            f"fill: {args.messages:,} messages ({args.pending:.0%} pending) in {took:.1f} s;"
            f" file {size / 2**20:.0f} MB",
            flush=True,
        )
        result = subprocess.run(
            [sys.executable, __file__, "--reopen", str(path)],
            check=False,
            capture_output=True,
            text=True,
            env=os.environ,
        )
        if result.returncode:
            sys.exit(f"reopen failed:\n{result.stderr}")
        figures = json.loads(result.stdout)
        print(
            f"reopen: {figures['opened']:.2f} s to open and load {figures['loaded']:,} pending"
            f" messages; RSS {figures['rss_after']:.0f} MB"
            f" (interpreter and imports before opening: {figures['rss_before']:.0f} MB)"
        )
        print(
            f"reads: get() from disk {figures['read'] * 1e6:.1f} us;"
            f" counts() {figures['counted'] * 1e3:.0f} ms -> {figures['counts']}"
        )


if __name__ == "__main__":
    main()
