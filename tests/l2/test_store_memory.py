from __future__ import annotations

from smscd.message import Address, Message
from smscd.status import Code
from smscd.store.memory import MemoryStore


def message(n: int) -> Message:
    return Message(
        message_id=str(n),
        system_id="acme",
        source=Address(1, 1, "1"),
        destination=Address(1, 1, "2"),
        payload=b"x",
        submit_time=0.0,
    )


def test_pending_until_final_then_retained_and_bounded() -> None:
    store = MemoryStore(retention=100.0, max_finished=3)
    for n in range(5):
        store.add(message(n))
    assert store.statistics().pending == 5
    for n in range(5):
        m = store.get(str(n))
        assert m is not None
        m.record(Code.DELIVERED_TO_HANDSET, float(n))
        store.update(m, float(n))
    stats = store.statistics()
    assert (stats.pending, stats.finished) == (0, 3)
    assert store.get("0") is None and store.get("1") is None
    assert store.get("4") is not None


def test_retention_by_age() -> None:
    store = MemoryStore(retention=10.0, max_finished=100)
    for n in range(3):
        m = message(n)
        store.add(m)
        m.record(Code.EXPIRED, 0.0)
        store.update(m, float(n * 10))
    # The third finish at t=20 purges what finished before t=10.
    assert store.get("0") is None
    assert store.get("1") is not None and store.get("2") is not None


def test_non_final_update_keeps_it_pending() -> None:
    store = MemoryStore(retention=10.0, max_finished=100)
    m = message(1)
    store.add(m)
    m.record(Code.SENDING, 1.0)
    store.update(m, 1.0)
    assert [x.message_id for x in store.pending()] == ["1"]
