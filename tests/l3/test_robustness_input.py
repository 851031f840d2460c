"""Malformed input over real loopback connections (issue 5, robustness: malformed input).

10,000 fuzzed PDUs over many connections, every answer checked against smpp.fuzz's oracle;
the inputs that crashed other SMPP stacks, each with the answer written by hand. The heavy
version (1,000,000 PDUs, RSS before and after) is scripts/fuzz_smpp.py.
"""

from __future__ import annotations

import gc
import resource
from collections import Counter

import pytest
import structlog
import trio
from robustness import baseline, bind_raw, make_config, read_pdu, serving, settle

from smscd.fuzzing import CLOSE_TIMEOUT, FuzzReport, fuzz
from smscd.smpp.codec import PduReader, encode
from smscd.smpp.errors import SmppError
from smscd.smpp.fuzz import KNOWN_INPUTS, KnownInput
from smscd.smpp.pdus import EnquireLink, EnquireLinkResp
from smscd.smpp.session import Session
from smscd.transport.connection import PROTOCOL_ERRORS_LOGGED, SmppConnection

# The fuzzer's mutated binds fail by the hundred; the lock-out has its own tests.
NO_LOCKOUT = "bind_failure_limit = 0\n"


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("known", KNOWN_INPUTS, ids=lambda known: known.name)
async def test_known_crash_inputs_of_other_stacks_get_their_answer(known: KnownInput) -> None:
    async with serving(make_config(NO_LOCKOUT)) as (_, addresses):
        if known.bound:
            stream, status = await bind_raw(addresses.smpp)
            assert status == 0
        else:
            stream = await trio.open_tcp_stream(*addresses.smpp)
        reader = PduReader(2**32)
        await stream.send_all(known.frame)
        with trio.fail_after(CLOSE_TIMEOUT):
            if known.answer is not None:
                answer = await read_pdu(stream, reader)
                assert answer is not None
                assert (answer.command_id, answer.command_status) == known.answer
                assert answer.sequence_number == int.from_bytes(known.frame[12:16])
            if known.closes:
                assert await stream.receive_some(65536) == b""
                return
            # Still in step: the next request is read and answered.
            await stream.send_all(encode(EnquireLink(sequence_number=0x7FFF0000)))
            follow = await read_pdu(stream, reader)
        assert isinstance(follow, EnquireLinkResp)
        assert follow.sequence_number == 0x7FFF0000
        await stream.aclose()


async def test_ten_thousand_fuzzed_pdus_each_get_the_right_answer() -> None:
    async with serving(make_config(NO_LOCKOUT)) as (daemon, addresses):

        async def connect() -> trio.abc.Stream:
            return await trio.open_tcp_stream(*addresses.smpp)

        report = FuzzReport()
        fds, tasks = baseline()
        await fuzz(connect, frames=5000, seed=1, concurrency=8, report=report)
        rss_half = rss_kb()
        await fuzz(connect, frames=5000, seed=2, concurrency=8, report=report)
        rss_end = rss_kb()
        # Connections wind down, messages the fuzzer got accepted finish.
        await settle(daemon.context.connections, fds, tasks)
        assert report.mismatches == []
        assert report.frames >= 10_000
        assert report.connections >= 40
        assert report.closes >= report.connections / 2  # most end with an absurd length
        assert report.slowest_close < CLOSE_TIMEOUT
        assert sum(report.answers.values()) > 5000
        # The second half did not grow the process.
        assert rss_end - rss_half < 5_000, (rss_half, rss_end)  # kB; the cycle test is finer
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 500_000


async def test_closed_connections_leave_nothing_for_the_cycle_collector() -> None:
    # The daemon freezes its objects every few seconds (gc.freeze) and collects the frozen
    # ones only every 10 minutes: a connection that ends in a reference cycle is kept that long.
    async with serving(make_config(NO_LOCKOUT)) as (daemon, addresses):

        async def connect() -> trio.abc.Stream:
            return await trio.open_tcp_stream(*addresses.smpp)

        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            report = await fuzz(connect, frames=2000, seed=3, concurrency=4)
            with trio.fail_after(5):
                while daemon.context.connections:
                    await trio.sleep(0.01)
            gc.unfreeze()
            gc.collect()
            cyclic = Counter(
                type(o).__name__
                for o in gc.garbage
                if isinstance(o, SmppConnection | Session | PduReader | SmppError)
            )
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert report.closes >= 4
    assert not cyclic


async def test_a_flood_of_bad_pdus_is_answered_whole_and_logged_in_brief() -> None:
    """Each bad PDU gets its generic_nack; the log gets the first few and the totals."""
    bad = 2 * PROTOCOL_ERRORS_LOGGED + 5
    with structlog.testing.capture_logs() as logs:
        async with serving(make_config(NO_LOCKOUT)) as (daemon, addresses):
            stream, status = await bind_raw(addresses.smpp)
            assert status == 0
            # An unknown command_id: generic_nack ESME_RINVCMDID, the stream stays in step.
            frames = b"".join(
                (16).to_bytes(4) + (0x000000FF).to_bytes(4) + bytes(4) + (n + 2).to_bytes(4)
                for n in range(bad)
            )
            await stream.send_all(frames)
            reader = PduReader()
            with trio.fail_after(5):
                answers = [await read_pdu(stream, reader) for _ in range(bad)]
            assert {(a.command_id, a.command_status) for a in answers if a} == {(0x80000000, 3)}
            await stream.aclose()
            with trio.fail_after(5):
                while daemon.context.connections:
                    await trio.sleep(0.01)
    errors = [entry for entry in logs if entry["event"] == "protocol_error"]
    assert len(errors) == PROTOCOL_ERRORS_LOGGED
    [closed] = [entry for entry in logs if entry["event"] == "connection_closed"]
    assert closed["protocol_errors"] == bad
