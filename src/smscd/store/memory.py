"""In-memory store: everything is lost on exit; finished messages are retained, bounded.

Retention keeps memory flat on a long run: a finished message stays queryable for
`retention` seconds or until `max_finished` newer ones have finished, whichever comes first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from smscd.message import Message
from smscd.status import is_final
from smscd.store.base import StoreStatistics


class MemoryStore:
    def __init__(self, retention: float, max_finished: int) -> None:
        self._retention = retention
        self._max_finished = max_finished
        self._pending: dict[str, Message] = {}
        # message_id -> time it finished; insertion order is finishing order.
        self._finished_at: OrderedDict[str, float] = OrderedDict()
        self._finished: dict[str, Message] = {}

    def add(self, message: Message) -> None:
        self._pending[message.message_id] = message

    def get(self, message_id: str) -> Message | None:
        return self._pending.get(message_id) or self._finished.get(message_id)

    def update(self, message: Message, now: float) -> None:
        if not is_final(message.status):
            return
        message_id = message.message_id
        if self._pending.pop(message_id, None) is None and message_id in self._finished:
            return
        self._finished[message_id] = message
        self._finished_at[message_id] = now
        self._purge(now)

    def _purge(self, now: float) -> None:
        horizon = now - self._retention
        finished_at = self._finished_at
        while finished_at:
            oldest_id, finished = next(iter(finished_at.items()))
            if finished >= horizon and len(finished_at) <= self._max_finished:
                break
            del finished_at[oldest_id]
            del self._finished[oldest_id]

    def pending(self) -> Iterator[Message]:
        return iter(list(self._pending.values()))

    def statistics(self) -> StoreStatistics:
        pending = len(self._pending)
        finished = len(self._finished)
        return StoreStatistics(messages=pending + finished, pending=pending, finished=finished)

    def close(self) -> None:
        self._pending.clear()
        self._finished.clear()
        self._finished_at.clear()
