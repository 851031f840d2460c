"""The SQLite store's file: its tables, their version, the migrations, and opening it.

The version lives in ``PRAGMA user_version`` (0 in a new or empty file). ``MIGRATIONS[n]``
takes a file from version ``n`` to ``n + 1``; opening a store applies every missing step in
one transaction, so a file is either fully upgraded or untouched. A step, once released, is
never edited: a change is a new step at the end.

Messages are a ``WITHOUT ROWID`` table keyed by the message id: the router writes and reads
them by id only, so one b-tree serves both. ``num`` is the id as an integer (NULL when it is not
decimal) for the id high-water mark. The history is a packed blob (see ``smscd.store.rows``).
Partial indexes keep recovery and purge off the bulk of finished rows: one over the
messages still in flight, one over the finished ones by ``done_time``, one over the parts of
concatenated messages still waiting for the rest of their set.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

from smscd.status import Code
from smscd.store.errors import StoreError, StoreVersionError, rollback, store_errors

__all__ = [
    "MIGRATIONS",
    "RECEIPT_OWED",
    "SCHEMA_VERSION",
    "migrate",
    "open_reader",
    "open_writer",
    "user_version",
]

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: messages.
    (
        """
        CREATE TABLE messages (
            id TEXT NOT NULL PRIMARY KEY,
            num INTEGER,
            system_id TEXT NOT NULL,
            source_ton INTEGER NOT NULL,
            source_npi INTEGER NOT NULL,
            source_addr TEXT NOT NULL,
            dest_ton INTEGER NOT NULL,
            dest_npi INTEGER NOT NULL,
            dest_addr TEXT NOT NULL,
            payload BLOB NOT NULL,
            submit_time REAL NOT NULL,
            data_coding INTEGER NOT NULL,
            esm_class INTEGER NOT NULL,
            registered_delivery INTEGER NOT NULL,
            protocol_id INTEGER NOT NULL,
            priority_flag INTEGER NOT NULL,
            text TEXT,
            parts INTEGER NOT NULL,
            validity_deadline REAL,
            scheduled_time REAL,
            status INTEGER NOT NULL,
            history BLOB NOT NULL,
            done_time REAL,
            concat_reference INTEGER,
            concat_total INTEGER,
            concat_sequence INTEGER,
            concat_text TEXT,
            carrier TEXT
        ) WITHOUT ROWID
        """,
        "CREATE INDEX messages_num ON messages (num)",
        "CREATE INDEX messages_pending ON messages (num) WHERE done_time IS NULL",
        "CREATE INDEX messages_done ON messages (done_time) WHERE done_time IS NOT NULL",
    ),
    # 2: what a restart needs besides messages: deliver_sm waiting for an ESME (in the order
    # they were queued: seq) and small named values (simulation clock, id high-water mark).
    (
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            system_id TEXT NOT NULL,
            pdu BLOB NOT NULL,
            message_id TEXT,
            final INTEGER NOT NULL
        )
        """,
        "CREATE TABLE state (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    ),
    # 3: the parts of concatenated messages whose set is not complete yet (no concat_text),
    # by submit time: a restart rebuilds the router's reassembly buffer from them.
    (
        "CREATE INDEX messages_concat_open ON messages (submit_time)"
        " WHERE concat_reference IS NOT NULL AND concat_text IS NULL",
    ),
    # 4: a final receipt is owed by its message row, not an outbox row: a final message whose
    # registered_delivery asks for a receipt for its status owes one until receipt_acked is
    # set by the ESME's deliver_sm_resp (smscd.store.sqlite: "Receipts"). Rows written before
    # this step keep their owed receipts in the outbox, so they count as acknowledged (1);
    # messages still pending will owe theirs the new way (0), as every new row does.
    (
        "ALTER TABLE messages ADD COLUMN receipt_acked INTEGER NOT NULL DEFAULT 1",
        "UPDATE messages SET receipt_acked = 0 WHERE done_time IS NULL",
    ),
)

#: An SQL condition on a ``messages`` row: the message still owes its ESME a final receipt
#: (it is final, its registered_delivery asks for a receipt for its status, and the ESME has
#: not acknowledged it). SMPP 3.4 §5.2.17's bits 1..0, as the router reads them
#: (``smscd.router.wants_final_receipt``; a test holds the two to the same answers): 1 always,
#: 2 on failure, SMPP 5.0's 3 on success only.
RECEIPT_OWED: Final = (
    "(done_time IS NOT NULL AND receipt_acked = 0 AND CASE registered_delivery & 3"
    f" WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN status != {int(Code.DELIVERED_TO_HANDSET)}"
    f" ELSE status = {int(Code.DELIVERED_TO_HANDSET)} END)"
)

#: The version a store has once every migration is applied.
SCHEMA_VERSION: Final = len(MIGRATIONS)


def user_version(connection: sqlite3.Connection) -> int:
    """The schema version recorded in the file."""
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(connection: sqlite3.Connection, path: str, target: int = SCHEMA_VERSION) -> int:
    """Brings the file up to schema version ``target``.

    Args:
        connection: an open connection in autocommit mode (``isolation_level=None``).
        path: the file's name, for error messages.
        target: the version to reach; tests pass a lower one to build old files.

    Returns:
        The version the file had before.

    Raises:
        StoreVersionError: the file is newer than ``target``.
        StoreError: the file is not an smscd store, or a step failed (nothing was changed).
    """
    found = user_version(connection)
    if found > target:
        raise StoreVersionError(path, found, target)
    if found == target:
        return found
    with store_errors(
        f"{path}: cannot upgrade the schema to {target}", lambda: rollback(connection)
    ):
        connection.execute("BEGIN IMMEDIATE")
        # Another process may have upgraded the file between the read above and the lock.
        found = user_version(connection)
        if found > target:
            raise StoreVersionError(path, found, target)
        if found == 0 and connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StoreError(f"{path}: has tables but no smscd schema version; not a store")
        for step in MIGRATIONS[found:target]:
            for statement in step:
                connection.execute(statement)
        # PRAGMA takes no parameters; target is an int, so formatting it in is safe.
        connection.execute(f"PRAGMA user_version = {int(target)}")
        connection.execute("COMMIT")
    return found


def open_writer(
    path: str, *, synchronous: str, busy_timeout: float, autocheckpoint: bool = True
) -> sqlite3.Connection:
    """Opens the store's one writing connection: WAL, ``synchronous``, schema up to date.

    The connection is in autocommit mode (the store issues BEGIN and COMMIT itself, one per
    batch) and may be used from any thread, one at a time.

    Args:
        path: the file (created if missing) or ``":memory:"``.
        synchronous: ``"FULL"`` or ``"NORMAL"``.
        busy_timeout: seconds to wait for a lock held by another connection.
        autocheckpoint: let SQLite checkpoint the WAL inside the COMMIT that crosses 1,000
            pages; False when the caller checkpoints itself (the writer process).

    Raises:
        StoreVersionError: the file is newer than this code; it is left untouched.
        StoreError: it cannot be opened, is not a store, or cannot use WAL or be upgraded.
    """

    def prepare(connection: sqlite3.Connection) -> None:
        # Check the version before switching to WAL, so that a newer file is left as it is.
        found = user_version(connection)
        if found > SCHEMA_VERSION:
            raise StoreVersionError(path, found, SCHEMA_VERSION)
        if path != ":memory:":
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{path}: cannot use WAL journal mode (got {mode})")
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        if not autocheckpoint:
            connection.execute("PRAGMA wal_autocheckpoint = 0")
        migrate(connection, path)

    return _connect(path, busy_timeout, prepare)


def open_reader(path: str, *, busy_timeout: float) -> sqlite3.Connection:
    """Opens a connection that may only read, usable from any thread, one at a time.

    Raises:
        StoreError: it cannot be opened.
    """
    return _connect(path, busy_timeout, lambda c: c.execute("PRAGMA query_only = ON"))


def _connect(
    path: str, busy_timeout: float, prepare: Callable[[sqlite3.Connection], object]
) -> sqlite3.Connection:
    with store_errors(f"{path}: cannot open"):
        connection = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    with store_errors(f"{path}: cannot open", connection.close):
        prepare(connection)
    return connection
