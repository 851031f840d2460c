"""The simulation clock: pure arithmetic from the caller's real time to simulated epoch time.

Message lifetimes (validity periods of 72 h, scheduled delivery, receipt dates) run on
*simulation* time so that a test can fast-forward three days in a second. Protocol timers
(enquire_link, response timeouts) stay on real time and never consult this clock.

The clock holds no reference to any time source: every method takes ``real_now``, the caller's
monotonic reading (``trio.current_time()`` in the daemon, plain numbers in tests). Internally it
keeps one anchor pair ``(real, sim)`` and a rate, and re-anchors on every change, so changing
the rate never makes simulated time jump.
"""

from __future__ import annotations

import math

import attrs

__all__ = ["SimClock"]


def _check_rate(rate: float) -> float:
    # NaN and infinity would poison every later reading; a negative rate would run message
    # lifetimes backwards, which no carrier model is written to survive.
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"simulation rate must be a finite number >= 0, got {rate!r}")
    return float(rate)


@attrs.define
class SimClock:
    """Maps the caller's monotonic real time to simulation epoch seconds.

    ``sim(real) = sim_anchor + (real - real_anchor) * rate``.

    Args:
        real_now: the caller's monotonic time at construction.
        sim_now: the simulation epoch time (seconds since 1970, UTC) that ``real_now`` maps to;
            the daemon passes the wall clock so simulation starts at "now".
        rate: simulated seconds per real second; 0 starts paused.

    Raises:
        ValueError: for a negative or non-finite rate.
    """

    _real_anchor: float = attrs.field(converter=float)
    _sim_anchor: float = attrs.field(converter=float)
    _rate: float = attrs.field(default=1.0, converter=_check_rate)

    @property
    def rate(self) -> float:
        """Simulated seconds per real second (0 when paused)."""
        return self._rate

    @property
    def paused(self) -> bool:
        """True when simulation time stands still."""
        return self._rate == 0.0

    def now(self, real_now: float) -> float:
        """Returns the simulation epoch time at the caller's real time ``real_now``."""
        return self._sim_anchor + (real_now - self._real_anchor) * self._rate

    def advance(self, seconds: float, real_now: float) -> float:
        """Jumps simulation time forward by ``seconds``, keeping the rate.

        Returns:
            The new simulation time.

        Raises:
            ValueError: when ``seconds`` is negative or not finite: message histories and
                receipts assume simulation time never runs backwards.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"can only advance by a finite number >= 0, got {seconds!r}")
        sim = self.now(real_now) + seconds
        self._real_anchor = real_now
        self._sim_anchor = sim
        return sim

    def set_rate(self, rate: float, real_now: float) -> None:
        """Changes the rate from ``real_now`` on; time already elapsed keeps the old rate.

        Raises:
            ValueError: for a negative or non-finite rate.
        """
        rate = _check_rate(rate)
        self._sim_anchor = self.now(real_now)
        self._real_anchor = real_now
        self._rate = rate

    def real_deadline(self, sim_time: float, real_now: float) -> float | None:
        """Returns the real time at which simulation time reaches ``sim_time``.

        A time already reached is due at once (``real_now``), even when paused, so a caller
        never waits for something that is already overdue.

        Returns:
            A time on the caller's real clock, or None when the clock is paused and
            ``sim_time`` lies in the future (it will never be reached until the rate changes,
            so the caller must re-ask after ``set_rate`` or ``advance``).
        """
        remaining = sim_time - self.now(real_now)
        if remaining <= 0:
            return real_now
        if self._rate == 0.0:
            return None
        return real_now + remaining / self._rate
