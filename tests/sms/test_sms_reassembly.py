"""The reassembly buffer: order, duplicates, timeouts, eviction."""

from __future__ import annotations

import pytest

from smscd.sms.reassembly import Completed, Incomplete, Reassembler

Key = tuple[str, str]
KEY: Key = ("46700000001", "46700000002")


def make(timeout: float = 10.0, max_sets: int = 100) -> Reassembler:
    return Reassembler(timeout, max_sets)


def test_in_order() -> None:
    buffer = make()
    assert buffer.add(KEY, 7, 3, 1, b"a", now=0.0) is None
    assert buffer.add(KEY, 7, 3, 2, b"b", now=1.0) is None
    assert len(buffer) == 1
    done = buffer.add(KEY, 7, 3, 3, b"c", now=2.0)
    assert done == Completed(KEY, 7, (b"a", b"b", b"c"), 0, 0.0)
    assert done.payload == b"abc" and done.total == 3
    assert len(buffer) == 0
    assert buffer.next_deadline() is None


def test_out_of_order() -> None:
    buffer = make()
    assert buffer.add(KEY, 7, 3, 3, b"c", now=0.0) is None
    assert buffer.add(KEY, 7, 3, 1, b"a", now=0.0) is None
    done = buffer.add(KEY, 7, 3, 2, b"b", now=0.0)
    assert done is not None and done.parts == (b"a", b"b", b"c")


def test_single_part_completes_at_once() -> None:
    buffer = make()
    assert buffer.add(KEY, 0, 1, 1, b"only", now=5.0) == Completed(KEY, 0, (b"only",), 0, 5.0)
    assert len(buffer) == 0


def test_duplicate_replaces_and_is_counted() -> None:
    buffer = make()
    buffer.add(KEY, 1, 2, 1, b"old", now=0.0)
    assert buffer.add(KEY, 1, 2, 1, b"new", now=1.0) is None
    done = buffer.add(KEY, 1, 2, 2, b"!", now=2.0)
    assert done is not None
    assert done.parts == (b"new", b"!")
    assert done.duplicates == 1


def test_late_duplicate_starts_a_new_set() -> None:
    buffer = make()
    buffer.add(KEY, 1, 2, 1, b"a", now=0.0)
    assert buffer.add(KEY, 1, 2, 2, b"b", now=0.0) is not None
    assert buffer.add(KEY, 1, 2, 2, b"b", now=1.0) is None
    assert len(buffer) == 1
    (gone,) = buffer.expire(11.0)
    assert gone.missing == (1,)


def test_sets_are_kept_apart_by_key_reference_and_total() -> None:
    buffer = make()
    other: Key = ("46700000003", "46700000002")
    buffer.add(KEY, 1, 2, 1, b"k1", now=0.0)
    buffer.add(other, 1, 2, 1, b"o1", now=0.0)
    buffer.add(KEY, 2, 2, 1, b"r1", now=0.0)
    buffer.add(KEY, 1, 3, 1, b"t1", now=0.0)
    assert len(buffer) == 4
    done = buffer.add(other, 1, 2, 2, b"o2", now=0.0)
    assert done is not None and done.key == other and done.payload == b"o1o2"
    done = buffer.add(KEY, 1, 2, 2, b"k2", now=0.0)
    assert done is not None and done.payload == b"k1k2"
    assert len(buffer) == 2


def test_missing_part_times_out() -> None:
    buffer = make(timeout=30.0)
    buffer.add(KEY, 9, 4, 2, b"b", now=100.0)
    buffer.add(KEY, 9, 4, 4, b"d", now=110.0)  # later parts do not extend the deadline
    assert buffer.next_deadline() == 130.0
    assert buffer.expire(129.9) == []
    assert buffer.expire(130.0) == [
        Incomplete(
            key=KEY,
            reference=9,
            total=4,
            received=((2, b"b"), (4, b"d")),
            missing=(1, 3),
            first_seen=100.0,
            evicted=False,
        )
    ]
    assert len(buffer) == 0
    assert buffer.next_deadline() is None
    # A straggler after the timeout starts afresh.
    assert buffer.add(KEY, 9, 4, 1, b"a", now=131.0) is None
    assert buffer.next_deadline() == 161.0


def test_open_sets_rebuild_another_buffer_with_the_same_deadlines() -> None:
    buffer = make(timeout=30.0)
    buffer.add(KEY, 9, 4, 2, b"b", now=100.0)
    buffer.add(KEY, 9, 4, 4, b"d", now=110.0)
    buffer.add(KEY, 5, 2, 1, b"x", now=105.0)
    buffer.add(KEY, 5, 2, 2, b"y", now=106.0)  # complete: not open any more
    buffer.add("other", 9, 2, 1, b"z", now=120.0)
    opened = buffer.open_sets()
    assert [(s.key, s.reference, s.received, s.missing) for s in opened] == [
        (KEY, 9, ((2, b"b"), (4, b"d")), (1, 3)),
        ("other", 9, ((1, b"z"),), (2,)),
    ]
    assert not any(s.evicted for s in opened)
    assert len(buffer) == 2  # looking removes nothing

    rebuilt = make(timeout=30.0)
    for s in opened:
        for sequence, payload in s.received:
            assert rebuilt.add(s.key, s.reference, s.total, sequence, payload, s.first_seen) is None
    assert rebuilt.open_sets() == opened
    assert rebuilt.next_deadline() == buffer.next_deadline() == 130.0
    done = rebuilt.add(KEY, 9, 4, 1, b"a", now=125.0)
    assert done is None and rebuilt.add(KEY, 9, 4, 3, b"c", now=126.0) == Completed(
        KEY, 9, (b"a", b"b", b"c", b"d"), 0, 100.0
    )
    assert [gone.key for gone in rebuilt.expire(150.0)] == ["other"]


def test_expire_returns_sets_in_deadline_order() -> None:
    buffer = Reassembler(timeout=10.0)
    buffer.add("b", 1, 2, 1, b"", now=5.0)
    buffer.add("a", 1, 2, 1, b"", now=1.0)  # a caller clock need not be monotonic here
    buffer.add("c", 1, 2, 1, b"", now=3.0)
    assert buffer.next_deadline() == 11.0
    assert [gone.key for gone in buffer.expire(20.0)] == ["a", "c", "b"]


def test_completed_sets_leave_no_deadline_behind() -> None:
    buffer = make(timeout=10.0)
    buffer.add(KEY, 1, 2, 1, b"a", now=0.0)
    buffer.add(KEY, 2, 2, 1, b"a", now=5.0)
    buffer.add(KEY, 1, 2, 2, b"b", now=6.0)
    assert buffer.next_deadline() == 15.0
    assert [gone.reference for gone in buffer.expire(100.0)] == [2]


def test_many_completed_sets_keep_the_heap_small() -> None:
    buffer = make(timeout=1e9)
    for reference in range(10000):
        buffer.add(KEY, reference, 2, 1, b"a", now=float(reference))
        assert buffer.add(KEY, reference, 2, 2, b"b", now=float(reference)) is not None
    assert len(buffer) == 0
    assert len(buffer._heap) < 200  # stale entries are compacted away
    assert buffer.next_deadline() is None


def test_eviction_of_the_oldest_set() -> None:
    buffer = Reassembler(timeout=60.0, max_sets=2)
    buffer.add("first", 1, 2, 1, b"1", now=0.0)
    buffer.add("second", 1, 2, 1, b"2", now=1.0)
    assert buffer.add("third", 1, 3, 2, b"3", now=2.0) is None
    assert len(buffer) == 2
    assert buffer.next_deadline() == 2.0  # the evicted set is due at once
    evicted, *rest = buffer.expire(2.0)
    assert rest == []
    assert evicted == Incomplete("first", 1, 2, ((1, b"1"),), (2,), 0.0, evicted=True)
    assert buffer.next_deadline() == 61.0
    # The evicted set's late part starts a new set, evicting the next oldest.
    buffer.add("first", 1, 2, 2, b"x", now=3.0)
    (evicted,) = buffer.expire(3.0)
    assert evicted.key == "second"
    # Timed-out sets come after evicted ones.
    buffer.add("fourth", 1, 2, 1, b"4", now=4.0)
    gone = buffer.expire(1000.0)
    assert [(g.key, g.evicted) for g in gone] == [
        ("third", True),
        ("first", False),
        ("fourth", False),
    ]


@pytest.mark.parametrize(("total", "sequence"), [(0, 1), (256, 1), (3, 0), (3, 4)])
def test_add_refuses_bad_numbers(total: int, sequence: int) -> None:
    with pytest.raises(ValueError):
        make().add(KEY, 1, total, sequence, b"", now=0.0)


def test_constructor_limits() -> None:
    with pytest.raises(ValueError):
        Reassembler(0.0)
    with pytest.raises(ValueError):
        Reassembler(1.0, max_sets=0)


def test_now_may_be_passed_positionally() -> None:
    buffer = make()
    assert buffer.add(KEY, 1, 2, 1, b"a", 0.0) is None
    done = buffer.add(KEY, 1, 2, 2, b"b", 1.0)
    assert done is not None and done.payload == b"ab"
