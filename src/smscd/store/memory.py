"""In-memory store: everything is lost on exit; finished messages are retained, bounded.

Retention keeps memory flat on a long run: a finished message stays queryable for
`retention` seconds or until `max_finished` newer ones have finished, whichever comes first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from smscd.message import Message
from smscd.store.base import StoreStatistics


class MemoryStore:
    def __init__(self, retention: float, max_finished: int) -> None:
        self._retention = retention
        self._max_finished = max_finished
        self._pending: dict[str, Message] = {}
        # The retention queue, in finishing order: when each message finished, and its id.
        # Two deques of floats and strings rather than one of tuples: tuples are objects the
        # garbage collector must track, and this queue holds every retained message.
        self._finished_times: deque[float] = deque()
        self._finished_ids: deque[str] = deque()
        self._finished: dict[str, Message] = {}

    def add(self, message: Message) -> None:
        self._pending[message.message_id] = message

    def discard(self, message_id: str) -> None:
        """Forget a pending message (its acceptance was withdrawn)."""
        self._pending.pop(message_id, None)

    def get(self, message_id: str) -> Message | None:
        return self._pending.get(message_id) or self._finished.get(message_id)

    def update(self, message: Message, now: float) -> None:
        # done_time is set exactly when the status is final (Message.record): an attribute
        # test instead of a table lookup, on every status change of every message.
        if message.done_time is None:
            return
        message_id = message.message_id
        if self._pending.pop(message_id, None) is None and message_id in self._finished:
            return
        self._finished[message_id] = message
        times = self._finished_times
        times.append(now)
        self._finished_ids.append(message_id)
        # _purge's test, inline: once per finished message, and mostly there is nothing to do.
        if len(times) > self._max_finished or times[0] < now - self._retention:
            self._purge(now)

    # Nothing to narrow down in memory.
    update_status = update

    def _purge(self, now: float) -> None:
        horizon = now - self._retention
        times, ids, finished = self._finished_times, self._finished_ids, self._finished
        while times and (len(times) > self._max_finished or times[0] < horizon):
            times.popleft()
            del finished[ids.popleft()]

    def pending(self) -> Iterator[Message]:
        return iter(list(self._pending.values()))

    def statistics(self) -> StoreStatistics:
        pending = len(self._pending)
        finished = len(self._finished)
        return StoreStatistics(messages=pending + finished, pending=pending, finished=finished)

    def close(self) -> None:
        self._pending.clear()
        self._finished.clear()
        self._finished_times.clear()
        self._finished_ids.clear()
