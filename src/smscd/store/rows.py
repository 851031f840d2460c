"""A ``Message`` as a row of the ``messages`` table, and as a JSON object for export.

The row is a plain tuple of ``str``, ``int``, ``float`` and ``bytearray`` that shares nothing
with the message (each ``bytearray`` is a fresh copy): built on the event-loop thread, where
the message may change next, it is bound to SQL later by a writer thread; a writer process
builds it from the message's fields (see "Where the row is built" below).

A row has no ``None`` and no ``bytes``: Python's sqlite3 binds ``str``, ``int``, ``float``
and ``bytearray`` as they are, but sends every other value through its adapter lookup (a
tuple, a dict lookup and two attribute lookups), which took a fifth of the writer's time. So
SQL NULL is bound as ``NULL`` below (a float NaN, which SQLite stores as NULL) and a BLOB as a
``bytearray``; rows read back hold ``None`` and ``bytes`` as usual. Measured with
``scripts/bench_store.py``: ``write_batch`` 25.6 to 17.1 microseconds a message.

The history is packed as one ``<Hd`` record per event (operator code, simulation time): 10
bytes an event, and about three times faster to build than compact JSON, which matters because
every status change rewrites the row.

Where the row is built. ``message_fields`` reads what the row needs from a message in one C
call (``operator.attrgetter``); ``row_from_fields`` turns that into the row (the id's number,
NULL for None, copies, the packed history). ``message_row`` does both, for a writer thread,
which writes after the event loop has moved on and so needs a snapshot. A writer process gets
the fields instead, encoded at once (``writer.encode_request``: the encoding is the snapshot),
and builds the rows itself: that is a microsecond a message off the event loop, which is the
daemon's bottleneck, onto the writer's core. Fields hold the message's live history list:
encode or convert them before the message changes again. ``status_fields`` and
``status_row_from_fields`` do the same for a status change, ``outbox_row`` for an outbox entry
(whose values are all immutable).
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeAlias

import attrs

from smscd.message import Address, ConcatPart, Message, StatusEvent, StatusHistory
from smscd.smpp.frozen import positional_factory

__all__ = [
    "MESSAGE_COLUMNS",
    "MESSAGE_COLUMN_LIST",
    "NULL",
    "MessageFields",
    "MessageRow",
    "OutboxEntry",
    "OutboxRow",
    "StatusFields",
    "StatusRow",
    "message_fields",
    "message_from_row",
    "message_number",
    "message_record",
    "message_row",
    "outbox_row",
    "pack_history",
    "row_from_fields",
    "status_fields",
    "status_row",
    "status_row_from_fields",
    "unpack_history",
]

#: The ``messages`` columns in row order.
MESSAGE_COLUMNS: Final = (
    "id",
    "num",
    "system_id",
    "source_ton",
    "source_npi",
    "source_addr",
    "dest_ton",
    "dest_npi",
    "dest_addr",
    "payload",
    "submit_time",
    "data_coding",
    "esm_class",
    "registered_delivery",
    "protocol_id",
    "priority_flag",
    "text",
    "parts",
    "validity_deadline",
    "scheduled_time",
    "status",
    "history",
    "done_time",
    "concat_reference",
    "concat_total",
    "concat_sequence",
    "concat_text",
    "carrier",
)

#: The same, as an SQL column list.
MESSAGE_COLUMN_LIST: Final = ", ".join(MESSAGE_COLUMNS)

MessageRow: TypeAlias = tuple[object, ...]
# status, history, done_time, id: what a status change rewrites (see status_row).
StatusRow: TypeAlias = tuple[int, bytearray, float, str]
#: What ``message_fields`` reads: the message's values as they are (see the module text).
MessageFields: TypeAlias = tuple[Any, ...]
#: status, the history's flat list, done_time (or None), id: what ``status_fields`` reads.
StatusFields: TypeAlias = tuple[int, list[float], "float | None", str]
#: An outbox entry as queued: seq, key, system_id, pdu, message_id (or None), final.
OutboxEntry: TypeAlias = tuple[int, str, str, bytes, "str | None", bool]
#: The same as ``outbox_row`` binds it: no None, no bytes, no bool.
OutboxRow: TypeAlias = tuple[int, str, str, bytearray, "str | float", int]

#: What a row binds for SQL NULL: SQLite stores a NaN as NULL (see the module text).
NULL: Final = math.nan

_EVENT: Final = struct.Struct("<Hd")
_pack_event: Final = _EVENT.pack
# The largest id that fits SQLite's signed 64-bit INTEGER with every digit count: 18 digits.
_MAX_NUM_DIGITS: Final = 18

_new_address: Callable[[int, int, str], Address] = positional_factory(Address)


def _events_struct(count: int) -> struct.Struct:
    packer = _HISTORY_STRUCTS.get(count)
    if packer is None:
        packer = _HISTORY_STRUCTS[count] = struct.Struct("<" + "Hd" * count)
    return packer


_HISTORY_STRUCTS: dict[int, struct.Struct] = {}


def pack_history(history: Sequence[StatusEvent]) -> bytes:
    """The history as ``<Hd`` records, oldest first."""
    if type(history) is StatusHistory:
        return _pack_flat(history.flat)
    return b"".join(_pack_event(event.code, event.at) for event in history)


def _pack_flat(flat: Sequence[float]) -> bytes:
    """``pack_history`` of a ``StatusHistory.flat`` list."""
    count = len(flat) >> 1
    # Once or twice per message written: _events_struct's lookup without the call.
    packer = _HISTORY_STRUCTS.get(count) or _events_struct(count)
    return packer.pack(*flat)


def unpack_history(blob: bytes) -> StatusHistory:
    """The inverse of ``pack_history``.

    Raises:
        struct.error: the blob is not a whole number of records.
    """
    count, rest = divmod(len(blob), _EVENT.size)
    if rest:
        raise struct.error(f"history of {len(blob)} octets is not whole <Hd records")
    return StatusHistory.from_flat(list(_events_struct(count).unpack(blob)))


def _text_in(text: str) -> str | bytearray:
    # UCS-2 text is decoded with "surrogatepass", so it may hold a lone surrogate, which
    # sqlite3 cannot bind as TEXT. Such a text is kept as its surrogatepass UTF-8 in a BLOB
    # (SQLite keeps a value's own type whatever the column's affinity); every other text stays
    # readable TEXT.
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return bytearray(text.encode("utf-8", "surrogatepass"))
    return text


def _text_out(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return value


# A message's fields that go into more than one column, or in another form.
_FIELD_PATHS: Final = {
    "source": ("source.ton", "source.npi", "source.addr"),
    "destination": ("destination.ton", "destination.npi", "destination.addr"),
    "history": ("history.flat",),
}

#: The values ``row_from_fields`` needs, read from a message in one C call: its fields in the
#: order ``Message`` declares them, the addresses by part, the history as its flat list.
message_fields: Final[Callable[[Message], MessageFields]] = operator.attrgetter(
    *(
        path
        for field in attrs.fields(Message)
        for path in _FIELD_PATHS.get(field.name, (field.name,))
    )
)


def message_number(message_id: str) -> int | None:
    """The id as the ``num`` column stores it: its value when it is decimal and fits SQLite's
    INTEGER with every digit count (18 digits), else None."""
    if message_id.isascii() and message_id.isdigit() and len(message_id) <= _MAX_NUM_DIGITS:
        return int(message_id)
    return None


def row_from_fields(fields: MessageFields) -> MessageRow:
    """The row, in ``MESSAGE_COLUMNS`` order, for a message's ``message_fields``, to bind
    (see the module text: no ``None``, no ``bytes``)."""
    message_id = fields[0]
    num = message_number(message_id)
    text, validity_deadline, scheduled_time = fields[15], fields[17], fields[18]
    done_time, concat, concat_text, carrier = fields[21:25]
    return (
        message_id,
        NULL if num is None else num,
        *fields[1:8],  # system_id, then source and destination: ton, npi, addr
        bytearray(fields[8]),  # payload
        *fields[9:15],  # submit_time, data_coding, esm_class, ... priority_flag
        # _text_in's common case inline (ASCII): once or twice per message written.
        NULL if text is None else text if text.isascii() else _text_in(text),
        fields[16],  # parts
        NULL if validity_deadline is None else validity_deadline,
        NULL if scheduled_time is None else scheduled_time,
        fields[19],  # status
        bytearray(_pack_flat(fields[20])),  # history
        NULL if done_time is None else done_time,
        NULL if concat is None else concat.reference,
        NULL if concat is None else concat.total,
        NULL if concat is None else concat.sequence,
        NULL if concat_text is None else _text_in(concat_text),
        NULL if carrier is None else carrier,
    )


def message_row(message: Message) -> MessageRow:
    """The row for ``message``: a snapshot, sharing nothing with it."""
    return row_from_fields(message_fields(message))


#: What a status change rewrites (``status_row_from_fields``), read in one C call.
status_fields: Final[Callable[[Message], StatusFields]] = operator.attrgetter(
    "status", "history.flat", "done_time", "message_id"
)


def status_row_from_fields(fields: StatusFields) -> StatusRow:
    """The ``status``, ``history`` and ``done_time`` columns and then the id (the key) for a
    message's ``status_fields``, bound as ``message_row``."""
    status, history, done_time, message_id = fields
    return (
        status,
        bytearray(_pack_flat(history)),
        NULL if done_time is None else done_time,
        message_id,
    )


def status_row(message: Message) -> StatusRow:
    """What a status change of a message already stored rewrites: a snapshot."""
    return status_row_from_fields(status_fields(message))


def outbox_row(entry: OutboxEntry) -> OutboxRow:
    """An outbox entry as the writer binds it (no None, no bytes, no bool)."""
    seq, key, system_id, pdu, message_id, final = entry
    return (
        seq,
        key,
        system_id,
        bytearray(pdu),
        NULL if message_id is None else message_id,
        int(final),
    )


def message_from_row(row: Sequence[Any]) -> Message:
    """The message a row (in ``MESSAGE_COLUMNS`` order) stores."""
    (
        message_id,
        _num,
        system_id,
        source_ton,
        source_npi,
        source_addr,
        dest_ton,
        dest_npi,
        dest_addr,
        payload,
        submit_time,
        data_coding,
        esm_class,
        registered_delivery,
        protocol_id,
        priority_flag,
        text,
        parts,
        validity_deadline,
        scheduled_time,
        status,
        history,
        done_time,
        concat_reference,
        concat_total,
        concat_sequence,
        concat_text,
        carrier,
    ) = row
    return Message(
        message_id=message_id,
        system_id=system_id,
        source=_new_address(source_ton, source_npi, source_addr),
        destination=_new_address(dest_ton, dest_npi, dest_addr),
        payload=payload,
        submit_time=submit_time,
        data_coding=data_coding,
        esm_class=esm_class,
        registered_delivery=registered_delivery,
        protocol_id=protocol_id,
        priority_flag=priority_flag,
        text=_text_out(text),
        parts=parts,
        validity_deadline=validity_deadline,
        scheduled_time=scheduled_time,
        status=status,
        history=unpack_history(history),
        done_time=done_time,
        concat=(
            None
            if concat_reference is None
            else ConcatPart(concat_reference, concat_total, concat_sequence)
        ),
        concat_text=_text_out(concat_text),
        carrier=carrier,
    )


def _json_value(_instance: object, _field: object, value: object) -> object:
    if isinstance(value, StatusHistory):
        return [{"code": event.code, "at": event.at} for event in value]
    return value.hex() if isinstance(value, bytes) else value


def message_record(message: Message) -> dict[str, Any]:
    """The message as a JSON-ready dict: every field by its attribute name, nested records as
    objects, ``payload`` as lowercase hex."""
    return attrs.asdict(message, value_serializer=_json_value)
