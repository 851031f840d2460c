"""The Carrier seam: where the router hands accepted messages, and how status comes back.

A carrier owns the journey of a message after acceptance (queues, retries, handsets,
an upstream SMSC) and reports each operator status code it reaches to a `StatusSink`.
The router is the sink; carriers never touch sessions or the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import attrs
import trio

from smscd.message import Message


class StatusSink(Protocol):
    def on_status(self, message_id: str, *codes: int, at: float | None = None) -> None:
        """Record that the message reached operator status `codes` (101 to 599), in order.

        Args:
            at: the simulation time they were reached; None for now. A carrier that works
                through a clock jump reports each transition at its own time.

        Statuses after a final one are ignored: a message's end is what its receipt said.
        """


class StatusReport(Protocol):
    """One transition, for ``on_statuses``: ``message_id`` reached ``codes``, the last of
    them at ``at``. ``history`` gives each code with its own time, ``(code, at, code, at,
    ...)``, or is None when all of them share ``at``."""

    @property
    def message_id(self) -> str: ...

    @property
    def codes(self) -> tuple[int, ...]: ...

    @property
    def at(self) -> float: ...

    @property
    def history(self) -> tuple[float, ...] | None: ...


class BatchStatusSink(StatusSink, Protocol):
    """A sink that also takes many transitions in one call (the daemon's router does)."""

    def on_statuses(self, reports: Iterable[StatusReport]) -> None:
        """``on_status(report.message_id, *codes, at=at)`` for each report, in order, and in
        a report for each of its times (the codes reached at that time)."""

    async def wait_for_room(self) -> None:
        """Return when the sink can take more reports: at once, or (with the durable store)
        once the changes waiting for a commit are few enough. A carrier that reports a
        great many transitions in slices (a clock advanced over 100,000 messages) awaits it
        between slices, so that they do not pile up in memory ahead of the writer. The
        simulator looks it up with ``getattr``: a sink without it is never waited for."""


@attrs.frozen
class Waiting:
    """Why and until when a message a carrier holds is waiting.

    Attributes:
        code: the operator code it waits on (e.g. 503 SubscriberOffline, 502
            SubscriberUnreachable: the code it would end with if the carrier gave up).
        next_attempt: the simulation time of the next delivery attempt that can reach the
            phone as the handset rules stand; None when none comes before the deadline.
        deadline: the simulation time its validity period ends.
    """

    code: int
    next_attempt: float | None
    deadline: float


class ReportsWaiting(Protocol):
    """What a carrier may add to ``Carrier``: why a message it still holds is waiting."""

    def waiting_for(self, message_id: str) -> Waiting | None:
        """The message's ``Waiting``, or None when it is not waiting or not here. The router
        shows it beside the message's status (``Router.waiting_for``) and notifies it; a carrier
        without this method reports none."""


class Carrier(Protocol):
    name: str

    def submit(self, message: Message) -> tuple[int, ...] | None:
        """Take an accepted message. Must not block: queue it and return.

        Returns:
            The operator codes the message reached on being taken, if any (e.g. 103 Funded,
            110 Sending), for the router to record at its submit_time; None or () for none.
            Everything later goes to the ``StatusSink``.
        """

    def cancel(self, message_id: str) -> bool:
        """Withdraw a message that is still queued; True if it was (the caller records 203)."""

    def is_pending(self, message_id: str) -> bool:
        """Whether the message is still queued here and may be replaced or canceled."""

    def replace(self, message: Message) -> bool:
        """replace_sm changed a pending message (text, validity, schedule); True if pending."""

    def restore(self, message: Message) -> None:
        """Take back a message that was pending when the daemon stopped (from the durable
        store, with its history): continue its journey from its last recorded status, on the
        simulation clock, without repeating the statuses it already reached."""

    def save_state(self) -> str | None:
        """The carrier's own state worth surviving a restart (e.g. handset rules), as text;
        None when it has none. Called when the daemon persists its state."""

    def load_state(self, state: str) -> None:
        """Restore what ``save_state`` returned, before any ``restore`` or ``submit``."""

    async def run(
        self, sink: StatusSink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Work the queue until cancelled, reporting status transitions to `sink`."""
