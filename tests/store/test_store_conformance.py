"""The Store protocol's semantics, the same for MemoryStore and SqliteStore.

SqliteStore runs three ways: ``:memory:``, a file, and a file with a group commit after every
step, so the semantics cannot depend on whether a change has reached the disk yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smscd.status import Code
from smscd.store.base import Store, StoreStatistics
from smscd.store.memory import MemoryStore
from smscd.store.sqlite import SqliteStore

from .conftest import MakeMessage


class Harness:
    """Opens stores of one kind and settles them (a group commit, where the kind wants it)."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        self.directory = directory
        self.stores: list[Store] = []

    def new(self, retention: float, max_finished: int) -> Store:
        store: Store
        if self.kind == "memory":
            store = MemoryStore(retention, max_finished)
        else:
            path = ":memory:" if self.kind == "sqlite-memory" else self.directory / "s.sqlite"
            writer = "process" if self.kind == "sqlite-process" else "thread"
            store = SqliteStore(path, retention=retention, max_finished=max_finished, writer=writer)
        self.stores.append(store)
        return store

    def settle(self, store: Store) -> None:
        if self.kind in ("sqlite-flushed", "sqlite-process"):
            assert isinstance(store, SqliteStore)
            store.write_batch(store.take_batch())


@pytest.fixture(
    params=["memory", "sqlite-memory", "sqlite-file", "sqlite-flushed", "sqlite-process"]
)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(request.param, tmp_path)
    yield harness
    for store in harness.stores:
        store.close()


def stats(store: Store) -> tuple[int, int, int]:
    s = store.statistics()
    assert isinstance(s, StoreStatistics)
    return (s.messages, s.pending, s.finished)


def test_add_get_and_unknown(harness: Harness, make_message: MakeMessage) -> None:
    store = harness.new(100.0, 10)
    m = make_message(1)
    store.add(m)
    harness.settle(store)
    assert store.get(m.message_id) is m
    assert store.get("404") is None
    assert [x.message_id for x in store.pending()] == [m.message_id]
    assert stats(store) == (1, 1, 0)


def test_non_final_update_keeps_it_pending(harness: Harness, make_message: MakeMessage) -> None:
    store = harness.new(10.0, 100)
    m = make_message(1)
    store.add(m)
    m.record(Code.SENDING, 1.0)
    store.update(m, 1.0)
    harness.settle(store)
    assert [x.message_id for x in store.pending()] == [m.message_id]
    got = store.get(m.message_id)
    assert got is not None and got.status == Code.SENDING
    assert stats(store) == (1, 1, 0)


def test_final_update_leaves_pending_and_counts_once(
    harness: Harness, make_message: MakeMessage
) -> None:
    store = harness.new(100.0, 10)
    a, b = make_message(1), make_message(2)
    store.add(a)
    store.add(b)
    a.record(Code.DELIVERED_TO_HANDSET, 5.0)
    store.update(a, 5.0)
    harness.settle(store)
    store.update(a, 6.0)  # a second update of a finished message changes nothing
    harness.settle(store)
    assert [x.message_id for x in store.pending()] == [b.message_id]
    assert stats(store) == (2, 1, 1)
    got = store.get(a.message_id)
    assert got is not None and got.is_final and got.done_time == 5.0


def test_pending_is_a_snapshot(harness: Harness, make_message: MakeMessage) -> None:
    store = harness.new(100.0, 10)
    for n in range(3):
        store.add(make_message(n))
    harness.settle(store)
    # The router finishes messages while it iterates (cancel_sm without an id).
    for m in store.pending():
        m.record(Code.CANCELED, 1.0)
        store.update(m, 1.0)
    harness.settle(store)
    assert list(store.pending()) == []
    assert stats(store) == (3, 0, 3)


@pytest.mark.parametrize(
    ("retention", "max_finished", "step", "retained"),
    [
        (100.0, 3, 1.0, 3),  # by count: at most 3
        (10.0, 100, 10.0, 2),  # by age: the finish at t=20 drops what finished before t=10
    ],
)
def test_retention_bounds_the_finished_figures(
    harness: Harness,
    make_message: MakeMessage,
    retention: float,
    max_finished: int,
    step: float,
    retained: int,
) -> None:
    store = harness.new(retention, max_finished)
    count = 5 if max_finished < 5 else 3
    for n in range(count):
        m = make_message(n)
        store.add(m)
        m.record(Code.EXPIRED, 0.0)
        store.update(m, n * step)
        harness.settle(store)
    assert stats(store) == (retained, 0, retained)
    assert store.get(make_message(count - 1).message_id) is not None


def test_close_is_idempotent(harness: Harness, make_message: MakeMessage) -> None:
    store = harness.new(10.0, 100)
    store.add(make_message(1))
    store.close()
    store.close()
