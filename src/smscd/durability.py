"""Group commit for the durable store, and the promises that wait for it.

The router changes messages on the event loop; the `Committer` task turns those changes into
one SQLite transaction at a time (`SqliteStore.take_batch` on the event loop, `write_batch`
on a worker thread, which hands the rows to the store's writer process or writes them
itself). Two things wait for a commit:

- a submit's ESME_ROK: a connection asks for a `ticket` when it accepts a message and holds
  the submit_sm_resp until `committed` reaches it, so an ESME is never told ESME_ROK for a
  message that a crash could still lose;
- a deliver_sm (receipt or MO): it is `hold`-ed and reaches its outbox only once the row
  that remembers it is on disk, so a receipt the ESME saw is never produced twice.

Batches are bounded by count (`batch_size`) and time (`batch_delay`): under load the next batch
fills while the previous one commits, which is what makes a commit (an fsync) per hundreds of
messages.

When a commit fails (disk full, I/O error), the batch is put back, the submits that waited
for it are answered ESME_RSYSERR (and their messages withdrawn: the ESME will retry them), and
new submits are refused with ESME_RSYSERR until a commit succeeds again; the daemon keeps
serving everything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import structlog
import trio

from smscd.outbox import Outboxes, OutboxItem
from smscd.store.errors import StoreError
from smscd.store.sqlite import SqliteStore

log = structlog.get_logger("smscd.store")

# How long an idle committer sleeps between looks at the store when nobody kicked it
# (changes made by carriers alone, e.g. a clock advance, need no one waiting on them).
IDLE_INTERVAL = 0.05
# Pause after a failed commit before the next try.
RETRY_INTERVAL = 1.0
# How many failed batch numbers are remembered (a disk that stays full fails one a second).
_FAILED_BATCHES_KEPT = 10_000


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
        # Whether run() is parked: kicks are per submit and receipt, and waking a lot that
        # nobody waits in still costs a microsecond or two.
        self._parked = False

    # ---------------------------------------------------------------- promises

    def ticket(self) -> int:
        """The batch that will carry the changes made so far."""
        return self.taken + 1

    def wait(self, waker: Callable[[], None]) -> None:
        """Call `waker` after the next commit (or failure); kicks the committer."""
        self._waiters.add(waker)
        if self._parked:
            self._kick.unpark_all()

    def accepted(self, message_id: str) -> None:
        """A message was accepted: its submit waits for the next batch."""
        self._new.append(message_id)

    def hold(self, item: OutboxItem) -> None:
        """Put `item` in its outbox once the batch carrying its row is committed."""
        self._held.append(item)
        if self._parked:
            self._kick.unpark_all()

    # ---------------------------------------------------------------- the task

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        store = self.store
        while True:
            if not store.changes and not self._held:
                self._parked = True
                try:
                    with trio.move_on_after(IDLE_INTERVAL):
                        await self._kick.park()
                finally:
                    self._parked = False
                if not store.changes and not self._held:
                    self._save_state()  # a clock advanced or re-rated: nothing else changed
                    if not store.changes:
                        continue
                if store.changes < self._batch_size:
                    # The first change after a quiet spell: let a batch gather. Under load
                    # the changes waiting now gathered while the last batch was written.
                    await trio.sleep(self._batch_delay)
            await self.commit_once()
            if not self.healthy:
                await trio.sleep(RETRY_INTERVAL)

    async def commit_once(self) -> bool:
        """Take and write one batch; True if it was committed."""
        self._save_state()
        batch = self.store.take_batch()
        held, self._held = self._held, []
        new, self._new = self._new, []
        self.taken += 1
        number = self.taken
        try:
            await trio.to_thread.run_sync(self.store.write_batch, batch)
        except StoreError as exc:
            self.store.requeue(batch)
            self.failed_batches.add(number)
            if len(self.failed_batches) > _FAILED_BATCHES_KEPT:
                # A failure is read by the deferred responses of its batch right after it
                # (the waiters are woken below); ones this old have no reader left.
                horizon = number - _FAILED_BATCHES_KEPT
                self.failed_batches = {n for n in self.failed_batches if n > horizon}
            if self.healthy:
                log.error("store_write_failed", error=str(exc), batch=number)
            self.healthy = False
            # The new messages are withdrawn (their submits get ESME_RSYSERR), with their
            # deliver_sm; the rest of the batch (older messages' changes) is written later.
            withdrawn = set(new)
            self._abandon(tuple(new))
            for item in held:
                if item.message_id in withdrawn:
                    self.store.ack_outbox(item.key)
            self._held = [item for item in held if item.message_id not in withdrawn] + self._held
            self._wake_waiters()
            return False
        if not self.healthy:
            log.info("store_write_recovered", batch=number)
        self.healthy = True
        self.committed = number
        for item in held:
            self._outboxes.put(item)
        self._wake_waiters()
        return True

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
