"""A pure buffer that reassembles concatenated message parts.

The caller extracts each part's reference, total and sequence (from the UDH with
:func:`smscd.sms.udh.split_udh` or from the SAR TLVs) and feeds it here with its clock's
``now``. A set is identified by the caller's key (e.g. ``(source_addr, destination_addr)``)
together with the reference and the total, so two messages that happen to share a reference
but not a total never mix.

Choices:

* Duplicates: a part that arrives again before its set completes replaces the earlier copy
  (the latest submission is what the sender last meant, e.g. a retry after a lost response) and
  is counted in ``Completed.duplicates``. A part arriving after its set completed starts a new
  set, which will time out unless the rest arrives again too.
* Timeout: measured from a set's first part, not refreshed by later parts, so a sender
  trickling parts cannot hold memory indefinitely.
* Bound: when a new set would exceed ``max_sets``, the set with the earliest deadline is
  evicted. Evicted sets are handed out by the next :meth:`Reassembler.expire` call, and
  :meth:`Reassembler.next_deadline` reports a deadline already due until then.
* Persistence: :meth:`Reassembler.open_sets` shows the sets still waiting; adding each of
  their parts again, with ``now`` the set's ``first_seen``, gives a new buffer the same sets
  with the same deadlines (what a caller does after a restart).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable

import attrs

__all__ = ["Completed", "Incomplete", "Reassembler"]


@attrs.frozen
class Completed:
    """A set whose every part arrived.

    Attributes:
        key: the caller's key.
        reference: the concatenation reference.
        parts: the payloads in sequence order.
        duplicates: how many parts arrived more than once (the latest copy is kept).
        first_seen: ``now`` of the first part.
    """

    key: Hashable
    reference: int
    parts: tuple[bytes, ...]
    duplicates: int
    first_seen: float

    @property
    def total(self) -> int:
        """The number of parts."""
        return len(self.parts)

    @property
    def payload(self) -> bytes:
        """The parts joined: for GSM 7-bit septets or UTF-16BE, decode this, not each part,
        since a sender may have cut an escape or a surrogate pair between two parts."""
        return b"".join(self.parts)


@attrs.frozen
class Incomplete:
    """A set given up on, with what did arrive.

    Attributes:
        key: the caller's key.
        reference: the concatenation reference.
        total: the number of parts announced.
        received: (sequence, payload) of the parts that arrived, in sequence order.
        missing: the sequence numbers that did not arrive.
        first_seen: ``now`` of the first part.
        evicted: True if dropped to respect ``max_sets``, False if it timed out.
    """

    key: Hashable
    reference: int
    total: int
    received: tuple[tuple[int, bytes], ...]
    missing: tuple[int, ...]
    first_seen: float
    evicted: bool


_SetKey = tuple[Hashable, int, int]


@attrs.define
class _PartSet:
    first_seen: float
    deadline: float
    token: int  # tells this set's heap entry from a stale one left by an earlier set
    parts: dict[int, bytes] = attrs.field(factory=dict)
    duplicates: int = 0


class Reassembler:
    """Collects parts until each set is complete, times out, or is evicted.

    Args:
        timeout: seconds (on the caller's clock) a set may wait for its parts.
        max_sets: how many incomplete sets to hold at most.
    """

    def __init__(self, timeout: float, max_sets: int = 10000) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if max_sets < 1:
            raise ValueError(f"max_sets must be at least 1, not {max_sets}")
        self._timeout = timeout
        self._max_sets = max_sets
        self._sets: dict[_SetKey, _PartSet] = {}
        # (deadline, token, set key); entries of sets that completed stay until they surface
        # (lazy deletion), and the heap is rebuilt when stale entries outnumber live ones.
        self._heap: list[tuple[float, int, _SetKey]] = []
        self._tokens = itertools.count()
        self._evicted: list[Incomplete] = []
        self._evicted_at: float | None = None

    def __len__(self) -> int:
        """The number of incomplete sets held."""
        return len(self._sets)

    # The six positional parameters are the published contract (architecture.md) and follow
    # the order of the concatenation element itself.
    def add(  # noqa: PLR0917
        self,
        key: Hashable,
        reference: int,
        total: int,
        sequence: int,
        payload: bytes,
        now: float,
    ) -> Completed | None:
        """Add one part.

        Args:
            key: the caller's grouping, e.g. ``(source_addr, destination_addr)``.
            reference: the concatenation reference.
            total: the number of parts announced, 1..255.
            sequence: this part's number, 1..total.
            payload: its body, without the UDH.
            now: the caller's clock.

        Returns:
            The completed set when this part was the last one missing (immediately for a total
            of 1), else None.

        Raises:
            ValueError: ``total`` or ``sequence`` out of range.
        """
        if not 1 <= total <= 255:
            raise ValueError(f"total must be 1..255, not {total}")
        if not 1 <= sequence <= total:
            raise ValueError(f"sequence must be 1..{total}, not {sequence}")
        if total == 1:
            return Completed(key, reference, (payload,), 0, now)
        set_key = (key, reference, total)
        part_set = self._sets.get(set_key)
        if part_set is None:
            if len(self._sets) >= self._max_sets:
                self._evict_oldest(now)
            part_set = _PartSet(now, now + self._timeout, next(self._tokens))
            self._sets[set_key] = part_set
            heapq.heappush(self._heap, (part_set.deadline, part_set.token, set_key))
            self._compact()
        if sequence in part_set.parts:
            part_set.duplicates += 1
        part_set.parts[sequence] = payload
        if len(part_set.parts) < total:
            return None
        del self._sets[set_key]
        parts = tuple(part_set.parts[number] for number in range(1, total + 1))
        return Completed(key, reference, parts, part_set.duplicates, part_set.first_seen)

    def expire(self, now: float) -> list[Incomplete]:
        """Give up on sets whose deadline has passed, and hand out evicted sets.

        Returns:
            Evicted sets first, then timed-out sets in deadline order.
        """
        result = self._evicted
        self._evicted = []
        self._evicted_at = None
        while self._heap and self._heap[0][0] <= now:
            _deadline, token, set_key = heapq.heappop(self._heap)
            part_set = self._sets.get(set_key)
            if part_set is None or part_set.token != token:
                continue
            del self._sets[set_key]
            result.append(self._incomplete(set_key, part_set, evicted=False))
        return result

    def open_sets(self) -> list[Incomplete]:
        """The sets still waiting for parts, in the order they began, as they stand (nothing is
        removed), each an ``Incomplete`` with ``evicted`` False. Adding their parts to another
        buffer with ``now=first_seen`` rebuilds them there, deadlines included."""
        return [
            self._incomplete(set_key, part_set, evicted=False)
            for set_key, part_set in self._sets.items()
        ]

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to return, or None if nothing is pending."""
        self._drop_stale_top()
        deadline = self._heap[0][0] if self._heap else None
        if self._evicted_at is None:
            return deadline
        return self._evicted_at if deadline is None else min(deadline, self._evicted_at)

    def _evict_oldest(self, now: float) -> None:
        self._drop_stale_top()
        _deadline, _token, set_key = heapq.heappop(self._heap)
        part_set = self._sets.pop(set_key)
        self._evicted.append(self._incomplete(set_key, part_set, evicted=True))
        if self._evicted_at is None:
            self._evicted_at = now

    def _drop_stale_top(self) -> None:
        while self._heap:
            _deadline, token, set_key = self._heap[0]
            part_set = self._sets.get(set_key)
            if part_set is not None and part_set.token == token:
                return
            heapq.heappop(self._heap)

    def _compact(self) -> None:
        if len(self._heap) > 2 * len(self._sets) + 64:
            self._heap = [
                (part_set.deadline, part_set.token, set_key)
                for set_key, part_set in self._sets.items()
            ]
            heapq.heapify(self._heap)

    @staticmethod
    def _incomplete(set_key: _SetKey, part_set: _PartSet, *, evicted: bool) -> Incomplete:
        key, reference, total = set_key
        received = tuple(sorted(part_set.parts.items()))
        missing = tuple(n for n in range(1, total + 1) if n not in part_set.parts)
        return Incomplete(key, reference, total, received, missing, part_set.first_seen, evicted)
