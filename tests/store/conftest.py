"""Shared fixtures for the store tests: a message maker and a SqliteStore opener."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smscd.message import Address, Message
from smscd.store.sqlite import SqliteStore

T0 = 1_700_000_000.0

MakeMessage = Callable[..., Message]
OpenStore = Callable[..., SqliteStore]


def _make_message(n: int, **overrides: Any) -> Message:
    values: dict[str, Any] = {
        "message_id": str(1_700_000_000_000_000 + n),
        "system_id": "acme",
        "source": Address(1, 1, "46700000001"),
        "destination": Address(1, 1, f"467{n:08d}"),
        "payload": b"hello",
        "text": "hello",
        "submit_time": T0 + n,
    }
    values.update(overrides)
    return Message(**values)


@pytest.fixture
def make_message() -> MakeMessage:
    """``make_message(n, **overrides)``: message number n, ids increasing with n."""
    return _make_message


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "smscd.sqlite"


@pytest.fixture
def open_store(store_path: Path) -> Iterator[OpenStore]:
    """``open_store(**overrides)``: a SqliteStore on ``store_path``; closed after the test."""
    opened: list[SqliteStore] = []

    def open_(**overrides: Any) -> SqliteStore:
        options: dict[str, Any] = {"retention": 3600.0, "max_finished": 1000}
        options.update(overrides)
        path = options.pop("path", store_path)
        store = SqliteStore(path, **options)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()
