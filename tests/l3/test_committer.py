"""The group-commit task's memory of failed batches stays bounded."""

from __future__ import annotations

import pytest

import smscd.durability as durability
from smscd.durability import Committer
from smscd.outbox import Outboxes
from smscd.store.errors import StoreError
from smscd.store.sqlite import Batch, SqliteStore


async def test_failed_batches_are_remembered_only_while_they_matter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(durability, "_FAILED_BATCHES_KEPT", 3)
    store = SqliteStore(":memory:", retention=60.0, max_finished=10)

    def full_disk(batch: Batch) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(store, "write_batch", full_disk)
    committer = Committer(
        store,
        Outboxes(retry_delay=1.0),
        batch_size=10,
        batch_delay=0.0,
        save_state=lambda: None,
        abandon=lambda ids: None,
    )
    for _ in range(7):
        assert not await committer.commit_once()
    assert not committer.healthy
    assert committer.failed_batches == {5, 6, 7}
    store.close()
