"""The message record, its status history, and message ids.

A ``Message`` is created when a submit_sm (or data_sm, or an HTTP submission) is accepted and
lives until it is final and its retention has passed. Everything about what the ESME sent is
fixed at creation; only the status, its history and the done time change, and attrs enforces
that per field, so a stray assignment to, say, ``destination`` fails loudly.

Times are simulation epoch seconds (see ``smscd.clock``), never real monotonic time, because
they end up in receipts and query_sm answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import overload

import attrs

from smscd.smpp.constants import MessageState
from smscd.smpp.frozen import fast_frozen, positional_factory
from smscd.status import STATUS_CODES, Code, StatusCode, is_final, lookup

__all__ = [
    "Address",
    "ConcatPart",
    "Message",
    "MessageIdGenerator",
    "StatusEvent",
    "StatusHistory",
]


# Operator code -> whether it is final, as a plain dict: this is asked three times per message,
# and a dict lookup is cheaper than the MappingProxy's .get and the StatusCode attribute.
_FINAL: dict[int, bool] = {code: row.final for code, row in STATUS_CODES.items()}
# The codes a message passes through on its way to a final one, as plain ints.
_ON_THE_WAY = frozenset(code for code, final in _FINAL.items() if not final)


@fast_frozen
@attrs.frozen
class Address:
    """An SMPP address: type of number, numbering plan indicator, and the digits or text.

    Attributes:
        ton: type of number (SMPP 3.4 §5.2.5), e.g. 1 international, 5 alphanumeric.
        npi: numbering plan indicator (§5.2.6), e.g. 1 ISDN E.163/E.164.
        addr: the address as sent, e.g. ``46712345678`` or ``Shop``.
    """

    ton: int
    npi: int
    addr: str


@fast_frozen
@attrs.frozen
class StatusEvent:
    """One step of a message's history: operator ``code`` reached at simulation time ``at``."""

    code: int
    at: float


_new_event: Callable[[int, float], StatusEvent] = positional_factory(StatusEvent)


class StatusHistory(Sequence[StatusEvent]):
    """The statuses a message went through, oldest first: a sequence of ``StatusEvent``.

    Kept as one flat list ``[code, at, code, at, ...]`` rather than one object per event: a
    message passes through about eight statuses, recorded on the hot path and kept for as
    long as the message is retained (100,000 queued messages), so the events are made only
    when someone reads them (the HTTP view, tests). Equal to any sequence of the same events.
    """

    __slots__ = ("_flat",)

    def __init__(self, events: Iterable[StatusEvent] = ()) -> None:
        flat: list[float] = []
        for event in events:
            flat.append(event.code)
            flat.append(event.at)
        self._flat = flat

    @classmethod
    def from_flat(cls, flat: list[float]) -> StatusHistory:
        """A history over ``[code, at, ...]``, taken as it is (not copied)."""
        history = cls()
        history._flat = flat
        return history

    @property
    def flat(self) -> list[float]:
        """``[code, at, code, at, ...]``; read it, do not change it."""
        return self._flat

    def add(self, code: int, at: float) -> None:
        """Append the event (``code``, ``at``) without making a ``StatusEvent``."""
        flat = self._flat
        flat.append(code)
        flat.append(at)

    @property
    def last_at(self) -> float:
        """When the latest status was reached.

        Raises:
            IndexError: the history is empty.
        """
        return self._flat[-1]

    def __len__(self) -> int:
        return len(self._flat) >> 1

    @overload
    def __getitem__(self, index: int) -> StatusEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[StatusEvent]: ...

    def __getitem__(self, index: int | slice) -> StatusEvent | list[StatusEvent]:
        if isinstance(index, slice):
            return list(self)[index]
        count = len(self._flat) >> 1
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("history index out of range")
        flat = self._flat
        return _new_event(int(flat[2 * index]), flat[2 * index + 1])

    def __iter__(self) -> Iterator[StatusEvent]:
        flat = self._flat
        for i in range(0, len(flat), 2):
            yield _new_event(int(flat[i]), flat[i + 1])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StatusHistory):
            return self._flat == other._flat
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"StatusHistory({list(self)!r})"


def _as_history(events: Iterable[StatusEvent]) -> StatusHistory:
    return events if type(events) is StatusHistory else StatusHistory(events)


@fast_frozen
@attrs.frozen
class ConcatPart:
    """Where a message stands in a concatenated (multi-part) message.

    Attributes:
        reference: the concatenation reference (UDH IE 0x00/0x08 or sar_msg_ref_num).
        total: how many parts the whole message has.
        sequence: this part's number, 1..total.
    """

    reference: int
    total: int
    sequence: int


@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class Message:
    """A message accepted from an ESME, with its status history.

    What the ESME submitted is not changed after acceptance, except what replace_sm may
    replace while the message is queued (payload, text, registered_delivery). This is by
    convention, not enforced per attribute: attrs' on_setattr hooks put a Python-level
    ``__setattr__`` on every write, which measured as the largest single cost on the hot path.
    (``history``'s converter would bring that hook back, hence ``on_setattr=NO_OP``: it runs
    in ``__init__`` only.)

    Attributes:
        message_id: the id returned in submit_sm_resp; decimal, see ``MessageIdGenerator``.
        system_id: the account that submitted it.
        source: source address as submitted.
        destination: destination address as submitted.
        data_coding: the submitted data_coding.
        esm_class: the submitted esm_class.
        registered_delivery: the submitted registered_delivery.
        protocol_id: the submitted protocol_id.
        priority_flag: the submitted priority_flag.
        payload: short_message or message_payload as received, without the UDH.
        text: the decoded text, or None for binary data codings.
        parts: how many SMS segments the message takes (1 for a single-part message).
        submit_time: acceptance time (simulation epoch seconds).
        validity_deadline: when undelivered messages expire, or None for the carrier default.
        scheduled_time: earliest delivery time, or None for immediate delivery.
        status: the current operator code (``smscd.status``).
        history: every status reached, oldest first; starts with ``status`` at ``submit_time``.
        done_time: when the message became final, or None while it is not.
        concat: this message's place in a concatenated message, or None for a single one.
        concat_text: the whole concatenated message's text, once every part has arrived.
        carrier: the name of the carrier it was routed to; None when no route took it.
    """

    message_id: str
    system_id: str
    source: Address
    destination: Address
    # payload, text and registered_delivery are what replace_sm may change while queued.
    payload: bytes
    submit_time: float
    data_coding: int = 0
    esm_class: int = 0
    registered_delivery: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    text: str | None = None
    parts: int = 1
    validity_deadline: float | None = None
    scheduled_time: float | None = None
    status: int = int(Code.ACCEPTED)
    history: StatusHistory = attrs.field(factory=StatusHistory, converter=_as_history)
    done_time: float | None = None
    concat: ConcatPart | None = None
    concat_text: str | None = None
    carrier: str | None = None

    def __attrs_post_init__(self) -> None:
        # Validate the starting status now rather than at the first query_sm.
        final = _FINAL.get(self.status)
        if final is None:
            lookup(self.status)  # raises KeyError
        # A new message's history starts with its acceptance; a store restoring a message
        # passes the full history and it is kept as given.
        if not self.history:
            self.history.add(self.status, self.submit_time)
        if final and self.done_time is None:
            self.done_time = self.history.last_at

    @property
    def is_final(self) -> bool:
        """Whether the message has reached a final status (2xx, 4xx, 5xx)."""
        return is_final(self.status)

    @property
    def status_code(self) -> StatusCode:
        """The table row of the current status."""
        return lookup(self.status)

    @property
    def message_state(self) -> MessageState:
        """The SMPP 3.4 message_state of the current status, for query_sm and receipts."""
        return lookup(self.status).message_state

    def record(self, code: int, at: float) -> None:
        """Appends a status to the history and makes it current.

        Args:
            code: an operator status code.
            at: simulation epoch seconds when it was reached.

        Raises:
            KeyError: when ``code`` is not an operator code.
            ValueError: when the message is already final. A final status is what the ESME
                was told in its receipt; changing it afterwards would make query_sm contradict
                the receipt, so the caller must decide first (e.g. cancel_sm on a delivered
                message is ESME_RCANCELFAIL).
        """
        final = _FINAL.get(code)
        if final is None:
            lookup(code)  # raises KeyError
        if type(code) is not int:
            code = int(code)  # a Code member would serialise as its name in some encoders
        if self.done_time is not None:
            raise ValueError(
                f"message {self.message_id} is final ({self.status}); cannot record {code}"
            )
        self.history.add(code, at)
        self.status = code
        if final:
            self.done_time = at

    def record_codes(self, codes: tuple[int, ...], at: float) -> None:
        """``record`` for each code in order, stopping after the first final one.

        One call per carrier transition instead of one per code: a message passes through
        about eight statuses.

        Raises:
            KeyError: a code is not an operator code (the codes before it are recorded).
            ValueError: the message is already final.
        """
        if self.done_time is not None:
            raise ValueError(f"message {self.message_id} is final ({self.status})")
        flat = self.history.flat
        for code in codes:
            final = _FINAL.get(code)
            if final is None:
                lookup(code)  # raises KeyError
            # A Code member would serialise as its name in some encoders.
            value = code if type(code) is int else int(code)
            flat.append(value)
            flat.append(at)
            self.status = value
            if final:
                self.done_time = at
                return

    def record_history(self, events: Sequence[float]) -> None:
        """``record`` for each ``(code, at)`` of ``events`` = ``(code, at, code, at, ...)``
        (the layout of ``history.flat``), in order, stopping after the first final code.

        Raises:
            KeyError, ValueError: as ``record_codes``; ValueError also for an odd length.
        """
        if self.done_time is not None:
            raise ValueError(f"message {self.message_id} is final ({self.status})")
        if len(events) % 2:
            raise ValueError(f"events must be (code, at) pairs, got {len(events)} values")
        flat = self.history.flat
        codes = events[::2]
        last = codes[-1] if codes else None
        if type(last) is int and last in _FINAL and _ON_THE_WAY.issuperset(codes[:-1]):
            # What carriers report: known codes, a final one at most at the end, copied in
            # one step. (A Code member before the last would be kept as it is; carriers and
            # record keep ints.)
            flat += events
            self.status = last
            if _FINAL[last]:
                self.done_time = events[-1]
            return
        for index in range(0, len(events), 2):
            code, at = events[index], events[index + 1]
            final = _FINAL.get(code)  # type: ignore[call-overload]  # an int, or not a code
            if final is None or code != int(code):
                lookup(int(code))  # raises KeyError
                raise KeyError(code)
            value = int(code)
            flat.append(value)
            flat.append(at)
            self.status = value
            if final:
                self.done_time = at
                return


class MessageIdGenerator:
    """Issues message ids: decimal strings, unique, increasing, never reused across restarts.

    The daemon seeds ``start`` with the wall clock in microseconds since the epoch at start-up
    (about 1.7e15 today, 16 digits; SMPP allows 64). Ids issued by one run are ``start``,
    ``start + 1``, ...; a run that lasts T microseconds and issues N ids ends below
    ``start + N``. The next run starts at its own wall-clock microsecond, which is later than
    ``start + T``, so the two ranges cannot overlap as long as N < T: fewer than one id per
    microsecond on average, i.e. under a million messages per second sustained, far above
    what one process handles. The remaining risk is the wall clock stepping backwards between
    runs; a durable store closes it by calling ``ensure_above`` with its high-water mark.

    Ids are plain decimal without leading zeros so that clients that convert an id to an
    integer and back (many do, to store it) get the identical string, and the id in the
    receipt matches the id in submit_sm_resp byte for byte.

    Raises:
        ValueError: when ``start`` is negative.
    """

    __slots__ = ("_next",)

    def __init__(self, start: int) -> None:
        if start < 0:
            raise ValueError(f"message id start must be >= 0, got {start}")
        self._next = start

    def next(self) -> str:
        """Returns a new id, greater than every id issued before."""
        value = self._next
        self._next = value + 1
        return str(value)

    def ensure_above(self, n: int) -> None:
        """Makes every later id greater than ``n`` (a restored high-water mark)."""
        if n >= self._next:
            self._next = n + 1

    @property
    def high_water(self) -> int:
        """The largest id issued so far (``start - 1`` before the first), for persisting."""
        return self._next - 1
