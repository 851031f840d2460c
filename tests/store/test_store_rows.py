"""Every Message field survives the row, the disk and a restart, whatever its value."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from smscd.message import Address, ConcatPart, Message, StatusEvent
from smscd.status import STATUS_CODES, is_final
from smscd.store.rows import (
    MESSAGE_COLUMN_LIST,
    MESSAGE_COLUMNS,
    NULL,
    message_fields,
    message_from_row,
    message_record,
    message_row,
    outbox_row,
    pack_history,
    row_from_fields,
    status_fields,
    status_row,
    status_row_from_fields,
    unpack_history,
)
from smscd.store.schema import open_writer
from smscd.store.sqlite import SqliteStore
from smscd.store.writer import decode_request, encode_request

from .conftest import MakeMessage

NOT_FINAL = sorted(code for code in STATUS_CODES if not is_final(code))
ALL_CODES = sorted(STATUS_CODES)

octets = st.integers(0, 255)
times = st.floats(allow_nan=False)
# Lone surrogates come from UCS-2 texts decoded with "surrogatepass"; NUL from binary-ish text.
odd_text = st.lists(st.sampled_from(["a", "é", "€", "😀", "\ud800", "\udfff", "\x00", "\n"])).map(
    "".join
)
texts = st.one_of(st.none(), st.text(max_size=40), odd_text)
addresses = st.builds(Address, octets, octets, st.text(max_size=21))
message_ids = st.one_of(
    st.integers(0, 10**25).map(str),  # past 18 digits, num is NULL
    st.text(min_size=1, max_size=65),
)


@st.composite
def histories(draw: st.DrawFn) -> list[StatusEvent]:
    events = draw(st.lists(st.builds(StatusEvent, st.sampled_from(NOT_FINAL), times), max_size=5))
    last = st.sampled_from(ALL_CODES)
    return [*events, StatusEvent(draw(last), draw(times))]


@st.composite
def messages(draw: st.DrawFn, message_id: st.SearchStrategy[str] = message_ids) -> Message:
    history = draw(histories())
    last = history[-1]
    return Message(
        message_id=draw(message_id),
        system_id=draw(st.text(max_size=16)),
        source=draw(addresses),
        destination=draw(addresses),
        payload=draw(st.binary(max_size=300)),
        submit_time=draw(times),
        data_coding=draw(octets),
        esm_class=draw(octets),
        registered_delivery=draw(octets),
        protocol_id=draw(octets),
        priority_flag=draw(octets),
        text=draw(texts),
        parts=draw(st.integers(1, 255)),
        validity_deadline=draw(st.none() | times),
        scheduled_time=draw(st.none() | times),
        status=last.code,
        history=history,
        done_time=last.at if is_final(last.code) else None,
        concat=draw(
            st.none() | st.builds(ConcatPart, st.integers(0, 65535), st.integers(1, 255), octets)
        ),
        concat_text=draw(texts),
        carrier=draw(st.none() | st.text(max_size=20)),
    )


def test_the_row_has_a_column_for_every_field() -> None:
    # A field added to Message must get a column (and a migration), or it is lost on restart.
    stored = {
        "message_id": "id",
        "source": "source_addr",
        "destination": "dest_addr",
        "concat": "concat_reference",
    }
    for field in attrs.fields(Message):
        assert stored.get(field.name, field.name) in MESSAGE_COLUMNS, field.name


# One table for the whole run: each example writes and reads its own row.
_TABLE = open_writer(":memory:", synchronous="OFF", busy_timeout=0.0)
_INSERT = (
    f"INSERT OR REPLACE INTO messages ({MESSAGE_COLUMN_LIST})"
    f" VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})"
)


@given(messages())
def test_row_round_trip_through_sqlite(message: Message) -> None:
    row = message_row(message)
    # What sqlite3 binds without its adapter lookup (see the module text): no None, no bytes.
    assert {type(value) for value in row} <= {str, int, float, bytearray}
    _TABLE.execute(_INSERT, row)
    stored = _TABLE.execute(
        f"SELECT {MESSAGE_COLUMN_LIST} FROM messages WHERE id = ?", (message.message_id,)
    ).fetchone()
    assert message_from_row(stored) == message


@given(messages())
def test_the_writer_process_builds_the_same_rows_from_encoded_fields(message: Message) -> None:
    # What a writer process gets: the fields, through its request encoding (marshal, or
    # pickle for a concatenated part: see smscd.store.writer.encode_request).
    def through_pipe(value: object) -> Any:
        framed = encode_request(("write", value))
        return decode_request(framed[4:])[1]

    assert row_from_fields(through_pipe(message_fields(message))) == message_row(message)
    status = status_row_from_fields(through_pipe(status_fields(message)))
    assert status == status_row(message)
    assert {type(value) for value in status} <= {str, int, float, bytearray}


def test_an_outbox_row_binds_without_adapters() -> None:
    assert outbox_row((3, "k", "acme", b"pdu", None, True)) == (
        3,
        "k",
        "acme",
        bytearray(b"pdu"),
        NULL,
        1,
    )
    row = outbox_row((4, "k", "acme", b"", "42", False))
    assert row[4:] == ("42", 0)
    assert {type(value) for value in row} <= {str, int, float, bytearray}


def test_a_row_binds_nan_as_null(make_message: MakeMessage) -> None:
    message = make_message(1)
    row = message_row(message)
    assert row[MESSAGE_COLUMNS.index("done_time")] is NULL
    _TABLE.execute(_INSERT, row)
    (kind,) = _TABLE.execute(
        "SELECT typeof(done_time) FROM messages WHERE id = ?", (message.message_id,)
    ).fetchone()
    assert kind == "null"


@given(st.lists(st.builds(StatusEvent, st.sampled_from(ALL_CODES), times), max_size=8))
def test_history_round_trip(history: list[StatusEvent]) -> None:
    assert unpack_history(pack_history(history)) == history


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        messages(message_id=st.integers(0, 10**20).map(str)),
        max_size=8,
        unique_by=lambda m: m.message_id,
    )
)
def test_disk_round_trip_through_a_restart(batch: list[Message]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "s.sqlite"
        store = SqliteStore(path, retention=1e300, max_finished=10)
        for message in batch:
            store.add(message)
        store.write_batch(store.take_batch())
        store.close()

        store = SqliteStore(path, retention=1e300, max_finished=10)
        try:
            pending = {m.message_id: m for m in store.pending()}
            for message in batch:
                if message.done_time is None:
                    assert pending.pop(message.message_id) == message
                else:  # finished messages are read from disk, not loaded at open
                    assert store.get(message.message_id) == message
            assert pending == {}
        finally:
            store.close()


def test_record_is_json_with_every_field(make_message: MakeMessage) -> None:
    message = make_message(
        7,
        source=Address(5, 0, "Shop"),
        payload=b"\x00\xff",
        submit_time=1.5,
        concat=ConcatPart(9, 2, 1),
    )
    record = json.loads(json.dumps(message_record(message)))
    assert set(record) == {field.name for field in attrs.fields(Message)}
    assert record["payload"] == "00ff"
    assert record["source"] == {"ton": 5, "npi": 0, "addr": "Shop"}
    assert record["history"] == [{"code": 101, "at": 1.5}]
    assert record["concat"] == {"reference": 9, "total": 2, "sequence": 1}
