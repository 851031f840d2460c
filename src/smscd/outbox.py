"""Per-account queues of deliver_sm (receipts, later MO) waiting for a receiver session.

A receipt is produced whether or not the ESME is bound; it waits here until a receiver or
transceiver of the same system_id takes it, and comes back here if that session dies or the
ESME refuses it. At-least-once: an item leaves for good only on a deliver_sm_resp ESME_ROK.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterable

import attrs
import trio

from smscd.smpp.codec import EncodedRequest
from smscd.smpp.pdus import DeliverSm


@attrs.define(slots=True, eq=False)
class OutboxItem:
    """One deliver_sm on its way to an ESME; `attempts` counts refusals and time-outs.

    The deliver_sm is kept encoded (`request`): it is built once, stored as it is by the
    durable store and sent as it is; `pdu` decodes it for whoever wants to look.
    """

    system_id: str
    request: EncodedRequest
    message_id: str | None = None
    attempts: int = 0
    # A final receipt keeps its message counted against the account's max_queued until the
    # ESME acknowledges it; intermediate notifications and MO do not.
    final: bool = False
    # Its name in the durable store's outbox table ("" with the memory store).
    key: str = ""

    @property
    def pdu(self) -> DeliverSm:
        """The deliver_sm, decoded (not for the hot path)."""
        pdu = self.request.decode()
        if not isinstance(pdu, DeliverSm):  # pragma: no cover - only deliver_sm are put here
            raise TypeError(f"outbox item {self.key or self.message_id} is not a deliver_sm")
        return pdu


class Outbox:
    """The FIFO of one system_id; sessions subscribe a waker to hear about new items."""

    def __init__(self, system_id: str) -> None:
        self.system_id = system_id
        self._items: deque[OutboxItem] = deque()
        self._wakers: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: OutboxItem) -> None:
        self._items.append(item)
        if len(self._items) == 1:
            self._wake()

    def put_back(self, items: Iterable[OutboxItem]) -> None:
        """Return items a dying session had in flight, ahead of newer ones."""
        self._items.extendleft(reversed(list(items)))
        if self._items:
            self._wake()

    def take(self, limit: int) -> list[OutboxItem]:
        items = self._items
        count = min(limit, len(items))
        return [items.popleft() for _ in range(count)]

    def subscribe(self, waker: Callable[[], None]) -> None:
        self._wakers.append(waker)

    def unsubscribe(self, waker: Callable[[], None]) -> None:
        if waker in self._wakers:
            self._wakers.remove(waker)

    def _wake(self) -> None:
        for waker in self._wakers:
            waker()


class Outboxes:
    """All outboxes, plus the timer that puts refused items back after a pause."""

    def __init__(self, retry_delay: float) -> None:
        self._retry_delay = retry_delay
        self._outboxes: dict[str, Outbox] = {}
        self._deferred: list[tuple[float, int, OutboxItem]] = []
        self._order = itertools.count()
        self._wakeup = trio.lowlevel.ParkingLot()

    def __getitem__(self, system_id: str) -> Outbox:
        outbox = self._outboxes.get(system_id)
        if outbox is None:
            outbox = self._outboxes[system_id] = Outbox(system_id)
        return outbox

    def waiting(self) -> dict[str, int]:
        """Items waiting per system_id, deferred ones included."""
        counts = {system_id: len(outbox) for system_id, outbox in self._outboxes.items()}
        for _, _, item in self._deferred:
            counts[item.system_id] = counts.get(item.system_id, 0) + 1
        return counts

    def put(self, item: OutboxItem) -> None:
        # Once per receipt: the dict first, __getitem__ only to create the outbox.
        outbox = self._outboxes.get(item.system_id)
        if outbox is None:  # not "or": an empty Outbox is falsy (__len__)
            outbox = self[item.system_id]
        outbox.put(item)

    def retry_later(self, item: OutboxItem) -> None:
        """The ESME refused the item or did not answer: offer it again after a pause."""
        item.attempts += 1
        due = trio.current_time() + self._retry_delay
        heapq.heappush(self._deferred, (due, next(self._order), item))
        if self._deferred[0][2] is item:
            self._wakeup.unpark_all()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        deferred = self._deferred
        while True:
            if not deferred:
                await self._wakeup.park()
                continue
            with trio.move_on_at(deferred[0][0]):
                await self._wakeup.park()
            now = trio.current_time()
            while deferred and deferred[0][0] <= now:
                _, _, item = heapq.heappop(deferred)
                self[item.system_id].put(item)
