"""SimClock: plain arithmetic with explicit numbers."""

from __future__ import annotations

import math

import pytest

from smscd.clock import SimClock

EPOCH = 1_700_000_000.0  # simulation start, 2023-11-14T22:13:20Z


def test_runs_at_real_speed_by_default() -> None:
    clock = SimClock(100.0, EPOCH)
    assert clock.rate == 1.0
    assert clock.now(100.0) == EPOCH
    assert clock.now(105.5) == EPOCH + 5.5


def test_rate_scales_elapsed_time() -> None:
    clock = SimClock(0.0, EPOCH, rate=3600.0)
    assert clock.now(2.0) == EPOCH + 7200.0


def test_set_rate_keeps_time_already_elapsed() -> None:
    clock = SimClock(0.0, EPOCH)
    clock.set_rate(10.0, real_now=5.0)  # 5 s elapsed at rate 1
    assert clock.now(5.0) == EPOCH + 5.0
    assert clock.now(7.0) == EPOCH + 25.0  # then 2 s at rate 10


def test_pause_and_resume() -> None:
    clock = SimClock(0.0, EPOCH)
    clock.set_rate(0, real_now=10.0)
    assert clock.paused
    assert clock.now(10.0) == clock.now(1000.0) == EPOCH + 10.0
    clock.set_rate(2.0, real_now=1000.0)
    assert not clock.paused
    assert clock.now(1001.0) == EPOCH + 12.0


def test_advance_jumps_forward_keeping_rate() -> None:
    clock = SimClock(0.0, EPOCH, rate=2.0)
    assert clock.advance(72 * 3600, real_now=1.0) == EPOCH + 2.0 + 72 * 3600
    assert clock.now(2.0) == EPOCH + 4.0 + 72 * 3600


def test_advance_while_paused() -> None:
    clock = SimClock(0.0, EPOCH, rate=0.0)
    clock.advance(60.0, real_now=50.0)
    assert clock.now(99.0) == EPOCH + 60.0


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_advance_rejects_backwards_and_non_finite(seconds: float) -> None:
    clock = SimClock(0.0, EPOCH)
    with pytest.raises(ValueError, match="advance"):
        clock.advance(seconds, real_now=0.0)
    assert clock.now(0.0) == EPOCH


@pytest.mark.parametrize("rate", [-0.5, math.nan, math.inf])
def test_bad_rates_rejected(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        SimClock(0.0, EPOCH, rate=rate)
    clock = SimClock(0.0, EPOCH)
    with pytest.raises(ValueError, match="rate"):
        clock.set_rate(rate, real_now=1.0)
    assert clock.rate == 1.0
    assert clock.now(1.0) == EPOCH + 1.0


def test_real_deadline() -> None:
    clock = SimClock(10.0, EPOCH, rate=60.0)
    # one simulated hour at 60x is one real minute
    assert clock.real_deadline(EPOCH + 3600.0, real_now=10.0) == 70.0
    assert clock.real_deadline(EPOCH + 3600.0, real_now=40.0) == 70.0


def test_real_deadline_of_past_time_is_now() -> None:
    clock = SimClock(10.0, EPOCH)
    assert clock.real_deadline(EPOCH - 5.0, real_now=12.0) == 12.0
    assert clock.real_deadline(EPOCH + 2.0, real_now=12.0) == 12.0


def test_real_deadline_when_paused() -> None:
    clock = SimClock(0.0, EPOCH, rate=0.0)
    assert clock.real_deadline(EPOCH + 1.0, real_now=5.0) is None
    assert clock.real_deadline(EPOCH, real_now=5.0) == 5.0  # already reached: due now


def test_real_deadline_follows_rate_changes() -> None:
    clock = SimClock(0.0, EPOCH)
    target = EPOCH + 100.0
    assert clock.real_deadline(target, real_now=0.0) == 100.0
    clock.set_rate(4.0, real_now=20.0)  # 80 simulated seconds left, at 4x: 20 real
    assert clock.real_deadline(target, real_now=20.0) == 40.0
    clock.advance(40.0, real_now=20.0)
    assert clock.real_deadline(target, real_now=20.0) == 30.0
