"""SqliteStore beyond the Store protocol: group commit, recovery, side state, failures,
maintenance."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import marshal
import os
import select
import shutil
import signal
import sqlite3
import struct
import termios
import time
from pathlib import Path

import pytest
import trio
from structlog.testing import capture_logs

from smscd.message import Address, ConcatPart, Message
from smscd.router import wants_final_receipt
from smscd.smpp.codec import decode, encode
from smscd.smpp.pdus import DeliverSm
from smscd.status import Code, is_final
from smscd.store import writer as writer_module
from smscd.store.rows import pack_history
from smscd.store.schema import RECEIPT_OWED
from smscd.store.sqlite import SqliteStore, StoreError
from smscd.store.writer import (
    CHECKPOINT_AFTER,
    CHECKPOINT_AT_LATEST,
    ProcessWriter,
    ThreadWriter,
    WriteRequest,
    decode_request,
    encode_request,
)

from .conftest import T0, MakeMessage, OpenStore


def flush(store: SqliteStore) -> None:
    store.write_batch(store.take_batch())


def record_status(store: SqliteStore, message: Message, code: int, at: float) -> None:
    """A status change as the router makes it: recorded, then handed to the store."""
    message.record(code, at)
    store.update_status(message, at)


def process_store(open_store: OpenStore) -> tuple[SqliteStore, ProcessWriter]:
    """A store with its writer process, running."""
    store = open_store(writer="process")
    writer = store._write
    assert isinstance(writer, ProcessWriter) and writer.pid is not None
    return store, writer


async def write_in_loop(store: SqliteStore) -> None:
    """``flush`` as the daemon does it with a writer process: from the event loop, the rows
    left to the writer process (no snapshot)."""
    await store.finish_batch(store.start_batch(store.take_batch(snapshot=False)))


def test_changes_wait_for_the_batch(open_store: OpenStore, make_message: MakeMessage) -> None:
    store = open_store()
    reader = open_store()  # a second process's view: only committed batches
    m = make_message(1)
    store.add(m)
    store.set_state("clock", "1.0")
    store.put_outbox("r1", "acme", b"pdu", m.message_id, True)
    assert store.changes == 3
    assert reader.counts()["messages"] == 0

    batch = store.take_batch()
    assert store.changes == 0
    assert batch.message_ids == (m.message_id,) and len(batch) == 3
    # Changed after the snapshot: written with the next batch, not this one.
    m.record(Code.SENDING, T0 + 1)
    store.update(m, T0 + 1)
    store.write_batch(batch)
    assert reader.get(m.message_id) is not None
    assert reader.counts() == {
        "messages": 1,
        "pending": 1,
        "finished": 0,
        "outbox": 1,
        "state": 1,
        "receipts_owed": 0,
    }
    assert store.changes == 1
    store.close()  # close writes the rest

    again = open_store()
    [recovered] = list(again.pending())
    assert recovered.status == Code.SENDING
    assert [e.code for e in recovered.history] == [Code.ACCEPTED, Code.SENDING]


def test_reopen_recovers_pending_outbox_state_and_max_id(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store()
    messages = [make_message(n) for n in range(10)]
    for m in messages:
        store.add(m)
        m.record(Code.QUEUED, m.submit_time)
        store.update(m, m.submit_time)
    for m in messages[::2]:
        m.record(Code.DELIVERED_TO_HANDSET, m.submit_time + 5)
        store.update(m, m.submit_time + 5)
    flush(store)
    receipt = DeliverSm(sequence_number=7, source_addr="2", destination_addr="1", esm_class=4)
    for n in range(5):
        store.put_outbox(f"k{n}", "acme", encode(receipt), str(n), n % 2 == 0)
    store.ack_outbox("k1")
    flush(store)
    store.put_outbox("k3", "other", b"new", None, False)  # put again: keeps its place
    store.put_outbox("k9", "acme", b"last", None, False)
    store.ack_outbox("k9")  # acknowledged before it was ever written
    store.set_state("clock", "1700000000.25")
    store.set_state("rules", '{"x": 1}')
    store.close()

    again = open_store()
    pending = list(again.pending())
    assert [m.message_id for m in pending] == [m.message_id for m in messages[1::2]]
    assert pending == messages[1::2]  # history and every field
    assert again.get(messages[0].message_id) == messages[0]  # finished: from disk
    outbox = again.load_outbox()
    assert [r.key for r in outbox] == ["k0", "k2", "k3", "k4"]
    assert outbox[2].system_id == "other" and outbox[2].pdu == b"new"
    assert outbox[2].message_id is None and outbox[2].final is False
    assert outbox[0].final is True and outbox[0].message_id == "0"
    assert decode(outbox[0].pdu) == receipt
    assert again.get_state("clock") == "1700000000.25"
    assert again.get_state("rules") == '{"x": 1}'
    assert again.get_state("nothing") is None
    assert again.max_message_id() == int(messages[-1].message_id)


def sql_plan(path: Path, query: str) -> str:
    with sqlite3.connect(path) as db:
        return " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))


def test_open_concat_parts_are_the_incomplete_sets_parts_since_a_time(
    open_store: OpenStore, make_message: MakeMessage, store_path: Path
) -> None:
    store = open_store()

    def part(n: int, reference: int, sequence: int, **fields: object) -> str:
        message = make_message(n, concat=ConcatPart(reference, 2, sequence), **fields)
        store.add(message)
        return message.message_id

    part(1, 1, 1)  # submitted before `since`
    waiting = part(3, 2, 1)
    part(4, 3, 1, concat_text="whole")  # a complete set
    part(5, 3, 2, concat_text="whole")
    store.add(make_message(6))  # not concatenated
    final = part(7, 4, 1)
    message = store.get(final)
    assert message is not None
    message.record(Code.DELIVERED_TO_HANDSET, T0 + 8)  # finished parts count as well
    store.update(message, T0 + 8)
    later = part(2, 5, 2, submit_time=T0 + 9)  # accepted earlier (its id), dated later
    flush(store)
    assert [m.message_id for m in store.open_concat_parts(T0 + 2)] == [later, waiting, final]
    found = store.open_concat_parts(T0 + 2)[0]
    assert found.concat == ConcatPart(5, 2, 2) and found.payload == b"hello"
    plan = sql_plan(
        store_path,
        "SELECT id FROM messages WHERE concat_reference IS NOT NULL"
        " AND concat_text IS NULL AND submit_time >= 0",
    )
    assert "messages_concat_open" in plan  # not a scan of every message


def test_new_outbox_entries_follow_recovered_ones(open_store: OpenStore) -> None:
    store = open_store()
    store.put_outbox("a", "acme", b"1", None, False)
    store.close()
    store = open_store()
    store.put_outbox("b", "acme", b"2", None, False)
    # Unwritten changes are part of the view, in order.
    assert [r.key for r in store.load_outbox()] == ["a", "b"]
    store.ack_outbox("a")
    assert [r.key for r in store.load_outbox()] == ["b"]
    store.close()
    assert [r.key for r in open_store().load_outbox()] == ["b"]


def test_a_large_batch_is_written_whole(open_store: OpenStore, make_message: MakeMessage) -> None:
    # 601 rows: more than one statement's worth, and not a power of two.
    store = open_store()
    for n in range(601):
        store.add(make_message(n))
        store.put_outbox(f"k{n}", "acme", b"%d" % n, None, False)
    flush(store)
    for n in range(0, 601, 2):
        store.ack_outbox(f"k{n}")
    flush(store)
    assert store.counts()["messages"] == 601
    assert [r.key for r in store.load_outbox()] == [f"k{n}" for n in range(1, 601, 2)]


def test_max_message_id(open_store: OpenStore, make_message: MakeMessage) -> None:
    store = open_store()
    assert store.max_message_id() is None
    store.add(make_message(5, message_id="42"))
    store.add(make_message(6, message_id="not-a-number"))
    assert store.max_message_id() == 42  # before any write: ids must never repeat
    batch = store.take_batch()
    store.add(make_message(7, message_id="41"))
    assert store.max_message_id() == 42  # taken, not written yet
    store.write_batch(batch)
    assert store.max_message_id() == 42  # on disk
    store.close()
    assert open_store().max_message_id() == 42


def test_a_message_leaving_the_cache_is_read_from_disk(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(max_finished=1)
    first, second = make_message(1), make_message(2)
    for m in (first, second):
        store.add(m)
        m.record(Code.DELIVERED_TO_HANDSET, T0)
        store.update(m, T0)
    # first left the cache before any write: the dirty set still has it.
    assert store.statistics().finished == 1
    assert store.get(first.message_id) is first
    batch = store.take_batch()
    assert store.get(first.message_id) is first  # in flight
    store.write_batch(batch)
    flush(store)  # a later batch: now only the disk has it
    from_disk = store.get(first.message_id)
    assert from_disk == first and from_disk is not first


def test_write_failure_raises_store_error_and_the_store_stays_usable(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store()
    store.add(make_message(0))
    flush(store)
    writer = store._write.connection  # type: ignore[attr-defined]
    # A disk that is full: the file may not grow past its current size.
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    writer.execute(f"PRAGMA max_page_count = {pages}")
    big = [make_message(n, payload=bytes(2000)) for n in range(1, 200)]
    for m in big:
        store.add(m)
    batch = store.take_batch()
    with pytest.raises(StoreError, match="full"):
        store.write_batch(batch)

    # Still serving from memory, reading from disk, and accepting new work.
    assert store.get(big[0].message_id) is big[0]
    assert store.counts()["messages"] == 1
    late = make_message(500)
    store.add(late)
    flush(store)  # small enough to fit
    assert store.counts()["messages"] == 2

    writer.execute("PRAGMA max_page_count = 1073741823")
    store.requeue(batch)
    flush(store)
    assert store.counts()["messages"] == 2 + len(big)
    assert not writer.in_transaction


@pytest.mark.parametrize("how", ["thread", "process", "process-from-the-loop"])
async def test_a_locked_file_raises_store_error(
    open_store: OpenStore, store_path: Path, make_message: MakeMessage, how: str
) -> None:
    store = open_store(busy_timeout=0.01, writer=how.removesuffix("-from-the-loop"))
    other = sqlite3.connect(store_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store.add(make_message(1))
    batch = store.take_batch()
    with pytest.raises(StoreError, match="locked"):
        if how == "process-from-the-loop":
            await store.finish_batch(store.start_batch(batch))
        else:
            store.write_batch(batch)
    other.execute("ROLLBACK")
    other.close()
    store.requeue(batch)
    if how == "process-from-the-loop":  # the pipes are still in step
        await write_in_loop(store)
    else:
        flush(store)
    assert store.counts()["messages"] == 1


def test_requeue_keeps_newer_changes(open_store: OpenStore, make_message: MakeMessage) -> None:
    store = open_store()
    m = make_message(1)
    store.add(m)
    store.set_state("k", "old")
    store.put_outbox("r", "acme", b"old", None, False)
    failed = store.take_batch()
    m.record(Code.SENDING, T0)
    store.update(m, T0)
    store.set_state("k", "new")
    store.put_outbox("r", "acme", b"new", None, False)
    store.requeue(failed)
    flush(store)
    store.close()
    again = open_store()
    [recovered] = list(again.pending())
    assert recovered.status == Code.SENDING
    assert again.get_state("k") == "new"
    assert [r.pdu for r in again.load_outbox()] == [b"new"]


def finish(store: SqliteStore, make_message: MakeMessage, n: int, done: float) -> None:
    m = make_message(n)
    store.add(m)
    m.record(Code.DELIVERED_TO_HANDSET, done)
    store.update(m, done)


def owed(store: SqliteStore) -> list[str]:
    return [m.message_id for m in store.owed_receipts()]


def test_a_final_receipt_is_owed_by_its_message_until_acknowledged(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    """No outbox row: the final status says the receipt is owed, ack_receipt ends it, and
    purge keeps the message meanwhile (the receipt is rebuilt from it after a restart)."""
    store = open_store(retention=100.0)
    m = make_message(1, registered_delivery=1)
    store.add(m)
    flush(store)
    assert owed(store) == []  # not final yet
    record_status(store, m, Code.DELIVERED_TO_HANDSET, T0 + 10)
    flush(store)
    assert owed(store) == [m.message_id]
    assert store.counts()["receipts_owed"] == 1 and store.counts()["outbox"] == 0
    assert store.purge(T0 + 1000) == 0  # long past retention, but owed
    store.ack_receipt(m.message_id)
    assert store.changes == 1
    assert owed(store) == [m.message_id]  # until the batch is written
    flush(store)
    assert owed(store) == [] and store.counts()["receipts_owed"] == 0
    store.update(m, T0 + 20)  # the whole row written again: the acknowledgement stays
    flush(store)
    assert owed(store) == []
    assert store.purge(T0 + 1000) == 1


@pytest.mark.parametrize(
    ("registered_delivery", "code", "is_owed"),
    [
        (0, Code.DELIVERED_TO_HANDSET, False),
        (1, Code.DELIVERED_TO_HANDSET, True),
        (1, Code.EXPIRED, True),
        (2, Code.DELIVERED_TO_HANDSET, False),  # on failure only
        (2, Code.UNKNOWN_SUBSCRIBER, True),
        (3, Code.DELIVERED_TO_HANDSET, True),  # SMPP 5.0: on success only
        (3, Code.EXPIRED, False),
        (0x11, Code.CANCELED, True),  # bits above 1..0 do not matter
    ],
)
def test_which_final_messages_owe_a_receipt(
    open_store: OpenStore,
    make_message: MakeMessage,
    registered_delivery: int,
    code: Code,
    is_owed: bool,
) -> None:
    store = open_store(retention=100.0)
    m = make_message(1, registered_delivery=registered_delivery)
    store.add(m)
    m.record(code, T0 + 10)
    store.update(m, T0 + 10)
    flush(store)
    assert owed(store) == ([m.message_id] if is_owed else [])
    assert store.purge(T0 + 1000) == (0 if is_owed else 1)


def test_the_owed_rule_in_sql_is_the_routers() -> None:
    """schema.RECEIPT_OWED and router.wants_final_receipt give the same answer for every
    registered_delivery and every final code."""
    finals = [code for code in Code if is_final(code)]
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        connection.execute(
            "CREATE TABLE messages (registered_delivery, status, done_time, receipt_acked)"
        )
        connection.executemany(
            "INSERT INTO messages VALUES (?, ?, 1.0, 0)",
            [(rd, int(code)) for rd in range(256) for code in finals],
        )
        found = set(
            connection.execute(
                f"SELECT registered_delivery, status FROM messages WHERE {RECEIPT_OWED}"
            ).fetchall()
        )
    expected = {
        (rd, int(code)) for rd in range(256) for code in finals if wants_final_receipt(rd, code)
    }
    assert found == expected and 0 < len(expected) < 256 * len(finals)


def test_an_acknowledgement_in_a_failed_batch_is_written_by_the_next(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store()
    m = make_message(1, registered_delivery=1)
    store.add(m)
    record_status(store, m, Code.DELIVERED_TO_HANDSET, T0 + 10)
    flush(store)
    store.ack_receipt(m.message_id)
    store.requeue(store.take_batch())  # as after a failed write
    assert owed(store) == [m.message_id]
    flush(store)
    assert owed(store) == []


def test_purge_removes_old_finished_messages_from_disk(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(retention=100.0)
    for n in range(6):
        finish(store, make_message, n, T0 + n * 50)
    store.add(make_message(99))  # pending: never purged
    flush(store)
    assert store.purge(T0 + 250) == 3  # done before T0 + 150
    assert store.get(make_message(0).message_id) is not None  # still retained in the cache
    assert store.counts() == {
        "messages": 4,
        "pending": 1,
        "finished": 3,
        "outbox": 0,
        "state": 0,
        "receipts_owed": 0,
    }
    assert store.purge(T0 + 250) == 0


def test_export_and_vacuum(open_store: OpenStore, make_message: MakeMessage) -> None:
    store = open_store(retention=1.0)
    for n in range(3):
        finish(store, make_message, n, T0 + n)
    store.add(make_message(3, source=Address(5, 0, "Shop"), text="Hej €"))
    flush(store)

    out = io.StringIO()
    assert store.export_jsonl(out) == 4
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["message_id"] for r in lines] == [make_message(n).message_id for n in range(4)]
    assert lines[3]["text"] == "Hej €" and lines[3]["source"]["addr"] == "Shop"
    out = io.StringIO()
    assert store.export_jsonl(out, since=T0 + 2) == 2

    store.purge(T0 + 100)
    store.vacuum()
    assert store.counts()["messages"] == 1
    assert [m.message_id for m in store.pending()] == [make_message(3).message_id]


def test_memory_store_keeps_nothing(make_message: MakeMessage) -> None:
    store = SqliteStore(":memory:", retention=10.0, max_finished=10)
    store.add(make_message(1))
    flush(store)
    assert store.counts()["messages"] == 1
    out = io.StringIO()
    assert store.export_jsonl(out) == 1
    store.vacuum()
    store.close()


def test_durability_must_be_known(store_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        SqliteStore(store_path, durability="fast", retention=1.0, max_finished=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("durability", ["full", "normal"])
def test_durability_sets_synchronous(open_store: OpenStore, durability: str) -> None:
    store = open_store(durability=durability)
    expected = {"full": 2, "normal": 1}[durability]
    writer = store._write.connection  # type: ignore[attr-defined]
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == expected
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- the writer process ----------------------------------------------------------------------


def test_the_writer_process_writes_what_the_thread_would(
    open_store: OpenStore, make_message: MakeMessage, store_path: Path
) -> None:
    store = open_store(writer="process")
    for n in range(300):
        message = make_message(n)
        store.add(message)
        if n % 3:
            message.record(Code.DELIVERED_TO_HANDSET, T0 + n + 1)
            store.update(message, T0 + n + 1)
        store.put_outbox(f"k{n}", "acme", b"%d" % n, message.message_id, True)
    store.set_state("clock", "x")
    flush(store)
    for n in range(0, 300, 2):
        store.ack_outbox(f"k{n}")
    flush(store)
    assert store.purge(T0 + 10_000 + 3600) == 200  # the finished ones
    store.vacuum()
    store.close()
    again = open_store(writer="thread")
    assert again.counts() == {
        "messages": 100,
        "pending": 100,
        "finished": 0,
        "outbox": 150,
        "state": 1,
        "receipts_owed": 0,
    }
    assert [m.message_id for m in again.pending()] == [
        make_message(n).message_id for n in range(0, 300, 3)
    ]


def _bytes_in_pipe(fd: int) -> int:
    """Octets waiting in the pipe of ``fd`` (Linux answers FIONREAD at either end)."""
    (count,) = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))
    return int(count)


@pytest.mark.parametrize("in_loop", [False, True], ids=["thread", "event-loop"])
async def test_a_writer_process_that_dies_with_a_request_fails_it_and_is_started_again(
    open_store: OpenStore, make_message: MakeMessage, in_loop: bool
) -> None:
    """The child dies with a batch in its pipe (it is stopped first, so the batch is surely
    sent before it dies): that write fails with StoreError, the batch is put back, and the
    next write starts a new child."""
    store = open_store(writer="process")
    writer = store._write
    assert isinstance(writer, ProcessWriter) and writer.pid is not None
    first = writer.pid
    child = writer._child
    assert child is not None and child.stdin is not None
    os.kill(first, signal.SIGSTOP)
    store.add(make_message(1))
    batch = store.take_batch()
    if in_loop:
        request = store.start_batch(batch)
        assert _bytes_in_pipe(child.stdin.fileno()) > 0
        os.kill(first, signal.SIGKILL)
        with pytest.raises(StoreError, match="writer process died"):
            await store.finish_batch(request)
        assert not store.poll_batch(request)  # and it keeps off the closed pipes
    else:
        errors: list[StoreError] = []

        async def write() -> None:
            try:
                await trio.to_thread.run_sync(store.write_batch, batch)
            except StoreError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            while _bytes_in_pipe(child.stdin.fileno()) == 0:
                await trio.sleep(0.001)
            os.kill(first, signal.SIGKILL)
        [error] = errors
        assert "writer process died" in str(error)
    store.requeue(batch)
    if in_loop:
        await write_in_loop(store)  # a new child
    else:
        flush(store)
    assert writer.pid not in (None, first)
    assert store.counts()["messages"] == 1


@pytest.mark.parametrize("in_loop", [False, True], ids=["thread", "event-loop"])
async def test_a_writer_process_found_dead_before_a_write_is_replaced_first(
    open_store: OpenStore, make_message: MakeMessage, in_loop: bool
) -> None:
    """A child that died while idle, and is known dead when the next write begins, costs
    that write nothing: a new child takes it."""
    store = open_store(writer="process")
    writer = store._write
    assert isinstance(writer, ProcessWriter) and writer._child is not None
    first = writer._child.pid
    os.kill(first, signal.SIGKILL)
    writer._child.wait()
    store.add(make_message(1))
    if in_loop:
        await write_in_loop(store)
    else:
        flush(store)
    assert writer.pid not in (None, first)
    assert store.counts()["messages"] == 1


def test_the_writer_process_ignores_the_signals_the_daemon_handles(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    """Ctrl-C reaches the whole process group; the daemon drains and then writes its last
    batch, so the child must still be there."""
    store = open_store(writer="process")
    writer = store._write
    assert isinstance(writer, ProcessWriter) and writer.pid is not None
    child = writer.pid
    os.kill(child, signal.SIGINT)
    os.kill(child, signal.SIGTERM)
    store.add(make_message(1))
    flush(store)
    assert writer.pid == child and store.counts()["messages"] == 1
    store.close()
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # gone once its store is closed


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_the_writer_process_runs_as_batch_work(open_store: OpenStore) -> None:
    """Its wake-ups must not preempt the event loop (writer._schedule_as_batch_work)."""
    _, writer = process_store(open_store)
    assert writer.pid is not None
    assert os.sched_getscheduler(writer.pid) == os.SCHED_BATCH
    assert os.sched_getscheduler(0) != os.SCHED_BATCH  # the daemon's own process is not


def test_writer_kind_must_be_known(store_path: Path) -> None:
    with pytest.raises(ValueError, match="writer"):
        SqliteStore(store_path, retention=1, max_finished=1, writer="fork")  # type: ignore[arg-type]


def test_what_the_writer_process_prints_is_logged_line_by_line(
    open_store: OpenStore, make_message: MakeMessage, capfd: pytest.CaptureFixture[str]
) -> None:
    store = open_store(writer="process")
    writer = store._write
    assert isinstance(writer, ProcessWriter)
    child = writer._child
    assert child is not None and child.stdin is not None
    with capture_logs() as logs:
        # "b" is no encoding (encode_request): the child dies with a traceback.
        child.stdin.write(b"\x00\x00\x00\x03bad")
        child.stdin.flush()
        child.wait(10)
        deadline = time.monotonic() + 10
        while not any("neither marshal nor pickle" in e.get("line", "") for e in logs):
            assert time.monotonic() < deadline, logs
            time.sleep(0.01)
    lines = [e["line"] for e in logs if e["event"] == "store_writer_output"]
    assert lines[0].startswith("Traceback") and all("\n" not in line for line in lines)
    assert capfd.readouterr().err == ""  # nothing raw on the daemon's stderr
    store.add(make_message(1))
    flush(store)  # a new child takes over
    assert store.counts()["messages"] == 1


# --- the writer process served from the event loop (start_batch / finish_batch) -------------


async def test_a_batch_written_from_the_event_loop_is_on_disk(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(writer="process")
    assert store.writes_async and not open_store(writer="thread").writes_async
    # Bigger than the pipe (1 MiB): the rest goes as the child reads.
    for n in range(3000):
        store.add(make_message(n, payload=b"x" * 1000))
    await write_in_loop(store)
    assert store.counts()["messages"] == 3000
    # Calls from threads still work after it, and it after them (the pipes' blocking mode).
    store.add(make_message(5000))
    flush(store)
    store.add(make_message(5001))
    await write_in_loop(store)
    assert store.counts()["messages"] == 3002


def test_a_batch_is_marshalled_unless_it_holds_a_value_marshal_refuses(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    """encode_request: what a plain submit and its receipt put in a batch goes by marshal (the
    fast path); a concatenated part (a ConcatPart) by pickle. Both arrive as they were."""
    store = open_store()
    message = make_message(1)
    store.add(message)
    flush(store)
    record_status(store, message, Code.DELIVERED_TO_HANDSET, T0 + 5)
    store.put_outbox("1:final", "acme", b"\x00pdu", message.message_id, True)
    store.ack_outbox("0:final")
    store.set_state("ids.high_water", "1")
    store.add(make_message(2))
    for concat, encoding in ((None, b"M"), (ConcatPart(7, 2, 1), b"P")):
        store.add(make_message(3, concat=concat))
        request = ("write", *store._batch_rows(store.take_batch(snapshot=False)))
        framed = encode_request(request)
        assert framed[4:5] == encoding
        if encoding == b"M":  # format 2: no back-references (see _MARSHAL_VERSION)
            assert framed[5:] == marshal.dumps(request, 2) != marshal.dumps(request)
        assert struct.unpack(">I", framed[:4]) == (len(framed) - 4,)
        assert decode_request(framed[4:]) == request


async def test_rows_built_by_the_writer_process_store_every_field(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(writer="process")
    plain = make_message(1)
    odd = make_message(
        2,
        source=Address(5, 0, "Shop"),
        payload=b"\x00\xff",
        text="\ud83d lone surrogate, \u20ac",
        concat=ConcatPart(513, 3, 2),
        concat_text="whole \u00e9",
        validity_deadline=T0 + 7200,
        scheduled_time=T0 + 60,
        carrier="sim",
    )
    unnumbered = make_message(3, message_id="not-a-number")
    for message in (plain, odd, unnumbered):
        store.add(message)
    await write_in_loop(store)
    record_status(store, plain, Code.DELIVERED_TO_HANDSET, T0 + 5)
    await write_in_loop(store)  # the status row, also built by the child
    reader = open_store()
    for message in (plain, odd, unnumbered):
        assert reader._reader.execute(
            "SELECT count(*) FROM messages WHERE id = ?", (message.message_id,)
        ).fetchone() == (1,)
        assert reader.get(message.message_id) == message
    assert reader.max_message_id() == int(odd.message_id)


async def test_a_batch_without_snapshot_is_written_as_taken(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    # The fields share the message's history; start_batch encodes them at once, so what the
    # event loop changes next is not in the batch.
    store = open_store(writer="process")
    first, second = make_message(1), make_message(2)
    store.add(first)
    store.add(second)
    flush(store)
    record_status(store, second, Code.QUEUED, T0 + 3)
    store.add(make_message(3))
    request = store.start_batch(store.take_batch(snapshot=False))
    for message in (second, store.get(make_message(3).message_id)):
        assert message is not None
        message.record(Code.DELIVERED_TO_HANDSET, T0 + 9)
    await store.finish_batch(request)
    reader = open_store()
    on_disk = reader.get(second.message_id)
    assert on_disk is not None and on_disk.status == Code.QUEUED
    assert [event.code for event in on_disk.history] == [Code.ACCEPTED, Code.QUEUED]
    third = reader.get(make_message(3).message_id)
    assert third is not None and third.status == Code.ACCEPTED and len(third.history) == 1


async def test_a_write_from_the_loop_waits_for_a_call_from_a_thread(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store, writer = process_store(open_store)
    writer._lock.acquire()  # a purge on a thread, say
    store.add(make_message(1))
    request = store.start_batch(store.take_batch())
    assert request is not None and not request.locked  # nothing sent yet
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.finish_batch, request)
        await trio.sleep(0.05)
        assert store.counts()["messages"] == 0
        writer._lock.release()
    assert store.counts()["messages"] == 1
    assert writer._lock.acquire(blocking=False)  # and it gave the lock back
    writer._lock.release()


async def poll_until_answered(store: SqliteStore, request: WriteRequest | None) -> None:
    with trio.fail_after(10):
        while not store.poll_batch(request):
            await trio.sleep(0.001)


async def test_a_commit_found_by_polling_frees_the_writer_before_the_writing_task_runs(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    """What ``Committer.dispatch`` does between two steps of the event loop: it reads the
    child's answer itself, and the next batch goes to the child at once."""
    store, writer = process_store(open_store)
    store.add(make_message(1))
    first = store.start_batch(store.take_batch())
    assert first is not None
    await poll_until_answered(store, first)
    assert store.counts()["messages"] == 1  # committed when the poll said so
    store.add(make_message(2))
    second = store.start_batch(store.take_batch())
    assert second is not None and second.locked and not second.data  # sent at once
    await store.finish_batch(first)  # returns at once: its answer was read
    await store.finish_batch(second)
    assert store.counts()["messages"] == 2
    assert writer._lock.acquire(blocking=False)
    writer._lock.release()


async def test_a_failed_write_found_by_polling_is_left_to_the_writing_task(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(writer="process")
    store.add(make_message(1))
    store.put_outbox("too-far", "acme", b"pdu", None, final=False)
    _seq, *rest = store._outbox_ops["too-far"]  # type: ignore[misc]
    store._outbox_ops["too-far"] = (1 << 70, *rest)  # no INTEGER
    request = store.start_batch(store.take_batch())
    assert request is not None
    with trio.fail_after(10):
        while not request.answered:  # the error answer arrives, and a poll reads it
            assert not store.poll_batch(request)
            await trio.sleep(0.001)
    assert not store.poll_batch(request)
    with pytest.raises(StoreError, match="cannot write"):
        await store.finish_batch(request)
    assert store.counts()["messages"] == 0  # rolled back
    store.add(make_message(2))
    await write_in_loop(store)  # the lock was given back, the child serves on
    assert store.counts()["messages"] == 1


async def test_a_writer_process_that_dies_while_polled_fails_the_write(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store, writer = process_store(open_store)
    first = writer.pid
    assert first is not None
    os.kill(first, signal.SIGSTOP)
    store.add(make_message(1))
    batch = store.take_batch()
    request = store.start_batch(batch)
    assert request is not None
    async with trio.open_nursery() as nursery:
        failures: list[StoreError] = []

        async def finish() -> None:
            with pytest.raises(StoreError, match="writer process died") as caught:
                await store.finish_batch(request)
            failures.append(caught.value)

        nursery.start_soon(finish)
        await trio.sleep(0.01)  # the task waits on the answer pipe
        assert not store.poll_batch(request)
        os.kill(first, signal.SIGKILL)
        # No checkpoint until the poll has looked: the poll finds the pipe closed, not the task.
        assert writer._child is not None and writer._child.stdout is not None
        assert select.select([writer._child.stdout], [], [], 10)[0]
        assert not store.poll_batch(request)
        assert isinstance(request.error, EOFError)
    assert len(failures) == 1  # the task raised it
    store.requeue(batch)
    await write_in_loop(store)  # a new child
    assert writer.pid not in (None, first)
    assert store.counts()["messages"] == 1


# --- status changes of messages already written whole (update_status) -----------------------


def test_a_status_change_after_the_whole_row_rewrites_the_status_only(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store()
    m = make_message(1, text="hello", payload=b"hello")
    store.add(m)
    m.record(Code.SENDING, T0 + 1)
    store.update_status(m, T0 + 1)  # the same batch as its whole row: nothing more
    first = store.take_batch()
    assert list(first.messages) == [m.message_id] and not first.statuses
    m.record(Code.DELIVERED_TO_GSM, T0 + 2)
    store.update_status(m, T0 + 2)  # while the whole row is being written
    store.write_batch(first)
    record_status(store, m, Code.DELIVERED_TO_HANDSET, T0 + 3)
    second = store.take_batch()
    assert not second.messages and list(second.statuses) == [m.message_id]
    assert second.status_rows == [
        (Code.DELIVERED_TO_HANDSET, pack_history(m.history), T0 + 3, m.message_id)
    ]
    store.write_batch(second)
    store.close()
    again = open_store()
    stored = again.get(m.message_id)
    assert stored == m  # every other column as the whole row left it
    assert again.counts()["finished"] == 1


def test_a_whole_update_wins_over_a_status_change(
    open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store()
    m = make_message(1)
    store.add(m)
    flush(store)
    record_status(store, m, Code.SENDING, T0 + 1)
    m.text = "replaced"  # replace_sm changes more than the status: a whole row
    store.update(m, T0 + 1)
    batch = store.take_batch()
    assert list(batch.messages) == [m.message_id] and not batch.statuses
    store.write_batch(batch)
    assert open_store().get(m.message_id) == m


@pytest.mark.parametrize("failed", ["whole", "status"])
def test_a_failed_batch_put_back_keeps_each_row_whole_or_narrow(
    open_store: OpenStore, make_message: MakeMessage, failed: str
) -> None:
    store = open_store()
    m = make_message(1)
    store.add(m)
    if failed == "status":
        flush(store)
        record_status(store, m, Code.SENDING, T0 + 1)
    batch = store.take_batch()
    m.record(Code.DELIVERED_TO_HANDSET, T0 + 2)
    store.update_status(m, T0 + 2)  # meanwhile
    store.requeue(batch)  # as after a failed write
    again = store.take_batch()
    if failed == "whole":  # its whole row was never written: it goes whole, and once
        assert list(again.messages) == [m.message_id] and not again.statuses
    else:
        assert not again.messages and list(again.statuses) == [m.message_id]
    store.write_batch(again)
    assert open_store().get(m.message_id) == m


def test_status_rows_with_a_sqlite_older_than_update_from(
    open_store: OpenStore, make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "UPDATE_FROM", False)
    store = open_store(writer="thread")  # this process's writer, which sees the patch
    m = make_message(1)
    store.add(m)
    flush(store)
    record_status(store, m, Code.DELIVERED_TO_HANDSET, T0 + 1)
    statements: list[str] = []
    thread_writer = store._write
    assert isinstance(thread_writer, ThreadWriter)
    thread_writer.connection.set_trace_callback(statements.append)
    flush(store)
    assert any(s.startswith("UPDATE messages SET status = ") for s in statements)
    assert not any(" FROM (VALUES" in s for s in statements)
    assert open_store().get(m.message_id) == m


def checkpointed_messages(path: Path, copy: Path) -> int:
    """How many messages the main database file holds, the WAL left out: a copy of the file
    alone, with no ``-wal`` beside it, shows what checkpoints have copied into it."""
    shutil.copyfile(path, copy)
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        count: int = 0
        if ("messages",) in tables.fetchall():  # the schema itself may be in the WAL yet
            count = connection.execute("SELECT count(*) FROM messages").fetchone()[0]
    copy.unlink()
    return count


def test_the_writer_process_checkpoints_after_answering_not_inside_a_commit(
    open_store: OpenStore, make_message: MakeMessage, store_path: Path, tmp_path: Path
) -> None:
    store, _writer = process_store(open_store)
    copy = tmp_path / "main-only.sqlite"
    # A batch of well over SQLite's 1,000-page autocheckpoint: its COMMIT would checkpoint.
    big = [make_message(n, payload=bytes(2000)) for n in range(2500)]
    for m in big:
        store.add(m)
    flush(store)
    assert checkpointed_messages(store_path, copy) == 0  # all in the WAL
    # Single-message batches up to CHECKPOINT_AFTER transactions: after the last one's answer,
    # with no request waiting, the child checkpoints everything.
    for n in range(2500, 2500 + CHECKPOINT_AFTER - 1):
        store.add(make_message(n))
        flush(store)
    deadline = time.monotonic() + 10
    found = 0
    while found < 2500 + CHECKPOINT_AFTER - 1:
        assert time.monotonic() < deadline, f"not checkpointed: {found} messages in the file"
        time.sleep(0.02)
        with contextlib.suppress(sqlite3.DatabaseError):  # copied mid-checkpoint: look again
            found = checkpointed_messages(store_path, copy)
    assert store.counts()["messages"] == 2500 + CHECKPOINT_AFTER - 1


def test_the_writer_process_checkpoints_at_the_latest_under_unbroken_load(
    open_store: OpenStore, make_message: MakeMessage, store_path: Path, tmp_path: Path
) -> None:
    """Requests that never stop (each sent before the last is answered, as the daemon's
    event loop may) still get a checkpoint every CHECKPOINT_AT_LATEST transactions."""
    store, writer = process_store(open_store)
    child = writer._child
    assert child is not None and child.stdin is not None and child.stdout is not None
    count = CHECKPOINT_AT_LATEST + 5
    frames = []
    for n in range(count):
        store.add(make_message(n))
        frames.append(
            writer_module.encode_request(("write", *store._batch_rows(store.take_batch())))
        )
    # One write: the child finds the next request waiting after every answer.
    child.stdin.write(b"".join(frames))
    child.stdin.flush()
    answers = [writer_module._receive_answer(child.stdout) for _ in range(count)]
    assert answers == [("ok", None)] * count
    # The 64th transaction was checkpointed before the 65th was answered; none after it.
    assert checkpointed_messages(store_path, tmp_path / "main-only.sqlite") == CHECKPOINT_AT_LATEST
