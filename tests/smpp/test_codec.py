"""Byte fixtures, bad inputs and stream framing for the SMPP 3.4 codec."""

from __future__ import annotations

import pickle
import random

import attrs
import pytest

from smscd.smpp import fields
from smscd.smpp.codec import PduReader, decode, encode, peek_header
from smscd.smpp.constants import CommandId, CommandStatus, MessageState, TlvTag
from smscd.smpp.errors import SmppError
from smscd.smpp.pdus import (
    NO_TLVS,
    PDU_CLASSES,
    RESPONSE_FOR,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    is_response,
    response_class,
)
from smscd.smpp.tlv import TLV_TABLE, NetworkErrorCode, RawTlv, Tlvs

S = CommandStatus


def c(text: str) -> str:
    """Hex of a C-octet string: the text's octets and the NUL."""
    return text.encode("latin-1").hex() + "00"


def frame(*hex_parts: str) -> bytes:
    return bytes.fromhex("".join(hex_parts).replace(" ", ""))


RECEIPT_TEXT = (
    "id:abc123 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
    "stat:DELIVRD err:000 text:hello"
)

# (name, wire frame, PDU). The header is written out: command_length, command_id,
# command_status, sequence_number; the body follows field by field.
FIXTURES: list[tuple[str, bytes, Pdu]] = [
    (
        "bind_transceiver",
        frame(
            "0000002A 00000009 00000000 00000001",
            c("smppclient1"),  # system_id, 12 octets
            c("password"),  # password, 9 octets
            c(""),  # system_type
            "34 00 00",  # interface_version, addr_ton, addr_npi
            c(""),  # address_range
        ),
        BindTransceiver(sequence_number=1, system_id="smppclient1", password="password"),
    ),
    (
        "bind_transmitter",
        frame(
            "00000027 00000002 00000000 00000002",
            c("esme"),
            c("secret"),
            c("VMA"),
            "34 01 01",
            c("^44"),
        ),
        BindTransmitter(
            sequence_number=2,
            system_id="esme",
            password="secret",
            system_type="VMA",
            addr_ton=1,
            addr_npi=1,
            address_range="^44",
        ),
    ),
    (
        "bind_receiver",
        frame("0000001B 00000001 00000000 00000003", c("rx"), c("pw"), c(""), "34 00 00", c("")),
        BindReceiver(sequence_number=3, system_id="rx", password="pw"),
    ),
    (
        "bind_transceiver_resp with sc_interface_version",
        frame(
            "0000001A 80000009 00000000 00000001",
            c("SMSC"),
            "0210 0001 34",  # sc_interface_version = 0x34
        ),
        BindTransceiverResp(
            sequence_number=1, system_id="SMSC", tlvs=Tlvs(sc_interface_version=0x34)
        ),
    ),
    (
        "bind_receiver_resp",
        frame("00000016 80000001 00000000 00000003", c("SMSC1")),
        BindReceiverResp(sequence_number=3, system_id="SMSC1"),
    ),
    (
        "bind_transmitter_resp error keeps its system_id",
        frame("00000015 80000002 0000000E 00000002", c("SMSC")),
        BindTransmitterResp(sequence_number=2, command_status=S.ESME_RINVPASWD, system_id="SMSC"),
    ),
    (
        "outbind",
        frame("0000001A 0000000B 00000000 00000009", c("SMSC"), c("pass")),
        Outbind(sequence_number=9, system_id="SMSC", password="pass"),
    ),
    (
        "submit_sm",
        frame(
            "00000039 00000004 00000000 00000005",
            c(""),  # service_type
            "05 00",  # source TON alphanumeric, NPI unknown
            c("MyBrand"),
            "01 01",  # dest TON international, NPI ISDN
            c("447700900123"),
            "00 00 00",  # esm_class, protocol_id, priority_flag
            c(""),  # schedule_delivery_time
            c(""),  # validity_period
            "01 00 00 00",  # registered_delivery, replace_if_present, data_coding, default id
            "05",  # sm_length
            "68656c6c6f",  # "hello"
        ),
        SubmitSm(
            sequence_number=5,
            source_addr_ton=5,
            source_addr="MyBrand",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            registered_delivery=1,
            short_message=b"hello",
        ),
    ),
    (
        "submit_sm with SAR TLVs, relative validity and an unknown TLV",
        frame(
            "00000067 00000004 00000000 00000006",
            c("CMT"),
            "01 01",
            c("447700900001"),
            "01 01",
            c("447700900002"),
            "40 00 01",  # esm_class UDHI, protocol_id, priority_flag 1
            c(""),
            c("000001000000000R"),  # one day, relative
            "11 00 08 00",  # receipt + intermediate, UCS-2
            "04",
            "00480069",  # "Hi" in UCS-2
            "020C 0002 0042",  # sar_msg_ref_num
            "020E 0001 02",  # sar_total_segments
            "020F 0001 01",  # sar_segment_seqnum
            "1400 0003 616263",  # vendor TLV, kept raw
        ),
        SubmitSm(
            sequence_number=6,
            service_type="CMT",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900001",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900002",
            esm_class=0x40,
            priority_flag=1,
            validity_period="000001000000000R",
            registered_delivery=0x11,
            data_coding=8,
            short_message=b"\x00H\x00i",
            tlvs=Tlvs(
                sar_msg_ref_num=0x42,
                sar_total_segments=2,
                sar_segment_seqnum=1,
                unknown=(RawTlv(0x1400, b"abc"),),
            ),
        ),
    ),
    (
        "submit_sm_resp",
        frame("00000017 80000004 00000000 00000005", c("abc123")),
        SubmitSmResp(sequence_number=5, message_id="abc123"),
    ),
    (
        "submit_sm_resp error has no body",
        frame("00000010 80000004 00000058 00000005"),
        SubmitSmResp(sequence_number=5, command_status=S.ESME_RTHROTTLED),
    ),
    (
        "deliver_sm receipt",
        frame(
            "000000B2 00000005 00000000 00000010",
            c(""),
            "01 01",
            c("447700900123"),
            "05 00",
            c("MyBrand"),
            "04 00 00",  # esm_class: SMSC delivery receipt
            c(""),
            c(""),
            "00 00 00 00",
            "67",  # sm_length 103
            RECEIPT_TEXT.encode().hex(),
            "001E 0007",  # receipted_message_id
            c("abc123"),
            "0423 0003 03 0001",  # network_error_code: GSM, 1
            "0427 0001 02",  # message_state DELIVERED
        ),
        DeliverSm(
            sequence_number=16,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            dest_addr_ton=5,
            destination_addr="MyBrand",
            esm_class=0x04,
            short_message=RECEIPT_TEXT.encode(),
            tlvs=Tlvs(
                receipted_message_id="abc123",
                network_error_code=NetworkErrorCode(3, 1),
                message_state=MessageState.DELIVERED,
            ),
        ),
    ),
    (
        "deliver_sm_resp",
        frame("00000011 80000005 00000000 00000010", c("")),
        DeliverSmResp(sequence_number=16),
    ),
    (
        "submit_multi with an SME address and a distribution list",
        frame(
            "0000003E 00000021 00000000 00000007",
            c(""),
            "00 00",
            c("1234"),
            "02",  # number_of_dests
            "01 01 01",  # dest_flag SME, TON, NPI
            c("447700900001"),
            "02",  # dest_flag distribution list
            c("friends"),
            "00 00 00",
            c(""),
            c(""),
            "00 00 00 00",
            "02",
            "6869",
        ),
        SubmitMulti(
            sequence_number=7,
            source_addr="1234",
            dest_addresses=(
                SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="447700900001"),
                DistributionList(dl_name="friends"),
            ),
            short_message=b"hi",
        ),
    ),
    (
        "submit_multi_resp with unsuccess_smes",
        frame(
            "00000027 80000021 00000000 00000007",
            c("m1"),
            "01",  # no_unsuccess
            "01 01",
            c("447700900001"),
            "0000000B",  # ESME_RINVDSTADR
        ),
        SubmitMultiResp(
            sequence_number=7,
            message_id="m1",
            unsuccess_smes=(
                UnsuccessSme(
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr="447700900001",
                    error_status_code=S.ESME_RINVDSTADR,
                ),
            ),
        ),
    ),
    (
        "data_sm with message_payload",
        frame(
            "00000034 00000103 00000000 00000008",
            c("WAP"),
            "01 01",
            c("4477"),
            "01 01",
            c("4478"),
            "00 01 00",  # esm_class, registered_delivery, data_coding
            "020B 0002 0B84",  # destination_port 2948
            "0424 0005 68656c6c6f",  # message_payload
        ),
        DataSm(
            sequence_number=8,
            service_type="WAP",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="4477",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="4478",
            registered_delivery=1,
            tlvs=Tlvs(message_payload=b"hello", destination_port=2948),
        ),
    ),
    (
        "data_sm_resp",
        frame("00000013 80000103 00000000 00000008", c("id")),
        DataSmResp(sequence_number=8, message_id="id"),
    ),
    (
        "query_sm",
        frame("0000001A 00000003 00000000 0000000A", c("abc123"), "00 00", c("")),
        QuerySm(sequence_number=10, message_id="abc123"),
    ),
    (
        "query_sm_resp",
        frame(
            "0000002A 80000003 00000000 0000000A",
            c("abc123"),
            c("240101120000000+"),  # final_date, absolute
            "02 00",  # message_state DELIVERED, error_code
        ),
        QuerySmResp(
            sequence_number=10,
            message_id="abc123",
            final_date="240101120000000+",
            message_state=MessageState.DELIVERED,
        ),
    ),
    (
        "cancel_sm",
        frame(
            "00000026 00000008 00000000 0000000B",
            c(""),
            c("abc123"),
            "00 00",
            c("1234"),
            "01 01",
            c("5678"),
        ),
        CancelSm(
            sequence_number=11,
            message_id="abc123",
            source_addr="1234",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="5678",
        ),
    ),
    (
        "cancel_sm_resp",
        frame("00000010 80000008 00000000 0000000B"),
        CancelSmResp(sequence_number=11),
    ),
    (
        "replace_sm",
        frame(
            "0000002B 00000007 00000000 0000000C",
            c("abc123"),
            "00 00",
            c("1234"),
            c(""),
            c(""),
            "01 00",  # registered_delivery, sm_default_msg_id
            "08",
            "6e65772074657874",  # "new text"
        ),
        ReplaceSm(
            sequence_number=12,
            message_id="abc123",
            source_addr="1234",
            registered_delivery=1,
            short_message=b"new text",
        ),
    ),
    (
        "replace_sm_resp",
        frame("00000010 80000007 00000000 0000000C"),
        ReplaceSmResp(sequence_number=12),
    ),
    ("enquire_link", frame("00000010 00000015 00000000 00000007"), EnquireLink(sequence_number=7)),
    (
        "enquire_link_resp",
        frame("00000010 80000015 00000000 00000007"),
        EnquireLinkResp(sequence_number=7),
    ),
    ("unbind", frame("00000010 00000006 00000000 0000000D"), Unbind(sequence_number=13)),
    ("unbind_resp", frame("00000010 80000006 00000000 0000000D"), UnbindResp(sequence_number=13)),
    (
        "generic_nack",
        frame("00000010 80000000 00000003 0000000E"),
        GenericNack(sequence_number=14, command_status=S.ESME_RINVCMDID),
    ),
    (
        "alert_notification",
        frame(
            "0000002B 00000102 00000000 0000000F",
            "01 01",
            c("447700900123"),
            "00 00",
            c("esme"),
            "0422 0001 00",  # ms_availability_status available
        ),
        AlertNotification(
            sequence_number=15,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            esme_addr="esme",
            tlvs=Tlvs(ms_availability_status=0),
        ),
    ),
]

# Error responses whose peers leave out the body (§4.4.2 and common practice). They decode
# to the response with default fields; ``encode`` keeps the body for them, except
# submit_sm_resp which is in FIXTURES.
EMPTY_ERROR_RESPONSES: list[tuple[str, bytes, Pdu]] = [
    (
        "bind_transmitter_resp",
        frame("00000010 80000002 0000000E 00000001"),
        BindTransmitterResp(sequence_number=1, command_status=S.ESME_RINVPASWD),
    ),
    (
        "bind_receiver_resp",
        frame("00000010 80000001 0000000D 00000001"),
        BindReceiverResp(sequence_number=1, command_status=S.ESME_RBINDFAIL),
    ),
    (
        "bind_transceiver_resp",
        frame("00000010 80000009 0000000F 00000001"),
        BindTransceiverResp(sequence_number=1, command_status=S.ESME_RINVSYSID),
    ),
    (
        "data_sm_resp",
        frame("00000010 80000103 000000FE 00000002"),
        DataSmResp(sequence_number=2, command_status=S.ESME_RDELIVERYFAILURE),
    ),
    (
        "deliver_sm_resp",
        frame("00000010 80000005 00000064 00000002"),
        DeliverSmResp(sequence_number=2, command_status=S.ESME_RX_T_APPN),
    ),
    (
        "submit_multi_resp",
        frame("00000010 80000021 00000045 00000002"),
        SubmitMultiResp(sequence_number=2, command_status=S.ESME_RSUBMITFAIL),
    ),
    (
        "query_sm_resp",
        frame("00000010 80000003 00000067 00000002"),
        QuerySmResp(sequence_number=2, command_status=S.ESME_RQUERYFAIL),
    ),
]

ALL_FRAMES = [(name, wire) for name, wire, _ in FIXTURES + EMPTY_ERROR_RESPONSES]


def ids(cases: list[tuple[str, bytes, Pdu]]) -> list[str]:
    return [case[0] for case in cases]


# --- fixtures ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "wire", "pdu"), FIXTURES, ids=ids(FIXTURES))
def test_fixture_decodes(name: str, wire: bytes, pdu: Pdu) -> None:
    assert decode(wire) == pdu


@pytest.mark.parametrize(("name", "wire", "pdu"), FIXTURES, ids=ids(FIXTURES))
def test_fixture_encodes(name: str, wire: bytes, pdu: Pdu) -> None:
    assert encode(pdu).hex() == wire.hex()


@pytest.mark.parametrize(
    ("name", "wire", "pdu"), EMPTY_ERROR_RESPONSES, ids=ids(EMPTY_ERROR_RESPONSES)
)
def test_error_response_with_empty_body_decodes(name: str, wire: bytes, pdu: Pdu) -> None:
    assert decode(wire) == pdu


def test_every_pdu_class_has_a_fixture() -> None:
    covered = {type(pdu) for _, _, pdu in FIXTURES}
    assert covered == set(PDU_CLASSES.values())


def test_layouts_match_pdu_fields() -> None:
    """The field table and the PDU classes must name the same fields in the same order."""
    for layout in fields.LAYOUTS:
        declared = [f.name for f in attrs.fields(layout.pdu)]
        expected = ["sequence_number", "command_status"] + [f.name for f in layout.fields]
        if layout.tlvs:
            expected.append("tlvs")
        assert declared == expected, layout.pdu.__name__
    assert {layout.pdu for layout in fields.LAYOUTS} == set(PDU_CLASSES.values())


def test_tlv_table_matches_tlvs_fields() -> None:
    names = [f.name for f in attrs.fields(Tlvs)]
    assert names == [spec.name for spec in TLV_TABLE] + ["unknown"]
    assert {spec.tag for spec in TLV_TABLE} == set(TlvTag)
    assert [spec.tag for spec in TLV_TABLE] == sorted(spec.tag for spec in TLV_TABLE)


def test_no_tlvs_is_shared_when_absent() -> None:
    pdu = decode(FIXTURES[7][1])
    assert isinstance(pdu, SubmitSm)
    assert pdu.tlvs is NO_TLVS


def test_tlvs_are_encoded_in_table_order_then_unknown_in_received_order() -> None:
    tlvs = Tlvs(
        message_state=2,
        unknown=(RawTlv(0x1501, b"z"), RawTlv(0x1400, b"")),
        receipted_message_id="x",
    )
    wire = encode(DeliverSm(tlvs=tlvs))
    tail = wire[-(6 + 5 + 5 + 4) :]
    assert tail.hex() == "001e000278000427000102" + "150100017a" + "14000000"
    assert decode(wire) == DeliverSm(tlvs=tlvs)


def test_cstring_tlv_without_nul_is_accepted() -> None:
    # Several SMSCs send receipted_message_id without its terminator.
    body = frame(c(""), "00 00", c(""), "00 00", c(""), "04 00 00", c(""), c(""), "00000000 00")
    tlv = frame("001E 0003 616263")
    wire = frame(f"{16 + len(body) + len(tlv):08X} 00000005 00000000 00000001") + body + tlv
    pdu = decode(wire)
    assert isinstance(pdu, DeliverSm)
    assert pdu.tlvs.receipted_message_id == "abc"


def test_every_octet_survives_in_cstrings() -> None:
    text = bytes(range(1, 21)).decode("latin-1")
    pdu = SubmitSm(source_addr=text, destination_addr="\xff\xfe")
    assert decode(encode(pdu)) == pdu


def test_header_is_reported_by_peek() -> None:
    wire = FIXTURES[7][1]
    header = peek_header(wire)
    assert header is not None
    assert header.command_length == len(wire)
    assert header.command_id == CommandId.SUBMIT_SM
    assert header.sequence_number == 5
    assert peek_header(wire[:15]) is None


def test_response_helpers() -> None:
    assert response_class(CommandId.SUBMIT_SM) is SubmitSmResp
    assert response_class(CommandId.OUTBIND) is None
    assert response_class(CommandId.ALERT_NOTIFICATION) is None
    assert response_class(0x1234) is None
    assert is_response(CommandId.GENERIC_NACK)
    assert is_response(SubmitSmResp())
    assert not is_response(SubmitSm())
    for request_id, response in RESPONSE_FOR.items():
        assert response.command_id == request_id | 0x80000000


def test_password_is_not_in_repr() -> None:
    assert "hunter2" not in repr(BindTransmitter(system_id="x", password="hunter2"))
    assert "hunter2" not in repr(Outbind(password="hunter2"))


def test_tlvs_repr_lists_only_present_fields() -> None:
    assert repr(Tlvs(message_state=2)) == "Tlvs(message_state=2)"


def test_unknown_values_survive_as_ints() -> None:
    pdu = SubmitSm(esm_class=0xFF, data_coding=0xF5, registered_delivery=0xFF)
    decoded = decode(encode(pdu))
    assert isinstance(decoded, SubmitSm)
    assert (decoded.esm_class, decoded.data_coding) == (0xFF, 0xF5)
    nack = decode(encode(GenericNack(command_status=0x4F1)))
    assert nack.command_status == 0x4F1


def test_smpp_error_pickles_and_reads() -> None:
    error = SmppError(S.ESME_RINVSYSID, "too long", command_id=9, sequence_number=3)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.command_status, copy.command_id, copy.sequence_number, copy.fatal) == (
        S.ESME_RINVSYSID,
        9,
        3,
        False,
    )
    assert "ESME_RINVSYSID" in str(error)
    assert "bind_transceiver" in str(error)


# --- bad inputs ----------------------------------------------------------------------------


def with_header(command_id: int, body: bytes, sequence_number: int = 0x42) -> bytes:
    header = frame(f"{16 + len(body):08X} {command_id:08X} 00000000 {sequence_number:08X}")
    return header + body


def bind_body(
    system_id: str = "id", password: str = "pw", system_type: str = "", address_range: str = ""
) -> bytes:
    return frame(c(system_id), c(password), c(system_type), "34 00 00", c(address_range))


def submit_body(
    service_type: str = "",
    source_addr: str = "1",
    destination_addr: str = "2",
    schedule: str = "",
    validity: str = "",
    sm_length: str = "02",
    short_message: str = "6869",
) -> bytes:
    return frame(
        c(service_type),
        "00 00",
        c(source_addr),
        "01 01",
        c(destination_addr),
        "00 00 00",
        c(schedule),
        c(validity),
        "00 00 00 00",
        sm_length,
        short_message,
    )


def multi_body(dests_hex: str) -> bytes:
    return frame(c(""), "00 00", c("1"), dests_hex, "00 00 00", c(""), c(""), "00 00 00 00", "00")


BIND_TX = CommandId.BIND_TRANSMITTER
SUBMIT = CommandId.SUBMIT_SM
DELIVER = CommandId.DELIVER_SM

BAD_FRAMES: list[tuple[str, bytes, int]] = [
    (
        "system_id of 15 chars fits, 16 does not",
        with_header(BIND_TX, bind_body("x" * 16)),
        S.ESME_RINVSYSID,
    ),
    ("password of 9 chars", with_header(BIND_TX, bind_body(password="p" * 9)), S.ESME_RINVPASWD),
    (
        "system_type of 13 chars",
        with_header(BIND_TX, bind_body(system_type="t" * 13)),
        S.ESME_RINVSYSTYP,
    ),
    (
        "address_range of 41 chars",
        with_header(BIND_TX, bind_body(address_range="1" * 41)),
        S.ESME_RBINDFAIL,
    ),
    ("bind with an empty body", with_header(BIND_TX, b""), S.ESME_RINVCMDLEN),
    ("bind cut after password", with_header(BIND_TX, frame(c("id"), c("pw"))), S.ESME_RINVCMDLEN),
    ("system_id without NUL", with_header(BIND_TX, b"abc"), S.ESME_RINVSYSID),
    (
        "service_type of 6 chars",
        with_header(SUBMIT, submit_body(service_type="CMTCMT")),
        S.ESME_RINVSERTYP,
    ),
    (
        "source_addr of 21 chars",
        with_header(SUBMIT, submit_body(source_addr="1" * 21)),
        S.ESME_RINVSRCADR,
    ),
    (
        "destination_addr of 21 chars",
        with_header(SUBMIT, submit_body(destination_addr="2" * 21)),
        S.ESME_RINVDSTADR,
    ),
    (
        "schedule_delivery_time of 5 chars",
        with_header(SUBMIT, submit_body(schedule="24010")),
        S.ESME_RINVSCHED,
    ),
    (
        "schedule_delivery_time of 17 chars",
        with_header(SUBMIT, submit_body(schedule="2" * 17)),
        S.ESME_RINVSCHED,
    ),
    (
        "validity_period of 15 chars",
        with_header(SUBMIT, submit_body(validity="0" * 15)),
        S.ESME_RINVEXPIRY,
    ),
    (
        "sm_length 255",
        with_header(SUBMIT, submit_body(sm_length="FF", short_message="61" * 255)),
        S.ESME_RINVMSGLEN,
    ),
    (
        "sm_length past the frame",
        with_header(SUBMIT, submit_body(sm_length="05")),
        S.ESME_RINVMSGLEN,
    ),
    ("submit_sm cut before sm_length", with_header(SUBMIT, submit_body()[:-3]), S.ESME_RINVCMDLEN),
    ("submit_sm cut in the integers", with_header(SUBMIT, submit_body()[:9]), S.ESME_RINVCMDLEN),
    ("deliver_sm with an empty body", with_header(DELIVER, b""), S.ESME_RINVCMDLEN),
    (
        "message_id of 65 chars",
        with_header(CommandId.QUERY_SM, frame(c("m" * 65), "00 00", c(""))),
        S.ESME_RINVMSGID,
    ),
    (
        "number_of_dests 0",
        with_header(CommandId.SUBMIT_MULTI, multi_body("00")),
        S.ESME_RINVNUMDESTS,
    ),
    (
        "number_of_dests 255",
        with_header(CommandId.SUBMIT_MULTI, multi_body("FF" + "02" + c("x") * 255)),
        S.ESME_RINVNUMDESTS,
    ),
    (
        "dest_flag 3",
        with_header(CommandId.SUBMIT_MULTI, multi_body("01 03 01 01" + c("1"))),
        S.ESME_RINVDESTFLAG,
    ),
    (
        "dl_name of 21 chars",
        with_header(CommandId.SUBMIT_MULTI, multi_body("01 02" + c("d" * 21))),
        S.ESME_RINVDLNAME,
    ),
    (
        "SME destination_addr of 21 chars",
        with_header(CommandId.SUBMIT_MULTI, multi_body("01 01 01 01" + c("2" * 21))),
        S.ESME_RINVDSTADR,
    ),
    ("enquire_link with a body", with_header(CommandId.ENQUIRE_LINK, b"\x00"), S.ESME_RINVCMDLEN),
    ("unknown command_id", with_header(0x00000099, b""), S.ESME_RINVCMDID),
    ("unknown response command_id", with_header(0x80000099, b"abc"), S.ESME_RINVCMDID),
    (
        "TLV header cut short",
        with_header(SUBMIT, submit_body() + frame("0424 00")),
        S.ESME_RINVOPTPARSTREAM,
    ),
    (
        "TLV value past the frame",
        with_header(SUBMIT, submit_body() + frame("0424 0010 6869")),
        S.ESME_RINVOPTPARSTREAM,
    ),
    (
        "TLV repeated",
        with_header(SUBMIT, submit_body() + frame("020E 0001 02 020E 0001 02")),
        S.ESME_RINVOPTPARSTREAM,
    ),
    (
        "int TLV of the wrong length",
        with_header(SUBMIT, submit_body() + frame("020E 0002 0002")),
        S.ESME_RINVPARLEN,
    ),
    (
        "network_error_code of 2 octets",
        with_header(DELIVER, submit_body() + frame("0423 0002 0300")),
        S.ESME_RINVPARLEN,
    ),
    (
        "zero-length C-string TLV",
        with_header(DELIVER, submit_body() + frame("001E 0000")),
        S.ESME_RINVPARLEN,
    ),
    (
        "receipted_message_id of 66 octets",
        with_header(DELIVER, submit_body() + frame("001E 0042" + c("r" * 65))),
        S.ESME_RINVPARLEN,
    ),
    (
        "NUL inside a C-string TLV",
        with_header(DELIVER, submit_body() + frame("001E 0003 610062")),
        S.ESME_RINVOPTPARAMVAL,
    ),
    (
        "callback_num of 3 octets",
        with_header(SUBMIT, submit_body() + frame("0381 0003 313233")),
        S.ESME_RINVPARLEN,
    ),
    (
        "alert_on_message_delivery with a value",
        with_header(SUBMIT, submit_body() + frame("130C 0001 01")),
        S.ESME_RINVPARLEN,
    ),
]


@pytest.mark.parametrize(("name", "wire", "status"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_bad_frame_gives_its_status(name: str, wire: bytes, status: int) -> None:
    with pytest.raises(SmppError) as caught:
        decode(wire)
    error = caught.value
    assert error.command_status == status
    assert error.command_id == int.from_bytes(wire[4:8], "big")
    assert error.sequence_number == 0x42
    assert not error.fatal
    assert error.command_status in set(CommandStatus)


@pytest.mark.parametrize(("name", "wire", "status"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_bad_frame_is_consumed_and_the_stream_continues(
    name: str, wire: bytes, status: int
) -> None:
    reader = PduReader()
    reader.feed(wire + FIXTURES[0][1])
    with pytest.raises(SmppError) as caught:
        reader.next_pdu()
    assert caught.value.command_status == status
    assert reader.next_pdu() == FIXTURES[0][2]
    assert reader.next_pdu() is None


def test_limits_are_inclusive_of_the_nul() -> None:
    ok = decode(with_header(BIND_TX, bind_body("x" * 15, "p" * 8, "t" * 12, "1" * 40)))
    assert isinstance(ok, BindTransmitter)
    assert (len(ok.system_id), len(ok.password), len(ok.system_type)) == (15, 8, 12)
    submit = decode(with_header(SUBMIT, submit_body("CMTCM", "1" * 20, "2" * 20)))
    assert isinstance(submit, SubmitSm)
    assert len(submit.destination_addr) == 20


@pytest.mark.parametrize(
    ("command_length", "max_command_length"),
    [(8, 65536), (0, 65536), (15, 65536), (2**31, 65536), (0xFFFFFFFF, 65536), (1025, 1024)],
)
def test_bad_command_length_is_fatal(command_length: int, max_command_length: int) -> None:
    reader = PduReader(max_command_length)
    wire = frame(f"{command_length:08X} 00000004 00000000 00000009") + bytes(32)
    for octet in wire[:15]:
        reader.feed(bytes([octet]))
        assert reader.next_pdu() is None
    reader.feed(wire[15:])
    with pytest.raises(SmppError) as caught:
        reader.next_pdu()
    error = caught.value
    assert (error.command_status, error.fatal) == (S.ESME_RINVCMDLEN, True)
    assert (error.command_id, error.sequence_number) == (CommandId.SUBMIT_SM, 9)
    # The reader stays broken: the stream cannot be resynchronised.
    reader.feed(FIXTURES[0][1])
    with pytest.raises(SmppError):
        reader.next_pdu()
    assert reader.buffered == 0


def test_decode_rejects_frames_whose_size_differs_from_command_length() -> None:
    wire = FIXTURES[7][1]
    for bad in (wire[:-1], wire + b"\x00", wire[:10]):
        with pytest.raises(SmppError) as caught:
            decode(bad)
        assert caught.value.command_status == S.ESME_RINVCMDLEN
        assert caught.value.fatal


def test_max_command_length_accepts_exactly_the_limit() -> None:
    wire = FIXTURES[7][1]
    reader = PduReader(max_command_length=len(wire))
    reader.feed(wire)
    assert reader.next_pdu() == FIXTURES[7][2]
    with pytest.raises(ValueError):
        PduReader(15)


# --- encoding validation -------------------------------------------------------------------

BAD_PDUS: list[tuple[str, Pdu]] = [
    ("system_id of 16 chars", BindTransmitter(system_id="x" * 16)),
    ("password of 9 chars", BindTransceiver(password="p" * 9)),
    ("NUL inside a C-string", SubmitSm(destination_addr="12\x0034")),
    ("non-latin-1 text", SubmitSm(source_addr="\u20ac")),
    ("short_message of 255 octets", SubmitSm(short_message=b"x" * 255)),
    ("schedule_delivery_time of 3 chars", SubmitSm(schedule_delivery_time="abc")),
    ("esm_class 256", SubmitSm(esm_class=256)),
    ("negative data_coding", DeliverSm(data_coding=-1)),
    ("sequence_number too large", EnquireLink(sequence_number=2**32)),
    ("command_status negative", GenericNack(command_status=-1)),
    ("no destinations", SubmitMulti()),
    ("255 destinations", SubmitMulti(dest_addresses=(DistributionList(dl_name="x"),) * 255)),
    ("dl_name of 21 chars", SubmitMulti(dest_addresses=(DistributionList(dl_name="d" * 21),))),
    (
        "error_status_code too large",
        SubmitMultiResp(unsuccess_smes=(UnsuccessSme(error_status_code=2**32),)),
    ),
    ("int TLV too large", SubmitSm(tlvs=Tlvs(sar_total_segments=256))),
    ("int2 TLV too large", SubmitSm(tlvs=Tlvs(sar_msg_ref_num=65536))),
    ("C-string TLV too long", DeliverSm(tlvs=Tlvs(receipted_message_id="r" * 65))),
    ("callback_num too short", SubmitSm(tlvs=Tlvs(callback_num=b"12"))),
    ("its_session_info of 3 octets", SubmitSm(tlvs=Tlvs(its_session_info=b"abc"))),
    ("message_payload over 65535", DataSm(tlvs=Tlvs(message_payload=bytes(65536)))),
    ("unknown TLV over 65535", DataSm(tlvs=Tlvs(unknown=(RawTlv(0x1400, bytes(65536)),)))),
    (
        "network_error_code too large",
        DeliverSm(tlvs=Tlvs(network_error_code=NetworkErrorCode(3, 70000))),
    ),
]


@pytest.mark.parametrize(("name", "pdu"), BAD_PDUS, ids=[b[0] for b in BAD_PDUS])
def test_encode_rejects_values_that_do_not_fit(name: str, pdu: Pdu) -> None:
    with pytest.raises(ValueError):
        encode(pdu)


def test_encode_limits_are_inclusive_of_the_nul() -> None:
    pdu = BindTransmitter(system_id="x" * 15, password="p" * 8, address_range="1" * 40)
    assert decode(encode(pdu)) == pdu
    assert decode(encode(SubmitSm(short_message=b"x" * 254))) == SubmitSm(short_message=b"x" * 254)


def test_encode_rejects_non_pdus() -> None:
    with pytest.raises(TypeError):
        encode(Tlvs())  # type: ignore[arg-type]


# --- streams -------------------------------------------------------------------------------

STREAM = b"".join(wire for _, wire in ALL_FRAMES)
EXPECTED = [pdu for _, _, pdu in FIXTURES + EMPTY_ERROR_RESPONSES]


def drain(reader: PduReader) -> list[Pdu]:
    return list(reader)


def test_stream_fed_whole() -> None:
    reader = PduReader()
    reader.feed(STREAM)
    assert drain(reader) == EXPECTED
    assert reader.buffered == 0


def test_stream_fed_byte_by_byte() -> None:
    reader = PduReader()
    received: list[Pdu] = []
    for octet in STREAM:
        reader.feed(bytes([octet]))
        received += drain(reader)
    assert received == EXPECTED


def test_stream_fed_in_random_chunks() -> None:
    rng = random.Random(3)
    for _ in range(20):
        reader = PduReader()
        received: list[Pdu] = []
        pos = 0
        while pos < len(STREAM):
            step = rng.randint(1, 200)
            reader.feed(memoryview(STREAM)[pos : pos + step])
            pos += step
            received += drain(reader)
        assert received == EXPECTED


@pytest.mark.parametrize(("name", "wire"), ALL_FRAMES, ids=[name for name, _ in ALL_FRAMES])
def test_frame_with_trailing_bytes_of_the_next(name: str, wire: bytes) -> None:
    following = FIXTURES[7][1]
    for cut in (1, 15, 16, len(following) - 1):
        reader = PduReader()
        reader.feed(wire + following[:cut])
        assert reader.next_pdu() == decode(wire)
        assert reader.next_pdu() is None
        assert reader.buffered == cut
        reader.feed(following[cut:])
        assert reader.next_pdu() == FIXTURES[7][2]
        assert reader.next_pdu() is None
