"""Malformed SMPP input, and the answer an SMSC owes each frame.

The robustness tests and ``scripts/fuzz_smpp.py`` drive the daemon with what ``Fuzzer`` makes:
valid PDUs mutated in the ways that broke other SMPP stacks (truncated and overlong TLVs,
C-octet strings without their NUL, bodies cut at the header, fields of one operation read as
another's), random PDUs, stray responses and, to end a connection, a command_length no frame
may have (another protocol's greeting, 0xFFFFFFFF). ``KNOWN_INPUTS`` are the inputs reported
to crash other stacks, each with its answer written out by hand.

``expected_answer`` is the oracle. It is written from the specification rather than from
``smpp.states``, so that it checks the session instead of repeating it:

- command_length outside 16..max: generic_nack ESME_RINVCMDLEN, then the connection closes
  (the stream cannot be resynchronised, §3.2);
- a response (command_id bit 31, generic_nack included): never answered (§3.3), whether or
  not its request was ever sent; outbind and alert_notification: they have no response;
- an unknown command_id: generic_nack ESME_RINVCMDID (§4.3);
- a known request the codec refuses: its own response with the codec's status (the field
  statuses of §5.1.3, which the codec's own tests hold it to);
- a valid request in the wrong state: ESME_RINVBNDSTS (ESME_RALYBND for a second bind); one an
  SMSC never takes (deliver_sm): ESME_RINVCMDID (§2.3, table 2-1);
- otherwise its response, with a status decided above the protocol (credentials, router).

Pure: the caller passes the random generator in.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from collections.abc import Callable
from typing import Final

import attrs

from smscd.smpp.codec import decode, encode
from smscd.smpp.constants import BindType, CommandId, CommandStatus, status_name
from smscd.smpp.errors import SmppError
from smscd.smpp.pdus import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    ReplaceSm,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from smscd.smpp.states import SessionState
from smscd.smpp.tlv import Tlvs

__all__ = [
    "KNOWN_INPUTS",
    "Expected",
    "FuzzPeer",
    "Fuzzer",
    "KnownInput",
    "expected_answer",
    "frame_of",
    "next_state",
    "with_sequence",
]

_HEADER: Final = struct.Struct(">IIII")
_RESPONSE_BIT: Final = 0x80000000
_MAX_U32: Final = 0xFFFFFFFF

_BOUND_BY: Final[dict[int, SessionState]] = {
    CommandId.BIND_RECEIVER: SessionState.BOUND_RX,
    CommandId.BIND_TRANSMITTER: SessionState.BOUND_TX,
    CommandId.BIND_TRANSCEIVER: SessionState.BOUND_TRX,
}
_SUBMISSION: Final = frozenset(
    {
        CommandId.SUBMIT_SM,
        CommandId.SUBMIT_MULTI,
        CommandId.DATA_SM,
        CommandId.QUERY_SM,
        CommandId.CANCEL_SM,
        CommandId.REPLACE_SM,
    }
)
# What an ESME may send an SMSC in some state (table 2-1).
_SMSC_TAKES: Final = _SUBMISSION | set(_BOUND_BY) | {CommandId.ENQUIRE_LINK, CommandId.UNBIND}
_WITHOUT_RESPONSE: Final = frozenset({CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION})
# Requests that have a response PDU: every other known command_id below bit 31.
_ANSWERED: Final = frozenset(
    cid for cid in CommandId if not cid & _RESPONSE_BIT and cid not in _WITHOUT_RESPONSE
)


@attrs.frozen
class Expected:
    """The answer one frame must get.

    Attributes:
        command_id: of the answer: the request's response, or generic_nack.
        sequence_number: the frame's own.
        command_status: the status; None when it is not the protocol's to decide (a bind's
            credentials, a submit's fate in the router).
        closes: the SMSC hangs up after answering.
    """

    command_id: int
    sequence_number: int
    command_status: int | None
    closes: bool = False


def expected_answer(frame: bytes, state: SessionState, max_command_length: int) -> Expected | None:
    """What an SMSC in ``state`` must answer to ``frame``; None when nothing.

    ``frame`` is one frame as sent, at least 16 octets; its command_length is its size unless it
    is outside 16..``max_command_length``. ``state`` is OPEN or one of the bound states.
    """
    length, command_id, _, sequence_number = _HEADER.unpack_from(frame)
    if not 16 <= length <= max_command_length:
        return Expected(
            CommandId.GENERIC_NACK, sequence_number, CommandStatus.ESME_RINVCMDLEN, closes=True
        )
    if command_id & _RESPONSE_BIT or command_id in _WITHOUT_RESPONSE:
        return None
    if command_id not in _ANSWERED:
        return Expected(CommandId.GENERIC_NACK, sequence_number, CommandStatus.ESME_RINVCMDID)
    response_id = command_id | _RESPONSE_BIT

    def answer(status: int | None, *, closes: bool = False) -> Expected:
        return Expected(response_id, sequence_number, status, closes)

    try:
        decode(frame)
    except SmppError as exc:
        return answer(exc.command_status)
    bound = state is not SessionState.OPEN
    if command_id not in _SMSC_TAKES:
        return answer(CommandStatus.ESME_RINVCMDID)
    if command_id == CommandId.ENQUIRE_LINK:
        return answer(CommandStatus.ESME_ROK)
    if command_id in _BOUND_BY:
        return answer(CommandStatus.ESME_RALYBND if bound else None)
    if not bound:
        return answer(CommandStatus.ESME_RINVBNDSTS)
    if command_id == CommandId.UNBIND:
        return answer(CommandStatus.ESME_ROK, closes=True)
    if state is SessionState.BOUND_RX:
        return answer(CommandStatus.ESME_RINVBNDSTS)
    return answer(None)


def next_state(state: SessionState, command_id: int, command_status: int) -> SessionState:
    """The session's state after answering ``command_id`` (a request) with ``command_status``."""
    if state is SessionState.OPEN and command_status == CommandStatus.ESME_ROK:
        return _BOUND_BY.get(command_id, state)
    return state


def frame_of(command_id: int, body: bytes, *, sequence_number: int = 0, status: int = 0) -> bytes:
    """A frame whose command_length is its size."""
    return _HEADER.pack(16 + len(body), command_id, status, sequence_number) + body


def with_sequence(frame: bytes, sequence_number: int) -> bytes:
    """``frame`` under another sequence_number."""
    return frame[:12] + struct.pack(">I", sequence_number) + frame[16:]


# --------------------------------------------------------------------------------- templates


def _templates(system_id: str, password: str) -> list[bytes]:
    """Valid frames of every operation, in the forms a client sends them."""
    text = b"fuzz \x00\xff\x1b[31m"
    udh = b"\x05\x00\x03\x2a\x02\x01"
    sar = Tlvs(sar_msg_ref_num=7, sar_total_segments=2, sar_segment_seqnum=1)
    pdus: list[Pdu] = [
        BindTransmitter(system_id=system_id, password=password),
        BindReceiver(system_id=system_id, password=password),
        BindTransceiver(system_id=system_id, password=password, address_range="^467"),
        BindTransceiver(system_id=system_id, password="wrong"),
        SubmitSm(source_addr="Acme", destination_addr="46700000001", short_message=b"hello"),
        SubmitSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="46700000002",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="46700000001",
            esm_class=0x40,
            data_coding=8,
            short_message=udh + "héllo €".encode("utf-16-be"),
        ),
        SubmitSm(destination_addr="4670", tlvs=Tlvs(message_payload=text * 20)),
        SubmitSm(destination_addr="4670", short_message=text, tlvs=sar),
        SubmitSm(
            destination_addr="4670",
            schedule_delivery_time="000001000000000R",
            validity_period="991231235959000+",
            short_message=b"later",
        ),
        DataSm(destination_addr="4670", tlvs=Tlvs(message_payload=b"data")),
        SubmitMulti(
            source_addr="Acme",
            dest_addresses=(SmeAddress(destination_addr="4670"), DistributionList(dl_name="all")),
            short_message=b"multi",
        ),
        QuerySm(message_id="1", source_addr="Acme"),
        CancelSm(message_id="1", source_addr="Acme", destination_addr="4670"),
        ReplaceSm(message_id="1", source_addr="Acme", short_message=b"new"),
        EnquireLink(),
        Unbind(),
        DeliverSm(source_addr="4670", destination_addr="Acme", short_message=b"mo"),
        Outbind(system_id=system_id, password=password),
        AlertNotification(source_addr="4670", esme_addr="Acme"),
        GenericNack(command_status=CommandStatus.ESME_RSYSERR),
        SubmitSmResp(message_id="123"),
        DeliverSmResp(),
        EnquireLinkResp(),
    ]
    return [encode(pdu) for pdu in pdus]


_KNOWN_IDS: Final = tuple(int(cid) for cid in CommandId)
# Tags a mutation appends: typed TLVs of §5.3 and one nobody defines.
_TAGS: Final = (0x0424, 0x020C, 0x020E, 0x020F, 0x0204, 0x001E, 0x0019, 0x1403)
_GREETINGS: Final = (
    b"GET / HTTP/1.1\r\n\r\n",
    b"HTTP/1.1 400 Bad Request\r\n\r\n",
    b"AMQP\x00\x00\x09\x01" + bytes(8),
    b"SSH-2.0-OpenSSH_9.6\r\n",
    # The start of a TLS ClientHello: a TLS client on the plain port.
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),
    b"PING\r\n" + bytes(10),
)

_Mutation = Callable[[random.Random, int, bytes], tuple[int, bytes]]


def _flip_bits(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    data = bytearray(body)
    for _ in range(rng.randint(1, 8) if data else 0):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return command_id, bytes(data)


def _set_bytes(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    data = bytearray(body)
    for _ in range(rng.randint(1, 4) if data else 0):
        data[rng.randrange(len(data))] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    return command_id, bytes(data)


def _truncate(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    return command_id, body[: rng.randrange(len(body) + 1)]


def _extend(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    return command_id, body + rng.randbytes(rng.randint(1, 40))


def _empty(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    # command_length exactly 16 where the operation has mandatory fields.
    return command_id, b""


def _strip_nuls(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    # Every C-octet string runs into the next field: the read-past-the-end of other stacks.
    return command_id, body.replace(b"\x00", bytes([rng.randint(1, 255)]))


def _overlong_string(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    at = rng.randrange(len(body) + 1)
    run = bytes([rng.randint(0x21, 0x7E)]) * rng.randint(8, 400)
    return command_id, body[:at] + run + body[at:]


def _tlv_beyond_body(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    value = rng.randbytes(rng.randint(0, 6))
    claimed = rng.choice((len(value) + 1, 0xFFFF, rng.randint(len(value) + 1, 0xFFFF)))
    return command_id, body + struct.pack(">HH", rng.choice(_TAGS), claimed) + value


def _truncated_tlv(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    return command_id, body + rng.randbytes(rng.randint(1, 3))


def _bad_tlv_length(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    # A typed TLV whose value has the wrong size for its type (0 octets, or too many).
    size = rng.choice((0, 1, 3, 5, 300))
    return command_id, body + struct.pack(">HH", rng.choice(_TAGS), size) + bytes(size)


def _other_command(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    # One operation's body read with another's layout, or under a command_id nobody defines.
    if rng.random() < 0.8:
        return rng.choice(_KNOWN_IDS), body
    return rng.randrange(1 << 32), body


def _insert_or_delete(rng: random.Random, command_id: int, body: bytes) -> tuple[int, bytes]:
    at = rng.randrange(len(body) + 1)
    if body and rng.random() < 0.5:
        return command_id, body[:at] + body[at + 1 :]
    return command_id, body[:at] + bytes([rng.randrange(256)]) + body[at:]


_MUTATIONS: Final[tuple[_Mutation, ...]] = (
    _flip_bits,
    _set_bytes,
    _truncate,
    _extend,
    _empty,
    _strip_nuls,
    _overlong_string,
    _tlv_beyond_body,
    _truncated_tlv,
    _bad_tlv_length,
    _other_command,
    _insert_or_delete,
)


class Fuzzer:
    """Frames for an SMSC: mutated valid PDUs, random PDUs, and connection-ending ones.

    Frames from ``frame`` are self-consistent (command_length is their size), so a stream of
    them stays in step whatever is inside; ``fatal`` ones have a command_length outside
    16..max and must come last on a connection.
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        system_id: str = "acme",
        password: str = "secret",
        max_command_length: int = 65536,
    ) -> None:
        self._rng = rng
        self._templates = _templates(system_id, password)
        self._max = max_command_length

    def frame(self) -> bytes:
        """One frame that leaves the stream in step."""
        rng = self._rng
        roll = rng.random()
        if roll < 0.15:
            # Random PDUs: known operations with garbage bodies, unknown ones, stray responses.
            command_id = rng.choice(
                (rng.choice(_KNOWN_IDS), rng.randrange(1 << 32), rng.randrange(1 << 32) | 1 << 31)
            )
            body = rng.randbytes(rng.choice((0, rng.randint(1, 16), rng.randint(17, 300))))
            return frame_of(command_id, body, status=rng.choice((0, rng.randrange(1 << 32))))
        template = rng.choice(self._templates)
        if roll < 0.25:
            return template
        command_id = _HEADER.unpack_from(template)[1]
        body = template[16:]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            command_id, body = rng.choice(_MUTATIONS)(rng, command_id, body)
        return frame_of(command_id, body[: self._max - 16])

    def fatal(self) -> bytes:
        """A frame whose command_length no SMPP peer may send: the connection must close."""
        rng = self._rng
        roll = rng.random()
        if roll < 0.3:
            return rng.choice(_GREETINGS)
        if roll < 0.5:
            # Below the header's own size; the frame is padded to a whole header.
            length = rng.randrange(16)
        else:
            length = rng.choice(
                (
                    self._max + 1,
                    0x7FFFFFFF,
                    0x80000000,
                    _MAX_U32,
                    rng.randint(self._max + 1, _MAX_U32),
                )
            )
        command_id = rng.choice(
            (CommandId.SUBMIT_SM, CommandId.BIND_TRANSCEIVER, rng.randrange(1 << 32))
        )
        return _HEADER.pack(length, command_id, 0, rng.randrange(1 << 32)) + rng.randbytes(
            rng.randint(0, 64)
        )


# ----------------------------------------------------------------------------- known inputs


@attrs.frozen
class KnownInput:
    """An input reported to break another SMPP stack, and the answer it must get here.

    Attributes:
        name: what it is.
        frame: the octets, sent on an unbound connection (``bound`` False) or on one bound
            as a transceiver.
        answer: the (command_id, command_status) owed, None for no answer.
        closes: the connection must be closed after the answer.
        source: where the input was reported.
    """

    name: str
    frame: bytes
    answer: tuple[int, int] | None
    bound: bool = False
    closes: bool = False
    source: str = ""


def _submit_body(short_message: bytes, sm_length: int | None = None) -> bytes:
    """A submit_sm body ending in ``short_message``, under any sm_length (even a false one)."""
    head = encode(
        SubmitSm(
            source_addr_ton=5,
            source_addr="ABCDEF",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="46700000001",
        )
    )[16:-1]  # everything up to sm_length, which is last when short_message is empty
    length = len(short_message) if sm_length is None else sm_length
    return head + bytes([length]) + short_message


def _known_inputs() -> tuple[KnownInput, ...]:
    submit = CommandId.SUBMIT_SM
    submit_resp = CommandId.SUBMIT_SM_RESP
    nack = CommandId.GENERIC_NACK
    s = CommandStatus
    text = b"a friendly test message: Greetings from Vienna :-)\x00"
    return (
        KnownInput(
            "GET / HTTP/1.1 on the SMPP port",
            b"GET / HTTP/1.1\r\n\r\n",
            (nack, s.ESME_RINVCMDLEN),
            closes=True,
        ),
        KnownInput(
            "command_length 0x414D5150 ('AMQP'): an AMQP client on the SMPP port",
            b"AMQP\x00\x00\x09\x01" + bytes(8),
            (nack, s.ESME_RINVCMDLEN),
            closes=True,
            source="https://github.com/farhadi/node-smpp/issues/168",
        ),
        KnownInput(
            "command_length 0xFFFFFFFF",
            _HEADER.pack(_MAX_U32, submit, 0, 1),
            (nack, s.ESME_RINVCMDLEN),
            closes=True,
        ),
        KnownInput(
            "command_length 0: shorter than its own header",
            _HEADER.pack(0, CommandId.ENQUIRE_LINK, 0, 1),
            (nack, s.ESME_RINVCMDLEN),
            closes=True,
        ),
        KnownInput(
            "sm_length one short of the text: a stray octet where TLVs start",
            frame_of(submit, _submit_body(text, len(text) - 1), sequence_number=8),
            (submit_resp, s.ESME_RINVOPTPARSTREAM),
            source="https://github.com/twitter-archive/cloudhopper-smpp/issues/64",
        ),
        KnownInput(
            "sm_length 255, over the 254 octets short_message may hold",
            frame_of(submit, _submit_body(b"x" * 255, 255), sequence_number=9),
            (submit_resp, s.ESME_RINVMSGLEN),
            source="https://github.com/OpenSIPS/opensips/issues/3846",
        ),
        KnownInput(
            "source_addr without its NUL where a short command_length ends the body",
            frame_of(submit, b"\x00\x01\x01ABC", sequence_number=10),
            (submit_resp, s.ESME_RINVSRCADR),
            source="https://github.com/OpenSIPS/opensips/issues/3847",
        ),
        KnownInput(
            "system_id without NUL, running to the end of the body",
            frame_of(CommandId.BIND_TRANSMITTER, b"A" * 40, sequence_number=11),
            (CommandId.BIND_TRANSMITTER_RESP, s.ESME_RINVSYSID),
        ),
        KnownInput(
            "TLV length beyond the body",
            frame_of(
                submit,
                _submit_body(b"hi") + struct.pack(">HH", 0x0424, 500) + b"abc",
                sequence_number=12,
            ),
            (submit_resp, s.ESME_RINVOPTPARSTREAM),
            source="https://github.com/funbox/smppex/pull/30",
        ),
        KnownInput(
            "truncated TLV in deliver_sm (an SMSC takes no deliver_sm either way)",
            frame_of(
                CommandId.DELIVER_SM,
                encode(DeliverSm(source_addr="1", destination_addr="2"))[16:] + b"\x04\x27\x00",
                sequence_number=13,
            ),
            (CommandId.DELIVER_SM_RESP, s.ESME_RINVOPTPARSTREAM),
            source="https://github.com/opentelecoms-org/jsmpp/issues/214",
        ),
        KnownInput(
            "a typed TLV of the wrong length (sar_msg_ref_num in 0 octets)",
            frame_of(
                submit,
                _submit_body(b"hi") + struct.pack(">HH", 0x020C, 0),
                sequence_number=14,
            ),
            (submit_resp, s.ESME_RINVPARLEN),
        ),
        KnownInput(
            "bind_transceiver with command_length exactly 16",
            frame_of(CommandId.BIND_TRANSCEIVER, b"", sequence_number=15),
            (CommandId.BIND_TRANSCEIVER_RESP, s.ESME_RINVCMDLEN),
        ),
        KnownInput(
            "submit_sm with command_length exactly 16, bound",
            frame_of(submit, b"", sequence_number=16),
            (submit_resp, s.ESME_RINVCMDLEN),
            bound=True,
        ),
        KnownInput(
            "enquire_link with a body",
            frame_of(CommandId.ENQUIRE_LINK, b"\x00\x00\x00\x00", sequence_number=17),
            (CommandId.ENQUIRE_LINK_RESP, s.ESME_RINVCMDLEN),
        ),
        KnownInput(
            "submit_multi claiming 255 destinations",
            frame_of(
                CommandId.SUBMIT_MULTI,
                b"\x00\x00\x00A\x00\xff\x01\x00\x004670\x00",
                sequence_number=18,
            ),
            (CommandId.SUBMIT_MULTI_RESP, s.ESME_RINVNUMDESTS),
            bound=True,
        ),
        KnownInput(
            "enquire_link with sequence_number 0xFFFFFFFF",
            frame_of(CommandId.ENQUIRE_LINK, b"", sequence_number=_MAX_U32),
            (CommandId.ENQUIRE_LINK_RESP, s.ESME_ROK),
        ),
        KnownInput(
            "generic_nack from the client",
            frame_of(nack, b"", sequence_number=_MAX_U32, status=s.ESME_RSYSERR),
            None,
        ),
        KnownInput(
            "submit_sm_resp with an error status and a body, to a request never sent",
            frame_of(submit_resp, b"0A000000A3D323A1\x00", sequence_number=2, status=0x0B),
            None,
            source="https://github.com/funbox/smppex/issues/6",
        ),
        KnownInput(
            "deliver_sm_resp with an empty body, to a request never sent",
            frame_of(CommandId.DELIVER_SM_RESP, b"", sequence_number=19),
            None,
        ),
        KnownInput(
            "unknown command_id",
            frame_of(0x00000999, b"", sequence_number=20),
            (nack, s.ESME_RINVCMDID),
        ),
        KnownInput(
            "a valid deliver_sm: an SMSC never takes one",
            encode(DeliverSm(sequence_number=21, source_addr="1", destination_addr="2")),
            (CommandId.DELIVER_SM_RESP, s.ESME_RINVCMDID),
            bound=True,
        ),
        KnownInput(
            "submit_sm before bind",
            frame_of(submit, _submit_body(b"early"), sequence_number=22),
            (submit_resp, s.ESME_RINVBNDSTS),
        ),
        KnownInput(
            "unbind before bind",
            frame_of(CommandId.UNBIND, b"", sequence_number=23),
            (CommandId.UNBIND_RESP, s.ESME_RINVBNDSTS),
        ),
        KnownInput(
            "outbind to an SMSC: no response exists",
            encode(Outbind(sequence_number=24, system_id="x", password="y")),
            None,
        ),
    )


KNOWN_INPUTS: Final = _known_inputs()


# ------------------------------------------------------------------------------- one peer

_BIND_CLASSES: Final[dict[BindType, type[BindTransmitter | BindReceiver | BindTransceiver]]] = {
    BindType.TRANSMITTER: BindTransmitter,
    BindType.RECEIVER: BindReceiver,
    BindType.TRANSCEIVER: BindTransceiver,
}
# After one of these the state may change (a bind) or the connection end (an unbind), so
# nothing may follow it in a batch before its answer is known.
_ENDS_BATCH: Final = frozenset({*_BOUND_BY, CommandId.UNBIND})


def _describe(command_id: int, status: int | None) -> str:
    try:
        name = CommandId(command_id).name.lower()
    except ValueError:
        name = f"0x{command_id:08x}"
    return f"{name} {'(any)' if status is None else status_name(status)}"


class FuzzPeer:
    """One connection's worth of fuzzing, sans-IO: the octets to send, the check of the answers.

    Call ``batch`` (or ``bind``), send what it returns, feed what arrives to ``receive`` until
    it returns True, then read ``closing``: when set, the SMSC must hang up now. Sequence
    numbers are the peer's, unique on the connection, starting just below 0xFFFFFFFF so that
    they wrap through it. Everything the SMSC sends that is not an answer (deliver_sm,
    enquire_link) is counted and left unanswered.
    """

    def __init__(
        self, fuzzer: Fuzzer, *, max_command_length: int = 65536, first_sequence: int = 0
    ) -> None:
        self._fuzzer = fuzzer
        self._max = max_command_length
        self._next_sequence = first_sequence & _MAX_U32
        self.state = SessionState.OPEN
        self.closing = False
        self.frames_sent = 0
        self.requests_from_smsc = 0
        #: Answers checked, by operation and status: "submit_sm_resp ESME_RINVCMDLEN".
        self.answers: Counter[str] = Counter()
        self.mismatches: list[str] = []
        self._batch: list[bytes] = []
        self._waiting: set[int] = set()
        self._got: dict[int, tuple[int, int]] = {}
        self._buffer = bytearray()

    def _stamp(self, frame: bytes, taken: int | None = None) -> bytes:
        sequence_number = self._next_sequence
        if sequence_number == taken:
            sequence_number = (sequence_number + 1) & _MAX_U32
        self._next_sequence = (sequence_number + 1) & _MAX_U32
        return with_sequence(frame, sequence_number)

    def batch(self, count: int, *, fatal: bool = False) -> bytes:
        """Up to ``count`` fuzzed frames, ended by an enquire_link to learn that all were
        read, or by a connection-ending frame when ``fatal``."""
        # The ending frame keeps the sequence_number it has (a greeting's octets), so the
        # others must not take it: answers are told apart by their numbers.
        ending = self._fuzzer.fatal() if fatal else None
        taken = None if ending is None else _HEADER.unpack_from(ending)[3]
        frames: list[bytes] = []
        for _ in range(count):
            frame = self._stamp(self._fuzzer.frame(), taken)
            frames.append(frame)
            if _HEADER.unpack_from(frame)[1] in _ENDS_BATCH:
                break
        else:
            frames.append(ending if ending is not None else self._stamp(encode(EnquireLink())))
        return self._send(frames)

    def bind(self, bind_type: BindType, system_id: str, password: str) -> bytes:
        """A valid bind, alone in its batch."""
        pdu = _BIND_CLASSES[bind_type](system_id=system_id, password=password)
        return self._send([self._stamp(encode(pdu))])

    def _send(self, frames: list[bytes]) -> bytes:
        self._batch = frames
        self._got.clear()
        self._waiting = set()
        for frame in frames:
            if expected_answer(frame, self.state, self._max) is not None:
                self._waiting.add(_HEADER.unpack_from(frame)[3])
        self.frames_sent += len(frames)
        return b"".join(frames)

    def receive(self, data: bytes | bytearray) -> bool:
        """Feed octets from the SMSC; True once every frame of the batch has its answer."""
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 16:
            length, command_id, status, sequence_number = _HEADER.unpack_from(buffer)
            if length < 16 or len(buffer) < length:
                if length < 16:
                    self.mismatches.append(f"the SMSC sent command_length {length}")
                    buffer.clear()
                break
            del buffer[:length]
            if not command_id & _RESPONSE_BIT:
                self.requests_from_smsc += 1
            elif sequence_number in self._waiting and sequence_number not in self._got:
                self._got[sequence_number] = (command_id, status)
            else:
                self.mismatches.append(
                    f"unexpected {_describe(command_id, status)} seq={sequence_number}"
                )
        if len(self._got) < len(self._waiting):
            return False
        self._check()
        return True

    def _check(self) -> None:
        for frame in self._batch:
            expected = expected_answer(frame, self.state, self._max)
            if expected is None:
                continue
            command_id, status = self._got[expected.sequence_number]
            self.answers[_describe(command_id, status)] += 1
            if command_id != expected.command_id or expected.command_status not in (
                None,
                status,
            ):
                self.mismatches.append(
                    f"{frame[:64].hex()}: expected "
                    f"{_describe(expected.command_id, expected.command_status)}, got "
                    f"{_describe(command_id, status)}"
                )
            self.state = next_state(self.state, _HEADER.unpack_from(frame)[1], status)
            self.closing = self.closing or expected.closes
        self._batch = []

    @property
    def unanswered(self) -> int:
        """Frames of the current batch still waiting for their answer."""
        return len(self._waiting) - len(self._got)
