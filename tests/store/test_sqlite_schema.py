"""Schema versions: every older file is upgraded at open, a newer one is refused by name."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from smscd.status import Code
from smscd.store.rows import message_row
from smscd.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate, user_version
from smscd.store.sqlite import StoreError, StoreVersionError

from .conftest import MakeMessage, OpenStore


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        return connection.execute(statement).fetchall()


def schema(path: Path) -> list[tuple[object, ...]]:
    return sql(
        path, "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    )


def version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return user_version(connection)


def old_file(path: Path, target: int) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        migrate(connection, str(path), target=target)


def test_there_are_several_steps() -> None:
    # The upgrade path is exercised from the start: files at every older version are tested.
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 2


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_an_older_file_is_upgraded(
    start: int, store_path: Path, tmp_path: Path, open_store: OpenStore
) -> None:
    old_file(store_path, start)
    assert version(store_path) == start
    open_store().close()
    fresh = tmp_path / "fresh.sqlite"
    open_store(path=fresh).close()
    assert version(store_path) == SCHEMA_VERSION
    assert schema(store_path) == schema(fresh)


def test_messages_written_at_version_1_survive_the_upgrade(
    store_path: Path, open_store: OpenStore, make_message: MakeMessage
) -> None:
    old_file(store_path, 1)
    message = make_message(1)
    row = message_row(message)
    with closing(sqlite3.connect(store_path)) as connection, connection:
        connection.execute(f"INSERT INTO messages VALUES ({', '.join('?' * len(row))})", row)
    store = open_store()
    assert list(store.pending()) == [message]
    store.set_state("after", "upgrade")  # the tables of step 2 exist
    store.close()


def test_receipts_owed_before_version_4_stay_in_the_outbox(
    store_path: Path, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """Before step 4 an owed final receipt was an outbox row: after the upgrade it is not
    owed a second time by its message, while a message still pending then owes its receipt
    the new way once final."""
    old_file(store_path, 3)
    done = make_message(1, registered_delivery=1)
    done.record(Code.DELIVERED_TO_HANDSET, done.submit_time + 1)
    pending = make_message(2, registered_delivery=1)
    with closing(sqlite3.connect(store_path)) as connection, connection:
        for message in (done, pending):
            row = message_row(message)
            connection.execute(f"INSERT INTO messages VALUES ({', '.join('?' * len(row))})", row)
        connection.execute(
            "INSERT INTO outbox VALUES (1, ?, 'acme', x'00', ?, 1)",
            (f"{done.message_id}:final", done.message_id),
        )
    store = open_store()
    assert store.owed_receipts() == []
    assert [r.key for r in store.load_outbox()] == [f"{done.message_id}:final"]
    [resumed] = list(store.pending())
    resumed.record(Code.EXPIRED, resumed.submit_time + 2)
    store.update_status(resumed, resumed.submit_time + 2)
    store.write_batch(store.take_batch())
    assert [m.message_id for m in store.owed_receipts()] == [pending.message_id]
    store.close()


def test_an_empty_file_is_version_0(store_path: Path, open_store: OpenStore) -> None:
    store_path.touch()
    open_store().close()
    assert version(store_path) == SCHEMA_VERSION


def test_a_newer_file_is_refused_untouched(store_path: Path, open_store: OpenStore) -> None:
    sql(store_path, f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    with pytest.raises(StoreVersionError) as caught:
        open_store()
    error = caught.value
    assert (error.found, error.supported) == (SCHEMA_VERSION + 3, SCHEMA_VERSION)
    assert str(store_path) in str(error)
    assert f"{SCHEMA_VERSION + 3}" in str(error) and f"({SCHEMA_VERSION})" in str(error)
    assert sql(store_path, "PRAGMA journal_mode") == [("delete",)]


def test_another_applications_database_is_refused(store_path: Path, open_store: OpenStore) -> None:
    sql(store_path, "CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(StoreError, match="not a store"):
        open_store()
    assert schema(store_path) == [("accounts", "CREATE TABLE accounts (id INTEGER)")]


def test_a_file_that_is_not_sqlite_is_refused(store_path: Path, open_store: OpenStore) -> None:
    store_path.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(StoreError, match=str(store_path)):
        open_store()
