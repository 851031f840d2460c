"""The group-commit task: its memory of failed batches stays bounded; the batches written
before it runs (at start-up); the room it gives a carrier's reports (wait_for_room); a
dispatch that finds the writer process's answer itself."""

from __future__ import annotations

import select
from pathlib import Path

import pytest
import trio

import smscd.durability as durability
from smscd.durability import Committer
from smscd.outbox import Outboxes
from smscd.store.errors import StoreError
from smscd.store.sqlite import Batch, SqliteStore
from smscd.store.writer import ProcessWriter


def committer_for(store: SqliteStore) -> Committer:
    return Committer(
        store,
        Outboxes(retry_delay=1.0),
        batch_size=10,
        batch_delay=0.0,
        save_state=lambda: None,
        abandon=lambda ids: None,
    )


async def test_failed_batches_are_remembered_only_while_they_matter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(durability, "_FAILED_BATCHES_KEPT", 3)
    store = SqliteStore(":memory:", retention=60.0, max_finished=10)

    def full_disk(batch: Batch) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(store, "write_batch", full_disk)
    committer = committer_for(store)
    for _ in range(7):
        assert not await committer.commit_once()
    assert not committer.healthy
    assert committer.failed_batches == {5, 6, 7}
    store.close()


def test_write_before_start_writes_from_a_threshold_and_keeps_a_failed_batch() -> None:
    store = SqliteStore(":memory:", retention=60.0, max_finished=10)
    committer = committer_for(store)
    store.set_state("a", "1")
    committer.write_before_start(2)  # one change: below the threshold, left for run()
    assert (store.changes, committer.taken) == (1, 0)
    store.set_state("b", "2")
    committer.write_before_start(2)
    assert (store.changes, committer.taken, committer.committed) == (0, 1, 1)
    assert store.get_state("b") == "2"

    def full_disk(batch: Batch) -> None:
        raise StoreError("disk full")

    store.write_batch = full_disk  # type: ignore[method-assign]
    store.set_state("c", "3")
    store.set_state("d", "4")
    committer.write_before_start(2)
    # Put back for run(), which retries it; submits are refused until a commit succeeds.
    assert (store.changes, committer.committed, committer.healthy) == (2, 1, False)
    assert committer.failed_batches == {2}
    committer.write_before_start(2)  # not again while failing: run() owns the retries
    assert committer.taken == 2
    del store.write_batch
    store.close()


async def test_wait_for_room_returns_once_a_batch_took_the_changes() -> None:
    store = SqliteStore(":memory:", retention=60.0, max_finished=10)
    committer = committer_for(store)
    for n in range(30):
        store.set_state(f"key{n}", str(n))
    async with trio.open_nursery() as nursery:
        await nursery.start(committer.run)
        with trio.fail_after(5):
            await committer.wait_for_room(10)
        assert store.changes <= 10  # taken by a batch (written or on its way)
        await committer.wait_for_room(10)  # room already: at once
        nursery.cancel_scope.cancel()
    store.close()


async def test_wait_for_room_does_not_wait_while_commits_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = SqliteStore(":memory:", retention=60.0, max_finished=10)

    def full_disk(batch: Batch) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(store, "write_batch", full_disk)
    committer = committer_for(store)
    assert not await committer.commit_once()
    for n in range(30):
        store.set_state(f"key{n}", str(n))
    with trio.fail_after(1):
        await committer.wait_for_room(10)  # the retries own the writer: no waiting on them
    assert store.changes > 10
    monkeypatch.undo()
    store.close()


async def test_a_dispatch_that_finds_the_batch_committed_starts_the_next_at_once(
    tmp_path: Path,
) -> None:
    """A connection calls dispatch after each chunk it handled; when the writer process has
    answered meanwhile, the next batch starts right there, not after the writing task has
    had its turn (this test never lets it have one in between)."""
    store = SqliteStore(tmp_path / "smscd.db", retention=60.0, max_finished=10, writer="process")
    committer = committer_for(store)
    writer = store._write
    assert isinstance(writer, ProcessWriter) and writer._child is not None
    answers = writer._child.stdout
    assert answers is not None
    async with trio.open_nursery() as nursery:
        await nursery.start(committer.run)
        store.set_state("a", "1")
        committer.dispatch()
        assert committer.taken == 1
        # No checkpoint from here on: the writing task cannot run.
        ready, _, _ = select.select([answers], [], [], 10)
        assert ready, "the writer process did not answer"
        store.set_state("b", "2")
        committer.dispatch()
        assert committer.taken == 2  # the writer was found free
        with trio.fail_after(5):
            while committer.committed < 2:
                await trio.sleep(0.001)
        assert not committer.failed_batches
        nursery.cancel_scope.cancel()
    store.close()
    assert SqliteStore(tmp_path / "smscd.db", retention=60.0, max_finished=10).get_state("b") == "2"
