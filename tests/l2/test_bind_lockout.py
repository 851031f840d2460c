"""The per-address bind lock-out (smpp.bind_failure_limit, smpp.bind_lockout), without sockets."""

from __future__ import annotations

from smscd.accounts import BindLockout
from smscd.smpp.constants import CommandStatus

PASSWORD = CommandStatus.ESME_RINVPASWD
SYSID = CommandStatus.ESME_RINVSYSID


def test_locks_out_at_the_limit_for_the_duration() -> None:
    lockout = BindLockout(limit=3, duration=60.0)
    assert [lockout.record("10.0.0.1", PASSWORD, t) for t in (0.0, 1.0, 2.0)] == [
        False,
        False,
        True,  # the third failure starts the lock-out: the one moment to log it
    ]
    assert lockout.locked("10.0.0.1", 2.0)
    assert lockout.locked("10.0.0.1", 61.9)
    assert not lockout.locked("10.0.0.1", 62.0)
    assert not lockout.locked("10.0.0.2", 2.0)  # other addresses are not affected


def test_unknown_system_id_counts_and_other_refusals_do_not() -> None:
    lockout = BindLockout(limit=2, duration=60.0)
    # max_binds reached or a bind type not allowed: a client misconfigured, not a guesser.
    for _ in range(5):
        assert not lockout.record("h", CommandStatus.ESME_RBINDFAIL, 0.0)
    assert not lockout.locked("h", 0.0)
    assert not lockout.record("h", SYSID, 0.0)
    assert lockout.record("h", PASSWORD, 0.0)


def test_failures_further_apart_than_the_duration_start_the_count_again() -> None:
    lockout = BindLockout(limit=3, duration=10.0)
    for t in (0.0, 10.0, 20.0, 30.0):  # each one a full period after the last
        assert not lockout.record("h", PASSWORD, t)
    assert not lockout.locked("h", 30.0)
    assert not lockout.record("h", PASSWORD, 35.0)
    assert lockout.record("h", PASSWORD, 39.0)


def test_after_a_lock_out_the_count_starts_from_zero() -> None:
    lockout = BindLockout(limit=2, duration=5.0)
    lockout.record("h", PASSWORD, 0.0)
    assert lockout.record("h", PASSWORD, 1.0)
    assert not lockout.locked("h", 6.0)
    assert not lockout.record("h", PASSWORD, 6.0)
    assert lockout.record("h", PASSWORD, 7.0)


def test_limit_zero_never_locks() -> None:
    lockout = BindLockout(limit=0, duration=60.0)
    assert not any(lockout.record("h", PASSWORD, 0.0) for _ in range(1000))
    assert not lockout.locked("h", 0.0)
    assert len(lockout) == 0


def test_memory_is_bounded_when_many_addresses_fail() -> None:
    lockout = BindLockout(limit=2, duration=60.0, max_addresses=100)
    for i in range(10_000):
        lockout.record(f"10.0.{i // 256}.{i % 256}", PASSWORD, 0.0)
    assert len(lockout) == 100


def test_the_address_that_failed_longest_ago_is_forgotten_first() -> None:
    lockout = BindLockout(limit=2, duration=60.0, max_addresses=3)
    lockout.record("a", PASSWORD, 0.0)
    lockout.record("b", PASSWORD, 1.0)
    assert lockout.record("a", PASSWORD, 2.0)  # "a" locked, and now the most recent
    lockout.record("c", PASSWORD, 3.0)
    lockout.record("d", PASSWORD, 4.0)  # the table is full: "b" goes
    assert lockout.locked("a", 4.0)
    assert not lockout.record("b", PASSWORD, 5.0)  # "b" starts again from one failure
