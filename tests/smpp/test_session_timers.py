"""Session timers: explicit ``now`` values on a made-up clock, no sleeping."""

from __future__ import annotations

import attrs
import pytest

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import BindType, CommandStatus
from smscd.smpp.pdus import (
    BindReceiverResp,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SubmitSm,
    Unbind,
    UnbindResp,
)
from smscd.smpp.session import (
    BindCompleted,
    BindRequested,
    ConnectionClosed,
    Event,
    ProtocolError,
    RequestTimedOut,
    Role,
    Session,
    SessionConfig,
    SessionState,
    Unbound,
)

CONFIG = SessionConfig(
    window=3,
    response_timeout=10.0,
    enquire_link_interval=30.0,
    session_init_timeout=20.0,
    inactivity_timeout=300.0,
)
QUIET = SessionConfig(  # only request deadlines
    window=3,
    response_timeout=10.0,
    enquire_link_interval=0,
    session_init_timeout=0,
    inactivity_timeout=0,
)


def state_of(session: Session) -> SessionState:
    """Read the state afresh: mypy would keep an earlier ``session.state`` check narrowed."""
    return session.state


def decode_all(data: bytes) -> list[Pdu]:
    reader = PduReader(65536)
    reader.feed(data)
    return list(reader)


class Pair:
    def __init__(self, config: SessionConfig, now: float = 0.0) -> None:
        self.esme = Session(Role.ESME, config, now)
        self.smsc = Session(Role.SMSC, config, now)

    def to_smsc(self, now: float) -> list[Event]:
        return self.smsc.receive_data(self.esme.data_to_send(), now)

    def to_esme(self, now: float) -> list[Event]:
        return self.esme.receive_data(self.smsc.data_to_send(), now)


def bound_pair(
    config: SessionConfig = CONFIG, bind_type: BindType = BindType.TRANSCEIVER, now: float = 0.0
) -> Pair:
    pair = Pair(config, now)
    pair.esme.bind(bind_type, "acme", "pw", now)
    [requested] = pair.to_smsc(now)
    assert isinstance(requested, BindRequested)
    pair.smsc.answer_bind(requested.pdu, CommandStatus.ESME_ROK, "smscd")
    pair.to_esme(now)
    return pair


# ------------------------------------------------------------------ request deadlines


def test_response_timeout_frees_the_window() -> None:
    pair = bound_pair(QUIET)
    smsc = pair.smsc
    first = DeliverSm(short_message=b"1")
    first_number = smsc.send_request(first, 1.0, "first")
    smsc.send_request(DeliverSm(short_message=b"2"), 2.0, "second")
    smsc.send_request(DeliverSm(short_message=b"3"), 2.0, "third")
    assert smsc.window_available == 0
    assert smsc.get_timer() == 11.0

    assert smsc.handle_timer(10.999) == []
    assert smsc.handle_timer(11.0) == [
        RequestTimedOut(attrs.evolve(first, sequence_number=first_number), "first")
    ]
    assert smsc.window_available == 1
    assert smsc.get_timer() == 12.0
    events = smsc.handle_timer(50.0)
    assert [e.context for e in events] == ["second", "third"]  # type: ignore[union-attr]
    assert smsc.outstanding == 0
    assert smsc.get_timer() is None
    assert smsc.state is SessionState.BOUND_TRX  # a time-out is not fatal


def test_late_response_after_timeout_is_ignored() -> None:
    pair = bound_pair(QUIET)
    sequence_number = pair.smsc.send_request(DeliverSm(), 0.0)
    [timed_out] = pair.smsc.handle_timer(10.0)
    assert isinstance(timed_out, RequestTimedOut)
    pair.smsc.data_to_send()
    late = encode(DeliverSmResp(sequence_number=sequence_number))
    [error] = pair.smsc.receive_data(late, 11.0)
    assert isinstance(error, ProtocolError)
    assert pair.smsc.data_to_send() == b""


def test_answered_request_leaves_no_deadline() -> None:
    pair = bound_pair(QUIET)
    sequence_number = pair.smsc.send_request(DeliverSm(), 0.0)
    pair.smsc.send_request(DeliverSm(), 5.0)
    pair.esme.send_response(DeliverSmResp(sequence_number=sequence_number))
    pair.to_smsc(1.0)
    assert pair.smsc.get_timer() == 15.0
    assert pair.smsc.handle_timer(10.0) == []


def test_bind_timeout_then_retry() -> None:
    esme = Session(Role.ESME, QUIET, 0.0)
    esme.bind(BindType.TRANSMITTER, "acme", "pw", 0.0)
    assert esme.get_timer() == 10.0
    [timed_out] = esme.handle_timer(10.0)
    assert isinstance(timed_out, RequestTimedOut)
    assert isinstance(timed_out.request, BindTransmitter)
    assert esme.state is SessionState.OPEN
    esme.bind(BindType.TRANSMITTER, "acme", "pw", 10.0)


# --------------------------------------------------------------------- enquire_link


def test_idle_enquire_link_sent_and_answered() -> None:
    pair = bound_pair()
    esme = pair.esme
    assert esme.get_timer() == 30.0
    assert esme.handle_timer(29.0) == []
    assert esme.data_to_send() == b""
    assert esme.handle_timer(30.0) == []
    [link] = decode_all(esme.data_to_send())
    assert isinstance(link, EnquireLink)
    assert esme.get_timer() == 40.0  # its response deadline
    assert esme.handle_timer(35.0) == []  # no second one while the first is out
    assert esme.data_to_send() == b""

    assert pair.smsc.receive_data(encode(link), 30.5) == []
    assert pair.to_esme(31.0) == []  # the enquire_link_resp: no event
    assert esme.get_timer() == 61.0
    assert esme.outstanding == 0  # the session's own request takes no window slot


def test_enquire_link_unanswered_closes() -> None:
    pair = bound_pair()
    pair.smsc.handle_timer(30.0)
    assert isinstance(decode_all(pair.smsc.data_to_send())[0], EnquireLink)
    assert pair.smsc.get_timer() == 40.0
    # Other traffic does not stand in for the answer.
    pair.smsc.receive_data(encode(EnquireLink(sequence_number=50)), 35.0)
    assert pair.smsc.handle_timer(40.0) == [ConnectionClosed("enquire_link unanswered")]
    assert pair.smsc.state is SessionState.CLOSED
    assert pair.smsc.get_timer() is None


def test_enquire_link_answered_by_generic_nack_counts() -> None:
    pair = bound_pair()
    pair.esme.handle_timer(30.0)
    [link] = decode_all(pair.esme.data_to_send())
    nack = GenericNack(sequence_number=link.sequence_number, command_status=1)
    assert pair.esme.receive_data(encode(nack), 31.0) == []
    assert pair.esme.handle_timer(40.0) == []
    assert pair.esme.state is SessionState.BOUND_TRX


def test_traffic_postpones_enquire_link() -> None:
    pair = bound_pair()
    for now in (20.0, 40.0, 60.0):
        pair.smsc.receive_data(encode(EnquireLink(sequence_number=int(now))), now)
        pair.smsc.handle_timer(now)
    assert pair.smsc.get_timer() == 90.0
    assert [type(p) for p in decode_all(pair.smsc.data_to_send())] == [EnquireLinkResp] * 3


def test_no_enquire_link_before_bind_or_when_disabled() -> None:
    esme = Session(Role.ESME, SessionConfig(inactivity_timeout=0), 0.0)
    assert esme.get_timer() is None
    assert esme.handle_timer(1000.0) == []
    assert esme.data_to_send() == b""

    pair = bound_pair(SessionConfig(enquire_link_interval=0, inactivity_timeout=0))
    assert pair.esme.get_timer() is None
    assert pair.esme.handle_timer(1e6) == []
    assert pair.esme.data_to_send() == b""


# --------------------------------------------------------------------- session init


def test_session_init_timeout() -> None:
    smsc = Session(Role.SMSC, CONFIG, 100.0)
    assert smsc.get_timer() == 120.0
    # A refused bind does not buy more time.
    bind = BindTransmitter(sequence_number=1, system_id="acme")
    [requested] = smsc.receive_data(encode(bind), 110.0)
    assert isinstance(requested, BindRequested)
    smsc.answer_bind(bind, CommandStatus.ESME_RINVPASWD, "smscd")
    assert smsc.handle_timer(119.0) == []
    assert smsc.handle_timer(120.0) == [ConnectionClosed("session init timeout")]
    assert smsc.state is SessionState.CLOSED
    # The refusal is still there to flush.
    assert decode_all(smsc.data_to_send())[0].command_status == CommandStatus.ESME_RINVPASWD


def test_session_init_timer_stops_at_bind() -> None:
    pair = bound_pair(now=100.0)
    assert pair.smsc.get_timer() == 130.0  # the enquire_link, not the init deadline
    assert pair.smsc.handle_timer(125.0) == []


def test_answer_bind_after_close_is_dropped() -> None:
    smsc = Session(Role.SMSC, CONFIG, 0.0)
    bind = BindTransmitter(sequence_number=1, system_id="acme")
    smsc.receive_data(encode(bind), 1.0)
    smsc.handle_timer(20.0)
    smsc.answer_bind(bind, CommandStatus.ESME_ROK, "smscd")  # authentication came too late
    assert smsc.state is SessionState.CLOSED
    assert smsc.data_to_send() == b""


def test_esme_role_has_no_session_init_timer() -> None:
    esme = Session(Role.ESME, CONFIG, 0.0)
    assert esme.get_timer() == 300.0  # only inactivity


# ---------------------------------------------------------------------- inactivity


INACTIVE = SessionConfig(
    response_timeout=10.0,
    enquire_link_interval=0,
    session_init_timeout=0,
    inactivity_timeout=300.0,
)


def test_inactivity_unbinds_then_unbound() -> None:
    pair = bound_pair(INACTIVE)
    pair.smsc.receive_data(encode(EnquireLink(sequence_number=9)), 100.0)
    assert pair.smsc.get_timer() == 400.0
    assert pair.smsc.handle_timer(399.0) == []
    assert pair.smsc.handle_timer(400.0) == []
    assert pair.smsc.state is SessionState.UNBINDING
    sent = decode_all(pair.smsc.data_to_send())
    assert [type(p) for p in sent] == [EnquireLinkResp, Unbind]
    assert pair.smsc.get_timer() == 410.0
    assert pair.esme.receive_data(encode(sent[1]), 401.0) == [Unbound()]
    pair.esme.unbind(401.0)  # already UNBOUND: nothing to do
    answer = pair.esme.data_to_send()
    assert decode_all(answer) == [UnbindResp(sequence_number=sent[1].sequence_number)]
    assert pair.smsc.receive_data(answer, 402.0) == [Unbound()]
    assert state_of(pair.smsc) is SessionState.UNBOUND
    assert pair.smsc.get_timer() is None


def test_inactivity_unbind_unanswered_closes() -> None:
    pair = bound_pair(INACTIVE)
    pair.esme.handle_timer(300.0)
    assert pair.esme.state is SessionState.UNBINDING
    assert pair.esme.handle_timer(310.0) == [ConnectionClosed("unbind unanswered")]


def test_inactivity_before_bind_closes() -> None:
    esme = Session(Role.ESME, INACTIVE, 0.0)
    assert esme.handle_timer(300.0) == [ConnectionClosed("inactivity")]
    assert esme.data_to_send() == b""


def test_timers_fire_in_one_call() -> None:
    """Expired requests first, then the one closing deadline."""
    pair = bound_pair()
    submit = SubmitSm()
    pair.esme.send_request(submit, 0.0, "s")
    pair.esme.handle_timer(30.0)  # times the submit out and sends an enquire_link
    pair.esme.send_request(SubmitSm(), 31.0, "t")
    events = pair.esme.handle_timer(100.0)
    assert [type(e) for e in events] == [RequestTimedOut, ConnectionClosed]
    assert events[-1] == ConnectionClosed("enquire_link unanswered")


@pytest.mark.parametrize("now", [0.0, 5.0])
def test_handle_timer_early_is_harmless(now: float) -> None:
    pair = bound_pair()
    before = pair.esme.get_timer()
    assert pair.esme.handle_timer(now) == []
    assert pair.esme.get_timer() == before
    assert pair.esme.data_to_send() == b""


def test_bind_completed_resets_nothing_else() -> None:
    esme = Session(Role.ESME, CONFIG, 0.0)
    sequence_number = esme.bind(BindType.RECEIVER, "acme", "pw", 0.0)
    esme.data_to_send()
    [done] = esme.receive_data(encode(BindReceiverResp(sequence_number=sequence_number)), 4.0)
    assert isinstance(done, BindCompleted)
    assert esme.get_timer() == 34.0  # enquire_link after 30 s of silence from the bind_resp
