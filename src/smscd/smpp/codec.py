"""SMPP 3.4 frames to PDUs and back, without I/O.

``encode`` and ``decode`` handle one whole frame (16-octet header included); ``PduReader`` cuts
a byte stream into frames. Every operation's body is described once, as data, in
``fields.LAYOUTS`` and compiled into a decoder and an encoder by ``bodies``.

C-octet strings are decoded as latin-1, so every octet a peer sends survives a decode/encode
round trip; the text layer above decides what the octets mean.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Iterator
from typing import Final, NamedTuple

from smscd.smpp.bodies import DECODERS, ENCODERS
from smscd.smpp.constants import HEADER_LENGTH
from smscd.smpp.constants import CommandStatus as S
from smscd.smpp.errors import SmppError
from smscd.smpp.pdus import Pdu

__all__ = [
    "DEFAULT_MAX_COMMAND_LENGTH",
    "EncodedRequest",
    "Header",
    "PduReader",
    "decode",
    "encode",
    "peek_header",
    "submit_response_frame",
]

#: The largest frame ``PduReader`` accepts unless told otherwise.
DEFAULT_MAX_COMMAND_LENGTH: Final = 65536

_HEADER = struct.Struct(">IIII")


class Header(NamedTuple):
    """The four header fields of a frame (§3.2)."""

    command_length: int
    command_id: int
    command_status: int
    sequence_number: int


def peek_header(data: bytes | bytearray) -> Header | None:
    """Read the header at the start of ``data`` without validating it.

    Returns:
        The header, or ``None`` when fewer than 16 octets are available.
    """
    if len(data) < HEADER_LENGTH:
        return None
    return Header._make(_HEADER.unpack_from(data))


# --- public API ----------------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    """Encode one PDU as a whole frame, header included.

    Args:
        pdu: any PDU of ``pdus``.

    Returns:
        The frame; its command_length is computed.

    Raises:
        ValueError: a field does not fit the wire (a C-octet string too long, containing NUL
            or not latin-1, an integer out of range, a short_message over 254 octets, ...).
        TypeError: ``pdu`` is not a PDU class of this package.
    """
    encoder = ENCODERS.get(type(pdu))
    if encoder is None:
        raise TypeError(f"not an SMPP PDU: {pdu!r}")
    try:
        return encoder(pdu)
    except (struct.error, OverflowError) as exc:
        # struct.error from 4-octet fields, OverflowError from 1-octet ones (bytes' "%c").
        raise ValueError(f"{type(pdu).__name__}: integer field out of range ({exc})") from exc


def submit_response_frame(
    command_id: int, sequence_number: int, command_status: int, message_id: str
) -> bytes:
    """A submit_sm_resp or data_sm_resp (without TLVs) as ``encode`` writes it, without
    building the PDU: the answer to every submit, so it skips the object.

    Args:
        command_id: ``SUBMIT_SM_RESP`` or ``DATA_SM_RESP``.
        message_id: ignored in a submit_sm_resp whose ``command_status`` is not 0, which has
            no body (§4.4.2); a data_sm_resp always carries it (§4.7.2).

    Raises:
        ValueError: ``message_id`` does not fit its C-octet string (65 octets with the NUL,
            no NUL inside, latin-1).
    """
    if command_status and command_id == _SUBMIT_SM_RESP:
        return _HEADER.pack(HEADER_LENGTH, command_id, command_status, sequence_number)
    body = message_id.encode("latin-1") + b"\x00"
    if len(body) > _MAX_MESSAGE_ID or body.index(0) != len(body) - 1:
        raise ValueError(f"message_id {message_id!r} does not fit a 65-octet C-octet string")
    header = _HEADER.pack(HEADER_LENGTH + len(body), command_id, command_status, sequence_number)
    return header + body


# message_id is a C-octet string of at most 65 octets, NUL included (§5.2.23).
_MAX_MESSAGE_ID: Final = 65
_SUBMIT_SM_RESP: Final = 0x80000004


def _decode_body(frame: bytes, command_id: int, status: int, sequence_number: int) -> Pdu:
    decoder = DECODERS.get(command_id)
    if decoder is None:
        raise SmppError(
            S.ESME_RINVCMDID,
            f"unknown command_id 0x{command_id:08X}",
            command_id=command_id,
            sequence_number=sequence_number,
        )
    try:
        return decoder(frame, status, sequence_number)
    except SmppError as exc:
        exc.command_id = command_id
        exc.sequence_number = sequence_number
        raise


def decode(frame: bytes) -> Pdu:
    """Decode one whole frame.

    Args:
        frame: exactly one PDU, header included.

    Returns:
        The PDU.

    Raises:
        SmppError: with the status SMPP 3.4 prescribes for the failing field, and the frame's
            command_id and sequence_number when the header was readable. A frame shorter than
            16 octets or whose command_length differs from its size is fatal
            ESME_RINVCMDLEN; an unknown command_id is ESME_RINVCMDID.
    """
    if type(frame) is not bytes:
        frame = bytes(frame)
    size = len(frame)
    if size < HEADER_LENGTH:
        raise SmppError(
            S.ESME_RINVCMDLEN, f"frame of {size} octets is shorter than a header", fatal=True
        )
    length, command_id, status, sequence_number = _HEADER.unpack_from(frame)
    if length != size:
        raise SmppError(
            S.ESME_RINVCMDLEN,
            f"command_length {length} but the frame has {size} octets",
            command_id=command_id,
            sequence_number=sequence_number,
            fatal=True,
        )
    return _decode_body(frame, command_id, status, sequence_number)


class EncodedRequest:
    """A request already encoded: its command_id and body, without the header.

    For the requests an SMSC sends by the tens of thousands (delivery receipts): built straight
    to bytes once, kept as such in the outbox and the durable store, and sent by
    ``Session.send_request``, which writes a header with the sequence number it allocates in
    front of the body instead of copying and re-encoding a PDU object. The command_status of a
    request is always 0 (§3.2).

    Attributes:
        command_id: the request's command_id.
        body: every octet after the 16-octet header.
        sequence_number: the number on the wire once sent (0 before).
    """

    __slots__ = ("body", "command_id", "sequence_number")

    def __init__(self, command_id: int, body: bytes, sequence_number: int = 0) -> None:
        self.command_id = command_id
        self.body = body
        self.sequence_number = sequence_number

    @classmethod
    def of(cls, pdu: Pdu) -> EncodedRequest:
        """Encode ``pdu`` once.

        Raises:
            ValueError: ``pdu`` is a response, or a field does not fit the wire.
        """
        if pdu.command_id & 0x80000000:
            raise ValueError(f"{type(pdu).__name__} is a response, not a request")
        return cls(pdu.command_id, encode(pdu)[HEADER_LENGTH:], pdu.sequence_number)

    @classmethod
    def from_frame(cls, frame: bytes) -> EncodedRequest:
        """The request in a whole frame, checked by decoding it.

        Raises:
            SmppError: the frame is not a valid PDU (see ``decode``).
            ValueError: it is a valid response, not a request.
        """
        pdu = decode(frame)
        if pdu.command_id & 0x80000000:
            raise ValueError(f"{type(pdu).__name__} is a response, not a request")
        return cls(pdu.command_id, bytes(frame[HEADER_LENGTH:]), pdu.sequence_number)

    def header(self, sequence_number: int) -> bytes:
        """The 16-octet header that goes before ``body`` under ``sequence_number``."""
        return _HEADER.pack(HEADER_LENGTH + len(self.body), self.command_id, 0, sequence_number)

    def frame(self) -> bytes:
        """The whole frame, header included, as it goes (or went) on the wire."""
        return self.header(self.sequence_number) + self.body

    def decode(self) -> Pdu:
        """The PDU these octets encode (for inspection and tests; not on the hot path)."""
        return decode(self.frame())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EncodedRequest):
            return NotImplemented
        return (self.command_id, self.sequence_number, self.body) == (
            other.command_id,
            other.sequence_number,
            other.body,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking: compared by value only

    def __repr__(self) -> str:
        return (
            f"EncodedRequest(command_id=0x{self.command_id:08X}, "
            f"sequence_number={self.sequence_number}, body={self.body!r})"
        )


class PduReader:
    """Cut a byte stream into PDUs.

    Feed whatever the transport read, then call ``next_pdu`` until it returns ``None``.

    A frame whose body is invalid raises ``SmppError`` after being consumed, so the next call
    continues with the next frame. A command_length below 16 or above ``max_command_length``
    raises a fatal ``SmppError`` as soon as the header is complete: the stream cannot be
    resynchronised, every later call raises the same error and fed data is discarded.
    """

    __slots__ = ("_buffer", "_error", "_max_command_length")

    def __init__(self, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        """Create an empty reader.

        Args:
            max_command_length: the largest frame accepted, header included (at least 16).

        Raises:
            ValueError: ``max_command_length`` is below 16.
        """
        if max_command_length < HEADER_LENGTH:
            raise ValueError(f"max_command_length {max_command_length} is below 16")
        self._buffer = bytearray()
        self._error: SmppError | None = None
        self._max_command_length = max_command_length

    @property
    def buffered(self) -> int:
        """Octets received but not yet returned as PDUs."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received octets."""
        if self._error is None:
            self._buffer += data

    def next_pdu(self) -> Pdu | None:
        """Return the next complete PDU, or ``None`` when more data is needed.

        Raises:
            SmppError: the next frame is invalid (see the class docstring).
        """
        if self._error is not None:
            raise copy.copy(self._error)
        buffer = self._buffer
        available = len(buffer)
        if available < HEADER_LENGTH:
            return None
        length, command_id, status, sequence_number = _HEADER.unpack_from(buffer)
        if length < HEADER_LENGTH or length > self._max_command_length:
            self._error = SmppError(
                S.ESME_RINVCMDLEN,
                f"command_length {length} outside 16..{self._max_command_length}",
                command_id=command_id,
                sequence_number=sequence_number,
                fatal=True,
            )
            self._buffer = bytearray()
            # Copies are raised, never the stored error: a raised exception keeps its traceback,
            # whose frames hold this reader, and that cycle would keep the connection's state
            # (its last read included) alive until a full collection.
            raise copy.copy(self._error)
        if available < length:
            return None
        if available == length:
            frame = bytes(buffer)
            buffer.clear()
        else:
            frame = bytes(buffer[:length])
            # Deleting a prefix of a bytearray is O(1) amortised in CPython.
            del buffer[:length]
        return _decode_body(frame, command_id, status, sequence_number)

    def __iter__(self) -> Iterator[Pdu]:
        """Yield PDUs until more data is needed; an invalid frame raises as ``next_pdu``."""
        while (pdu := self.next_pdu()) is not None:
            yield pdu
