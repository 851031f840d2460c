"""Malformed SMPP at the daemon, the heavy version (issue 5, robustness: malformed input).

Run from the repository root with the project's virtualenv::

    .venv/bin/python scripts/fuzz_smpp.py                      # 1,000,000 PDUs
    .venv/bin/python scripts/fuzz_smpp.py --frames 100000 --seed 7

Starts ``smscd run`` (memory store, the instant carrier, log level warning) and sends it
``--frames`` fuzzed PDUs from ``smscd.smpp.fuzz`` over ``--concurrency`` connections at a time,
``--frames-per-connection`` each, most connections ending in an absurd command_length; a share
bind first. Every answer is checked against the oracle (right response or generic_nack, right
status where the protocol decides it, nothing answered that must not be, the hang-up within a
second after an absurd command_length).

Prints PDUs/s, the daemon's RSS before, after the first tenth (warm) and at the end, with a
sample every ``--sample-interval`` seconds, its file descriptors before and after, the answers
by status, and the mismatches. Exits 1 on any mismatch, an error logged by the daemon, or a
daemon that died or did not exit 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from functools import partial

import trio
from bench import proc_cpu_seconds
from robustness_harness import Smscd, base_config

from smscd.fuzzing import FuzzReport, fuzz

# What the submits the fuzzer gets accepted may hold: max_queued those whose receipts wait for
# a receiver that never comes, store.max_finished the finished ones kept for query_sm. Small
# here so that memory reaches its ceiling within the first tenth of the run, and what grows
# after it is growth.
CONFIG = f"""
[smpp]
bind_failure_limit = 0   # mutated binds fail by the thousand; flood_smpp.py tests the lock-out
{base_config(max_finished=1000)}
[[accounts]]
system_id = "acme"
password = "secret"
max_binds = 64
max_queued = 2000
"""


async def run(args: argparse.Namespace, daemon: Smscd, host: str, port: int) -> dict[str, object]:
    report = FuzzReport()
    samples: list[float] = []

    async def connect() -> trio.abc.Stream:
        return await trio.open_tcp_stream(host, port)

    async def sample() -> None:
        while True:
            await trio.sleep(args.sample_interval)
            samples.append(daemon.rss_mb())

    run_fuzz = partial(
        fuzz,
        connect,
        concurrency=args.concurrency,
        frames_per_connection=args.frames_per_connection,
        batch_size=args.batch,
        report=report,
    )
    started = time.perf_counter()
    cpu = time.process_time(), proc_cpu_seconds(daemon.pid) or 0.0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sample)
        warm = args.frames // 10
        await run_fuzz(frames=warm, seed=args.seed)
        rss_warm = daemon.rss_mb()
        await run_fuzz(frames=args.frames - warm, seed=args.seed + 1)
        nursery.cancel_scope.cancel()
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu[0]
    daemon_cpu = (proc_cpu_seconds(daemon.pid) or 0.0) - cpu[1]
    await trio.sleep(1)  # let the daemon close the last connections
    return {
        "report": report,
        "elapsed": elapsed,
        "rss_warm": rss_warm,
        "samples": samples,
        "cpu": f"daemon {daemon_cpu:.1f} s, this client {client_cpu:.1f} s",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--frames-per-connection", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50, help="frames sent before reading")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-interval", type=float, default=10.0)
    args = parser.parse_args(argv)

    daemon = Smscd(CONFIG)
    host, port = daemon.wait_ready(30)
    rss_before, fds_before = daemon.rss_mb(), daemon.open_fds()
    print(f"smscd pid {daemon.pid} at {host}:{port}; RSS {rss_before:.1f} MB, {fds_before} fds")
    try:
        result = trio.run(run, args, daemon, host, port)
    finally:
        alive = daemon.alive()
        rss_after = daemon.rss_mb() if alive else 0.0
        peak = daemon.peak_rss_mb() if alive else 0.0
        fds_after = daemon.open_fds() if alive else 0
        exit_code = daemon.stop()
    report = result["report"]
    assert isinstance(report, FuzzReport)
    elapsed = float(str(result["elapsed"]))
    by_status: Counter[str] = Counter()
    for answer, count in report.answers.items():
        by_status[answer.rpartition(" ")[2]] += count
    samples = " ".join(f"{mb:.0f}" for mb in result["samples"])  # type: ignore[attr-defined]

    print(
        f"PDUs sent:        {report.frames:,} over {report.connections:,} connections "
        f"({args.concurrency} at a time), seed {args.seed}"
    )
    print(f"rate:             {report.frames / elapsed:,.0f} PDUs/s over {elapsed:.1f} s")
    print(f"CPU:              {result['cpu']}")
    print(f"answers checked:  {sum(report.answers.values()):,}")
    print(f"mismatches:       {report.mismatch_count}")
    for text in report.mismatches[:10]:
        print(f"  {text}")
    print(
        f"hang-ups:         {report.closes:,} after an absurd command_length or an unbind; "
        f"slowest {report.slowest_close * 1000:.1f} ms"
    )
    print(f"SMSC requests:    {report.requests_from_smsc:,} (deliver_sm, enquire_link; ignored)")
    print(
        f"daemon RSS:       before {rss_before:.1f} MB, warm {result['rss_warm']:.1f} MB, "
        f"after {rss_after:.1f} MB, peak {peak:.1f} MB"
    )
    print(f"RSS samples (MB): {samples or '-'}")
    print(f"daemon fds:       before {fds_before}, after {fds_after}")
    errors = daemon.levels["error"] + daemon.levels["critical"]
    unparsed = daemon.levels["unparsed"]
    print(f"daemon log:       {errors} errors (a crashed connection is one), {unparsed} unparsed")
    print(f"exit on SIGTERM:  {exit_code}")
    print("answers by status:")
    for status, count in by_status.most_common():
        print(f"  {count:>9,}  {status}")
    failed = report.mismatch_count or errors or not alive or exit_code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
