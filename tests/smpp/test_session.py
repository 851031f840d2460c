"""The SMPP session state machine, both roles, sans-IO: an ESME-role session and an SMSC-role
session talk to each other by handing ``data_to_send`` to the other's ``receive_data``."""

from __future__ import annotations

import attrs
import pytest

from smscd.smpp.codec import EncodedRequest, PduReader, encode, submit_response_frame
from smscd.smpp.constants import BindType, CommandId, CommandStatus
from smscd.smpp.errors import SmppError
from smscd.smpp.pdus import (
    PDU_CLASSES,
    AlertNotification,
    BindReceiverResp,
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
    Outbind,
    Pdu,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smscd.smpp.session import (  # _RENUMBER: see test_renumbered_copy_is_a_true_copy
    _RENUMBER,
    MAX_SEQUENCE_NUMBER,
    BindCompleted,
    BindRequested,
    ConnectionClosed,
    Event,
    OperationNotAllowedError,
    ProtocolError,
    RequestReceived,
    ResponseReceived,
    Role,
    Session,
    SessionConfig,
    SessionState,
    Unbound,
    WindowFull,
)

CONFIG = SessionConfig(
    window=3,
    response_timeout=10.0,
    enquire_link_interval=30.0,
    session_init_timeout=20.0,
    inactivity_timeout=300.0,
)
BOUND_STATE = {
    BindType.TRANSMITTER: SessionState.BOUND_TX,
    BindType.RECEIVER: SessionState.BOUND_RX,
    BindType.TRANSCEIVER: SessionState.BOUND_TRX,
}
RESPONSE_CLASS = {
    BindType.TRANSMITTER: BindTransmitterResp,
    BindType.RECEIVER: BindReceiverResp,
    BindType.TRANSCEIVER: BindTransceiverResp,
}


def state_of(session: Session) -> SessionState:
    """Read the state afresh: mypy would keep an earlier ``session.state`` check narrowed."""
    return session.state


def decode_all(data: bytes) -> list[Pdu]:
    reader = PduReader(65536)
    reader.feed(data)
    pdus = []
    while (pdu := reader.next_pdu()) is not None:
        pdus.append(pdu)
    return pdus


class Pair:
    """An ESME-role and an SMSC-role session wired back to back."""

    def __init__(self, config: SessionConfig = CONFIG, now: float = 0.0) -> None:
        self.esme = Session(Role.ESME, config, now)
        self.smsc = Session(Role.SMSC, config, now)

    def to_smsc(self, now: float = 0.0) -> list[Event]:
        return self.smsc.receive_data(self.esme.data_to_send(), now)

    def to_esme(self, now: float = 0.0) -> list[Event]:
        return self.esme.receive_data(self.smsc.data_to_send(), now)


def bound_pair(bind_type: BindType, config: SessionConfig = CONFIG, now: float = 0.0) -> Pair:
    pair = Pair(config, now)
    pair.esme.bind(bind_type, "acme", "secret", now)
    [requested] = pair.to_smsc(now)
    assert isinstance(requested, BindRequested)
    pair.smsc.answer_bind(requested.pdu, CommandStatus.ESME_ROK, "smscd")
    [completed] = pair.to_esme(now)
    assert isinstance(completed, BindCompleted)
    assert pair.esme.state is pair.smsc.state is BOUND_STATE[bind_type]
    return pair


# ----------------------------------------------------------------------------- binding


@pytest.mark.parametrize("bind_type", list(BindType))
def test_bind_accepted(bind_type: BindType) -> None:
    pair = Pair()
    sequence_number = pair.esme.bind(bind_type, "acme", "secret", 0.0, system_type="VMA")
    assert pair.esme.outstanding == 1

    [requested] = pair.to_smsc()
    assert isinstance(requested, BindRequested)
    assert requested.bind_type is bind_type
    assert requested.pdu.command_id == bind_type
    assert requested.pdu.sequence_number == sequence_number
    assert (requested.pdu.system_id, requested.pdu.password) == ("acme", "secret")
    assert requested.pdu.system_type == "VMA"
    assert pair.smsc.state is SessionState.OPEN  # until the application answers

    pair.smsc.answer_bind(requested.pdu, CommandStatus.ESME_ROK, "smscd")
    assert pair.smsc.state is BOUND_STATE[bind_type]
    assert pair.smsc.bound_system_id == "acme"
    assert pair.smsc.bind_type is bind_type

    [completed] = pair.to_esme()
    assert isinstance(completed, BindCompleted)
    response = completed.response
    assert isinstance(response, RESPONSE_CLASS[bind_type])
    assert response.command_status == CommandStatus.ESME_ROK
    assert response.sequence_number == sequence_number
    assert response.system_id == "smscd"
    assert response.tlvs.sc_interface_version == 0x34
    assert pair.esme.state is BOUND_STATE[bind_type]
    assert pair.esme.bound_system_id == "acme"
    assert pair.esme.bind_type is bind_type
    assert pair.esme.outstanding == 0


@pytest.mark.parametrize("bind_type", list(BindType))
def test_bind_refused_then_retried(bind_type: BindType) -> None:
    pair = Pair()
    pair.esme.bind(bind_type, "acme", "wrong", 0.0)
    [requested] = pair.to_smsc()
    assert isinstance(requested, BindRequested)
    pair.smsc.answer_bind(requested.pdu, CommandStatus.ESME_RINVPASWD, "smscd")
    [completed] = pair.to_esme()
    assert isinstance(completed, BindCompleted)
    assert completed.response.command_status == CommandStatus.ESME_RINVPASWD
    assert isinstance(completed.response, RESPONSE_CLASS[bind_type])
    assert pair.esme.state is pair.smsc.state is SessionState.OPEN
    assert pair.esme.bound_system_id is pair.smsc.bound_system_id is None

    # The connection stays usable for another attempt.
    pair.esme.bind(bind_type, "acme", "secret", 1.0)
    [requested] = pair.to_smsc(1.0)
    assert isinstance(requested, BindRequested)
    pair.smsc.answer_bind(requested.pdu, CommandStatus.ESME_ROK, "smscd")
    pair.to_esme(1.0)
    assert pair.esme.state is pair.smsc.state is BOUND_STATE[bind_type]


def test_bind_answered_by_generic_nack() -> None:
    esme = Session(Role.ESME, CONFIG, 0.0)
    sequence_number = esme.bind(BindType.TRANSMITTER, "acme", "secret", 0.0)
    nack = GenericNack(sequence_number=sequence_number, command_status=CommandStatus.ESME_RSYSERR)
    [completed] = esme.receive_data(encode(nack), 0.0)
    assert completed == BindCompleted(nack)
    assert esme.state is SessionState.OPEN
    esme.bind(BindType.TRANSMITTER, "acme", "secret", 0.0)  # allowed again


def test_second_bind_while_first_awaits_answer() -> None:
    smsc = Session(Role.SMSC, CONFIG, 0.0)
    first = BindTransmitter(sequence_number=1, system_id="a")
    second = BindTransmitter(sequence_number=2, system_id="b")
    events = smsc.receive_data(encode(first) + encode(second), 0.0)
    assert events[0] == BindRequested(first, BindType.TRANSMITTER)
    assert isinstance(events[1], ProtocolError)
    assert decode_all(smsc.data_to_send()) == [
        BindTransmitterResp(sequence_number=2, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]


def test_bind_api_misuse() -> None:
    pair = Pair()
    with pytest.raises(OperationNotAllowedError):
        pair.smsc.bind(BindType.TRANSMITTER, "acme", "secret", 0.0)
    with pytest.raises(OperationNotAllowedError):  # no bind awaits an answer
        pair.smsc.answer_bind(BindTransmitter(), CommandStatus.ESME_ROK, "smscd")
    pair.esme.bind(BindType.TRANSMITTER, "acme", "secret", 0.0)
    with pytest.raises(OperationNotAllowedError):  # one at a time
        pair.esme.bind(BindType.RECEIVER, "acme", "secret", 0.0)
    with pytest.raises(OperationNotAllowedError):
        pair.esme.answer_bind(BindTransmitter(), CommandStatus.ESME_ROK, "smscd")


def test_already_bound() -> None:
    pair = bound_pair(BindType.TRANSCEIVER)
    rebind = BindTransmitter(sequence_number=42, system_id="acme")
    [error] = pair.smsc.receive_data(encode(rebind), 1.0)
    assert isinstance(error, ProtocolError)
    assert error == ProtocolError(
        CommandStatus.ESME_RALYBND, CommandId.BIND_TRANSMITTER, 42, False, error.reason
    )
    assert decode_all(pair.smsc.data_to_send()) == [
        BindTransmitterResp(sequence_number=42, command_status=CommandStatus.ESME_RALYBND)
    ]
    assert pair.smsc.state is SessionState.BOUND_TRX
    with pytest.raises(OperationNotAllowedError):
        pair.esme.bind(BindType.TRANSMITTER, "acme", "secret", 1.0)


def test_outbind_then_bind() -> None:
    """An SMSC that dialled out announces itself with outbind; the ESME then binds (§2.2.1)."""
    pair = Pair()
    outbind = Outbind(system_id="smscd", password="pw")
    pair.smsc.send_request(outbind, 0.0)
    assert pair.smsc.outstanding == 0  # outbind has no response
    [received] = pair.to_esme()
    assert isinstance(received, RequestReceived)
    assert isinstance(received.pdu, Outbind)
    assert received.pdu.system_id == "smscd"
    assert pair.esme.data_to_send() == b""
    pair.esme.bind(BindType.RECEIVER, "acme", "secret", 0.0)
    assert isinstance(pair.to_smsc()[0], BindRequested)


# ---------------------------------------------------------------------------- messages


def test_submit_sm_round_trip() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    submit = SubmitSm(destination_addr="4912345", short_message=b"hello")
    context = object()
    sequence_number = pair.esme.send_request(submit, 1.0, context)
    assert pair.esme.outstanding == 1
    assert pair.esme.window_available == CONFIG.window - 1

    [received] = pair.to_smsc(1.0)
    assert isinstance(received, RequestReceived)
    assert received.pdu == SubmitSm(
        sequence_number=sequence_number, destination_addr="4912345", short_message=b"hello"
    )
    pair.smsc.send_response(SubmitSmResp(sequence_number=sequence_number, message_id="m1"))

    [answered] = pair.to_esme(1.5)
    assert isinstance(answered, ResponseReceived)
    # A copy carrying the number on the wire; the caller's frozen PDU is left as it was.
    assert answered.request == attrs.evolve(submit, sequence_number=sequence_number)
    assert submit.sequence_number == 0
    assert answered.context is context
    assert answered.response == SubmitSmResp(sequence_number=sequence_number, message_id="m1")
    assert pair.esme.outstanding == 0
    assert pair.esme.window_available == CONFIG.window


def test_one_pdu_sent_many_times() -> None:
    """The session never alters the caller's PDU: a template can be sent again and again."""
    pair = bound_pair(BindType.TRANSMITTER)
    template = SubmitSm(destination_addr="1", short_message=b"same")
    numbers = [pair.esme.send_request(template, 0.0, n) for n in range(3)]
    assert template.sequence_number == 0
    received = pair.to_smsc()
    assert [e.pdu.sequence_number for e in received] == numbers  # type: ignore[union-attr]
    for n in reversed(numbers):
        pair.smsc.send_response(SubmitSmResp(sequence_number=n))
    answered = pair.to_esme()
    assert [(e.request.sequence_number, e.context) for e in answered] == [  # type: ignore[union-attr]
        (numbers[2], 2),
        (numbers[1], 1),
        (numbers[0], 0),
    ]


@pytest.mark.parametrize("bind_type", [BindType.RECEIVER, BindType.TRANSCEIVER])
def test_deliver_sm_window(bind_type: BindType) -> None:
    pair = bound_pair(bind_type)
    sent = [
        pair.smsc.send_request(DeliverSm(short_message=bytes([n])), 1.0, n)
        for n in range(CONFIG.window)
    ]
    assert pair.smsc.window_available == 0
    with pytest.raises(WindowFull):
        pair.smsc.send_request(DeliverSm(), 1.0)
    assert pair.smsc.outstanding == CONFIG.window

    received = pair.to_esme(1.0)
    assert [event.pdu.sequence_number for event in received] == sent  # type: ignore[union-attr]
    # Answer out of order: the middle one first.
    pair.esme.send_response(DeliverSmResp(sequence_number=sent[1]))
    [answered] = pair.to_smsc(2.0)
    assert isinstance(answered, ResponseReceived)
    assert answered.context == 1
    assert pair.smsc.window_available == 1
    pair.smsc.send_request(DeliverSm(), 2.0)
    with pytest.raises(WindowFull):
        pair.smsc.send_request(DeliverSm(), 2.0)


def test_generic_nack_answers_outstanding_request() -> None:
    pair = bound_pair(BindType.RECEIVER)
    deliver = DeliverSm(short_message=b"x")
    sequence_number = pair.smsc.send_request(deliver, 0.0, "ctx")
    nack = GenericNack(sequence_number=sequence_number, command_status=CommandStatus.ESME_RSYSERR)
    [answered] = pair.smsc.receive_data(encode(nack), 1.0)
    request = attrs.evolve(deliver, sequence_number=sequence_number)
    assert answered == ResponseReceived(request, nack, "ctx")
    assert pair.smsc.outstanding == 0


def test_data_sm_both_ways_on_transceiver() -> None:
    pair = bound_pair(BindType.TRANSCEIVER)
    up = pair.esme.send_request(DataSm(destination_addr="1"), 0.0)
    down = pair.smsc.send_request(DataSm(destination_addr="2"), 0.0)
    [at_smsc] = pair.to_smsc()
    [at_esme] = pair.to_esme()
    assert isinstance(at_smsc, RequestReceived)
    assert isinstance(at_esme, RequestReceived)
    pair.smsc.send_response(DataSmResp(sequence_number=up, message_id="u"))
    pair.esme.send_response(DataSmResp(sequence_number=down))
    assert isinstance(pair.to_esme()[0], ResponseReceived)
    assert isinstance(pair.to_smsc()[0], ResponseReceived)


def test_alert_notification_to_receiver() -> None:
    pair = bound_pair(BindType.RECEIVER)
    pair.smsc.send_request(AlertNotification(source_addr="123", esme_addr="acme"), 0.0)
    assert pair.smsc.outstanding == 0  # no response exists (§4.12)
    [received] = pair.to_esme()
    assert isinstance(received, RequestReceived)
    assert isinstance(received.pdu, AlertNotification)


def test_enquire_link_answered_inside_the_session() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    link = EnquireLink()
    sequence_number = pair.esme.send_request(link, 1.0, "ping")
    assert pair.to_smsc(1.0) == []  # nothing for the application
    [answered] = pair.to_esme(1.0)
    assert answered == ResponseReceived(
        EnquireLink(sequence_number=sequence_number),
        EnquireLinkResp(sequence_number=sequence_number),
        "ping",
    )
    assert link.sequence_number == 0


def test_enquire_link_accepted_before_bind() -> None:
    smsc = Session(Role.SMSC, CONFIG, 0.0)
    assert smsc.receive_data(encode(EnquireLink(sequence_number=9)), 0.0) == []
    assert decode_all(smsc.data_to_send()) == [EnquireLinkResp(sequence_number=9)]


# ------------------------------------------------------------------- outbound tables


def test_outbound_table() -> None:
    pair = Pair()
    with pytest.raises(OperationNotAllowedError, match="submit_sm"):
        pair.esme.send_request(SubmitSm(), 0.0)  # not bound yet
    with pytest.raises(OperationNotAllowedError):
        pair.smsc.send_request(DeliverSm(), 0.0)
    with pytest.raises(OperationNotAllowedError):
        pair.esme.send_request(BindTransmitter(), 0.0)  # binds go through bind()

    tx = bound_pair(BindType.TRANSMITTER)
    with pytest.raises(OperationNotAllowedError, match="deliver_sm in state BOUND_TX"):
        tx.smsc.send_request(DeliverSm(), 0.0)
    with pytest.raises(OperationNotAllowedError):
        tx.esme.send_request(DeliverSm(), 0.0)  # wrong direction
    with pytest.raises(OperationNotAllowedError):
        tx.esme.send_request(Unbind(), 0.0)  # unbind() moves the state machine

    rx = bound_pair(BindType.RECEIVER)
    with pytest.raises(OperationNotAllowedError):
        rx.esme.send_request(SubmitSm(), 0.0)
    with pytest.raises(OperationNotAllowedError):
        rx.smsc.send_request(SubmitSm(), 0.0)
    rx.esme.send_request(EnquireLink(), 0.0)


def test_send_response_checks() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    with pytest.raises(ValueError, match="response"):
        pair.smsc.send_response(SubmitSm())  # type: ignore[arg-type]
    pair.smsc.close()
    pair.smsc.send_response(SubmitSmResp(sequence_number=1))  # the peer is gone: dropped
    assert pair.smsc.data_to_send() == b""


# ------------------------------------------------------------------- inbound tables


def test_submit_sm_before_bind_is_rinvbndsts() -> None:
    smsc = Session(Role.SMSC, CONFIG, 0.0)
    [error] = smsc.receive_data(encode(SubmitSm(sequence_number=7)), 0.0)
    assert isinstance(error, ProtocolError)
    assert (error.command_status, error.command_id, error.sequence_number, error.fatal) == (
        CommandStatus.ESME_RINVBNDSTS,
        CommandId.SUBMIT_SM,
        7,
        False,
    )
    assert decode_all(smsc.data_to_send()) == [
        SubmitSmResp(sequence_number=7, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]


def test_submit_sm_to_receiver_is_rinvbndsts() -> None:
    pair = bound_pair(BindType.RECEIVER)
    pair.smsc.receive_data(encode(SubmitSm(sequence_number=8)), 0.0)
    assert decode_all(pair.smsc.data_to_send()) == [
        SubmitSmResp(sequence_number=8, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]


def test_deliver_sm_to_transmitter_esme_is_rinvbndsts() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    [error] = pair.esme.receive_data(encode(DeliverSm(sequence_number=3)), 0.0)
    assert isinstance(error, ProtocolError)
    assert error.command_status == CommandStatus.ESME_RINVBNDSTS
    assert decode_all(pair.esme.data_to_send()) == [
        DeliverSmResp(sequence_number=3, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]


def test_wrong_direction_is_rinvcmdid() -> None:
    """No bind state would make a deliver_sm to an SMSC or a submit_sm to an ESME valid."""
    pair = bound_pair(BindType.TRANSCEIVER)
    pair.smsc.receive_data(encode(DeliverSm(sequence_number=4)), 0.0)
    assert decode_all(pair.smsc.data_to_send()) == [
        DeliverSmResp(sequence_number=4, command_status=CommandStatus.ESME_RINVCMDID)
    ]
    pair.esme.receive_data(encode(QuerySm(sequence_number=5)), 0.0)
    [answer] = decode_all(pair.esme.data_to_send())
    assert (answer.command_id, answer.command_status, answer.sequence_number) == (
        CommandId.QUERY_SM_RESP,
        CommandStatus.ESME_RINVCMDID,
        5,
    )


def test_requests_without_response_are_never_answered() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    [error] = pair.esme.receive_data(encode(AlertNotification(sequence_number=6)), 0.0)
    assert isinstance(error, ProtocolError)
    assert error.command_status == CommandStatus.ESME_RINVBNDSTS
    [error] = pair.smsc.receive_data(encode(Outbind(sequence_number=7)), 0.0)
    assert isinstance(error, ProtocolError)
    assert error.command_status == CommandStatus.ESME_RINVCMDID
    assert pair.esme.data_to_send() == pair.smsc.data_to_send() == b""


def test_unexpected_response_is_reported_not_answered() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    [error] = pair.esme.receive_data(encode(SubmitSmResp(sequence_number=77)), 0.0)
    assert isinstance(error, ProtocolError)
    assert (error.command_id, error.sequence_number, error.fatal) == (
        CommandId.SUBMIT_SM_RESP,
        77,
        False,
    )
    assert pair.esme.data_to_send() == b""


def test_response_of_the_wrong_kind_leaves_request_outstanding() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    sequence_number = pair.esme.send_request(SubmitSm(), 0.0)
    [error] = pair.esme.receive_data(encode(DeliverSmResp(sequence_number=sequence_number)), 0.0)
    assert isinstance(error, ProtocolError)
    assert pair.esme.outstanding == 1
    [answered] = pair.esme.receive_data(encode(SubmitSmResp(sequence_number=sequence_number)), 0.0)
    assert isinstance(answered, ResponseReceived)


# ---------------------------------------------------------------------------- unbind


def test_unbind_handshake_from_esme() -> None:
    pair = bound_pair(BindType.TRANSCEIVER)
    delivered = pair.smsc.send_request(DeliverSm(), 0.0, "in flight")
    assert len(pair.to_esme()) == 1  # the ESME holds its answer for now

    pair.esme.unbind(1.0)
    assert pair.esme.state is SessionState.UNBINDING
    pair.esme.unbind(1.0)  # idempotent
    with pytest.raises(OperationNotAllowedError):
        pair.esme.send_request(EnquireLink(), 1.0)
    assert pair.to_smsc(1.0) == [Unbound()]
    assert pair.smsc.state is SessionState.UNBOUND

    # Answers to requests in flight still flow both ways.
    pair.esme.send_response(DeliverSmResp(sequence_number=delivered))
    assert pair.to_esme(2.0) == [Unbound()]
    assert state_of(pair.esme) is SessionState.UNBOUND
    [answered] = pair.to_smsc(2.0)
    assert isinstance(answered, ResponseReceived)
    assert answered.context == "in flight"
    assert pair.esme.get_timer() is None  # nothing outstanding, no unbind deadline


def test_unbind_handshake_from_smsc() -> None:
    pair = bound_pair(BindType.TRANSCEIVER)
    delivered = pair.smsc.send_request(DeliverSm(), 0.0, "in flight")
    assert len(pair.to_esme()) == 1

    pair.smsc.unbind(1.0)
    assert pair.smsc.state is SessionState.UNBINDING
    with pytest.raises(OperationNotAllowedError):
        pair.smsc.send_request(DeliverSm(), 1.0)
    assert pair.to_esme(1.0) == [Unbound()]
    pair.esme.send_response(DeliverSmResp(sequence_number=delivered))
    events = pair.to_smsc(2.0)
    assert [type(e) for e in events] == [Unbound, ResponseReceived]
    assert pair.smsc.state is pair.esme.state is SessionState.UNBOUND


def test_unbind_response_order_in_stream() -> None:
    """unbind_resp goes out after answers the application queued before it."""
    pair = bound_pair(BindType.TRANSMITTER)
    first = pair.esme.send_request(SubmitSm(), 0.0)
    pair.esme.unbind(0.0)
    events = pair.to_smsc()
    assert [type(e) for e in events] == [RequestReceived, Unbound]
    pair.smsc.send_response(SubmitSmResp(sequence_number=first, message_id="1"))
    out = decode_all(pair.smsc.data_to_send())
    assert [type(p) for p in out] == [UnbindResp, SubmitSmResp]


def test_unbind_unanswered_closes() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    pair.esme.unbind(5.0)
    assert pair.esme.get_timer() == 15.0
    assert pair.esme.handle_timer(14.9) == []
    assert pair.esme.handle_timer(15.0) == [ConnectionClosed("unbind unanswered")]
    assert pair.esme.state is SessionState.CLOSED
    assert pair.esme.get_timer() is None


def test_crossing_unbinds() -> None:
    pair = bound_pair(BindType.TRANSCEIVER)
    pair.esme.unbind(0.0)
    pair.smsc.unbind(0.0)
    assert pair.to_smsc() == [Unbound()]
    assert pair.to_esme() == [Unbound()]
    assert pair.esme.state is pair.smsc.state is SessionState.UNBOUND
    # Each side's unbind_resp, arriving after the handshake ended, is absorbed quietly.
    assert pair.to_smsc() == []
    assert pair.esme.get_timer() is pair.smsc.get_timer() is None


def test_unbind_needs_a_bound_session() -> None:
    with pytest.raises(OperationNotAllowedError):
        Session(Role.ESME, CONFIG, 0.0).unbind(0.0)


def test_unbind_before_bind_is_rinvbndsts() -> None:
    smsc = Session(Role.SMSC, CONFIG, 0.0)
    smsc.receive_data(encode(Unbind(sequence_number=2)), 0.0)
    assert decode_all(smsc.data_to_send()) == [
        UnbindResp(sequence_number=2, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]
    assert smsc.state is SessionState.OPEN


def test_close_and_drain_outstanding() -> None:
    pair = bound_pair(BindType.RECEIVER)
    first, second = DeliverSm(short_message=b"1"), DeliverSm(short_message=b"2")
    one = pair.smsc.send_request(first, 0.0, "a")
    two = pair.smsc.send_request(second, 0.0, "b")
    pair.smsc.close()
    assert pair.smsc.state is SessionState.CLOSED
    assert pair.smsc.get_timer() is None
    assert pair.smsc.handle_timer(100.0) == []
    assert pair.smsc.receive_data(encode(DeliverSmResp(sequence_number=1)), 1.0) == []
    assert pair.smsc.drain_outstanding() == [
        (attrs.evolve(first, sequence_number=one), "a"),
        (attrs.evolve(second, sequence_number=two), "b"),
    ]
    assert pair.smsc.outstanding == 0
    with pytest.raises(OperationNotAllowedError):
        pair.smsc.send_request(DeliverSm(), 1.0)


# --------------------------------------------------------------- sequence numbers


def test_sequence_numbers_wrap_around() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    # Private, on purpose: reaching the wrap through the API takes 2**31 requests.
    pair.esme._next_sequence = MAX_SEQUENCE_NUMBER - 1
    numbers = [pair.esme.send_request(SubmitSm(), 0.0) for _ in range(3)]
    assert numbers == [MAX_SEQUENCE_NUMBER - 1, MAX_SEQUENCE_NUMBER, 1]
    received = pair.to_smsc()
    assert [e.pdu.sequence_number for e in received] == numbers  # type: ignore[union-attr]
    for n in numbers:
        pair.smsc.send_response(SubmitSmResp(sequence_number=n))
    assert [e.context for e in pair.to_esme()] == [None] * 3  # type: ignore[union-attr]
    assert pair.esme.outstanding == 0


def test_sequence_numbers_shared_with_session_requests() -> None:
    pair = bound_pair(BindType.TRANSMITTER)  # the bind took 1
    assert pair.esme.send_request(SubmitSm(), 0.0) == 2
    pair.esme.handle_timer(30.0)  # idle enquire_link takes 3
    assert pair.esme.send_request(SubmitSm(), 30.0) == 4
    sent = decode_all(pair.esme.data_to_send())
    assert [(type(p), p.sequence_number) for p in sent] == [
        (SubmitSm, 2),
        (EnquireLink, 3),
        (SubmitSm, 4),
    ]


# ------------------------------------------------------------------ chunks and order


def test_events_in_stream_order_within_one_chunk() -> None:
    pair = bound_pair(BindType.TRANSCEIVER)
    smsc = pair.smsc
    delivered = smsc.send_request(DeliverSm(), 0.0, "d")
    smsc.data_to_send()
    chunk = b"".join(
        [
            encode(SubmitSm(sequence_number=10, short_message=b"a")),
            encode(EnquireLink(sequence_number=11)),
            encode(DeliverSmResp(sequence_number=delivered)),
            encode(SubmitSm(sequence_number=12, short_message=b"b")),
            encode(Unbind(sequence_number=13)),
            encode(SubmitSm(sequence_number=14, short_message=b"c")),  # after unbind: refused
        ]
    )
    events = smsc.receive_data(chunk, 1.0)
    assert [type(e) for e in events] == [
        RequestReceived,
        ResponseReceived,
        RequestReceived,
        Unbound,
        ProtocolError,
    ]
    assert [e.pdu.short_message for e in events if isinstance(e, RequestReceived)] == [  # type: ignore[union-attr]
        b"a",
        b"b",
    ]
    assert decode_all(smsc.data_to_send()) == [
        EnquireLinkResp(sequence_number=11),
        UnbindResp(sequence_number=13),
        SubmitSmResp(sequence_number=14, command_status=CommandStatus.ESME_RINVBNDSTS),
    ]


def _mixed_stream(delivered: int) -> bytes:
    return b"".join(
        [
            encode(SubmitSm(sequence_number=20, destination_addr="1", short_message=b"x" * 40)),
            encode(EnquireLink(sequence_number=21)),
            bytes.fromhex("00000010 00000099 00000000 00000016"),  # unknown command_id
            encode(DeliverSmResp(sequence_number=delivered)),
            encode(BindTransmitter(sequence_number=23)),  # already bound
            encode(SubmitSmResp(sequence_number=999)),  # unexpected response
            encode(SubmitSm(sequence_number=24, short_message=b"y")),
        ]
    )


def test_byte_by_byte_equals_whole() -> None:
    whole = bound_pair(BindType.TRANSCEIVER)
    trickle = bound_pair(BindType.TRANSCEIVER)
    delivered_whole = whole.smsc.send_request(DeliverSm(), 0.0)
    delivered_trickle = trickle.smsc.send_request(DeliverSm(), 0.0)
    whole.smsc.data_to_send()
    trickle.smsc.data_to_send()
    assert delivered_whole == delivered_trickle
    stream = _mixed_stream(delivered_whole)

    events_whole = whole.smsc.receive_data(stream, 1.0)
    events_trickle: list[Event] = []
    for i in range(len(stream)):
        events_trickle += trickle.smsc.receive_data(stream[i : i + 1], 1.0)
    assert events_trickle == events_whole
    assert [type(e) for e in events_whole] == [
        RequestReceived,
        ProtocolError,
        ResponseReceived,
        ProtocolError,
        ProtocolError,
        RequestReceived,
    ]
    assert trickle.smsc.data_to_send() == whole.smsc.data_to_send()


def test_empty_data_changes_nothing() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    assert pair.smsc.receive_data(b"", 29.0) == []
    assert pair.smsc.get_timer() == 30.0  # an empty read is no sign of life


@pytest.mark.parametrize("cls", list(PDU_CLASSES.values()), ids=lambda c: c.__name__)
def test_renumbered_copy_is_a_true_copy(cls: type[Pdu]) -> None:
    """The generated copier behind send_request equals attrs.evolve for every PDU class."""
    original = cls(sequence_number=3, command_status=1)
    copy = _RENUMBER[cls](original, 7)
    assert type(copy) is cls
    assert copy == attrs.evolve(original, sequence_number=7)
    assert original.sequence_number == 3
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        copy.sequence_number = 8  # type: ignore[misc]


# ----------------------------------------------------------------------- encoded requests


def test_encoded_request_goes_out_as_the_pdu_would() -> None:
    """A request encoded once (a receipt) is sent under the session's sequence number, byte
    for byte what the PDU itself would have been, and counts against the window the same."""
    pair = bound_pair(BindType.RECEIVER)
    pdu = DeliverSm(source_addr="46700000001", destination_addr="Acme", short_message=b"id:1")
    encoded = EncodedRequest.of(pdu)
    numbers = [pair.smsc.send_request(encoded, 1.0, n) for n in range(2)]
    assert encoded.sequence_number == 0  # the caller's object is not changed
    assert pair.smsc.outstanding == 2
    wire = pair.smsc.data_to_send()
    assert wire == b"".join(encode(attrs.evolve(pdu, sequence_number=n)) for n in numbers)
    received = pair.esme.receive_data(wire, 1.0)
    assert [e.pdu for e in received] == [  # type: ignore[union-attr]
        attrs.evolve(pdu, sequence_number=n) for n in numbers
    ]
    pair.esme.send_response(DeliverSmResp(sequence_number=numbers[1]))
    [answered] = pair.to_smsc(2.0)
    assert isinstance(answered, ResponseReceived)
    assert answered.context == 1
    assert isinstance(answered.request, EncodedRequest)
    assert answered.request.sequence_number == numbers[1]
    assert answered.request.decode() == attrs.evolve(pdu, sequence_number=numbers[1])
    # Drained like any request when the connection ends.
    [(request, context)] = pair.smsc.drain_outstanding()
    assert (request.sequence_number, context) == (numbers[0], 0)


def test_encoded_request_obeys_the_state_tables() -> None:
    pair = bound_pair(BindType.TRANSMITTER)
    with pytest.raises(OperationNotAllowedError):
        pair.smsc.send_request(EncodedRequest.of(DeliverSm()), 0.0)


def test_encoded_request_construction_checks() -> None:
    frame = encode(DeliverSm(sequence_number=7, short_message=b"x"))
    request = EncodedRequest.from_frame(frame)
    assert (request.command_id, request.sequence_number) == (CommandId.DELIVER_SM, 7)
    assert request.frame() == frame
    assert request == EncodedRequest.of(DeliverSm(sequence_number=7, short_message=b"x"))
    with pytest.raises(ValueError, match="response"):
        EncodedRequest.from_frame(encode(DeliverSmResp(sequence_number=1)))
    with pytest.raises(ValueError, match="response"):
        EncodedRequest.of(DeliverSmResp())
    with pytest.raises(SmppError):
        EncodedRequest.from_frame(frame[:-1])


@pytest.mark.parametrize("resp_class", [SubmitSmResp, DataSmResp])
@pytest.mark.parametrize("status", [CommandStatus.ESME_ROK, CommandStatus.ESME_RTHROTTLED])
def test_submit_response_frame_is_the_encoded_response(
    resp_class: type[SubmitSmResp | DataSmResp], status: int
) -> None:
    message_id = "1795453364417043" if status == CommandStatus.ESME_ROK else ""
    pdu = resp_class(sequence_number=9, command_status=status, message_id=message_id)
    frame = submit_response_frame(pdu.command_id, 9, status, message_id)
    assert frame == encode(pdu)
    pair = bound_pair(BindType.TRANSMITTER)
    pair.smsc.send_response_frame(frame)
    assert pair.smsc.data_to_send() == frame


def test_response_frames_go_out_together_in_order_and_not_after_close() -> None:
    frames = [
        submit_response_frame(CommandId.SUBMIT_SM_RESP, seq, CommandStatus.ESME_ROK, str(seq))
        for seq in (5, 3, 9)
    ]
    pair = bound_pair(BindType.TRANSMITTER)
    pair.smsc.send_response_frames(frames)
    assert pair.smsc.data_to_send() == b"".join(frames)
    pair.smsc.close()
    pair.smsc.send_response_frames(frames)  # the peer is gone: dropped
    assert pair.smsc.data_to_send() == b""


def test_submit_response_frame_checks() -> None:
    with pytest.raises(ValueError, match="C-octet"):
        submit_response_frame(CommandId.SUBMIT_SM_RESP, 1, 0, "1" * 65)
    with pytest.raises(ValueError, match="C-octet"):
        submit_response_frame(CommandId.SUBMIT_SM_RESP, 1, 0, "a\x00b")
    pair = bound_pair(BindType.TRANSMITTER)
    with pytest.raises(ValueError, match="encoded response"):
        pair.smsc.send_response_frame(encode(SubmitSm()))
