"""Writing the store's batches: on a thread of the daemon, or in a writer process.

The transaction that makes a batch durable (``write_rows``) and the purge (``purge_slice``)
are plain functions over a connection, run by one of two writers with the same methods:

- ``ThreadWriter`` runs them on the calling thread (the daemon calls from a worker thread),
  on a connection of this process. SQLite releases the GIL while it works, but binding the
  values and every hand-over of the GIL between steps compete with the event loop.
- ``ProcessWriter`` sends them to a child process (``python -m smscd.store.writer``) that owns
  the writing connection: the event loop's process only encodes the rows and waits on a pipe,
  so SQLite works on the other core without sharing a GIL. This is the daemon's default for
  a store file; a ``:memory:`` store has one database per connection, so it needs the thread.
  Its batches are sent from the event loop itself (``start_write``, then ``finish_write``
  waits on the pipes with trio), with no thread in between: a thread would have to win the
  GIL back from the busy loop after each system call (measured: 10-15 % of the daemon's CPU
  a message, and longer commits). Its other calls come from threads and block.

The child is the parent's servant: it reads requests on its stdin (``encode_request``) and
answers each on its stdout (a 4-octet length, then a pickle), ignores SIGINT and SIGTERM (the
daemon stops it after its last write), runs as batch work so that its wake-ups do not preempt
the event loop (``_schedule_as_batch_work``), and exits when its stdin closes, which is also
what happens when the daemon is killed: a write already sent is committed or not, as SQLite
decides, and no ESME_ROK was sent for it yet. A child that dies is started again at the next
request; the request that met the death fails with ``StoreError`` (the batch is written again
later). Whatever the child prints on its stderr (a traceback before it dies, a failed
checkpoint) is logged line by line as ``store_writer_output`` events, never passed through
raw. The child checkpoints the WAL itself, after answering, never inside a batch's COMMIT
(``_checkpoint_due``).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import marshal
import os
import pickle
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import IO, Any, Final, NamedTuple, Protocol

import attrs
import structlog
import trio

from smscd.store.errors import StoreError, rollback, store_errors
from smscd.store.rows import (
    MESSAGE_COLUMN_LIST,
    MESSAGE_COLUMNS,
    OutboxEntry,
    outbox_row,
    row_from_fields,
    status_row_from_fields,
)
from smscd.store.schema import RECEIPT_OWED, open_writer

__all__ = ["BatchRows", "ProcessWriter", "ThreadWriter", "Writer", "purge_slice", "write_rows"]

log = structlog.get_logger("smscd.store")


_UPSERT_STATE: Final = (
    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?2"
)
# Purge deletes in slices, each its own transaction, so that a batch waiting for the writer
# is held up by one slice, not by the whole purge.
PURGE_SLICE: Final = 5_000
# A message that still owes its final receipt stays: the receipt is rebuilt from it.
_PURGE: Final = (
    "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE done_time < ?"
    f" AND NOT {RECEIPT_OWED} LIMIT ?)"
)

# The most rows one statement carries: 256 rows of 28 columns stay well under SQLite's limit
# of 32,766 parameters.
_MAX_ROWS_PER_STATEMENT: Final = 256


class RowsStatement:
    """One statement over many rows, run as a few multi-row statements, not ``executemany``.

    ``executemany`` gives up the GIL around every row, and a busy event loop may keep it for a
    whole switch interval before the writer thread gets it back: measured, a 50-row batch
    then took 250 ms instead of 1. Here a batch of n rows takes ceil(n / 256) statements: the
    last one's row count is rounded up to a power of two by repeating its last row, which
    writes the same values twice (an upsert updates the row it just inserted; a delete finds
    nothing more), so there are nine statement texts, which sqlite3's statement cache keeps
    prepared, and few GIL hand-overs.
    """

    def __init__(self, template: str, width: int, *, constants: str = "") -> None:
        self._template = template  # "{values}" stands for the rows: (?, ...), (?, ...)
        # constants: SQL values that end every row, the same for all (", 0").
        self._row = f"({', '.join('?' * width)}{constants})"
        self._texts: dict[int, str] = {}

    def run(self, connection: sqlite3.Connection, rows: Sequence[Sequence[object]]) -> None:
        start, remaining = 0, len(rows)
        while remaining:
            taken = min(_MAX_ROWS_PER_STATEMENT, remaining)
            count = 1 << (taken - 1).bit_length()  # taken, rounded up to a power of two
            text = self._texts.get(count)
            if text is None:
                values = ", ".join([self._row] * count)
                text = self._texts[count] = self._template.replace("{values}", values)
            end = start + taken
            # chain flattens in C: this runs on the writer thread, holding the GIL the event
            # loop wants.
            parameters = list(chain.from_iterable(rows[start:end]))
            if count > taken:
                parameters.extend(list(rows[end - 1]) * (count - taken))
            connection.execute(text, parameters)
            start, remaining = end, remaining - taken


# Upsert rather than insert-or-update by what the store believes is on disk: after a failed
# batch that belief is wrong, and an upsert is right either way (measured: no slower). A new
# row owes its final receipt until acknowledged (receipt_acked 0); a row written again keeps
# what the disk says: an acknowledgement is never undone by a later write of the message.
UPSERT_MESSAGES: Final = RowsStatement(
    f"INSERT INTO messages ({MESSAGE_COLUMN_LIST}, receipt_acked) VALUES {{values}}"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in MESSAGE_COLUMNS[1:]),
    len(MESSAGE_COLUMNS),
    constants=", 0",
)
# A key put again keeps its place in the queue (seq), as a receipt put back after a refusal.
UPSERT_OUTBOX: Final = RowsStatement(
    "INSERT INTO outbox (seq, key, system_id, pdu, message_id, final) VALUES {values}"
    " ON CONFLICT (key) DO UPDATE SET system_id = excluded.system_id, pdu = excluded.pdu,"
    " message_id = excluded.message_id, final = excluded.final",
    6,
)
DELETE_OUTBOX: Final = RowsStatement("DELETE FROM outbox WHERE key IN (VALUES {values})", 1)
# A status change of a message already on disk: three columns, found by the key. UPDATE ...
# FROM needs SQLite 3.33; an older library takes one statement per row.
UPDATE_STATUSES: Final = RowsStatement(
    "UPDATE messages SET status = v.column1, history = v.column2, done_time = v.column3"
    " FROM (VALUES {values}) AS v WHERE messages.id = v.column4",
    4,
)
_UPDATE_STATUS: Final = "UPDATE messages SET status = ?, history = ?, done_time = ? WHERE id = ?"
# The ESME acknowledged the final receipts of these messages.
ACK_RECEIPTS: Final = RowsStatement(
    "UPDATE messages SET receipt_acked = 1 WHERE id IN (VALUES {values})", 1
)
UPDATE_FROM: Final = sqlite3.sqlite_version_info >= (3, 33, 0)


class BatchRows(NamedTuple):
    """What one batch writes: message rows, status rows (messages already on disk), the
    outbox changes (per key, the entry to put, or None to delete it), state values, the ids
    of the messages whose final receipt was acknowledged.

    ``fields``: ``rows`` and ``statuses`` are ``message_fields`` and ``status_fields`` tuples,
    which ``write_rows`` turns into rows where it runs (a writer process: see
    ``smscd.store.rows``); otherwise they are rows already. The outbox and the state go as
    the store keeps them, sorted out where they are written too.
    """

    rows: Sequence[tuple[Any, ...]]
    statuses: Sequence[tuple[Any, ...]]
    outbox: Mapping[str, OutboxEntry | None]
    state: Mapping[str, str]
    acked: Sequence[str]
    fields: bool = False


def write_rows(connection: sqlite3.Connection, batch: BatchRows) -> None:
    """One batch in one transaction.

    Raises:
        sqlite3.Error, ValueError, OverflowError: the write failed; the caller rolls back.
    """
    rows, statuses = batch.rows, batch.statuses
    if batch.fields:
        rows = [row_from_fields(fields) for fields in rows]
        statuses = [status_row_from_fields(fields) for fields in statuses]
    # IMMEDIATE: wait for another process's write lock here, under busy_timeout, rather than
    # fail on the first write of a deferred transaction.
    connection.execute("BEGIN IMMEDIATE")
    UPSERT_MESSAGES.run(connection, rows)
    # After the rows: a message put back after a failed batch may be among them.
    if UPDATE_FROM:
        UPDATE_STATUSES.run(connection, statuses)
    elif statuses:
        connection.executemany(_UPDATE_STATUS, statuses)
    outbox = batch.outbox
    UPSERT_OUTBOX.run(connection, [outbox_row(put) for put in outbox.values() if put is not None])
    DELETE_OUTBOX.run(connection, [(key,) for key, put in outbox.items() if put is None])
    # In any order with the rows: a row written again keeps its receipt_acked (UPSERT_MESSAGES).
    ACK_RECEIPTS.run(connection, [(message_id,) for message_id in batch.acked])
    if batch.state:
        connection.executemany(_UPSERT_STATE, batch.state.items())
    connection.execute("COMMIT")


def purge_slice(connection: sqlite3.Connection, horizon: float) -> int:
    """Delete at most PURGE_SLICE messages finished before ``horizon``, in one transaction;
    how many were deleted."""
    connection.execute("BEGIN IMMEDIATE")
    count: int = connection.execute(_PURGE, (horizon, PURGE_SLICE)).rowcount
    connection.execute("COMMIT")
    return count


def vacuum(connection: sqlite3.Connection, *, wal: bool) -> None:
    connection.execute("VACUUM")
    if wal:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class Writer(Protocol):
    """What ``SqliteStore`` asks of its writer; every method raises ``StoreError``."""

    def write(self, batch: BatchRows) -> None: ...

    def purge(self, horizon: float) -> int: ...

    def vacuum(self) -> None: ...

    def close(self) -> None: ...


class ThreadWriter:
    """The writing connection in this process, one caller at a time."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self.connection = connection
        self.lock = threading.Lock()
        self._path = path

    def write(self, batch: BatchRows) -> None:
        connection = self.connection
        what = f"{self._path}: cannot write {len(batch.rows)} messages"
        with self.lock, store_errors(what, lambda: rollback(connection)):
            write_rows(connection, batch)

    def purge(self, horizon: float) -> int:
        connection = self.connection
        with self.lock, store_errors(f"{self._path}: purge", lambda: rollback(connection)):
            return purge_slice(connection, horizon)

    def vacuum(self) -> None:
        with self.lock, store_errors(f"{self._path}: vacuum"):
            vacuum(self.connection, wal=self._path != ":memory:")

    def close(self) -> None:
        with self.lock:
            self.connection.close()


_LENGTH: Final = struct.Struct(">I")
# The most of one line of the writer process's output that is logged.
_MAX_OUTPUT_LINE: Final = 2000
# How often finish_write looks again at a lock held by a thread.
_LOCK_POLL: Final = 0.0005
# A request pipe that takes a whole batch at once (Linux's F_SETPIPE_SZ; its default limit for
# unprivileged processes is 1 MiB).
_F_SETPIPE_SZ: Final = 1031
_PIPE_SIZE: Final = 1 << 20
# When the writer process checkpoints (_checkpoint_due): after this many transactions if no
# request waits, after this many at the latest.
CHECKPOINT_AFTER: Final = 16
CHECKPOINT_AT_LATEST: Final = 64


# encode_request's first octet: how the rest is encoded.
_MARSHALLED: Final = b"M"
_PICKLED: Final = b"P"
# marshal's format 2, not the newest (4): from format 3 on, every object seen twice is
# written once and referred to after, which costs a hash table lookup for each object with
# more than one reference (most values of a message). In the daemon under the normal
# benchmark, alternating the two batch by batch: 0.89-1.02 microseconds a message with
# format 2, 1.30-1.33 with format 4 (offline, on warm captured batches, the order is
# reversed: 0.74 against 0.65; the daemon's objects are not in the cache). The child's
# loads takes about 0.17 microseconds more, on the other core; a request is 18 % larger.
_MARSHAL_VERSION: Final = 2


def encode_request(request: tuple[Any, ...]) -> bytes:
    """A request for the writer process, framed: a 4-octet length, then one octet that says
    how the rest is encoded, then the rest.

    ``marshal`` (format ``_MARSHAL_VERSION``) when it takes every value, which a batch of
    plain messages is made of (str, int, float, bytes, None, lists and tuples of them): on
    the batches captured under the ``normal`` benchmark, marshal (format 4) took 0.64-0.67 µs
    a message where pickle took 1.18-1.44 (whole batches, offline; pickle's memo grows with
    them). It refuses anything else (a ``ConcatPart``, an enum member, a ``NamedTuple``),
    and then the request is pickled. A ``bytearray`` arrives as ``bytes``: both bind as a
    BLOB (rows built on the event loop, at start-up and shutdown, then take sqlite3's adapter
    lookup; the writer's own rows, the hot path, do not). Both ends are the same Python
    (``sys.executable``), which is what marshal's format asks for, and the child trusts its
    parent's pipe as it did with pickle.
    """
    try:
        tag, data = _MARSHALLED, marshal.dumps(request, _MARSHAL_VERSION)
    except ValueError:  # a value marshal does not take
        tag, data = _PICKLED, pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    return b"".join((_LENGTH.pack(len(data) + 1), tag, data))


def decode_request(data: bytes) -> tuple[Any, ...]:
    """The request ``encode_request`` framed, from what follows its length.

    Raises:
        ValueError: the first octet names no encoding.
    """
    tag, body = data[:1], memoryview(data)[1:]
    if tag == _MARSHALLED:
        request = marshal.loads(body)
    elif tag == _PICKLED:
        request = pickle.loads(body)
    else:
        raise ValueError(f"request encoded as {tag!r}: neither marshal nor pickle")
    assert isinstance(request, tuple)
    return request


def _write_request(batch: BatchRows) -> tuple[Any, ...]:
    # The batch's fields, not the batch: marshal takes a tuple, not a NamedTuple.
    return ("write", *batch)


def _send_answer(pipe: IO[bytes], answer: tuple[str, object]) -> None:
    data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)) + data)
    pipe.flush()


def _read_exactly(pipe: IO[bytes], size: int) -> bytes:
    """``size`` octets from ``pipe``, buffered or not (a raw pipe returns what has arrived),
    or fewer if it closes first. (Joining one part returns it as it is: no copy.)"""
    parts: list[bytes] = []
    got = 0
    while got < size:
        more = pipe.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _receive_frame(pipe: IO[bytes]) -> bytes:
    """What follows the next 4-octet length on ``pipe``."""
    head = _read_exactly(pipe, _LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("pipe closed")
    (size,) = _LENGTH.unpack(head)
    data = _read_exactly(pipe, size)
    if len(data) < size:
        raise EOFError("pipe closed mid-message")
    return data


def _receive_answer(pipe: IO[bytes]) -> object:
    return pickle.loads(_receive_frame(pipe))


def _value(answer: object, what: str) -> object:
    """The value of the child's answer, or its error as ``StoreError``."""
    assert isinstance(answer, tuple) and len(answer) == 2
    kind, value = answer
    if kind == "error":
        raise StoreError(f"{what}: {value}")
    return value


def _relay_output(stream: IO[bytes], pid: int) -> None:
    """Log each line the writer process prints on its stderr, until it closes it."""
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                log.warning("store_writer_output", pid=pid, line=line[:_MAX_OUTPUT_LINE])


@attrs.define
class WriteRequest:
    """A write from the event loop under way (``start_write``): what is left to send, to which
    child, whether it holds the writer's lock, the error that met it, and the child's answer
    as it arrives (a length, then a pickle) and once whole."""

    data: memoryview
    what: str
    locked: bool = False
    child: subprocess.Popen[bytes] | None = None
    nonblocking: bool = False
    error: OSError | EOFError | None = None
    received: bytearray = attrs.Factory(bytearray)
    answered: bool = False
    answer: object = None
    # finish_write's wait on the answer pipe, which poll_write ends when it read the answer.
    waiting: trio.CancelScope | None = None


class ProcessWriter:
    """The writing connection in a child process (see the module text)."""

    def __init__(self, path: str, *, synchronous: str, busy_timeout: float) -> None:
        self._path = path
        self._command = [
            sys.executable,
            "-m",
            "smscd.store.writer",
            path,
            synchronous,
            repr(busy_timeout),
        ]
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        with self._lock:
            self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
        )
        assert child.stdin is not None and child.stdout is not None
        assert child.stderr is not None
        with contextlib.suppress(OSError):  # Linux only; the default 64 KiB works too
            fcntl.fcntl(child.stdin.fileno(), _F_SETPIPE_SZ, _PIPE_SIZE)
        # What the child prints (a traceback before it dies, a warning) becomes log events,
        # so that it never reaches the daemon's log stream as raw lines.
        threading.Thread(target=_relay_output, args=(child.stderr, child.pid), daemon=True).start()
        try:
            answer = _receive_answer(child.stdout)  # opened, or why not
        except EOFError:
            child.wait()
            raise StoreError(
                f"{self._path}: the writer process exited at start ({child.returncode})"
            ) from None
        if answer != ("ok", None):
            self._stop(child)
            raise StoreError(f"{self._path}: {answer[1]}")  # type: ignore[index]
        self._child = child
        return child

    def _call(self, request: tuple[object, ...], what: str) -> object:
        with self._lock:
            child = self._child
            if child is None or child.poll() is not None:
                child = self._start()
            assert child.stdin is not None and child.stdout is not None
            # start_write leaves the pipes non-blocking; the file objects need them blocking.
            os.set_blocking(child.stdin.fileno(), True)
            os.set_blocking(child.stdout.fileno(), True)
            try:
                child.stdin.write(encode_request(request))
                child.stdin.flush()
                answer = _receive_answer(child.stdout)
            except (OSError, EOFError) as exc:
                self._stop(child)
                self._child = None
                raise self._died(what, exc) from exc
        return _value(answer, f"{self._path}: {what}")

    def _died(self, what: str, exc: BaseException) -> StoreError:
        """The error of a request that met the child's death (the next one starts a new child)."""
        return StoreError(f"{self._path}: {what}: the writer process died ({exc})")

    def write(self, batch: BatchRows) -> None:
        self._call(_write_request(batch), f"cannot write {len(batch.rows)} messages")

    def start_write(self, batch: BatchRows) -> WriteRequest:
        """Begin ``write`` from a trio event loop, with no thread (see the module text):
        encode the batch (``encode_request``) and hand the child what its pipe takes now (all
        of it, usually: the pipe holds 1 MiB), so that the child works on it while the loop
        goes on. ``finish_write`` does the rest. Calls from threads (``purge``, ``close``) and
        this one take turns on the same lock; when a thread holds it, nothing is sent yet."""
        request = WriteRequest(
            memoryview(encode_request(_write_request(batch))),
            f"cannot write {len(batch.rows)} messages",
        )
        if self._lock.acquire(blocking=False):
            request.locked = True
            child = self._child
            if child is not None and child.poll() is None:
                try:
                    self._send_some(child, request)
                except OSError as exc:  # the child died: finish_write says so
                    request.error = exc
        return request

    def _send_some(self, child: subprocess.Popen[bytes], request: WriteRequest) -> None:
        assert child.stdin is not None and child.stdout is not None
        request.child = child
        fd = child.stdin.fileno()
        if not request.nonblocking:
            request.nonblocking = True
            os.set_blocking(fd, False)
            os.set_blocking(child.stdout.fileno(), False)
        with contextlib.suppress(BlockingIOError):
            while request.data:
                request.data = request.data[os.write(fd, request.data) :]

    async def finish_write(self, request: WriteRequest) -> None:
        """The rest of ``start_write``: the rest of the request, and the child's answer.

        Raises:
            StoreError: as ``write``.
        """
        try:
            while not (request.locked or request.answered):  # answered: see poll_write
                await trio.sleep(_LOCK_POLL)  # a purge slice on a thread: a few milliseconds
                request.locked = self._lock.acquire(blocking=False)
            child = request.child
            if child is None:
                child = self._child
                if child is None or child.poll() is not None:
                    child = await trio.to_thread.run_sync(self._start)  # a Python start-up
            assert child.stdout is not None and child.stdin is not None
            try:
                if request.error is not None:
                    raise request.error
                if request.child is None:
                    self._send_some(child, request)
                while request.data:
                    await trio.lowlevel.wait_writable(child.stdin.fileno())
                    self._send_some(child, request)
                while not self._read_answer(request):
                    with trio.CancelScope() as request.waiting:
                        await trio.lowlevel.wait_readable(child.stdout.fileno())
                    request.waiting = None
                    if request.error is not None:  # poll_write met it
                        raise request.error
            except (OSError, EOFError) as exc:
                self._child = None
                request.error = exc  # poll_write must not read the pipes being closed now
                await trio.to_thread.run_sync(self._stop, child)
                raise self._died(request.what, exc) from exc
        finally:
            if request.locked:
                request.locked = False
                self._lock.release()
        _value(request.answer, f"{self._path}: {request.what}")

    def poll_write(self, request: WriteRequest) -> bool:
        """Whether the child has committed the request, read from the answer pipe now without
        waiting: for the event loop between two of its steps, so that the writer is free for
        the next batch at once instead of when ``finish_write``'s task is next scheduled
        (measured under load: 1.3 ms later at the median, 5 ms at p90). Once this is True,
        ``finish_write`` returns at once; anything else (not all sent yet, an error answer,
        the child's death) is left to it."""
        if not request.answered:
            if request.data or request.child is None or request.error is not None:
                return False
            try:
                if not self._read_answer(request):
                    return False
            except (OSError, EOFError) as exc:
                request.error = exc
            if request.waiting is not None:
                request.waiting.cancel()
        answer = request.answer
        if not (isinstance(answer, tuple) and answer[0] == "ok"):
            return False
        if request.locked:  # the next batch may be sent now
            request.locked = False
            self._lock.release()
        return True

    @staticmethod
    def _read_answer(request: WriteRequest) -> bool:
        """Read what has arrived of the child's answer, without blocking; True once whole.

        Raises:
            EOFError: the child closed its end (it died).
            OSError: the read failed.
        """
        if request.answered:
            return True
        assert request.child is not None and request.child.stdout is not None
        fd = request.child.stdout.fileno()
        received = request.received
        while True:
            size = len(received)
            wanted = _LENGTH.size
            if size >= wanted:
                wanted += _LENGTH.unpack_from(received)[0]
            if size == wanted:
                break
            try:
                chunk = os.read(fd, wanted - size)
            except BlockingIOError:
                return False
            if not chunk:
                raise EOFError("pipe closed")
            received += chunk
        request.answer = pickle.loads(memoryview(received)[_LENGTH.size :])
        request.answered = True
        return True

    def purge(self, horizon: float) -> int:
        count = self._call(("purge", horizon), "purge")
        assert isinstance(count, int)
        return count

    def vacuum(self) -> None:
        self._call(("vacuum",), "vacuum")

    @property
    def pid(self) -> int | None:
        """The child's process id (for tests and operators), None when none runs."""
        return None if self._child is None else self._child.pid

    def close(self) -> None:
        """Let the child finish and exit (it commits nothing half-way: each request is whole)."""
        with self._lock:
            if self._child is not None:
                self._stop(self._child)
                self._child = None

    @staticmethod
    def _stop(child: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def serve(path: str, synchronous: str, busy_timeout: float) -> None:
    """The child: open the writing connection, then answer requests until stdin closes."""
    # The daemon handles Ctrl-C and SIGTERM and closes this process after its last write; a
    # signal sent to the whole process group must not end it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _schedule_as_batch_work()
    # Requests are read unbuffered, so that a look at the pipe (_checkpoint_due) sees all
    # that has arrived.
    with open(0, "rb", buffering=0, closefd=False) as requests:
        _serve(requests, sys.stdout.buffer, path, synchronous, busy_timeout)


def _schedule_as_batch_work() -> None:
    """Ask the kernel to schedule this process as batch work (Linux's ``SCHED_BATCH``): the
    same share of the CPU as any other process, but its wake-ups do not preempt the task
    running on that CPU.

    The child wakes for every batch the event loop hands it, and as a normal task it took the
    event loop's core from under it: under the ``normal`` benchmark the daemon was preempted
    100-300 times a second (about 16 times with this), and a window-1 submit's p99 went from
    1.4-1.6 to 1.7-1.9 ms (the worst from 4 to 27-106 ms). It also stops it from preempting
    the ESMEs on its own core (the load generator, on this machine). Elsewhere (no such
    policy) or where it is refused, the child runs as a normal process: only the timing
    differs.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _serve(
    requests: IO[bytes], answers: IO[bytes], path: str, synchronous: str, busy_timeout: float
) -> None:
    try:
        # Checkpoints are this loop's (see _checkpoint_due), not COMMIT's.
        connection = open_writer(
            path, synchronous=synchronous, busy_timeout=busy_timeout, autocheckpoint=False
        )
    except StoreError as exc:
        _send_answer(answers, ("error", str(exc)))
        return
    _send_answer(answers, ("ok", None))
    # A request decodes thousands of tuples, and the cyclic collector would walk them all
    # every 700 allocations (a twentieth of this process's time, measured), yet none of them
    # can be part of a cycle. Only a failure's traceback can: it is collected after each.
    gc.disable()
    since_checkpoint = 0
    while True:
        try:
            request = decode_request(_receive_frame(requests))
        except EOFError:
            break
        try:
            with store_errors(request[0], lambda: rollback(connection)):
                if request[0] == "write":
                    write_rows(connection, BatchRows(*request[1:]))
                    value: object = None
                elif request[0] == "purge":
                    value = purge_slice(connection, request[1])
                else:
                    vacuum(connection, wal=True)
                    value = None
        except StoreError as exc:
            _send_answer(answers, ("error", str(exc.__cause__ or exc)))
            del exc
            gc.collect()
            continue
        _send_answer(answers, ("ok", value))
        since_checkpoint += 1
        if _checkpoint_due(since_checkpoint, requests):
            since_checkpoint = 0
            _checkpoint(connection)
    connection.close()


def _checkpoint_due(since: int, requests: IO[bytes]) -> bool:
    """Whether to checkpoint now, ``since`` transactions after the last checkpoint.

    SQLite's own checkpoint runs inside the COMMIT that crosses 1,000 pages of WAL, and with
    the WAL's and the file's fsyncs it held that batch's answer (and every submit waiting for
    it) a few milliseconds: the writer's p99. So the child checkpoints itself, after the
    answer, when no request is waiting (CHECKPOINT_AFTER transactions, about SQLite's 1,000
    pages under load), or regardless once CHECKPOINT_AT_LATEST have gone by, which bounds the
    WAL when requests never stop.
    """
    if since >= CHECKPOINT_AT_LATEST:
        return True
    return since >= CHECKPOINT_AFTER and not select.select([requests], [], [], 0)[0]


def _checkpoint(connection: sqlite3.Connection) -> None:
    """A PASSIVE checkpoint: it copies what no reader still needs and never waits for one."""
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        # Not fatal: the WAL grows until the next one succeeds. The daemon logs this line.
        print(f"checkpoint failed: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], float(sys.argv[3]))
