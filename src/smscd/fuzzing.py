"""Drive an SMSC with malformed SMPP over many connections at once (trio).

The frames and the check of every answer are ``smpp.fuzz``'s (sans-IO); this module only
moves them over sockets, many connections at a time, and measures how fast a connection that
sent an absurd command_length is hung up on. Used by the robustness tests and by
``scripts/fuzz_smpp.py``; it works against any SMPP 3.4 SMSC that has an account for it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable

import attrs
import trio

from smscd.smpp.constants import BindType
from smscd.smpp.fuzz import Fuzzer, FuzzPeer

__all__ = ["FuzzReport", "fuzz", "fuzz_connection"]

Connect = Callable[[], Awaitable[trio.abc.Stream]]

#: How long the SMSC may take to answer a batch before the connection counts as stuck.
ANSWER_TIMEOUT = 10.0
#: The issue's bar: an absurd command_length is answered and the connection closed within 1 s.
CLOSE_TIMEOUT = 1.0
# At most this many mismatches are kept for the report; the count goes on.
_KEEP_MISMATCHES = 50


@attrs.define
class FuzzReport:
    """What a fuzz run saw.

    Attributes:
        frames: frames sent (the enquire_link closing each batch included).
        connections: connections opened.
        answers: answers checked, by operation and status.
        mismatches: the first answers that were wrong, missing or unexpected.
        mismatch_count: all of them.
        requests_from_smsc: deliver_sm and enquire_link the SMSC sent (left unanswered).
        closes: connections the SMSC had to hang up on (absurd command_length, unbind).
        slowest_close: the longest time from sending such a frame to the end of the stream.
    """

    frames: int = 0
    connections: int = 0
    answers: Counter[str] = attrs.Factory(Counter)
    mismatches: list[str] = attrs.Factory(list)
    mismatch_count: int = 0
    requests_from_smsc: int = 0
    closes: int = 0
    slowest_close: float = 0.0

    def mismatch(self, text: str) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < _KEEP_MISMATCHES:
            self.mismatches.append(text)

    def add(self, peer: FuzzPeer) -> None:
        self.frames += peer.frames_sent
        self.connections += 1
        self.answers.update(peer.answers)
        self.requests_from_smsc += peer.requests_from_smsc
        for text in peer.mismatches:
            self.mismatch(text)


async def _exchange(stream: trio.abc.Stream, peer: FuzzPeer, data: bytes) -> bool:
    """Send one batch and read until it is answered; False when the stream ended first."""
    await stream.send_all(data)
    while True:
        chunk = await stream.receive_some(65536)
        if not chunk:
            return False
        if peer.receive(chunk):
            return True


async def fuzz_connection(
    stream: trio.abc.Stream,
    peer: FuzzPeer,
    frames: int,
    report: FuzzReport,
    *,
    batch_size: int = 50,
    bind: tuple[BindType, str, str] | None = None,
) -> None:
    """Send about ``frames`` fuzzed frames on one connection, ending with an absurd
    command_length, and check every answer and the hang-up that must follow."""
    try:
        async with stream:
            if bind is not None:
                await _run_batch(stream, peer, peer.bind(*bind), report)
            while not peer.closing:
                left = frames - peer.frames_sent
                data = peer.batch(max(1, min(batch_size, left)), fatal=left <= batch_size)
                sent_at = trio.current_time()
                if not await _run_batch(stream, peer, data, report):
                    return
                if peer.closing:
                    await _expect_close(stream, sent_at, report)
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        report.mismatch(f"connection broke after {peer.frames_sent} frames: {exc!r}")
    finally:
        report.add(peer)


async def _run_batch(
    stream: trio.abc.Stream, peer: FuzzPeer, data: bytes, report: FuzzReport
) -> bool:
    with trio.move_on_after(ANSWER_TIMEOUT):
        if await _exchange(stream, peer, data):
            return True
        report.mismatch(f"closed by the SMSC with {peer.unanswered} frames unanswered")
        return False
    report.mismatch(f"{peer.unanswered} frames unanswered after {ANSWER_TIMEOUT:g} s")
    return False


async def _expect_close(stream: trio.abc.Stream, sent_at: float, report: FuzzReport) -> None:
    report.closes += 1
    with trio.move_on_after(CLOSE_TIMEOUT * 5):
        while await stream.receive_some(65536):
            pass
    delay = trio.current_time() - sent_at
    report.slowest_close = max(report.slowest_close, delay)
    if delay > CLOSE_TIMEOUT:
        report.mismatch(f"connection still open {delay:.2f} s after a connection-ending frame")


async def fuzz(
    connect: Connect,
    *,
    frames: int,
    seed: int,
    concurrency: int = 8,
    frames_per_connection: int = 250,
    batch_size: int = 50,
    system_id: str = "acme",
    password: str = "secret",
    bound_share: float = 0.4,
    max_command_length: int = 65536,
    report: FuzzReport | None = None,
) -> FuzzReport:
    """Fuzz an SMSC with ``frames`` frames over connections of ``frames_per_connection``,
    ``concurrency`` of them at a time; ``bound_share`` of them bind first (with valid
    credentials, as any bind type). The same seed sends the same octets."""
    report = FuzzReport() if report is None else report
    # A connection may end before its quota (an unbind the fuzzer made); what it did not send
    # goes back to the pool, so the run sends ``frames`` whatever the connections do.
    done = in_flight = 0
    seeds = random.Random(seed)

    async def worker(rng: random.Random) -> None:
        nonlocal done, in_flight
        fuzzer = Fuzzer(
            rng, system_id=system_id, password=password, max_command_length=max_command_length
        )
        while done + in_flight < frames:
            quota = min(frames_per_connection, frames - done - in_flight)
            in_flight += quota
            # Start just below 0xFFFFFFFF so that every connection wraps its numbers through it.
            peer = FuzzPeer(
                fuzzer, max_command_length=max_command_length, first_sequence=-rng.randint(1, 8)
            )
            bind = None
            if rng.random() < bound_share:
                bind = (rng.choice(list(BindType)), system_id, password)
            try:
                stream = await connect()
                await fuzz_connection(stream, peer, quota, report, batch_size=batch_size, bind=bind)
            finally:
                in_flight -= quota
                done += peer.frames_sent

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker, random.Random(seeds.getrandbits(64)))
    return report
