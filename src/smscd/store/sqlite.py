"""Durable store: SQLite in WAL mode, one writer, group commit, an in-memory cache in front.

Write path. ``add`` and ``update`` do what ``MemoryStore`` does (the cache *is* a
``MemoryStore``) and also mark the message dirty: one dict assignment, so the event loop never
waits for the disk. The caller drives the writes in two steps:

1. ``take_batch()`` on the event-loop thread snapshots every dirty message into a plain row
   tuple (plus queued outbox and state changes) and clears the dirty set. Snapshotting here is
   what makes the next step safe: the messages keep changing on the event loop while the rows
   are written.
2. ``write_batch(batch)`` on a worker thread has the rows written in one transaction by the
   store's writer (``store.writer``): the writing connection in a child process
   (``writer.ProcessWriter``, the daemon's default for a file) or in this one
   (``writer.ThreadWriter``). With the child process the event loop does it itself, without
   a thread (``writes_async``): ``start_batch`` hands the rows to the pipe and
   ``finish_batch`` waits for the child's answer. Only after it returns are the messages durable,
   so a submit_sm_resp with ESME_ROK waits for the batch that carries its message
   (``Batch.message_ids``). One commit, one fsync, for hundreds of messages: that is the
   group commit.

A message's first row, and every change other than its status (``update``), is an upsert of
the whole message: a message whose first write failed is still written whole by a later
batch. A status change (``update_status``) of a message whose whole row went with an earlier
batch rewrites only ``status``, ``history`` and ``done_time``: batches are written one at a
time and in order, and a batch that failed is put back (``requeue``) before the next is taken,
so that row is on disk by then, or in the same batch, written first.

Durability. ``full`` sets ``synchronous=FULL``: every commit is fsynced to the WAL, so a
committed batch survives power loss. ``normal`` sets ``synchronous=NORMAL``: the WAL is fsynced
only at checkpoints, so a commit survives a crash of the process but the last batches may be
lost with the machine. ``:memory:`` keeps nothing and serves tests.

Threads. The writer (see ``writer``) serves ``write_batch``, ``purge`` and ``vacuum``, one at
a time; a separate read-only connection serves reads (``get`` for messages no longer
in the cache, recovery, ``load_outbox``, ``counts``, ``export_jsonl``) under ``_read_lock``. WAL
lets the reader run while a batch commits, so a ``get`` on the event loop never waits for an
fsync. With ``:memory:`` there is one database per connection, so the two are one connection
behind one lock; commits there take microseconds. Everything else (the cache, the dirty sets)
belongs to the event-loop thread: ``write_batch``, ``purge`` and ``vacuum`` touch only their
connection and their arguments, and may run on any thread.

Failure. A write that fails (disk full, file locked, I/O error) rolls back and raises
``StoreError``; the store stays usable. The batch's content is then not on disk:
``requeue(batch)`` puts it back so the next batch writes it again.

Receipts. A final receipt owed to an ESME is not stored as octets: the message's row says
it is owed (``schema.RECEIPT_OWED``: final, its registered_delivery asks for a receipt for
that status, not acknowledged), and ``owed_receipts`` gives the messages a restart rebuilds
them from. ``ack_receipt`` records the ESME's acknowledgement with the next batch; until then
``purge`` keeps the message. So a receipt costs the store nothing beyond its message's final
status, which is written anyway, and one short update when acknowledged, where an outbox row
was put, encoded and deleted (measured with the ``normal`` benchmark: a median 11 % more
submits a second, 8 pairs). Intermediate notifications and MO ``deliver_sm`` have no such
row and go through the outbox (``put_outbox``), as do final receipts written by a version
before schema 4.

Recovery. Opening an existing file loads the messages that are not final into the cache, so
``pending()`` returns them, with their full history, before the first submit. Finished
messages stay on disk, where ``get`` finds them, until ``purge`` removes those that finished
more than ``retention`` seconds ago (unless they owe a receipt). Side state for a restart:
final receipts owed (``ack_receipt`` / ``owed_receipts``, see "Receipts"), intermediate
notifications and MO ``deliver_sm`` waiting for an ESME (``put_outbox`` / ``ack_outbox`` /
``load_outbox``), named values (``set_state`` / ``get_state``), the id high-water mark
(``max_message_id``), and the parts of concatenated messages still waiting for the rest of
their set (``open_concat_parts``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, Literal, TextIO, TypeAlias

import attrs

from smscd.message import Message
from smscd.store.base import StoreStatistics
from smscd.store.errors import StoreError, StoreVersionError, store_errors
from smscd.store.memory import MemoryStore
from smscd.store.rows import (
    MESSAGE_COLUMN_LIST,
    OutboxEntry,
    message_fields,
    message_from_row,
    message_number,
    message_record,
    message_row,
    status_fields,
    status_row,
)
from smscd.store.schema import RECEIPT_OWED, open_reader, open_writer
from smscd.store.writer import (
    PURGE_SLICE,
    BatchRows,
    ProcessWriter,
    ThreadWriter,
    Writer,
    WriteRequest,
)

__all__ = [
    "Batch",
    "OutboxRecord",
    "SqliteStore",
    "StoreError",
    "StoreVersionError",
]

Durability: TypeAlias = Literal["full", "normal"]

_SYNCHRONOUS: Final[dict[str, str]] = {"full": "FULL", "normal": "NORMAL"}

_SELECT_MESSAGE: Final = f"SELECT {MESSAGE_COLUMN_LIST} FROM messages WHERE id = ?"
_SELECT_PENDING: Final = (
    f"SELECT {MESSAGE_COLUMN_LIST} FROM messages WHERE done_time IS NULL ORDER BY num"
)
_EXPORT_CHUNK: Final = 1_000

WriterKind: TypeAlias = Literal["thread", "process"]

_ToRow: TypeAlias = Callable[[Message], tuple[Any, ...]]
# take_batch's row builders, by snapshot: the rows themselves, or the fields a writer process
# turns into rows (see smscd.store.rows).
_TAKE: Final[dict[bool, tuple[_ToRow, _ToRow]]] = {
    True: (message_row, status_row),
    False: (message_fields, status_fields),
}


@attrs.frozen
class OutboxRecord:
    """A deliver_sm waiting for an ESME, as stored.

    Attributes:
        key: the caller's name for it, unique in the outbox.
        system_id: the account it waits for.
        pdu: the encoded deliver_sm (``smscd.smpp.codec.encode``).
        message_id: the message a receipt is about, or None (MO).
        final: whether it is a final receipt.
    """

    key: str
    system_id: str
    pdu: bytes
    message_id: str | None
    final: bool


@attrs.frozen(eq=False)
class Batch:
    """The changes ``take_batch`` took, for one ``write_batch``.

    Attributes:
        messages: the messages written whole, by id; ``rows`` are their state when taken.
        rows: one ``messages`` row per message (``message_row``, a snapshot), or, when
            ``fields``, its ``message_fields`` (which share the history: see ``start_batch``).
        statuses: the messages whose status alone is written, by id.
        status_rows: their ``status_row`` (or ``status_fields``), when taken.
        outbox: per key, the entry to write, or None to delete it (acknowledged).
        state: named values to write.
        acked: the messages whose final receipt the ESME acknowledged.
        fields: rows are fields, for the writer process to turn into rows.
    """

    messages: dict[str, Message]
    rows: list[tuple[Any, ...]]
    statuses: dict[str, Message]
    status_rows: list[tuple[Any, ...]]
    outbox: dict[str, OutboxEntry | None]
    state: dict[str, str]
    acked: list[str]
    fields: bool = False

    @property
    def message_ids(self) -> tuple[str, ...]:
        """The messages this batch makes durable: answer their submits once it is written."""
        return (*self.messages, *self.statuses)

    def __len__(self) -> int:
        return (
            len(self.messages)
            + len(self.statuses)
            + len(self.outbox)
            + len(self.state)
            + len(self.acked)
        )


class SqliteStore:
    """The durable store. See the module docstring for the write path and its threads.

    It answers the Store protocol as ``MemoryStore`` does, with one difference: a finished
    message that has left the cache (``retention``, ``max_finished``) is still found by ``get``,
    on disk, until ``purge`` removes it.

    Args:
        path: the database file, created if missing; ``":memory:"`` for a throwaway store.
        durability: ``"full"`` (survives power loss) or ``"normal"`` (survives a crash).
        retention: seconds a finished message stays, in the cache and (see ``purge``) on disk.
        max_finished: how many finished messages the cache keeps at most.
        busy_timeout: seconds to wait for a lock held by another process (e.g. a CLI).

    Raises:
        StoreVersionError: the file's schema is newer than this code.
        StoreError: the file cannot be opened, is not a store, or cannot be upgraded.
        ValueError: an unknown durability.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Durability = "full",
        retention: float,
        max_finished: int,
        busy_timeout: float = 1.0,
        writer: WriterKind = "thread",
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ValueError(f"durability must be 'full' or 'normal', got {durability!r}")
        self.path = str(path)
        self._retention = retention
        self._cache = MemoryStore(retention, max_finished)
        self._dirty: dict[str, Message] = {}
        # Messages whose status changed since the batch that took their whole row.
        self._dirty_status: dict[str, Message] = {}
        self._outbox_ops: dict[str, OutboxEntry | None] = {}
        self._state: dict[str, str] = {}
        self._state_dirty: dict[str, str] = {}
        # Messages whose final receipt was acknowledged since the last batch.
        self._acked: list[str] = []
        # The last batch taken: its messages may have left the cache (retention) before they
        # reach the disk, and get() must still find them.
        self._inflight: Batch | None = None
        self._closed = False
        self._next_seq = 1
        if writer not in ("thread", "process"):
            raise ValueError(f"writer must be 'thread' or 'process', got {writer!r}")
        # Opened here in either case: it creates the file, switches it to WAL and migrates it.
        connection = open_writer(
            self.path, synchronous=_SYNCHRONOUS[durability], busy_timeout=busy_timeout
        )
        thread_writer = ThreadWriter(connection, self.path)
        self._write: Writer = thread_writer
        # With :memory: there is one database per connection: reads share the writer's.
        self._shared_connection = self.path == ":memory:"
        if self._shared_connection:
            self._reader = connection
            self._read_lock = thread_writer.lock
        else:
            try:
                self._reader = open_reader(self.path, busy_timeout=busy_timeout)
            except BaseException:
                connection.close()
                raise
            self._read_lock = threading.Lock()
        with store_errors(f"{self.path}: cannot recover", self._close_connections):
            self._recover()
        if writer == "process" and self.path != ":memory:":
            try:
                self._write = ProcessWriter(
                    self.path, synchronous=_SYNCHRONOUS[durability], busy_timeout=busy_timeout
                )
            except BaseException:
                self._close_connections()
                raise
            thread_writer.close()  # the child writes from now on

    def _recover(self) -> None:
        with self._read_lock:
            reader = self._reader
            for row in reader.execute(_SELECT_PENDING):
                self._cache.add(message_from_row(row))
            self._state = dict(reader.execute("SELECT key, value FROM state").fetchall())
            last_seq = reader.execute("SELECT max(seq) FROM outbox").fetchone()[0]
        self._next_seq = (last_seq or 0) + 1

    # ---------------------------------------------------------------- Store protocol

    def add(self, message: Message) -> None:
        """Cache the message and mark it for the next batch."""
        self._cache.add(message)
        self._dirty[message.message_id] = message

    def discard(self, message_id: str) -> None:
        """Forget a message whose commit failed: its submit was refused, so it must not reach
        the disk with a later batch. Call on the event-loop thread."""
        self._cache.discard(message_id)
        self._dirty.pop(message_id, None)
        self._dirty_status.pop(message_id, None)

    def get(self, message_id: str) -> Message | None:
        """The message, from the cache, or from disk when it has left the cache.

        A message read from disk is a new object on each call: after changing it, pass it to
        ``update``.

        Raises:
            StoreError: the disk read failed.
        """
        message = (
            self._cache.get(message_id)
            or self._dirty.get(message_id)
            or self._dirty_status.get(message_id)
        )
        inflight = self._inflight
        if message is None and inflight is not None:
            message = inflight.messages.get(message_id) or inflight.statuses.get(message_id)
        if message is not None:
            return message
        with store_errors(f"{self.path}: cannot read message {message_id}"), self._read_lock:
            row = self._reader.execute(_SELECT_MESSAGE, (message_id,)).fetchone()
        return None if row is None else message_from_row(row)

    def update(self, message: Message, now: float) -> None:
        """Mark the message for the next batch, whole; a final one enters retention at
        ``now``."""
        message_id = message.message_id
        self._dirty[message_id] = message
        self._dirty_status.pop(message_id, None)
        self._cache.update(message, now)

    def update_status(self, message: Message, now: float) -> None:
        """``update`` when only the status (its history, its done time) changed: unless the
        message is to be written whole anyway, the next batch rewrites just that."""
        message_id = message.message_id
        if message_id not in self._dirty:
            self._dirty_status[message_id] = message
        self._cache.update(message, now)

    def pending(self) -> Iterator[Message]:
        """Every message that is not final yet (all of them are in the cache)."""
        return self._cache.pending()

    def statistics(self) -> StoreStatistics:
        """The cache's figures, as ``MemoryStore`` counts them; ``counts()`` reads the disk."""
        return self._cache.statistics()

    def close(self) -> None:
        """Write what is still dirty, then close the connections. Idempotent.

        Raises:
            StoreError: the last write failed; the connections are closed all the same.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self.changes:
                self.write_batch(self.take_batch())
        finally:
            self._close_connections()
            self._cache.close()

    def _close_connections(self) -> None:
        # Under the locks: a write or read still running on a worker thread finishes first.
        self._write.close()
        if not self._shared_connection:
            with self._read_lock:
                self._reader.close()

    # ---------------------------------------------------------------- group commit

    @property
    def changes(self) -> int:
        """How many messages, outbox entries and state values wait for ``take_batch``."""
        return (
            len(self._dirty)
            + len(self._dirty_status)
            + len(self._outbox_ops)
            + len(self._state_dirty)
            + len(self._acked)
        )

    def take_batch(self, *, snapshot: bool = True) -> Batch:
        """Take every pending change and clear them. Call on the event-loop thread.

        Args:
            snapshot: build the rows now, sharing nothing with the messages, so that the batch
                may be written later or on another thread. False: take the messages' fields
                only and leave the rows to the writer (see ``smscd.store.rows``: a microsecond
                a message off the event loop); the batch must then be written or started
                (``write_batch``, ``start_batch``) before the event loop changes a message
                again.

        Returns:
            The batch, possibly empty, to pass to ``write_batch`` or ``start_batch``.
        """
        dirty, statuses = self._dirty, self._dirty_status
        # The rows first: should building one fail, nothing has been taken yet.
        to_row, to_status_row = _TAKE[snapshot]
        rows = [to_row(message) for message in dirty.values()]
        status_rows = [to_status_row(message) for message in statuses.values()]
        outbox, state, acked = self._outbox_ops, self._state_dirty, self._acked
        batch = Batch(dirty, rows, statuses, status_rows, outbox, state, acked, fields=not snapshot)
        self._dirty = {}
        self._dirty_status = {}
        self._outbox_ops = {}
        self._state_dirty = {}
        self._acked = []
        self._inflight = batch
        return batch

    def write_batch(self, batch: Batch) -> None:
        """Commit the batch in one transaction. Safe on a worker thread.

        Raises:
            StoreError: the write failed and was rolled back (disk full, locked, I/O error, a
                value SQLite cannot store). The store stays usable; ``requeue(batch)`` has the
                next batch write it again.
        """
        if len(batch):
            self._write.write(self._batch_rows(batch))

    @property
    def writes_async(self) -> bool:
        """Whether ``start_batch`` and ``finish_batch`` may be used: the writer is a process."""
        return isinstance(self._write, ProcessWriter)

    def start_batch(self, batch: Batch) -> WriteRequest | None:
        """Begin writing the batch from the trio event loop, without a thread
        (``writes_async``); ``finish_batch`` completes it. None: an empty batch."""
        if not len(batch):
            return None
        return self._process_writer.start_write(self._batch_rows(batch))

    async def finish_batch(self, request: WriteRequest | None) -> None:
        """Wait until the batch ``start_batch`` began is committed.

        Raises:
            StoreError: as ``write_batch``.
        """
        if request is not None:
            await self._process_writer.finish_write(request)

    def poll_batch(self, request: WriteRequest | None) -> bool:
        """Whether the batch ``start_batch`` began is committed, looked up without waiting
        (``ProcessWriter.poll_write``); ``finish_batch`` then returns at once."""
        return request is None or self._process_writer.poll_write(request)

    @property
    def _process_writer(self) -> ProcessWriter:
        """The writer, for the calls only a writer process has (``writes_async``)."""
        writer = self._write
        assert isinstance(writer, ProcessWriter)
        return writer

    @staticmethod
    def _batch_rows(batch: Batch) -> BatchRows:
        return BatchRows(
            batch.rows, batch.status_rows, batch.outbox, batch.state, batch.acked, batch.fields
        )

    def requeue(self, batch: Batch) -> None:
        """Have the next batch write this (failed) batch's content again.

        Changes made since it was taken win: messages are written as they are then, and an
        outbox key or state value changed meanwhile keeps its newer value. Call on the
        event-loop thread.
        """
        for message_id, message in batch.messages.items():
            self._dirty.setdefault(message_id, message)
            self._dirty_status.pop(message_id, None)  # written whole
        for message_id, message in batch.statuses.items():
            if message_id not in self._dirty:
                self._dirty_status.setdefault(message_id, message)
        for key, put in batch.outbox.items():
            self._outbox_ops.setdefault(key, put)
        for key, value in batch.state.items():
            self._state_dirty.setdefault(key, value)
        self._acked.extend(batch.acked)

    # ---------------------------------------------------------------- side state

    def put_outbox(
        self, key: str, system_id: str, pdu_bytes: bytes, message_id: str | None, final: bool
    ) -> None:
        """Queue a deliver_sm for an ESME, durable with the next batch.

        A key already queued keeps its place and takes the new content.
        """
        queued = self._outbox_ops.get(key)
        if queued is not None:
            seq = queued[0]
        else:
            seq = self._next_seq
            self._next_seq = seq + 1
        # Immutable values: the writer binds them (outbox_row) where it runs.
        self._outbox_ops[key] = (seq, key, system_id, pdu_bytes, message_id, final)

    def ack_outbox(self, key: str) -> None:
        """The ESME acknowledged it: removed with the next batch."""
        self._outbox_ops[key] = None

    def load_outbox(self) -> list[OutboxRecord]:
        """Every queued deliver_sm, in the order first put, including unwritten changes.

        Raises:
            StoreError: the disk read failed.
        """
        with store_errors(f"{self.path}: cannot read the outbox"), self._read_lock:
            stored = self._reader.execute(
                "SELECT seq, key, system_id, pdu, message_id, final FROM outbox ORDER BY seq"
            ).fetchall()
        rows: dict[str, tuple[int, str, str, bytes, str | None, int]] = {
            row[1]: tuple(row) for row in stored
        }
        overlays = [self._outbox_ops]
        if self._inflight is not None:
            overlays.insert(0, self._inflight.outbox)
        for ops in overlays:
            for key, put in ops.items():
                if put is None:
                    rows.pop(key, None)
                    continue
                seq, _, system_id, pdu, message_id, final = put
                if key in rows:  # the disk's seq wins, as in the upsert
                    seq = rows[key][0]
                rows[key] = (seq, key, system_id, pdu, message_id, final)
        return [
            OutboxRecord(key, system_id, pdu, message_id, bool(final))
            for _, key, system_id, pdu, message_id, final in sorted(rows.values())
        ]

    def ack_receipt(self, message_id: str) -> None:
        """The ESME acknowledged the message's final receipt: it is no longer owed (see
        "Receipts" in the module text), with the next batch."""
        self._acked.append(message_id)

    def owed_receipts(self) -> list[Message]:
        """The messages that owe their ESME a final receipt (``schema.RECEIPT_OWED``), in the
        order they were accepted: what a restart rebuilds the receipts from. Committed rows
        only: call it at start-up, before the first change. A scan of the whole table, once.

        Raises:
            StoreError: the disk read failed.
        """
        query = f"SELECT {MESSAGE_COLUMN_LIST} FROM messages WHERE {RECEIPT_OWED} ORDER BY num, id"
        with store_errors(f"{self.path}: cannot read the owed receipts"), self._read_lock:
            rows = self._reader.execute(query).fetchall()
        return [message_from_row(row) for row in rows]

    def set_state(self, key: str, value: str) -> None:
        """Set a named value, durable with the next batch."""
        self._state[key] = value
        self._state_dirty[key] = value

    def get_state(self, key: str) -> str | None:
        """A named value, or None when never set. No SQL: the table is read at open."""
        return self._state.get(key)

    def max_message_id(self) -> int | None:
        """The largest message id stored or waiting to be written, as the ``num`` column counts
        ids (``message_number``), or None when there is none.

        Looked up when asked (the daemon asks once, at start-up) rather than kept by ``add``,
        where it was an ``int`` a message on the event loop. Ids purged from disk no longer
        count: persist the generator's high-water mark with ``set_state`` for that.

        Raises:
            StoreError: the disk read failed.
        """
        with store_errors(f"{self.path}: cannot read the largest id"), self._read_lock:
            stored = self._reader.execute("SELECT max(num) FROM messages").fetchone()[0]
        unwritten = [self._dirty]
        if self._inflight is not None:
            unwritten.append(self._inflight.messages)
        numbers = [message_number(message_id) for messages in unwritten for message_id in messages]
        return max((n for n in (stored, *numbers) if n is not None), default=None)

    def open_concat_parts(self, since: float) -> list[Message]:
        """The stored parts of concatenated messages whose set was not complete when they
        were last written (no ``concat_text``), submitted at or after ``since``, in the order
        they were accepted: what a restarted router rebuilds its reassembly buffer from.
        Committed rows only: call it at start-up, before the first change.

        Raises:
            StoreError: the disk read failed.
        """
        query = (
            f"SELECT {MESSAGE_COLUMN_LIST} FROM messages WHERE concat_reference IS NOT NULL"
            " AND concat_text IS NULL AND submit_time >= ? ORDER BY num, id"
        )
        with store_errors(f"{self.path}: cannot read concatenated parts"), self._read_lock:
            rows = self._reader.execute(query, (since,)).fetchall()
        return [message_from_row(row) for row in rows]

    # ---------------------------------------------------------------- maintenance

    def purge(self, now: float) -> int:
        """Delete the finished messages whose ``done_time`` is more than ``retention`` before
        ``now`` from disk, except those that still owe a receipt. Safe on a worker thread.

        ``done_time`` rather than the ``now`` given to ``update`` (which the cache counts
        from): the two are the same simulation time in the router, and only the first is
        stored. The cache is left alone; it bounds itself.

        Returns:
            How many were deleted.

        Raises:
            StoreError: a delete failed; slices deleted before it stay deleted.
        """
        horizon = now - self._retention
        deleted = 0
        while True:
            count = self._write.purge(horizon)
            deleted += count
            if count < PURGE_SLICE:
                return deleted

    def counts(self) -> dict[str, int]:
        """What the file holds (committed batches only): messages, pending, finished, outbox
        and state rows, and the final receipts owed (``owed_receipts``, not in the outbox).

        Raises:
            StoreError: the read failed.
        """
        reader = self._reader
        with store_errors(f"{self.path}: cannot count"), self._read_lock:
            messages, finished = reader.execute(
                "SELECT count(*), count(done_time) FROM messages"
            ).fetchone()
            outbox = reader.execute("SELECT count(*) FROM outbox").fetchone()[0]
            state = reader.execute("SELECT count(*) FROM state").fetchone()[0]
            owed = reader.execute(f"SELECT count(*) FROM messages WHERE {RECEIPT_OWED}")
            receipts_owed = owed.fetchone()[0]
        return {
            "messages": messages,
            "pending": messages - finished,
            "finished": finished,
            "outbox": outbox,
            "state": state,
            "receipts_owed": receipts_owed,
        }

    def vacuum(self) -> None:
        """Rebuild the file to return the space purged rows left, and empty the WAL.

        Raises:
            StoreError: it failed (e.g. another connection is reading).
        """
        self._write.vacuum()

    def export_jsonl(self, file: TextIO, *, since: float | None = None) -> int:
        """Write every committed message, one JSON object a line, in id order.

        Args:
            file: a text file open for writing.
            since: only messages submitted at or after this simulation time.

        Returns:
            How many messages were written.

        Raises:
            StoreError: the read failed.
        """
        query = f"SELECT {MESSAGE_COLUMN_LIST} FROM messages"
        params: tuple[float, ...] = ()
        if since is not None:
            query += " WHERE submit_time >= ?"
            params = (since,)
        query += " ORDER BY num, id"
        written = 0
        with store_errors(f"{self.path}: export"):
            with self._read_lock:
                cursor = self._reader.execute(query, params)
            while True:
                # The lock per chunk, not for the whole export: get() on the event loop may
                # need the same connection meanwhile.
                with self._read_lock:
                    rows = cursor.fetchmany(_EXPORT_CHUNK)
                if not rows:
                    return written
                for row in rows:
                    file.write(json.dumps(message_record(message_from_row(row))))
                    file.write("\n")
                written += len(rows)
