"""Cross-check the codec with smpplib, an independent third-party SMPP implementation.

Frames smpplib generates must decode to the expected PDUs, and frames we encode must parse in
smpplib with the expected attributes. smpplib knows no submit_multi, cancel_sm, replace_sm or
outbind and never writes zero-length TLVs, so those are covered by the byte fixtures only.
"""

from __future__ import annotations

from typing import Any

import pytest
from smpplib import smpp

from smscd.smpp.codec import decode, encode
from smscd.smpp.constants import CommandStatus, MessageState
from smscd.smpp.pdus import (
    AlertNotification,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smscd.smpp.tlv import NetworkErrorCode, Tlvs

RECEIPT = (
    b"id:7f3a sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000"
)

# (smpplib command name, smpplib keyword arguments, the PDU our codec must produce)
FROM_SMPPLIB: list[tuple[str, dict[str, Any], Pdu]] = [
    (
        "bind_transceiver",
        {"sequence": 1, "system_id": "smppclient1", "password": "pwd", "system_type": "VMA"},
        BindTransceiver(
            sequence_number=1, system_id="smppclient1", password="pwd", system_type="VMA"
        ),
    ),
    (
        "bind_transmitter",
        {
            "sequence": 2,
            "system_id": "x" * 15,
            "password": "p" * 8,
            "addr_ton": 1,
            "addr_npi": 1,
            "address_range": "^44",
        },
        BindTransmitter(
            sequence_number=2,
            system_id="x" * 15,
            password="p" * 8,
            addr_ton=1,
            addr_npi=1,
            address_range="^44",
        ),
    ),
    (
        "bind_transceiver_resp",
        {"sequence": 1, "system_id": "SMSC", "sc_interface_version": 0x34},
        BindTransceiverResp(
            sequence_number=1, system_id="SMSC", tlvs=Tlvs(sc_interface_version=0x34)
        ),
    ),
    (
        "submit_sm",
        {
            "sequence": 3,
            "source_addr_ton": 5,
            "source_addr": "MyBrand",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": "447700900123",
            "esm_class": 0x40,
            "registered_delivery": 1,
            "data_coding": 8,
            "validity_period": "000001000000000R",
            "short_message": b"\x05\x00\x03\x2a\x02\x01\x00H\x00i",
        },
        SubmitSm(
            sequence_number=3,
            source_addr_ton=5,
            source_addr="MyBrand",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            esm_class=0x40,
            registered_delivery=1,
            data_coding=8,
            validity_period="000001000000000R",
            short_message=b"\x05\x00\x03\x2a\x02\x01\x00H\x00i",
        ),
    ),
    (
        "submit_sm",
        {
            "sequence": 4,
            "destination_addr": "1234",
            "short_message": b"part one",
            "sar_msg_ref_num": 0x1234,
            "sar_total_segments": 2,
            "sar_segment_seqnum": 1,
            "user_message_reference": 77,
            "source_port": 9200,
            "destination_port": 2948,
            "callback_num": b"\x01\x01" + b"4477",
        },
        SubmitSm(
            sequence_number=4,
            destination_addr="1234",
            short_message=b"part one",
            tlvs=Tlvs(
                sar_msg_ref_num=0x1234,
                sar_total_segments=2,
                sar_segment_seqnum=1,
                user_message_reference=77,
                source_port=9200,
                destination_port=2948,
                callback_num=b"\x01\x014477",
            ),
        ),
    ),
    (
        "submit_sm",
        {"sequence": 5, "destination_addr": "1234", "message_payload": b"x" * 200},
        SubmitSm(sequence_number=5, destination_addr="1234", tlvs=Tlvs(message_payload=b"x" * 200)),
    ),
    (
        "submit_sm_resp",
        {"sequence": 3, "message_id": "7f3a"},
        SubmitSmResp(sequence_number=3, message_id="7f3a"),
    ),
    (
        "deliver_sm",
        {
            "sequence": 6,
            "source_addr": "447700900123",
            "destination_addr": "MyBrand",
            "esm_class": 0x04,
            "short_message": RECEIPT,
            "receipted_message_id": "7f3a",
            "message_state": MessageState.DELIVERED,
            "network_error_code": b"\x03\x00\x00",
        },
        DeliverSm(
            sequence_number=6,
            source_addr="447700900123",
            destination_addr="MyBrand",
            esm_class=0x04,
            short_message=RECEIPT,
            tlvs=Tlvs(
                receipted_message_id="7f3a",
                message_state=MessageState.DELIVERED,
                network_error_code=NetworkErrorCode(3, 0),
            ),
        ),
    ),
    ("deliver_sm_resp", {"sequence": 6}, DeliverSmResp(sequence_number=6)),
    (
        "data_sm",
        {
            "sequence": 7,
            "service_type": "WAP",
            "destination_addr": "4478",
            "registered_delivery": 1,
            "message_payload": b"\x00" * 300,
            "qos_time_to_live": 3600,
        },
        DataSm(
            sequence_number=7,
            service_type="WAP",
            destination_addr="4478",
            registered_delivery=1,
            tlvs=Tlvs(message_payload=bytes(300), qos_time_to_live=3600),
        ),
    ),
    (
        "data_sm_resp",
        {"sequence": 7, "message_id": "d1", "additional_status_info_text": "ok"},
        DataSmResp(sequence_number=7, message_id="d1", tlvs=Tlvs(additional_status_info_text="ok")),
    ),
    (
        "query_sm",
        {"sequence": 8, "message_id": "7f3a", "source_addr": "MyBrand"},
        QuerySm(sequence_number=8, message_id="7f3a", source_addr="MyBrand"),
    ),
    (
        "query_sm_resp",
        {
            "sequence": 8,
            "message_id": "7f3a",
            "final_date": "240101120000000+",
            "message_state": 2,
            "error_code": 0,
        },
        QuerySmResp(
            sequence_number=8, message_id="7f3a", final_date="240101120000000+", message_state=2
        ),
    ),
    ("enquire_link", {"sequence": 9}, EnquireLink(sequence_number=9)),
    ("enquire_link_resp", {"sequence": 9}, EnquireLinkResp(sequence_number=9)),
    ("unbind", {"sequence": 10}, Unbind(sequence_number=10)),
    ("unbind_resp", {"sequence": 10}, UnbindResp(sequence_number=10)),
    (
        "generic_nack",
        {"sequence": 11, "status": CommandStatus.ESME_RINVCMDID},
        GenericNack(sequence_number=11, command_status=CommandStatus.ESME_RINVCMDID),
    ),
    (
        "alert_notification",
        {
            "sequence": 12,
            "source_addr": "447700900123",
            "esme_addr": "esme",
            "ms_availability_status": 1,
        },
        AlertNotification(
            sequence_number=12,
            source_addr="447700900123",
            esme_addr="esme",
            tlvs=Tlvs(ms_availability_status=1),
        ),
    ),
]


def generate(command: str, *, sequence: int, **kwargs: Any) -> bytes:
    """The frame smpplib builds for ``command``."""
    theirs = smpp.make_pdu(command, sequence=sequence, **kwargs)
    # smpplib ignores the sequence keyword once its default client has numbered the PDU.
    theirs.sequence = sequence
    return bytes(theirs.generate())


@pytest.mark.parametrize(
    ("command", "kwargs", "expected"),
    FROM_SMPPLIB,
    ids=[f"{index}-{case[0]}" for index, case in enumerate(FROM_SMPPLIB)],
)
def test_smpplib_frames_decode(command: str, kwargs: dict[str, Any], expected: Pdu) -> None:
    assert decode(generate(command, **kwargs)) == expected


def test_smpplib_error_bind_resp_decodes() -> None:
    wire = generate("bind_transmitter_resp", sequence=1, status=CommandStatus.ESME_RINVPASWD)
    pdu = decode(wire)
    assert pdu == BindTransmitterResp(
        sequence_number=1, command_status=CommandStatus.ESME_RINVPASWD
    )


def parsed(pdu: Pdu) -> Any:
    # A sequence keyword stops smpplib asking its (absent) client for the next number.
    return smpp.parse_pdu(encode(pdu), sequence=0)


def test_our_bind_parses_in_smpplib() -> None:
    theirs = parsed(
        BindTransceiver(sequence_number=41, system_id="esme", password="pw", system_type="VMA")
    )
    assert theirs.command == "bind_transceiver"
    assert (theirs.sequence, theirs.status) == (41, 0)
    assert (theirs.system_id, theirs.password, theirs.system_type) == (b"esme", b"pw", b"VMA")
    assert theirs.interface_version == 0x34


def test_our_bind_resp_parses_in_smpplib() -> None:
    theirs = parsed(
        BindTransceiverResp(
            sequence_number=41, system_id="smscd", tlvs=Tlvs(sc_interface_version=0x34)
        )
    )
    assert theirs.command == "bind_transceiver_resp"
    assert theirs.system_id == b"smscd"
    assert theirs.sc_interface_version == 0x34


def test_our_submit_sm_parses_in_smpplib() -> None:
    theirs = parsed(
        SubmitSm(
            sequence_number=42,
            source_addr_ton=5,
            source_addr="MyBrand",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            esm_class=0x40,
            registered_delivery=1,
            data_coding=8,
            short_message=b"\x00H\x00i",
            tlvs=Tlvs(sar_msg_ref_num=0x1234, sar_total_segments=2, sar_segment_seqnum=1),
        )
    )
    assert theirs.command == "submit_sm"
    assert theirs.sequence == 42
    assert (theirs.source_addr_ton, theirs.source_addr) == (5, b"MyBrand")
    assert (theirs.dest_addr_ton, theirs.dest_addr_npi, theirs.destination_addr) == (
        1,
        1,
        b"447700900123",
    )
    assert (theirs.esm_class, theirs.registered_delivery, theirs.data_coding) == (0x40, 1, 8)
    assert (theirs.sm_length, theirs.short_message) == (4, b"\x00H\x00i")
    assert (theirs.sar_msg_ref_num, theirs.sar_total_segments, theirs.sar_segment_seqnum) == (
        0x1234,
        2,
        1,
    )


def test_our_submit_sm_resp_parses_in_smpplib() -> None:
    theirs = parsed(SubmitSmResp(sequence_number=42, message_id="0000000000000042"))
    assert (theirs.command, theirs.sequence, theirs.message_id) == (
        "submit_sm_resp",
        42,
        b"0000000000000042",
    )
    error = parsed(SubmitSmResp(sequence_number=43, command_status=CommandStatus.ESME_RTHROTTLED))
    assert (error.status, error.sequence) == (CommandStatus.ESME_RTHROTTLED, 43)


def test_our_receipt_parses_in_smpplib() -> None:
    theirs = parsed(
        DeliverSm(
            sequence_number=7,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            dest_addr_ton=5,
            destination_addr="MyBrand",
            esm_class=0x04,
            short_message=RECEIPT,
            tlvs=Tlvs(
                receipted_message_id="7f3a",
                message_state=MessageState.DELIVERED,
                network_error_code=NetworkErrorCode(3, 0),
            ),
        )
    )
    assert theirs.command == "deliver_sm"
    assert theirs.esm_class == 0x04
    assert theirs.short_message == RECEIPT
    assert theirs.receipted_message_id == b"7f3a"
    assert theirs.message_state == MessageState.DELIVERED
    assert theirs.network_error_code == b"\x03\x00\x00"


@pytest.mark.parametrize(
    "pdu",
    [
        DeliverSmResp(sequence_number=7),
        EnquireLink(sequence_number=8),
        EnquireLinkResp(sequence_number=8),
        Unbind(sequence_number=9),
        UnbindResp(sequence_number=9),
        GenericNack(sequence_number=10, command_status=CommandStatus.ESME_RINVCMDLEN),
        QuerySmResp(
            sequence_number=11, message_id="7f3a", final_date="240101120000000+", message_state=2
        ),
        DataSm(
            sequence_number=12, destination_addr="4478", tlvs=Tlvs(message_payload=b"\x00" * 250)
        ),
        AlertNotification(
            sequence_number=13,
            source_addr="4477",
            esme_addr="esme",
            tlvs=Tlvs(ms_availability_status=2),
        ),
    ],
    ids=lambda pdu: type(pdu).__name__,
)
def test_our_frames_parse_in_smpplib(pdu: Pdu) -> None:
    theirs = parsed(pdu)
    assert theirs.command is not None
    assert (theirs.sequence, theirs.status) == (pdu.sequence_number, pdu.command_status)
    for name in ("message_id", "final_date", "source_addr", "esme_addr", "destination_addr"):
        ours = getattr(pdu, name, None)
        if ours:
            assert getattr(theirs, name) == ours.encode()
    tlvs = getattr(pdu, "tlvs", Tlvs())
    for name in ("ms_availability_status", "message_payload"):
        if getattr(tlvs, name) is not None:
            assert getattr(theirs, name) == getattr(tlvs, name)
    if isinstance(pdu, QuerySmResp):
        assert theirs.message_state == pdu.message_state
