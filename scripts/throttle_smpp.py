"""Throttling exactness on real time, the heavy version (issue 5, robustness: throttling).

Run from the repository root with the project's virtualenv::

    .venv/bin/python scripts/throttle_smpp.py
    .venv/bin/python scripts/throttle_smpp.py --rate 100 --burst 10 --offered 500 --seconds 10

Starts ``smscd run`` with one account limited to ``--rate`` submit_sm/s and a burst of
``--burst``, binds one transmitter and offers ``--offered`` submit_sm/s for ``--seconds`` at an
even pace, without waiting for answers (sends are scheduled by the clock, answers read by a
task of their own). Prints what was offered, accepted (ESME_ROK), throttled (ESME_RTHROTTLED),
answered otherwise and not answered at all, against the token bucket's bounds: at most
burst + rate x T and, since more is offered than the rate, at least rate x T, T being the time
from the first submit to the last. Exits 1 when a submit went unanswered, an answer was neither
of the two, or the accepted count is outside the bounds (one token of slack each way for the
difference between our clock and the daemon's).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import trio
from robustness_harness import Smscd, base_config

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import CommandStatus, status_name
from smscd.smpp.pdus import BindTransmitter, SubmitSm, SubmitSmResp


async def offer(
    address: tuple[str, int], offered: int, seconds: float
) -> tuple[dict[int, int], float]:
    """The answers by sequence_number, and the time from the first submit to the last."""
    stream = await trio.open_tcp_stream(*address)
    await stream.send_all(
        encode(BindTransmitter(sequence_number=1, system_id="acme", password="p"))
    )
    answers: dict[int, int] = {}
    total = int(offered * seconds)
    reader = PduReader()

    async def read() -> None:
        while data := await stream.receive_some(65536):
            reader.feed(data)
            for pdu in reader:
                if isinstance(pdu, SubmitSmResp):
                    answers[pdu.sequence_number] = pdu.command_status
                elif pdu.command_status:
                    raise RuntimeError(f"bind refused: {status_name(pdu.command_status)}")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        await trio.sleep(0.2)  # bound; the bucket is full again
        started = trio.current_time()
        for n in range(total):
            await trio.sleep_until(started + n / offered)
            submit = SubmitSm(sequence_number=2 + n, destination_addr="4670", short_message=b"t")
            await stream.send_all(encode(submit))
        elapsed = trio.current_time() - started
        with trio.move_on_after(5):
            while len(answers) < total:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    await stream.aclose()
    return answers, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--burst", type=float, default=10)
    parser.add_argument("--offered", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args(argv)
    config = f"""{base_config()}
[[accounts]]
system_id = "acme"
password = "p"
throughput = {args.rate}
burst = {args.burst}
max_queued = 1000000
"""
    daemon = Smscd(config)
    address = daemon.wait_ready(30)
    try:
        wall = time.perf_counter()
        answers, elapsed = trio.run(offer, address, args.offered, args.seconds)
        wall = time.perf_counter() - wall
    finally:
        exit_code = daemon.stop()
    total = int(args.offered * args.seconds)
    statuses = Counter(answers.values())
    accepted = statuses.pop(CommandStatus.ESME_ROK, 0)
    throttled = statuses.pop(CommandStatus.ESME_RTHROTTLED, 0)
    other = sum(statuses.values())
    unanswered = total - len(answers)
    upper = args.burst + args.rate * elapsed
    lower = args.rate * elapsed
    print(f"account: {args.rate:g} submit_sm/s, burst {args.burst:g}")
    print(
        f"offered: {total:,} submit_sm at {args.offered:g}/s; first to last {elapsed:.3f} s "
        f"({total / elapsed:.1f}/s achieved; run {wall:.1f} s)"
    )
    print(f"accepted (ESME_ROK):        {accepted:,}")
    print(f"throttled (ESME_RTHROTTLED): {throttled:,}")
    print(f"other answers:              {other:,} {dict(statuses) or ''}")
    print(f"unanswered:                 {unanswered:,}")
    print(
        f"token bucket bounds:        {lower:.1f} <= accepted <= {upper:.1f} "
        f"(rate x T, burst + rate x T)"
    )
    within = lower - 1 <= accepted <= upper + 1
    print(f"within the bounds: {'yes' if within else 'NO'}; exit on SIGTERM: {exit_code}")
    return 0 if within and not other and not unanswered and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
