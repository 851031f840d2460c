"""The core's built-in carrier: every message is delivered to its handset after a fixed delay.

It exists so the whole submit → receipt path works before the carrier simulator lands.
Because the delay is constant, due times are monotonic and a FIFO is an exact timer queue:
one task serves any number of messages (no task per message).
"""

from __future__ import annotations

from collections import deque

import trio

from smscd.carriers.base import StatusSink
from smscd.message import Message
from smscd.status import Code

_DELIVERY = (int(Code.SENDING), int(Code.DELIVERED_TO_HANDSET))


class InstantCarrier:
    name = "instant"

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._queue: deque[tuple[float, str]] = deque()
        self._pending: set[str] = set()
        # Restored messages that already reached 110 Sending.
        self._sent: set[str] = set()
        self._wakeup = trio.lowlevel.ParkingLot()
        # run() swaps in the run's clock itself, which trio.current_time reaches through two
        # more Python calls; submit asks it once per message.
        self._current_time = trio.current_time

    def submit(self, message: Message) -> None:
        self._queue.append((self._current_time() + self._delay, message.message_id))
        self._pending.add(message.message_id)
        if len(self._queue) == 1:
            self._wakeup.unpark_all()

    def cancel(self, message_id: str) -> bool:
        if message_id in self._pending:
            # Left in the FIFO and skipped when due: removing from the middle is O(n).
            self._pending.discard(message_id)
            return True
        return False

    def is_pending(self, message_id: str) -> bool:
        return message_id in self._pending

    def replace(self, message: Message) -> bool:
        # Nothing to change: the text is not looked at and the delay is fixed.
        return message.message_id in self._pending

    def restore(self, message: Message) -> None:
        # Nothing depends on how far it got: deliver it after the delay, counted from now,
        # without reporting 110 Sending twice.
        if message.status >= Code.SENDING:
            self._sent.add(message.message_id)
        self.submit(message)

    def save_state(self) -> str | None:
        return None

    def load_state(self, state: str) -> None:
        pass

    async def run(
        self, sink: StatusSink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._current_time = trio.lowlevel.current_clock().current_time
        task_status.started()
        queue = self._queue
        pending = self._pending
        while True:
            if not queue:
                await self._wakeup.park()
                continue
            due = queue[0][0]
            if due > trio.current_time():
                await trio.sleep_until(due)
            now = trio.current_time()
            while queue and queue[0][0] <= now:
                _, message_id = queue.popleft()
                if message_id not in pending:
                    continue
                pending.discard(message_id)
                if self._sent and message_id in self._sent:
                    self._sent.discard(message_id)
                    sink.on_status(message_id, Code.DELIVERED_TO_HANDSET)
                    continue
                sink.on_status(message_id, *_DELIVERY)
            # Let sessions run between large batches instead of starving them.
            await trio.lowlevel.checkpoint()
