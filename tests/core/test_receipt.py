"""Appendix B receipt text: exact format, tolerant parsing, round trips."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscd.message import Address, Message
from smscd.receipt import (
    STAT_WORDS,
    ReceiptError,
    ReceiptFields,
    build_receipt,
    format_receipt,
    message_receipt,
    parse_receipt,
    receipt_body,
)
from smscd.smpp.codec import encode
from smscd.smpp.constants import EsmClass, MessageState
from smscd.smpp.pdus import DeliverSm
from smscd.smpp.tlv import NetworkErrorCode, Tlvs
from smscd.status import STAT_BY_STATE, STATUS_CODES, StatusGroup, is_final, lookup

SUBMIT = datetime(2024, 1, 31, 12, 0)
DONE = datetime(2024, 1, 31, 12, 1)


def receipt(**overrides: object) -> str:
    values: dict[str, object] = {
        "message_id": "1706702400000000",
        "submitted": 1,
        "delivered": 1,
        "submit_date": SUBMIT,
        "done_date": DONE,
        "stat": "DELIVRD",
        "err": 201,
        "text": "Hello world",
    }
    values.update(overrides)
    return format_receipt(**values)  # type: ignore[arg-type]


ACME = Address(5, 0, "Acme")
HANDSET = Address(1, 1, "46700000001")


def receipt_message(
    *,
    source: Address = ACME,
    destination: Address = HANDSET,
    text: str | None = None,
    message_id: str = "1795453364417043",
    submit_time: float = 1_795_450_000.7,
) -> Message:
    """A message from ``source`` to ``destination``, as a receipt needs it."""
    return Message(
        message_id=message_id,
        system_id="acme",
        source=source,
        destination=destination,
        payload=b"",
        text=text,
        submit_time=submit_time,
    )


def test_exact_format() -> None:
    assert receipt() == (
        "id:1706702400000000 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 "
        "stat:DELIVRD err:201 text:Hello world"
    )


def test_text_is_first_20_characters() -> None:
    text = receipt(text="Ünïcödé is fine here, but this part is cut")
    assert text.endswith("text:Ünïcödé is fine here")
    assert receipt(text="").endswith("err:201 text:")


def test_control_characters_replaced_one_for_one() -> None:
    out = receipt(text="a\nb\rc\td\x1b[31m\u2028e\udcff")
    assert out.endswith("text:a b c d [31m e?")
    assert "\n" not in out


def test_undelivered_counts_and_err_padding() -> None:
    out = receipt(delivered=0, stat="UNDELIV", err=5)
    assert " sub:001 dlvrd:000 " in out
    assert " stat:UNDELIV err:005 " in out


@pytest.mark.parametrize(
    "overrides",
    [
        {"message_id": ""},
        {"message_id": "12 34"},
        {"message_id": "x" * 65},
        {"stat": "DELIVERED"},
        {"stat": "delivrd"},
        {"err": 1000},
        {"err": -1},
        {"submitted": 1000},
        {"delivered": -1},
    ],
)
def test_bad_arguments(overrides: dict[str, object]) -> None:
    with pytest.raises(ReceiptError):
        receipt(**overrides)


def test_parse_standard() -> None:
    fields = parse_receipt(receipt())
    assert fields == ReceiptFields(
        message_id="1706702400000000",
        submitted=1,
        delivered=1,
        submit_date=SUBMIT,
        done_date=DONE,
        stat="DELIVRD",
        err=201,
        text="Hello world",
    )


def test_parse_tolerates_case_order_seconds_and_missing_text() -> None:
    text = (
        "STAT:delivrd Id:0A1B2c dlvrd:1 Done Date:240131120159 sub:001 "
        "submit_date:2401311200 err:000"
    )
    fields = parse_receipt(text)
    assert fields.message_id == "0A1B2c"
    assert fields.stat == "DELIVRD"
    assert fields.delivered == 1
    assert fields.done_date == datetime(2024, 1, 31, 12, 1, 59)
    assert fields.submit_date == SUBMIT
    assert fields.err == 0
    assert fields.text is None


def test_parse_text_containing_field_names_and_spacing() -> None:
    out = receipt(text="stat:FAKE err:99  x ")
    fields = parse_receipt(out)
    assert fields.stat == "DELIVRD"
    assert fields.err == 201
    assert fields.text == "stat:FAKE err:99  x "


def test_parse_text_not_last() -> None:
    fields = parse_receipt("text:hi there id:42 stat:EXPIRED err:202")
    assert fields.message_id == "42"
    assert fields.text == "hi there"
    assert fields.stat == "EXPIRED"
    assert fields.err == 202


def test_parse_unreadable_fields_become_none() -> None:
    fields = parse_receipt("id:7 sub:x dlvrd: submit date:2413991200 done date:12345 err:0x1F")
    assert fields == ReceiptFields(message_id="7")


def test_parse_does_not_take_xid_for_id() -> None:
    with pytest.raises(ReceiptError, match="no id"):
        parse_receipt("msgid:1 stat:DELIVRD")
    with pytest.raises(ReceiptError):
        parse_receipt("")


@given(
    message_id=st.from_regex(r"[0-9A-Za-z]{1,64}", fullmatch=True),
    submitted=st.integers(0, 999),
    delivered=st.integers(0, 999),
    submit_date=st.datetimes(datetime(2000, 1, 1), datetime(2068, 12, 31)),
    done_date=st.datetimes(datetime(2000, 1, 1), datetime(2068, 12, 31)),
    stat=st.sampled_from(sorted(STAT_WORDS)),
    err=st.integers(0, 999),
    text=st.text(max_size=40),
)
def test_round_trip(
    message_id: str,
    submitted: int,
    delivered: int,
    submit_date: datetime,
    done_date: datetime,
    stat: str,
    err: int,
    text: str,
) -> None:
    out = format_receipt(
        message_id,
        submitted=submitted,
        delivered=delivered,
        submit_date=submit_date,
        done_date=done_date,
        stat=stat,
        err=err,
        text=text,
    )
    assert "\n" not in out and "\r" not in out
    fields = parse_receipt(out)
    assert fields.message_id == message_id
    assert (fields.submitted, fields.delivered) == (submitted, delivered)
    assert fields.submit_date == submit_date.replace(second=0, microsecond=0)
    assert fields.done_date == done_date.replace(second=0, microsecond=0)
    assert (fields.stat, fields.err) == (stat, err)
    assert fields.text is not None
    assert len(fields.text) == min(len(text), 20)


def test_message_receipt_uses_utc_and_distinct_dates() -> None:
    submit = datetime(2024, 1, 31, 12, 0, tzinfo=UTC).timestamp()
    message = Message(
        message_id="1706702400000000",
        system_id="smppclient1",
        source=Address(1, 1, "46700000001"),
        destination=Address(1, 1, "46712345678"),
        payload=b"Hej",
        text="Hej",
        submit_time=submit,
    )
    with pytest.raises(ReceiptError, match="not final"):
        message_receipt(message)
    message.record(201, submit + 90)
    assert message_receipt(message) == (
        "id:1706702400000000 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 "
        "stat:DELIVRD err:201 text:Hej"
    )


def test_message_receipt_for_failure_and_binary() -> None:
    message = Message(
        message_id="9",
        system_id="a",
        source=Address(1, 1, "1"),
        destination=Address(1, 1, "2"),
        payload=b"\x00\x01",
        submit_time=0.0,
    )
    message.record(514, 60.0)
    assert message_receipt(message) == (
        "id:9 sub:001 dlvrd:000 submit date:7001010000 done date:7001010001 "
        "stat:UNDELIV err:514 text:"
    )


def test_build_receipt_text_is_exactly_format_receipt() -> None:
    # build_receipt assembles the line itself on the hot path; it must not drift.

    message = receipt_message(text="Hej\nvärlden, 20+ characters here")
    message.record(501, 1_795_450_130.2)
    pdu = build_receipt(message, 501)
    expected = format_receipt(
        message.message_id,
        submitted=1,
        delivered=0,
        submit_date=datetime.fromtimestamp(message.submit_time, UTC),
        done_date=datetime.fromtimestamp(1_795_450_130.2, UTC),
        stat="UNDELIV",
        err=501,
        text=message.text or "",
    )
    assert pdu.short_message == expected.encode("ascii", "replace")


def _reference_receipt(message: Message, code: int, intermediate: bool) -> DeliverSm:
    """The receipt as the PDU classes build it, field by field (what receipt_body's direct
    octets must equal)."""
    row = lookup(code)
    state = MessageState.ENROUTE if intermediate else row.message_state
    failed = not intermediate and row.group in (StatusGroup.REJECTION, StatusGroup.ERROR)
    done = message.history.last_at if intermediate else message.done_time
    assert done is not None
    text = format_receipt(
        message.message_id,
        submitted=1,
        delivered=1 if code == 201 else 0,
        submit_date=datetime.fromtimestamp(message.submit_time, UTC),
        done_date=datetime.fromtimestamp(done, UTC),
        stat=STAT_BY_STATE[state],
        err=code,
        text=message.text or "",
    )
    return DeliverSm(
        source_addr_ton=message.destination.ton,
        source_addr_npi=message.destination.npi,
        source_addr=message.destination.addr,
        dest_addr_ton=message.source.ton,
        dest_addr_npi=message.source.npi,
        destination_addr=message.source.addr,
        esm_class=(
            EsmClass.TYPE_INTERMEDIATE_NOTIFICATION
            if intermediate
            else EsmClass.TYPE_SMSC_DELIVERY_RECEIPT
        ),
        data_coding=1,
        short_message=text.encode("ascii", "replace"),
        tlvs=Tlvs(
            receipted_message_id=message.message_id,
            message_state=int(state),
            network_error_code=NetworkErrorCode(3, code) if failed else None,
        ),
    )


@pytest.mark.parametrize("code", sorted(STATUS_CODES))
def test_receipt_octets_equal_the_encoded_pdu(code: int) -> None:
    """receipt_body writes octets directly; they must be exactly the codec's encoding."""
    intermediate = not is_final(code)
    message = receipt_message(text="Ünïcode ✓ and more than twenty characters")
    message.record(code, 1_795_450_130.2)
    body = receipt_body(message, code, intermediate=intermediate)
    assert body == encode(_reference_receipt(message, code, intermediate))[16:]


@given(
    source=st.text(st.characters(max_codepoint=255, blacklist_characters="\x00"), max_size=20),
    destination=st.text(st.sampled_from("0123456789+"), min_size=1, max_size=20),
    ton=st.integers(0, 255),
    text=st.none() | st.text(max_size=40),
    code=st.sampled_from([201, 202, 404, 501, 514]),
)
def test_receipt_octets_for_any_fields(
    source: str, destination: str, ton: int, text: str | None, code: int
) -> None:
    message = receipt_message(
        source=Address(ton, 0, source),
        destination=Address(1, ton, destination),
        text=text,
        message_id="42",
    )
    message.record(code, 1_795_450_061.0)
    assert receipt_body(message, code) == encode(_reference_receipt(message, code, False))[16:]
    assert build_receipt(message, code) == _reference_receipt(message, code, False)


@pytest.mark.parametrize(
    ("source", "destination"),
    [
        (Address(1, 1, "1" * 21), Address(1, 1, "46701234567")),
        (Address(5, 0, "Acme"), Address(1, 1, "4670\x001234")),
        (Address(5, 0, "A" * 21), Address(1, 1, "46701234567")),
    ],
)
def test_receipt_fields_that_do_not_fit_are_refused(source: Address, destination: Address) -> None:
    message = receipt_message(source=source, destination=destination)
    message.record(201, 1_795_450_061.0)
    for _ in range(2):  # and again: a refused address is not remembered as good
        with pytest.raises(ValueError, match="does not fit"):
            receipt_body(message, 201)


def test_an_address_remembered_for_receipts_keeps_its_own_ton_and_npi() -> None:
    """Receipt address fields are encoded once per address; the same digits with another
    TON or NPI are another field."""
    bodies = []
    for ton, npi in [(1, 1), (0, 1), (1, 1), (2, 9)]:
        message = receipt_message(source=Address(ton, npi, "46701234567"), message_id="7")
        message.record(201, 1_795_450_061.0)
        assert receipt_body(message, 201) == encode(_reference_receipt(message, 201, False))[16:]
        bodies.append(receipt_body(message, 201))
    assert bodies[0] == bodies[2] != bodies[1] != bodies[3]
