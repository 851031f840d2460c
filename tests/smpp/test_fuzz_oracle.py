"""The malformed-input generator and its oracle (smpp.fuzz), and the session against both,
sans-IO: an SMSC-role Session fed fuzzed batches answers every frame as the spec says."""

from __future__ import annotations

import gc
import random
import struct

import pytest

from smscd.smpp import timefmt
from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import BindType, CommandStatus
from smscd.smpp.errors import SmppError
from smscd.smpp.fuzz import KNOWN_INPUTS, Fuzzer, FuzzPeer, KnownInput, expected_answer
from smscd.smpp.pdus import (
    BindTransceiver,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    response_class,
)
from smscd.smpp.session import (
    BindRequested,
    ConnectionClosed,
    ProtocolError,
    RequestReceived,
    Role,
    Session,
    SessionConfig,
    SessionState,
)

MAX = 65536


@pytest.mark.parametrize("known", KNOWN_INPUTS, ids=lambda known: known.name)
def test_oracle_agrees_with_the_answers_written_by_hand(known: KnownInput) -> None:
    state = SessionState.BOUND_TRX if known.bound else SessionState.OPEN
    expected = expected_answer(known.frame, state, MAX)
    if known.answer is None:
        assert expected is None
        return
    assert expected is not None
    assert (expected.command_id, expected.command_status) == known.answer
    assert expected.closes == known.closes


def test_fuzzer_is_deterministic_and_keeps_the_stream_in_step() -> None:
    first, second = Fuzzer(random.Random(7)), Fuzzer(random.Random(7))
    frames = [first.frame() for _ in range(3000)]
    assert frames == [second.frame() for _ in range(3000)]
    for frame in frames:
        assert struct.unpack_from(">I", frame)[0] == len(frame) >= 16
    for _ in range(300):
        length = struct.unpack_from(">I", first.fatal())[0]
        assert not 16 <= length <= MAX


def test_a_request_before_a_bad_command_length_still_gets_its_answer() -> None:
    # Both in one chunk: the session closes while reading it, before the application answers
    # the submit_sm it was handed; that answer must not be dropped.
    session = Session(Role.SMSC, SessionConfig(), 0.0)
    bind = BindTransceiver(sequence_number=1, system_id="acme", password="secret")
    (event,) = session.receive_data(encode(bind), 0.0)
    assert isinstance(event, BindRequested)
    session.answer_bind(event.pdu, CommandStatus.ESME_ROK, "smscd")
    session.data_to_send()
    submit = encode(SubmitSm(sequence_number=2, destination_addr="4670"))
    events = session.receive_data(submit + b"GET / HTTP/1.1\r\n\r\n", 1.0)
    assert [type(e) for e in events] == [RequestReceived, ProtocolError, ConnectionClosed]
    session.send_response(SubmitSmResp(sequence_number=2, message_id="1"))
    reader = PduReader(MAX)
    reader.feed(session.data_to_send())
    assert [(type(a), a.sequence_number) for a in reader] == [
        (GenericNack, int.from_bytes(b".1\r\n")),
        (SubmitSmResp, 2),
    ]


def test_answers_after_any_other_close_are_still_dropped() -> None:
    session = Session(Role.SMSC, SessionConfig(session_init_timeout=1.0), 0.0)
    (closed,) = session.handle_timer(2.0)
    assert isinstance(closed, ConnectionClosed)
    session.send_response(SubmitSmResp(sequence_number=2))
    assert session.data_to_send() == b""


def test_a_fatal_error_leaves_no_reference_cycle() -> None:
    # The daemon freezes long-lived objects every few seconds, so anything only the cycle
    # collector could free stays for minutes: a reader whose stored error held its traceback
    # kept each such connection's whole state (its last 64 KB read included) that long.
    gc.collect()
    gc.disable()
    try:
        reader = PduReader(MAX)
        reader.feed(b"GET / HTTP/1.1\r\n\r\n")
        for _ in range(3):
            try:
                reader.next_pdu()
            except SmppError as exc:
                assert exc.fatal
        del reader
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_time_with_non_ascii_digits_is_a_format_error() -> None:
    # '¹' (latin-1 0xB9) passes str.isdigit() but not int(): it crashed the connection.
    with pytest.raises(timefmt.TimeFormatError):
        timefmt.parse("99\xb91231235959000+", 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_session_answers_fuzzed_batches_as_the_oracle_says(seed: int) -> None:
    rng = random.Random(seed)
    peer = FuzzPeer(Fuzzer(rng), first_sequence=-3)
    session = Session(Role.SMSC, SessionConfig(), 0.0)
    if seed % 2:
        _answer(session, peer, peer.bind(BindType.TRANSCEIVER, "acme", "secret"))
    while not peer.closing and peer.frames_sent < 2000:
        _answer(session, peer, peer.batch(40, fatal=peer.frames_sent > 1900))
    assert peer.mismatches == []
    assert peer.closing


def _answer(session: Session, peer: FuzzPeer, data: bytes) -> None:
    """Play the application: bind acme/secret, refuse everything else it is handed."""
    for event in session.receive_data(data, 0.0):
        if isinstance(event, BindRequested):
            ok = (event.pdu.system_id, event.pdu.password) == ("acme", "secret")
            status = CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RINVPASWD
            session.answer_bind(event.pdu, status, "smscd")
        elif isinstance(event, RequestReceived):
            # Any status will do: the oracle leaves the router's verdict open.
            response = response_class(event.pdu.command_id)
            assert response is not None
            session.send_response(
                response(
                    sequence_number=event.pdu.sequence_number,
                    command_status=CommandStatus.ESME_RSYSERR,
                )
            )
    assert peer.receive(session.data_to_send())
