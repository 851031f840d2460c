"""A crash at each step of the durable write path, in process: never an ESME_ROK without a
stored message, and after a restart every stored message ends with its final receipt.

The steps (the durable store issue): before the batch commits, after it commits but before the
submit_sm_resp go out, after they went out, and after a receipt went out. A "crash" is the
daemon dying exactly there: an exception raised from a hook that nothing in the daemon
catches, or the cancellation of the whole daemon, so none of its shutdown runs (no last batch,
no store close). The test then does what the kernel does for a killed process (the store's
connections close without a commit, so an open transaction is lost; the store lock is
released) and starts a fresh daemon on the same file. scripts/crash_test.py and
tests/e2e/test_durable_e2e.py do the same with kill -9 under load.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from test_daemon import durable_config, esme, intercept_writes, running, submit

from smscd.client import Esme, EsmeError
from smscd.config import Config
from smscd.daemon import BoundAddresses, Daemon
from smscd.smpp.constants import BindType, CommandStatus
from smscd.smpp.pdus import DeliverSm
from smscd.status import Code
from smscd.store.sqlite import Batch
from smscd.store.writer import ThreadWriter

STEPS = ("before_commit", "after_commit", "after_response", "after_receipt")
ROUND = 10  # submits per round


class Crash(Exception):  # noqa: N818 - it is what happens, not an error of the code
    """The daemon dies here."""


class DiesAtCommit:
    """The writer connection of a process that dies just before COMMIT: every statement of
    the batch has run inside its transaction, which is never committed."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise Crash("before COMMIT")
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


@asynccontextmanager
async def crashing(
    config: Config,
) -> AsyncIterator[tuple[Daemon, BoundAddresses, Callable[[], None]]]:
    """A daemon that only ends by crashing: a `Crash` raised inside it, or the function
    yielded (the whole daemon cancelled where it stands). On leaving, the crash has happened
    and the process is "dead" (see `die`)."""
    daemon = Daemon(config)
    scope = trio.CancelScope()

    async def run(*, task_status: trio.TaskStatus[BoundAddresses]) -> None:
        with scope:
            try:
                await daemon.run(stop=trio.Event(), handle_signals=False, task_status=task_status)
            except* Crash:
                pass  # raised by a hook: the daemon died there
            else:
                raise AssertionError("the daemon stopped without crashing")

    async with trio.open_nursery() as nursery:
        addresses: BoundAddresses = await nursery.start(run)
        yield daemon, addresses, scope.cancel
        with trio.fail_after(10):
            while nursery.child_tasks:
                await trio.sleep(0.01)
    die(daemon)


def die(daemon: Daemon) -> None:
    """What the kernel does for a killed process: its SQLite connections go without a commit
    and its store lock is released. The daemon's own shutdown never ran."""
    store = daemon.durable
    assert store is not None
    assert not store._closed, "the crash ran the clean shutdown"
    store._close_connections()
    assert daemon._store_lock is not None
    daemon._store_lock.close()


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


async def submit_round(
    client: Esme, count: int, offset: int, on_rok: Callable[[], None] = lambda: None
) -> tuple[set[str], int]:
    """`count` submits at once; the ids answered ESME_ROK, and how many got no answer at all
    (the daemon died first). Any other answer would be a failure."""
    accepted: set[str] = set()
    unanswered = 0

    async def one(n: int) -> None:
        nonlocal unanswered
        try:
            response = await client.request(
                submit(destination_addr=f"4670{offset + n:07d}", registered_delivery=1)
            )
        except (EsmeError, trio.BrokenResourceError, trio.ClosedResourceError):
            unanswered += 1  # the daemon died first
            return
        assert response.command_status == CommandStatus.ESME_ROK, response
        accepted.add(response.message_id)  # type: ignore[attr-defined]
        on_rok()

    async with trio.open_nursery() as nursery:
        for n in range(count):
            nursery.start_soon(one, n)
    return accepted, unanswered


async def receipts_after_restart(address: tuple[str, int], expected: Collection[str]) -> list[str]:
    """Every final receipt a receiver gets until all of `expected` came, and for 0.5 s more
    (anything then would be a duplicate)."""
    receipted: list[str] = []
    async with esme(address, BindType.RECEIVER) as client:
        with trio.fail_after(10):
            while not set(expected) <= set(receipted):
                pdu = await client.deliveries.receive()
                receipted.append(final_receipt_id(pdu))
        with trio.move_on_after(0.5):
            async for pdu in client.deliveries:
                receipted.append(final_receipt_id(pdu))
    return receipted


def final_receipt_id(pdu: DeliverSm) -> str:
    assert b"stat:DELIVRD err:201" in pdu.short_message, pdu.short_message
    return pdu.tlvs.receipted_message_id or ""


@pytest.mark.parametrize("writer", ["process", "thread"])
@pytest.mark.parametrize("step", STEPS)
async def test_a_crash_at_each_step_of_the_write_path_loses_no_acknowledged_message(
    tmp_path: Path, step: str, writer: str
) -> None:
    path = tmp_path / "smscd.db"
    # Nothing is final before the crash (the carrier takes an hour), except for the receipt
    # step, where every message is delivered at once and its receipt waits for a receiver.
    config = durable_config(path, delay="0s" if step == "after_receipt" else "1h", writer=writer)
    accepted: set[str] = set()  # every id answered ESME_ROK
    crashed: set[str] = set()  # the messages of the batch being written at the crash
    seen_before: list[str] = []  # receipts that reached the ESME before the crash
    unanswered = 0

    async with crashing(config) as (daemon, addresses, crash):
        store = daemon.durable
        committer = daemon.committer
        assert store is not None and committer is not None
        async with esme(addresses.smpp, BindType.TRANSMITTER) as client:
            first, none = await submit_round(client, ROUND, 0)
            assert len(first) == ROUND and none == 0
            accepted |= first

            # The hooks fire on the first batch that carries a message of the second round.
            def second_round(batch: Batch) -> bool:
                return bool(set(batch.message_ids) - first)

            finish = committer._finish

            def before_write(batch: Batch) -> None:
                if step == "before_commit" and second_round(batch):
                    crashed.update(batch.message_ids)
                    if isinstance(store._write, ThreadWriter):
                        dying = DiesAtCommit(store._write.connection)
                        store._write.connection = dying  # type: ignore[assignment]
                    else:
                        # The writer process gets nothing more: its transaction never began.
                        raise Crash("before the batch reached the writer process")

            def finish_then_die(flight: Any) -> None:
                if flight.error is None and second_round(flight.batch):
                    crashed.update(flight.batch.message_ids)
                    # The batch is on disk and the writer said so; nothing that waited for
                    # it has been released: no submit_sm_resp went out.
                    raise Crash("after commit, before the responses")
                finish(flight)

            intercept_writes(store, before_write)
            if step == "after_commit":
                committer._finish = finish_then_die  # type: ignore[method-assign]

            if step == "after_receipt":
                with trio.fail_after(5):
                    while daemon.outboxes.waiting().get("acme", 0) < ROUND:
                        await trio.sleep(0.01)  # each receipt is committed before it queues
            else:
                # The ESME learns of an ESME_ROK and the daemon dies at once, with the rest
                # of the round in flight.
                on_rok = crash if step == "after_response" else (lambda: None)
                second, unanswered = await submit_round(client, ROUND, ROUND, on_rok)
                accepted |= second
        if step == "after_receipt":
            async with esme(addresses.smpp, bind_type=None) as receiver:

                def take(pdu: DeliverSm) -> int:
                    # The receipt reached the ESME; the daemon dies before its answer arrives.
                    seen_before.append(final_receipt_id(pdu))
                    crash()
                    return CommandStatus.ESME_ROK

                receiver.on_deliver = take
                await receiver.bind("acme", "secret", BindType.RECEIVER)
                with trio.fail_after(5):
                    await receiver.wait_closed()

    assert integrity(path) == "ok"
    if step == "before_commit":
        assert crashed and not accepted & crashed
        assert len(accepted) == ROUND and unanswered == ROUND  # no answer, and no ESME_ROK
    elif step == "after_commit":
        assert crashed and not accepted & crashed  # stored, but never answered
        assert len(accepted) == ROUND and unanswered == ROUND
    elif step == "after_response":
        assert len(accepted) > ROUND  # the second round was answered in part
    else:
        assert seen_before and set(seen_before) <= accepted

    restarted = durable_config(path, delay="0s")
    async with running(restarted) as (daemon, addresses):
        for message_id in accepted:
            assert daemon.store.get(message_id) is not None, f"{message_id} acknowledged, lost"
        # Stored without an answer (after_commit) or not stored at all (before_commit).
        for message_id in crashed:
            stored = daemon.store.get(message_id) is not None
            assert stored == (step == "after_commit"), message_id
        expected = accepted | (crashed if step == "after_commit" else set())
        receipted = await receipts_after_restart(addresses.smpp, expected)
        assert len(receipted) == len(set(receipted)), "a final receipt came twice"
        if step in ("after_response", "after_commit"):
            # Submits in flight at the crash may have been stored without their answer (a
            # batch taken after the crashed one may have reached the disk first): they are
            # delivered too, but nothing answered otherwise than ESME_ROK is among them.
            assert expected <= set(receipted)
            extra = set(receipted) - expected
            assert len(extra) <= unanswered
            assert all(daemon.store.get(message_id) is not None for message_id in extra)
        else:
            # At least once: the receipt the ESME saw but did not acknowledge comes again.
            assert set(receipted) == expected
        for message_id in expected:
            message = daemon.store.get(message_id)
            assert message is not None and message.status == Code.DELIVERED_TO_HANDSET
        await trio.sleep(0.1)  # the acknowledgements reach the store
    assert integrity(path) == "ok"
