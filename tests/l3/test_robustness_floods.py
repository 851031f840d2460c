"""Floods (issue 5, robustness): wrong-password binds by the hundred and the lock-out they earn,
more binds than max_binds, bind/unbind cycles; nothing may leak (file descriptors, tasks,
objects). The heavy version (10,000 cycles, RSS) is scripts/flood_smpp.py.
"""

from __future__ import annotations

import gc
from collections import Counter

import trio
import trio.testing
from robustness import baseline, bind_raw, make_config, read_pdu, serving, settle
from structlog.testing import capture_logs

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import CommandStatus
from smscd.smpp.pdus import BindTransceiver, Unbind, UnbindResp

WRONG = "Wr0ngPw"
OTHER_ADDRESS = "127.0.0.2"  # Linux routes all of 127/8 to the loopback interface


async def wrong_binds(address: tuple[str, int], connections: int, binds: int) -> Counter[int]:
    """``connections`` connections at once, each trying ``binds`` wrong passwords in turn."""
    statuses: Counter[int] = Counter()

    async def guesser() -> None:
        stream, status = await bind_raw(address, password=WRONG)
        statuses[status] += 1
        reader = PduReader()
        for sequence_number in range(2, binds + 1):
            # A refused bind leaves the session open: the next guess goes on the same one.
            await stream.send_all(
                encode(
                    BindTransceiver(
                        sequence_number=sequence_number, system_id="acme", password=WRONG
                    )
                )
            )
            answer = await read_pdu(stream, reader)
            assert answer is not None
            statuses[answer.command_status] += 1
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(guesser)
    return statuses


async def test_500_wrong_passwords_are_refused_and_lock_out_only_that_address() -> None:
    config = make_config('bind_failure_limit = 10\nbind_lockout = "1m"\n')
    async with serving(config) as (_, addresses):
        valid_elsewhere: list[int] = []

        async def bind_from_elsewhere() -> None:
            while True:
                stream, status = await bind_raw(addresses.smpp, local_address=OTHER_ADDRESS)
                valid_elsewhere.append(status)
                await stream.aclose()
                await trio.sleep(0.02)

        with capture_logs() as events:
            started = trio.current_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(bind_from_elsewhere)
                statuses = await wrong_binds(addresses.smpp, connections=50, binds=10)
                nursery.cancel_scope.cancel()
            elapsed = trio.current_time() - started
            # The right password from the locked-out address is refused too, unchecked.
            stream, locked_status = await bind_raw(addresses.smpp)
            await stream.aclose()
        assert elapsed < 10
        assert statuses == {
            CommandStatus.ESME_RINVPASWD: 10,
            CommandStatus.ESME_RBINDFAIL: 490,
        }
        assert locked_status == CommandStatus.ESME_RBINDFAIL
        assert valid_elsewhere and set(valid_elsewhere) == {CommandStatus.ESME_ROK}
        lockouts = [e for e in events if e["event"] == "bind_lockout"]
        assert [(e["host"], e["log_level"]) for e in lockouts] == [("127.0.0.1", "warning")]
        assert not any(WRONG in repr(e) or "secret" in repr(e) for e in events)


async def test_lock_out_ends_after_its_time() -> None:
    config = make_config('bind_failure_limit = 3\nbind_lockout = "1s"\n')
    async with serving(config) as (_, addresses):
        assert await wrong_binds(addresses.smpp, connections=1, binds=3) == {
            CommandStatus.ESME_RINVPASWD: 3
        }
        stream, status = await bind_raw(addresses.smpp)
        await stream.aclose()
        assert status == CommandStatus.ESME_RBINDFAIL
        await trio.sleep(1.05)
        stream, status = await bind_raw(addresses.smpp)
        await stream.aclose()
        assert status == CommandStatus.ESME_ROK


async def test_binds_over_max_binds_are_refused_and_descriptors_come_back() -> None:
    config = make_config(account="max_binds = 3\n")
    async with serving(config) as (daemon, addresses):
        fds, tasks = baseline()
        results = []
        async with trio.open_nursery() as nursery:

            async def bind_one() -> None:
                results.append(await bind_raw(addresses.smpp))

            for _ in range(20):
                nursery.start_soon(bind_one)
        statuses = Counter(status for _, status in results)
        assert statuses == {CommandStatus.ESME_ROK: 3, CommandStatus.ESME_RBINDFAIL: 17}
        for stream, _ in results:
            await stream.aclose()
        await settle(daemon.context.connections, fds, tasks)
        account = daemon.accounts.get("acme")
        assert account is not None and account.binds == 0


def live_objects() -> int:
    """Objects the garbage collector tracks, less trio's deadline heap: a cancel scope that
    exited waits there until its deadline passes or trio prunes the heap (which it does once
    stale entries outnumber the live ones by 1000), bounded but not ours."""
    gc.unfreeze()  # the daemon's housekeeping freezes objects, which hides them from the count
    gc.collect()
    return sum(
        1
        for o in gc.get_objects()
        if not isinstance(o, trio.CancelScope)
        and type(o).__name__ != "CancelReason"
        and not (type(o) is tuple and len(o) == 3 and isinstance(o[2], trio.CancelScope))
    )


async def test_bind_unbind_cycles_leak_nothing() -> None:
    async with serving(make_config()) as (daemon, addresses):

        async def cycle() -> None:
            stream, status = await bind_raw(addresses.smpp)
            assert status == CommandStatus.ESME_ROK
            await stream.send_all(encode(Unbind(sequence_number=2)))
            reader = PduReader()
            assert isinstance(await read_pdu(stream, reader), UnbindResp)
            assert await read_pdu(stream, reader) is None  # the daemon hangs up after it
            await stream.aclose()

        for _ in range(50):  # warm-up: caches, free lists, the first of everything
            await cycle()
        with trio.fail_after(5):
            while daemon.context.connections:
                await trio.sleep(0.01)
        await trio.testing.wait_all_tasks_blocked()
        objects = live_objects()
        fds, tasks = baseline()
        for _ in range(300):
            await cycle()
        await settle(daemon.context.connections, fds, tasks)
        # One object kept per cycle would be 300.
        assert live_objects() - objects < 50
        account = daemon.accounts.get("acme")
        assert account is not None and account.binds == 0
