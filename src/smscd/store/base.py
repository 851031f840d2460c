"""The Store seam: where accepted messages live while the router and carriers work on them.

The router persists a message before it acknowledges it and after every status change.
Implementations: `memory` (tests, load tests, the core's default); a durable SQLite store
plugs in behind the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import attrs

from smscd.message import Message


@attrs.frozen
class StoreStatistics:
    messages: int
    pending: int
    finished: int


class Store(Protocol):
    """Message persistence. Calls are synchronous: they never block the event loop for long."""

    def add(self, message: Message) -> None:
        """Persist a newly accepted message (before its submit_sm_resp goes out), as it is
        when the router's call that accepted it returns: statuses recorded in that same call
        (a carrier's first step) need no ``update``, unless one is final."""

    def discard(self, message_id: str) -> None:
        """Forget a message whose acceptance was withdrawn (its commit failed)."""

    def get(self, message_id: str) -> Message | None:
        """The message with this id, or None when unknown or purged."""

    def update(self, message: Message, now: float) -> None:
        """Persist the message's changes; a final message enters retention at `now`."""

    def update_status(self, message: Message, now: float) -> None:
        """`update` when only the status changed (with its history and done time)."""

    def pending(self) -> Iterator[Message]:
        """Every message that is not final yet."""

    def statistics(self) -> StoreStatistics: ...

    def close(self) -> None:
        """Flush and release resources."""
