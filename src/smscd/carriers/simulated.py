"""The carrier simulator as a daemon carrier: the pure `CarrierModel` driven by simulation time.

One task serves every message: it asks the model for its next due time, waits for the
simulation clock to reach it (or for anything that could move it earlier: a new message, a
handset change, the clock advanced or sped up), then feeds everything due to the router.
A clock advanced by 72 hours is worked through in one `advance` call, in time order, and each
transition is reported with the simulation time it happened at, not the time it was noticed.
"""

from __future__ import annotations

import random

import structlog
import trio

from smscd.carriers.base import StatusSink, Waiting
from smscd.carriers.model import CarrierModel, InboxEntry
from smscd.carriers.profile import HandsetState, Profile
from smscd.message import Message
from smscd.simtime import SimulationTime

log = structlog.get_logger("smscd.carriers.simulated")

# Transitions reported between two checkpoints: bounds how long a huge clock jump holds the
# event loop away from the sessions.
_BATCH = 2000
# Real seconds run() may sleep past its next event, so that events due within a millisecond
# are worked in one wake-up. Each transition is still recorded at its own simulation time;
# only its report (and receipt) may come up to this much later.
_WAKE_SLACK = 0.001


class SimulatedCarrier:
    def __init__(
        self, name: str, profile: Profile, rng: random.Random, time: SimulationTime
    ) -> None:
        self.name = name
        self.profile = profile
        self.model = CarrierModel(profile, rng)
        self._time = time
        # While run() waits, for which simulation time: new work wakes it only when due
        # earlier (a wake-up unparks every clock waiter, and submits come thousands a second).
        self._waiting = False
        self._waiting_for = float("inf")

    # ------------------------------------------------------------------ Carrier protocol

    def submit(self, message: Message) -> tuple[int, ...]:
        # The first step happens at acceptance (103 Funded, 110 Sending, or an outcome that
        # strikes at once): returned to the router, without a heap round trip.
        concat = message.concat
        model = self.model
        codes = model.accept(
            message.message_id,
            message.destination.addr,
            message.text or "",
            message.submit_time,
            message.validity_deadline,
            message.scheduled_time,
            message.source.addr,
            None if concat is None else (concat.reference, concat.total, concat.sequence),
            True,
        )
        if self._waiting and model.last_push_at < self._waiting_for:
            self._wake()
        return codes

    def restore(self, message: Message) -> None:
        # The fields are read as in submit, which keeps its own copy inline: a helper would
        # cost every submit a call and a tuple.
        concat = message.concat
        last = message.history[-1]
        self.model.restore(
            message.message_id,
            message.destination.addr,
            message.text or "",
            message.submit_time,
            message.validity_deadline,
            message.scheduled_time,
            source=message.source.addr,
            concat=None if concat is None else (concat.reference, concat.total, concat.sequence),
            last_code=last.code,
            last_at=last.at,
            now=self._time.now(),
        )
        if self._waiting and self.model.last_push_at < self._waiting_for:
            self._wake()

    def save_state(self) -> str | None:
        return self.model.save_state()

    def load_state(self, state: str) -> None:
        self.model.load_state(state)
        self._time.poke()

    def _wake(self) -> None:
        # Called when accept or restore queued an event earlier than the one run() sleeps
        # until (they queue at most one, the model's latest: when accept queued none, a stale
        # time at worst wakes run() for nothing). Later events need no wake-up.
        self._waiting = False
        self._time.poke()

    def cancel(self, message_id: str) -> bool:
        return self.model.cancel(message_id)

    def is_pending(self, message_id: str) -> bool:
        return self.model.is_pending(message_id)

    def waiting_for(self, message_id: str) -> Waiting | None:
        found = self.model.waiting_for(message_id)
        return None if found is None else Waiting(*found)

    def replace(self, message: Message) -> bool:
        changed = self.model.replace(
            message.message_id,
            text=message.text or "",
            validity_deadline=message.validity_deadline,
        )
        self._time.poke()
        return changed

    async def run(
        self, sink: StatusSink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        model = self.model
        time = self._time
        # The router takes a whole slice of transitions in one call (BatchStatusSink).
        on_statuses = getattr(sink, "on_statuses", None)
        wait_for_room = getattr(sink, "wait_for_room", None)
        while True:
            deadline = model.next_deadline()
            self._waiting_for = float("inf") if deadline is None else deadline
            self._waiting = True
            await time.wait_until(deadline, slack=_WAKE_SLACK)
            self._waiting = False
            now = time.now()
            # Slices of _BATCH: after a clock jump over many messages, neither a huge list of
            # transitions nor a long stretch without letting the sessions run.
            while transitions := model.advance(now, _BATCH):
                if on_statuses is not None:
                    on_statuses(transitions)
                else:
                    for transition in transitions:
                        for codes, at in transition.steps():
                            sink.on_status(transition.message_id, *codes, at=at)
                if wait_for_room is not None:
                    await wait_for_room()
                await trio.lowlevel.checkpoint()
            del transitions

    # ------------------------------------------------------------------ handset control

    def set_handset(
        self,
        pattern: str,
        state: HandsetState,
        *,
        start: float | None = None,
        until: float | None = None,
    ) -> None:
        now = self._time.now() if start is None else start
        self.model.set_handset(pattern, state, now, float("inf") if until is None else until)
        self._time.poke()
        log.info("handset_state_set", carrier=self.name, pattern=pattern, state=state.value)

    def set_max_age(
        self, pattern: str, max_age: float | None, *, start: float | None = None
    ) -> None:
        now = self._time.now() if start is None else start
        self.model.set_max_age(pattern, max_age, now)
        self._time.poke()

    def handset_state(self, number: str) -> HandsetState:
        return self.model.handsets.state_at(number.removeprefix("+"), self._time.now())

    def handset_state_until(self, number: str) -> float | None:
        """When the handset's current state ends under the known rules (None: not unless a
        rule is added)."""
        until = self.model.handsets.state_until(number.removeprefix("+"), self._time.now())
        return None if until == float("inf") else until

    def handset_max_age(self, number: str) -> float | None:
        return self.model.handsets.max_age(number.removeprefix("+"), self._time.now())

    def inbox(self, number: str) -> tuple[InboxEntry, ...]:
        return self.model.inbox(number)

    def pending_for(self, pattern: str) -> int:
        return self.model.pending_for(pattern)
