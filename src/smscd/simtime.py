"""The daemon's simulation time: the pure `SimClock` read on trio's clock, with change wake-ups.

Carriers and the scenario player wait for simulation times, not real ones. When QA advances
the clock or changes its rate, a wait that was computed for the old rate is wrong: every
waiter parks on one `ParkingLot` and is woken to recompute its real deadline.
"""

from __future__ import annotations

import trio

from smscd.clock import SimClock


class SimulationTime:
    """The simulation clock of a running daemon.

    Args:
        start: the simulation epoch time at construction (the wall clock, or a fixed start
            for reproducible receipt dates).
        rate: simulated seconds per real second; 0 starts paused.
    """

    def __init__(self, start: float, rate: float = 1.0) -> None:
        self._current_time = trio.lowlevel.current_clock().current_time
        self.clock = SimClock(self._current_time(), start, rate)
        self._changed = trio.lowlevel.ParkingLot()

    def now(self) -> float:
        """The simulation epoch time now."""
        return self.clock.now(self._current_time())

    @property
    def rate(self) -> float:
        return self.clock.rate

    def advance(self, seconds: float) -> float:
        """Jump forward; returns the new time. Raises ValueError for a negative amount."""
        now = self.clock.advance(seconds, self._current_time())
        self._changed.unpark_all()
        return now

    def set_rate(self, rate: float) -> None:
        """Raises ValueError for a negative or non-finite rate."""
        self.clock.set_rate(rate, self._current_time())
        self._changed.unpark_all()

    def poke(self) -> None:
        """Wake every waiter to look again (something other than the clock changed)."""
        self._changed.unpark_all()

    async def wait_until(self, sim_time: float | None, *, slack: float = 0.0) -> None:
        """Return once simulation time reaches `sim_time`, or earlier after any change.

        Callers loop: do the work due now, then wait for the next due time. Returning early on
        a change (advance, rate, poke) lets them recompute; None waits for a change only.

        Args:
            slack: real seconds to wait beyond a future deadline, so that events due close
                together are handled in one wake-up instead of one each.
        """
        now = self._current_time()
        deadline = None if sim_time is None else self.clock.real_deadline(sim_time, now)
        if deadline is not None and deadline <= now:
            await trio.lowlevel.checkpoint()
            return
        with trio.move_on_at(deadline + slack if deadline is not None else float("inf")):
            await self._changed.park()

    async def sleep_until(self, sim_time: float) -> None:
        """Return once simulation time has reached `sim_time`, whatever happens meanwhile."""
        while self.now() < sim_time:
            await self.wait_until(sim_time)
