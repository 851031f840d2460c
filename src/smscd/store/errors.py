"""The one exception a durable store raises, so callers can answer ESME_RSYSERR.

SQLite reports a full disk, a locked file and an I/O error as different ``sqlite3`` exceptions
(and a value it cannot bind as a Python one); the router needs a single type to catch, and the
path in the message, since an operator may run several stores.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator

__all__ = ["StoreError", "StoreVersionError", "rollback", "store_errors"]


class StoreError(Exception):
    """A store could not be opened, read or written."""


class StoreVersionError(StoreError):
    """The file was written by a newer smscd: its schema version is beyond this code's.

    Attributes:
        path: the store file.
        found: the file's schema version (``PRAGMA user_version``).
        supported: the newest version this code can read.
    """

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"{path}: store schema version {found} is newer than this smscd supports"
            f" ({supported}); upgrade smscd or point store.path at another file"
        )
        self.path = path
        self.found = found
        self.supported = supported


def _nothing() -> None:
    pass


@contextlib.contextmanager
def store_errors(what: str, undo: Callable[[], object] = _nothing) -> Iterator[None]:
    """Turns a failure of SQLite, or of binding a value to it, into ``StoreError``.

    Args:
        what: the message's start, e.g. ``"PATH: cannot write"``; the cause follows.
        undo: run first on any failure, including a ``StoreError`` or a cancellation raised
            inside (a rollback, closing a half-opened connection).
    """
    try:
        yield
    except (sqlite3.Error, ValueError, OverflowError) as exc:
        undo()
        raise StoreError(f"{what}: {exc}") from exc
    except BaseException:
        undo()
        raise


def rollback(connection: sqlite3.Connection) -> None:
    """Ends the connection's transaction, if any, without raising."""
    # After an I/O error the rollback may fail too; the connection then has no transaction
    # open anyway, and the caller's exception is the one worth reporting.
    with contextlib.suppress(sqlite3.Error):
        connection.rollback()
