"""Bind floods at the daemon, the heavy version (issue 5, robustness: floods).

Run from the repository root with the project's virtualenv::

    .venv/bin/python scripts/flood_smpp.py
    .venv/bin/python scripts/flood_smpp.py --cycles 2000

Starts ``smscd run`` (smpp.bind_failure_limit 10, smpp.bind_lockout 1m) and runs three phases,
printing the figures of each:

1. 500 wrong-password binds in 10 s from 127.0.0.1, one connection each, at an even pace, while
   a client on 127.0.0.2 binds with the right password every 100 ms: how each was answered, the
   bind_lockout lines the daemon logged (one is right) and whether a password reached the log.
2. more binds than max_binds (50 at once on an account allowing 5): how they were answered,
   and the daemon's file descriptors before and after.
3. ``--cycles`` bind/unbind cycles (bind_transceiver, unbind, the daemon hangs up), 4 at a
   time, from 127.0.0.3: cycles/s, and the daemon's file descriptors and RSS after a warm-up
   and at the end.

Exits 1 when a figure is wrong: a wrong password accepted, a valid bind refused, not exactly
one lock-out logged, a password logged, descriptors or memory not back, or a daemon that did
not exit 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter

import trio
from robustness_harness import Smscd, base_config

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import CommandStatus, status_name
from smscd.smpp.pdus import BindTransceiver, Unbind

WRONG = "Wr0ngPw"
CONFIG = f"""
[smpp]
bind_failure_limit = 10
bind_lockout = "1m"
{base_config()}
[[accounts]]
system_id = "acme"
password = "secret"
max_binds = 64

[[accounts]]
system_id = "limited"
password = "secret"
max_binds = 5
"""


async def bind(
    address: tuple[str, int], system_id: str, password: str, local: str
) -> tuple[trio.SocketStream, int]:
    """One connection from ``local``, one bind_transceiver: the stream and its status."""
    stream = await trio.open_tcp_stream(*address, local_address=local)
    await stream.send_all(
        encode(BindTransceiver(sequence_number=1, system_id=system_id, password=password))
    )
    reader = PduReader()
    while (answer := reader.next_pdu()) is None:
        data = await stream.receive_some(4096)
        if not data:
            raise ConnectionError("closed before the bind was answered")
        reader.feed(data)
    return stream, answer.command_status


def statuses_text(statuses: Counter[int]) -> str:
    return ", ".join(f"{count} {status_name(status)}" for status, count in statuses.most_common())


async def phase_wrong_passwords(address: tuple[str, int], daemon: Smscd) -> bool:
    wrong: Counter[int] = Counter()
    valid: list[int] = []
    latencies: list[float] = []

    async def guess() -> None:
        stream, status = await bind(address, "acme", WRONG, "127.0.0.1")
        wrong[status] += 1
        await stream.aclose()

    async def valid_elsewhere() -> None:
        while True:
            started = time.perf_counter()
            stream, status = await bind(address, "acme", "secret", "127.0.0.2")
            latencies.append(time.perf_counter() - started)
            valid.append(status)
            await stream.send_all(encode(Unbind(sequence_number=2)))
            await stream.aclose()
            await trio.sleep(0.1)

    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(valid_elsewhere)
        async with trio.open_nursery() as guesses:
            for n in range(500):
                await trio.sleep_until(started + n * 10 / 500)
                guesses.start_soon(guess)
        nursery.cancel_scope.cancel()
    elapsed = trio.current_time() - started
    stream, locked = await bind(address, "acme", "secret", "127.0.0.1")
    await stream.aclose()
    await trio.sleep(0.5)  # the log line travels through a pipe
    lockouts = daemon.events["bind_lockout"]
    leaked = sum(WRONG in line or "secret" in line for line in daemon.lines)
    refused = sum(wrong.values()) - wrong[CommandStatus.ESME_ROK]
    valid_ok = valid.count(CommandStatus.ESME_ROK)
    print("1. 500 wrong-password binds from 127.0.0.1, one connection each")
    print(f"   sent in {elapsed:.1f} s; answers: {statuses_text(wrong)}")
    print(f"   refused: {refused} of {sum(wrong.values())}")
    print(
        f"   valid binds from 127.0.0.2 meanwhile: {valid_ok} of {len(valid)} ok, bind time "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    print(f"   right password from 127.0.0.1 after: {status_name(locked)}")
    print(f"   bind_lockout lines logged: {lockouts}; lines with a password: {leaked}")
    return (
        refused == 500
        and valid_ok == len(valid) > 0
        and locked == CommandStatus.ESME_RBINDFAIL
        and lockouts == 1
        and leaked == 0
    )


async def phase_max_binds(address: tuple[str, int], daemon: Smscd) -> bool:
    fds_before = daemon.open_fds()
    results: list[tuple[trio.SocketStream, int]] = []

    async def one() -> None:
        results.append(await bind(address, "limited", "secret", "127.0.0.4"))

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(one)
    statuses = Counter(status for _, status in results)
    fds_during = daemon.open_fds()
    for stream, _ in results:
        await stream.aclose()
    with trio.move_on_after(5):
        while daemon.open_fds() > fds_before:
            await trio.sleep(0.05)
    fds_after = daemon.open_fds()
    print("2. 50 binds at once on an account with max_binds = 5")
    print(f"   answers: {statuses_text(statuses)}")
    print(f"   daemon fds: before {fds_before}, with 50 open {fds_during}, after {fds_after}")
    return statuses == {0: 5, CommandStatus.ESME_RBINDFAIL: 45} and fds_after == fds_before


async def phase_cycles(address: tuple[str, int], daemon: Smscd, cycles: int) -> bool:
    failures = 0
    done = 0

    async def cycle() -> None:
        nonlocal failures
        stream, status = await bind(address, "acme", "secret", "127.0.0.3")
        await stream.send_all(encode(Unbind(sequence_number=2)))
        # The unbind_resp, then the daemon hangs up.
        while await stream.receive_some(4096):
            pass
        await stream.aclose()
        failures += status != CommandStatus.ESME_ROK

    async def worker(count: int) -> None:
        nonlocal done
        for _ in range(count):
            await cycle()
            done += 1

    async def run(total: int) -> None:
        async with trio.open_nursery() as nursery:
            for share in (total // 4 + (i < total % 4) for i in range(4)):
                nursery.start_soon(worker, share)

    async def quiet() -> None:
        await trio.sleep(1)  # the daemon's last connections close, its collector runs

    warm = min(500, cycles // 10)
    await run(warm)
    await quiet()
    fds_warm, rss_warm = daemon.open_fds(), daemon.rss_mb()
    started = time.perf_counter()
    await run(cycles - warm)
    elapsed = time.perf_counter() - started
    await quiet()
    fds_end, rss_end = daemon.open_fds(), daemon.rss_mb()
    print(f"3. {cycles:,} bind/unbind cycles, 4 at a time")
    print(f"   {(cycles - warm) / elapsed:,.0f} cycles/s; refused binds: {failures}")
    print(f"   daemon fds: after {warm} (warm) {fds_warm}, at the end {fds_end}")
    print(f"   daemon RSS: after {warm} (warm) {rss_warm:.1f} MB, at the end {rss_end:.1f} MB")
    return failures == 0 and fds_end == fds_warm and rss_end - rss_warm < 5


async def run(args: argparse.Namespace, daemon: Smscd, address: tuple[str, int]) -> bool:
    ok = await phase_wrong_passwords(address, daemon)
    ok = await phase_max_binds(address, daemon) and ok
    return await phase_cycles(address, daemon, args.cycles) and ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    args = parser.parse_args(argv)
    daemon = Smscd(CONFIG)
    address = daemon.wait_ready(30)
    print(f"smscd pid {daemon.pid} at {address[0]}:{address[1]}")
    try:
        ok = trio.run(run, args, daemon, address)
    finally:
        exit_code = daemon.stop()
    print(f"exit on SIGTERM: {exit_code}")
    return 0 if ok and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
