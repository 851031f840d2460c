"""Group commit for the durable store, and the promises that wait for it.

The router changes messages on the event loop; the `Committer` turns those changes into one
SQLite transaction at a time: `SqliteStore.take_batch` on the event loop, then, with the
store's writer process, `start_batch` on the event loop (the rows go into the pipe at once) and
`finish_batch` in a task of the committer that waits for the child's answer (which
`dispatch` may find first: `poll_batch`); with a writer thread (`:memory:`), `write_batch`
on a worker thread. Two things wait for a commit:

- a submit's ESME_ROK: a connection asks for a `ticket` when it accepts a message and holds
  the submit_sm_resp until `committed` reaches it, so an ESME is never told ESME_ROK for a
  message that a crash could still lose;
- a deliver_sm (receipt or MO): it is `hold`-ed and reaches its outbox only once the row
  that remembers it (its outbox row; for a final receipt, its message's final status) is on
  disk, so a receipt the ESME saw is never produced twice.

A batch starts as soon as someone waits for it and the writer is free: a connection calls
`dispatch` right after the chunk of submits it read, and the writing task (or thread) marks the
writer free the moment its batch is committed, so the next batch can start before the committer
task has settled the last one (released its responses and receipts; batches are settled in
the order they were written). The writer thus works on one batch while the event loop reads
the next chunks, and under load each batch carries what arrived during the previous write.
Changes nobody waits for (a carrier's statuses, a held deliver_sm) are written by the task,
bounded by count (`batch_size`) and time (`batch_delay`).

When a commit fails (disk full, I/O error), the batch is put back, the submits that waited
for it are answered ESME_RSYSERR (and their messages withdrawn: the ESME will retry them), and
new submits are refused with ESME_RSYSERR until a commit succeeds again; the daemon keeps
serving everything else.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from functools import partial

import attrs
import structlog
import trio

from smscd.outbox import Outboxes, OutboxItem
from smscd.store.errors import StoreError
from smscd.store.sqlite import Batch, SqliteStore
from smscd.store.writer import WriteRequest

log = structlog.get_logger("smscd.store")

# How long an idle committer sleeps between looks at the store when nobody kicked it
# (changes made by carriers alone, e.g. a clock advance, need no one waiting on them).
IDLE_INTERVAL = 0.05
# Pause after a failed commit before the next try.
RETRY_INTERVAL = 1.0
# The most changes a carrier's reports may leave waiting for a commit before the carrier
# waits (wait_for_room): a batch of this many stays a few tens of MB.
ROOM = 20_000
# How many failed batch numbers are remembered (a disk that stays full fails one a second).
_FAILED_BATCHES_KEPT = 10_000


@attrs.define
class _Flight:
    """A batch handed to the writer, with what waits for it."""

    number: int
    batch: Batch
    held: list[OutboxItem]
    new: list[str]
    error: BaseException | None = None
    # The writer process's request, while it writes the batch from the event loop.
    request: WriteRequest | None = None
    # _written has run: by the writing task, or by dispatch when it found the answer first.
    written: bool = False


def _ignore(result: object) -> None:
    """start_thread_soon's deliver: _write hands its result back itself."""


class Committer:
    """Drives `SqliteStore`'s group commit; see the module text.

    Args:
        store: the durable store.
        outboxes: where held deliver_sm go once committed.
        batch_size: commit at once when this many changes wait.
        batch_delay: otherwise wait this long for more changes.
        save_state: called before each batch is taken, to put the daemon's own state
            (simulation clock, id high-water mark) into it.
        abandon: called with the ids of messages whose commit failed (they are withdrawn).
    """

    def __init__(
        self,
        store: SqliteStore,
        outboxes: Outboxes,
        *,
        batch_size: int,
        batch_delay: float,
        save_state: Callable[[], None],
        abandon: Callable[[tuple[str, ...]], None],
    ) -> None:
        self.store = store
        self._outboxes = outboxes
        self._batch_size = batch_size
        self._batch_delay = batch_delay
        self._save_state = save_state
        self._abandon = abandon
        # Batches are numbered from 1; a change made now is in batch `taken + 1`.
        self.taken = 0
        self.committed = 0
        # Batches that failed: the submits waiting for them are answered ESME_RSYSERR.
        self.failed_batches: set[int] = set()
        self.healthy = True
        self._held: list[OutboxItem] = []
        # Messages accepted since the last batch was taken: what a failed batch withdraws.
        self._new: list[str] = []
        self._waiters: set[Callable[[], None]] = set()
        self._kick = trio.lowlevel.ParkingLot()
        # Who waits for a batch to be settled (wait_for_room).
        self._settled = trio.lowlevel.ParkingLot()
        # A batch is with the writer. Cleared by the writer's thread as soon as the batch is
        # committed, so that the next one can start before this one is settled.
        self._writing = False
        # Batches the writer is done with, in order, for _settle on the event loop.
        self._done: deque[_Flight] = deque()
        self._token: trio.lowlevel.TrioToken | None = None
        # Whether run() is parked: kicks are per submit and receipt, and waking a lot that
        # nobody waits in still costs a microsecond or two.
        self._parked = False
        # Where batches for a writer process are written (run's), None before run starts.
        self._nursery: trio.Nursery | None = None
        # The batch the writer process writes, for dispatch's look at its answer.
        self._in_flight: _Flight | None = None

    # ---------------------------------------------------------------- promises

    def ticket(self) -> int:
        """The batch that will carry the changes made so far."""
        return self.taken + 1

    def wait(self, waker: Callable[[], None]) -> None:
        """Call `waker` after the next commit (or failure); kicks the committer."""
        self._waiters.add(waker)
        if self._parked and not self._writing:  # a busy writer's completion wakes it anyway
            self._kick.unpark_all()

    def accepted(self, message_id: str) -> None:
        """A message was accepted: its submit waits for the next batch."""
        self._new.append(message_id)

    def hold(self, item: OutboxItem) -> None:
        """Put `item` in its outbox once the batch carrying its row is committed."""
        self._held.append(item)
        if self._parked and not self._writing:
            self._kick.unpark_all()

    def write_before_start(self, at_least: int) -> None:
        """Before ``run``: write the changes waiting now in one blocking batch, if there are
        at least ``at_least``.

        A resume that changes every pending message (say, re-routed after its carrier left
        the configuration) would otherwise leave them all to ``run``'s first batch: 100,000
        full rows built and pickled at once took the daemon's RSS from 200 to 308 MB right
        after start-up. Nobody waits for a ticket yet, so the batch only needs numbering.
        A failed write is put back for ``run``, which retries it as it retries any batch.
        """
        if self.store.changes < at_least or not self.healthy:
            return
        flight = self._take()
        try:
            self.store.write_batch(flight.batch)
        except StoreError as exc:
            flight.error = exc
        self._finish(flight)

    async def wait_for_room(self, limit: int = ROOM) -> None:
        """Return once at most ``limit`` changes wait for a commit (``BatchStatusSink``'s
        ``wait_for_room``): starts a batch when the writer is free, else waits for the one
        it writes to be settled. Returns at once while commits fail: the retries own the
        writer then, and the changes wait in memory as they would anyway."""
        while self.healthy and self.store.changes > limit:
            self.dispatch()
            await self._settled.park()

    # ---------------------------------------------------------------- the task

    def dispatch(self) -> None:
        """Hand the changes waiting now to the writer, unless it is busy (the batch after
        it starts as soon as it is done) or failing (the retry writes them).

        A connection calls this once it has handled a chunk that left a submit waiting: the
        batch starts right there, and the writer works on it while the event loop handles
        the next chunk, instead of after a scheduling round of the committer task.
        """
        if (self._writing and not self._answered()) or not self.healthy:
            return
        if self.store.changes or self._held:
            self._start()

    def _answered(self) -> bool:
        """Whether the writer process has committed its batch, from a look at its answer
        without waiting: then the writer is free for the next batch now, not when the
        writing task is next scheduled, behind every session's chunk."""
        flight = self._in_flight
        if flight is None or not self.store.poll_batch(flight.request):
            return False
        self._written(flight)
        return True

    def _start(self) -> None:
        if self._token is None:
            self._token = trio.lowlevel.current_trio_token()
        self._save_state()
        nursery = self._nursery if self.store.writes_async else None
        # Started right here, the batch needs no snapshot of its rows (take_batch).
        flight = self._take(snapshot=nursery is None)
        self._writing = True
        if nursery is not None:
            try:
                flight.request = self.store.start_batch(flight.batch)
            except Exception as exc:  # _finish raises what is not a StoreError
                flight.error = exc
            else:
                self._in_flight = flight
            nursery.start_soon(self._write_in_loop, flight)
        else:
            trio.lowlevel.start_thread_soon(partial(self._write, flight), _ignore)

    def _take(self, *, snapshot: bool = True) -> _Flight:
        """The next batch, numbered, with what waits for it: the changes made so far, the
        deliver_sm held and the messages accepted (``snapshot``: as ``take_batch``)."""
        batch = self.store.take_batch(snapshot=snapshot)
        held, self._held = self._held, []
        new, self._new = self._new, []
        self.taken += 1
        return _Flight(self.taken, batch, held, new)

    async def _write_in_loop(self, flight: _Flight) -> None:
        """``_write`` for a writer process, on the event loop: the batch was handed over by
        ``_start`` (``start_batch``); wait for its commit."""
        # Whole or not at all: a request cut short would leave the pipes out of step.
        with trio.CancelScope(shield=True):
            if flight.error is None:
                try:
                    await self.store.finish_batch(flight.request)
                except Exception as exc:  # _finish raises what is not a StoreError
                    flight.error = exc
        self._written(flight)
        self._kick.unpark_all()

    def _write(self, flight: _Flight) -> None:
        """On a worker thread: write the batch, then hand it back to the event loop."""
        try:
            self.store.write_batch(flight.batch)
        except BaseException as exc:  # the event loop raises what is not a StoreError
            flight.error = exc
        self._written(flight)
        assert self._token is not None
        self._token.run_sync_soon(self._kick.unpark_all)

    def _written(self, flight: _Flight) -> None:
        """The writer is done with the batch (on the writing task or thread, or dispatch)."""
        if flight.written:
            return
        flight.written = True
        if self._in_flight is flight:
            self._in_flight = None
        self._done.append(flight)
        if flight.error is None:
            # The next batch may start now, before the event loop has settled this one:
            # batches are settled in the order they were written (_done is FIFO).
            self._writing = False

    def _settle(self) -> None:
        """Finish the batches the writer is done with, oldest first."""
        done = self._done
        while done:
            self._finish(done.popleft())
        if self._settled:
            self._settled.unpark_all()

    def _finish(self, flight: _Flight) -> None:
        """A written batch: release what waited for it; or, if the write failed, put the
        batch back and refuse its submits."""
        number, batch, held, new = flight.number, flight.batch, flight.held, flight.new
        error = flight.error
        if error is None:
            if not self.healthy:
                log.info("store_write_recovered", batch=number)
            self.healthy = True
            self.committed = number
            for item in held:
                self._outboxes.put(item)
            self._wake_waiters()
            return
        if not isinstance(error, StoreError):
            raise error
        self._writing = False
        self.store.requeue(batch)
        self.failed_batches.add(number)
        if len(self.failed_batches) > _FAILED_BATCHES_KEPT:
            # A failure is read by the deferred responses of its batch right after it
            # (the waiters are woken below); ones this old have no reader left.
            horizon = number - _FAILED_BATCHES_KEPT
            self.failed_batches = {n for n in self.failed_batches if n > horizon}
        if self.healthy:
            log.error("store_write_failed", error=str(error), batch=number)
        self.healthy = False
        # The new messages are withdrawn (their submits get ESME_RSYSERR), with their
        # deliver_sm; the rest of the batch (older messages' changes) is written later.
        # A deliver_sm held since the batch was taken may be one of theirs too.
        withdrawn = set(new)
        self._abandon(tuple(new))
        kept: list[OutboxItem] = []
        for item in held + self._held:
            if item.message_id in withdrawn:
                if item.key:  # a final receipt has no row of its own: it goes with its message
                    self.store.ack_outbox(item.key)
            else:
                kept.append(item)
        self._held = kept
        self._wake_waiters()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                await self._run(task_status)
            finally:
                self._nursery = None

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        store = self.store
        try:
            while True:
                self._settle()
                if not self.healthy and not self._writing:
                    await trio.sleep(RETRY_INTERVAL)
                    self._settle()
                    if not self._writing:
                        self._start()
                    continue
                if self._writing or not (store.changes or self._held):
                    await self._park(IDLE_INTERVAL)
                    if self._done or self._writing or not self.healthy:
                        continue
                    if not store.changes and not self._held:
                        self._save_state()  # a clock advanced or re-rated: nothing else changed
                        if not store.changes:
                            continue
                    if store.changes < self._batch_size:
                        # A change no session handed over (a carrier's status, a held
                        # deliver_sm): let a batch gather.
                        await trio.sleep(self._batch_delay)
                    self._settle()
                self.dispatch()
        except trio.Cancelled:
            # Shutdown: the batch with the writer is finished and settled before flush()
            # writes the rest.
            with trio.CancelScope(shield=True):
                await self._until_writer_free()
            raise

    async def _until_writer_free(self) -> None:
        """Settle batches as the writer finishes them, until none is with it."""
        while self._writing or self._done:
            if self._done:
                self._settle()
            else:
                await self._park(IDLE_INTERVAL)

    async def _park(self, timeout: float) -> None:
        self._parked = True
        try:
            with trio.move_on_after(timeout):
                await self._kick.park()
        finally:
            self._parked = False

    async def commit_once(self) -> bool:
        """Take and write one batch now, and settle it; True if it was committed."""
        await self._until_writer_free()
        self._start()
        number = self.taken
        while self.committed < number and number not in self.failed_batches:
            if self._done:
                self._settle()
            else:
                await self._park(IDLE_INTERVAL)
        return number not in self.failed_batches

    def _wake_waiters(self) -> None:
        waiters = list(self._waiters)
        self._waiters.clear()
        for waker in waiters:
            waker()

    def flush(self) -> None:
        """Write everything still waiting, on this thread: for shutdown, after the sessions."""
        self._save_state()
        batch = self.store.take_batch()
        try:
            self.store.write_batch(batch)
        except StoreError as exc:
            log.error("store_final_write_failed", error=str(exc))
            return
        self.taken += 1
        self.committed = self.taken


def clock_state(sim_time: float, wall_time: float, rate: float) -> str:
    """The simulation clock as persisted: where it stood, when, and how fast it ran."""
    return json.dumps({"sim": sim_time, "wall": wall_time, "rate": rate})


def resumed_clock(state: str | None, wall_now: float) -> tuple[float, float] | None:
    """(simulation time now, rate) for a clock persisted by `clock_state`, or None.

    The clock is taken to have kept running at its last rate while the daemon was down, as an
    operator's network does: a validity period ends during downtime as it would have anyway.
    """
    if state is None:
        return None
    try:
        data = json.loads(state)
        sim, wall, rate = float(data["sim"]), float(data["wall"]), float(data["rate"])
    except (ValueError, KeyError, TypeError):
        log.warning("clock_state_unreadable", state=state[:100])
        return None
    return sim + max(0.0, wall_now - wall) * rate, rate
