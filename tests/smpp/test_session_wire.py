"""What the session answers by itself to bytes the codec refuses (raw frames, no peer session)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import BindType, CommandId, CommandStatus
from smscd.smpp.pdus import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
)
from smscd.smpp.session import (
    BindRequest,
    BindResponse,
    ConnectionClosed,
    Event,
    ProtocolError,
    RequestReceived,
    ResponseReceived,
    Role,
    Session,
    SessionConfig,
    SessionState,
)

CONFIG = SessionConfig(max_command_length=1024)


def frame(command_id: int, sequence_number: int, body: bytes = b"", status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence_number) + body


def decode_all(data: bytes) -> list[Pdu]:
    reader = PduReader(65536)
    reader.feed(data)
    return list(reader)


BIND_CLASSES: dict[BindType, tuple[type[BindRequest], type[BindResponse]]] = {
    BindType.TRANSMITTER: (BindTransmitter, BindTransmitterResp),
    BindType.RECEIVER: (BindReceiver, BindReceiverResp),
    BindType.TRANSCEIVER: (BindTransceiver, BindTransceiverResp),
}


def bound(role: Role, bind_type: BindType = BindType.TRANSCEIVER) -> Session:
    """A session of ``role`` bound through the public API, its output drained."""
    request_class, response_class = BIND_CLASSES[bind_type]
    session = Session(role, CONFIG, 0.0)
    if role is Role.SMSC:
        request = request_class(sequence_number=1, system_id="acme")
        session.receive_data(encode(request), 0.0)
        session.answer_bind(request, CommandStatus.ESME_ROK, "smscd")
    else:
        sequence_number = session.bind(bind_type, "acme", "pw", 0.0)
        response = response_class(sequence_number=sequence_number, system_id="smscd")
        session.receive_data(encode(response), 0.0)
    session.data_to_send()
    assert session.state is not SessionState.OPEN
    return session


# A bind_transceiver whose system_id has 20 octets: the limit is 16 with the NUL (§4.1.5).
LONG_SYSTEM_ID_BIND = frame(
    CommandId.BIND_TRANSCEIVER,
    31,
    b"x" * 20 + b"\0" + b"pw\0" + b"\0" + bytes([0x34, 0, 0]) + b"\0",
)


@pytest.mark.parametrize(
    ("data", "answers"),
    [
        pytest.param(
            frame(0x00000099, 5),
            [GenericNack(sequence_number=5, command_status=CommandStatus.ESME_RINVCMDID)],
            id="unknown command_id",
        ),
        pytest.param(
            frame(0x80000099, 5),
            [],
            id="unknown response command_id: never answered",
        ),
        pytest.param(
            LONG_SYSTEM_ID_BIND,
            [BindTransceiverResp(sequence_number=31, command_status=CommandStatus.ESME_RINVSYSID)],
            id="bind field error",
        ),
        pytest.param(
            # enquire_link has no body: a trailing octet makes it invalid, answered in kind.
            frame(CommandId.ENQUIRE_LINK, 8, b"\0"),
            "enquire_link_resp",
            id="enquire_link with a body",
        ),
    ],
)
def test_non_fatal_codec_errors(data: bytes, answers: list[Pdu] | str) -> None:
    smsc = Session(Role.SMSC, CONFIG, 0.0)
    events = smsc.receive_data(data, 0.0)
    [error] = events
    assert isinstance(error, ProtocolError)
    assert not error.fatal
    assert error.reason
    sent = decode_all(smsc.data_to_send())
    if isinstance(answers, str):
        [answer] = sent
        assert answer.command_id == CommandId.ENQUIRE_LINK_RESP
        assert answer.command_status != CommandStatus.ESME_ROK
        assert answer.sequence_number == 8
    else:
        assert sent == answers
        if answers:
            assert error.command_status == answers[0].command_status
    assert smsc.state is SessionState.OPEN
    # The stream stays in step: the next frame is read normally.
    assert smsc.receive_data(encode(EnquireLink(sequence_number=9)), 0.0) == []
    assert decode_all(smsc.data_to_send()) == [EnquireLinkResp(sequence_number=9)]


@pytest.mark.parametrize(
    "command_length",
    [0, 15, CONFIG.max_command_length + 1, 0xFFFFFFFF],
    ids=["zero", "below header", "above max", "huge"],
)
def test_bad_command_length_is_fatal(command_length: int) -> None:
    smsc = bound(Role.SMSC)
    before = encode(SubmitSm(sequence_number=40, short_message=b"kept"))
    bad = struct.pack(">IIII", command_length, CommandId.SUBMIT_SM, 0, 41)
    after = encode(SubmitSm(sequence_number=42, short_message=b"dropped"))
    events = smsc.receive_data(before + bad + after, 5.0)
    assert [type(e) for e in events] == [RequestReceived, ProtocolError, ConnectionClosed]
    error = events[1]
    assert isinstance(error, ProtocolError)
    assert (error.command_status, error.fatal) == (CommandStatus.ESME_RINVCMDLEN, True)
    assert decode_all(smsc.data_to_send()) == [
        GenericNack(sequence_number=41, command_status=CommandStatus.ESME_RINVCMDLEN)
    ]
    assert smsc.state is SessionState.CLOSED
    assert smsc.get_timer() is None
    assert smsc.receive_data(after, 6.0) == []
    assert smsc.data_to_send() == b""


def test_bad_command_length_split_across_reads() -> None:
    smsc = bound(Role.SMSC)
    bad = struct.pack(">IIII", 3, CommandId.SUBMIT_SM, 0, 41)
    events: list[Event] = []
    for i in range(len(bad)):
        events += smsc.receive_data(bad[i : i + 1], 0.0)
    assert [type(e) for e in events] == [ProtocolError, ConnectionClosed]


def test_broken_response_is_not_answered() -> None:
    """A response the codec refuses is never answered; its request awaits a valid one."""
    esme = bound(Role.ESME, BindType.TRANSMITTER)
    sequence_number = esme.send_request(SubmitSm(), 0.0, "ctx")
    esme.data_to_send()
    # message_id without its NUL terminator.
    broken = frame(CommandId.SUBMIT_SM_RESP, sequence_number, b"abc")
    [error] = esme.receive_data(broken, 1.0)
    assert isinstance(error, ProtocolError)
    assert error.command_id == CommandId.SUBMIT_SM_RESP
    assert esme.data_to_send() == b""
    assert esme.outstanding == 1
    good = encode(SubmitSmResp(sequence_number=sequence_number, message_id="abc"))
    [answered] = esme.receive_data(good, 1.0)
    assert isinstance(answered, ResponseReceived)
    assert answered.context == "ctx"


def test_header_only_generic_nack_for_unknown_id_with_body() -> None:
    esme = bound(Role.ESME)
    esme.receive_data(frame(0x00010000, 77, b"some body"), 0.0)
    assert decode_all(esme.data_to_send()) == [
        GenericNack(sequence_number=77, command_status=CommandStatus.ESME_RINVCMDID)
    ]


# ------------------------------------------------------------------------------- fuzz


@given(
    chunks=st.lists(st.binary(max_size=64), max_size=8),
    bound_first=st.booleans(),
    role=st.sampled_from(list(Role)),
)
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise(chunks: list[bytes], bound_first: bool, role: Role) -> None:
    """Whatever arrives, the session answers with events and bytes; it never raises."""
    session = bound(role) if bound_first else Session(role, CONFIG, 0.0)
    for now, chunk in enumerate(chunks):
        for event in session.receive_data(chunk, float(now)):
            if isinstance(event, ProtocolError):
                assert 0 <= event.command_status <= 0xFFFFFFFF
        session.handle_timer(float(now))
    # Whatever was queued decodes: the session only ever writes whole, valid frames.
    for pdu in decode_all(session.data_to_send()):
        assert pdu.sequence_number >= 0


@given(
    pdus=st.lists(
        st.sampled_from(
            [
                encode(SubmitSm(sequence_number=3, short_message=b"x")),
                encode(EnquireLink(sequence_number=4)),
                encode(SubmitSmResp(sequence_number=5)),
                frame(0x00000099, 6),
                LONG_SYSTEM_ID_BIND,
                encode(BindTransmitter(sequence_number=7)),
            ]
        ),
        max_size=10,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
@settings(max_examples=200, deadline=None)
def test_any_split_gives_the_same_events(pdus: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(pdus)
    whole = bound(Role.SMSC)
    split = bound(Role.SMSC)
    expected = whole.receive_data(stream, 1.0)
    events: list[Event] = []
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(stream)), len(stream)]:
        events += split.receive_data(stream[start:cut], 1.0)
        start = cut
    assert events == expected
    assert split.data_to_send() == whole.data_to_send()
