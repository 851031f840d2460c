"""PDU bodies: decoders and encoders compiled from the field tables of ``fields``.

Each row of ``fields.LAYOUTS`` becomes one straight-line decoder and one encoder at import
(see ``codegen``; tracebacks and debuggers show the generated lines). That keeps the per-field
interpretation cost out of the hot path: a submit_sm decodes with one ``find`` per C-octet
string and one indexing operation per integer, consecutive 1-octet integers share one bounds
check, and no ``Tlvs`` object is built when the PDU carries no optional parameters.

Decoders raise ``SmppError`` without header details; ``codec`` adds command_id and
sequence_number. Encoders raise ``ValueError`` (or ``struct.error``, converted by ``codec``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from smscd.smpp.codegen import define
from smscd.smpp.constants import RESPONSE_BIT
from smscd.smpp.constants import CommandStatus as S
from smscd.smpp.errors import SmppError
from smscd.smpp.fields import (
    DL_NAME,
    LAYOUTS,
    MAX_DESTS,
    MAX_SHORT_MESSAGE,
    SME_DEST_ADDR,
    CString,
    DestAddresses,
    Int,
    Layout,
    ShortMessage,
    Time,
    UnsuccessSmes,
)
from smscd.smpp.frozen import twin_of
from smscd.smpp.pdus import (
    NO_TLVS,
    DistributionList,
    Pdu,
    SmeAddress,
    UnsuccessSme,
)
from smscd.smpp.tlv import decode_tlvs, encode_tlvs

#: ``decoder(frame, command_status, sequence_number)`` for one command_id.
Decoder = Callable[[bytes, int, int], Pdu]
#: ``encoder(pdu)`` returning the whole frame.
Encoder = Callable[[Pdu], bytes]

_HEADER = struct.Struct(">IIII")
_U32 = struct.Struct(">I")
_TIME_LENGTH = 16


# --- failures raised by the generated decoders ---------------------------------------------
# They never return; the decoder's caller adds command_id and sequence_number.


def _truncated(name: str) -> None:
    raise SmppError(S.ESME_RINVCMDLEN, f"body ends before {name}")


def _cstring_error(buf: bytes, pos: int, max_len: int, status: int, name: str) -> None:
    end = len(buf)
    if pos >= end:
        _truncated(name)
    if end - pos >= max_len:
        raise SmppError(status, f"{name} is longer than {max_len - 1} octets")
    raise SmppError(status, f"{name} has no NUL terminator")


def _bad_time_length(name: str, status: int, length: int) -> None:
    raise SmppError(status, f"{name} has {length} characters, expected 0 or 16")


def _bad_sm_length(sm_length: int, remaining: int) -> None:
    if sm_length > MAX_SHORT_MESSAGE:
        raise SmppError(S.ESME_RINVMSGLEN, f"sm_length {sm_length} exceeds 254")
    raise SmppError(S.ESME_RINVMSGLEN, f"sm_length {sm_length}, only {remaining} octets left")


def _trailing(extra: int) -> None:
    raise SmppError(S.ESME_RINVCMDLEN, f"{extra} octets after the last mandatory field")


def _read_cstring(buf: bytes, pos: int, max_len: int, status: int, name: str) -> tuple[str, int]:
    nul = buf.find(0, pos, pos + max_len)
    if nul < 0:
        _cstring_error(buf, pos, max_len, status, name)
    return buf[pos:nul].decode("latin-1"), nul + 1


def _decode_dest_addresses(
    buf: bytes, pos: int
) -> tuple[tuple[SmeAddress | DistributionList, ...], int]:
    end = len(buf)
    if pos >= end:
        _truncated("number_of_dests")
    count = buf[pos]
    pos += 1
    if count == 0 or count > MAX_DESTS:
        raise SmppError(S.ESME_RINVNUMDESTS, f"number_of_dests {count}, expected 1..254")
    dests: list[SmeAddress | DistributionList] = []
    for _ in range(count):
        if pos >= end:
            _truncated("dest_flag")
        flag = buf[pos]
        pos += 1
        if flag == 1:
            if pos + 2 > end:
                _truncated("dest_addr_ton")
            ton, npi = buf[pos], buf[pos + 1]
            addr, pos = _read_cstring(
                buf, pos + 2, SME_DEST_ADDR.max_len, SME_DEST_ADDR.status, SME_DEST_ADDR.name
            )
            dests.append(SmeAddress(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr))
        elif flag == 2:
            name, pos = _read_cstring(buf, pos, DL_NAME.max_len, DL_NAME.status, DL_NAME.name)
            dests.append(DistributionList(dl_name=name))
        else:
            raise SmppError(S.ESME_RINVDESTFLAG, f"dest_flag {flag}, expected 1 or 2")
    return tuple(dests), pos


def _decode_unsuccess_smes(buf: bytes, pos: int) -> tuple[tuple[UnsuccessSme, ...], int]:
    end = len(buf)
    if pos >= end:
        _truncated("no_unsuccess")
    count = buf[pos]
    pos += 1
    smes: list[UnsuccessSme] = []
    for _ in range(count):
        if pos + 2 > end:
            _truncated("unsuccess_sme")
        ton, npi = buf[pos], buf[pos + 1]
        addr, pos = _read_cstring(
            buf, pos + 2, SME_DEST_ADDR.max_len, SME_DEST_ADDR.status, SME_DEST_ADDR.name
        )
        if pos + 4 > end:
            _truncated("error_status_code")
        (code,) = _U32.unpack_from(buf, pos)
        pos += 4
        smes.append(
            UnsuccessSme(
                dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr, error_status_code=code
            )
        )
    return tuple(smes), pos


# --- failures raised by the generated encoders ---------------------------------------------


def _bad_cstring(name: str, value: str, max_len: int) -> None:
    raise ValueError(
        f"{name}={value!r}: a C-octet string of at most {max_len - 1} octets without NUL"
    )


def _bad_time(name: str, value: str) -> None:
    raise ValueError(f"{name}={value!r}: expected '' or 16 characters (SMPP 3.4 §7.1)")


def _bad_short_message(length: int) -> None:
    raise ValueError(
        f"short_message of {length} octets exceeds {MAX_SHORT_MESSAGE}; use message_payload"
    )


def _encode_cstring(value: str, max_len: int, name: str) -> bytes:
    raw = value.encode("latin-1")
    if len(raw) >= max_len or 0 in raw:
        _bad_cstring(name, value, max_len)
    return raw + b"\x00"


def _encode_dest_addresses(dests: tuple[SmeAddress | DistributionList, ...]) -> bytes:
    if not 0 < len(dests) <= MAX_DESTS:
        raise ValueError(f"submit_multi needs 1..254 dest_addresses, got {len(dests)}")
    parts = [bytes((len(dests),))]
    for dest in dests:
        if isinstance(dest, SmeAddress):
            parts.append(bytes((1, dest.dest_addr_ton, dest.dest_addr_npi)))
            parts.append(
                _encode_cstring(dest.destination_addr, SME_DEST_ADDR.max_len, SME_DEST_ADDR.name)
            )
        else:
            parts.append(b"\x02" + _encode_cstring(dest.dl_name, DL_NAME.max_len, DL_NAME.name))
    return b"".join(parts)


def _encode_unsuccess_smes(smes: tuple[UnsuccessSme, ...]) -> bytes:
    parts = [bytes((len(smes),))]
    for sme in smes:
        parts.append(bytes((sme.dest_addr_ton, sme.dest_addr_npi)))
        parts.append(
            _encode_cstring(sme.destination_addr, SME_DEST_ADDR.max_len, SME_DEST_ADDR.name)
        )
        parts.append(_U32.pack(sme.error_status_code))
    return b"".join(parts)


# --- the layout compiler -------------------------------------------------------------------


def _decoder_source(layout: Layout) -> str:
    """Generate ``decode(buf, status, seq)`` for one layout.

    The instance is built as its writable twin (see ``frozen``) so each field is one attribute
    store; consecutive 1-octet integers share one bounds check.
    """
    lines = [
        "def decode(buf, status, seq):",
        "    end = len(buf)",
    ]
    if layout.pdu.command_id & RESPONSE_BIT and layout.fields:
        # §4.4.2 and common practice: an error response may carry no body at all.
        lines += ["    if end == 16 and status:", "        return _empty(status, seq)"]
    lines += [
        "    o = _new(_twin)",
        "    o.sequence_number = seq",
        "    o.command_status = status",
        "    pos = 16",
    ]
    pending: list[Int] = []

    def flush_ints() -> None:
        if not pending:
            return
        size = sum(field.size for field in pending)
        lines.append(f"    if pos + {size} > end: _truncated({pending[0].name!r})")
        offset = 0
        for field in pending:
            at = f"pos + {offset}" if offset else "pos"
            if field.size == 1:
                lines.append(f"    o.{field.name} = buf[{at}]")
            else:
                lines.append(f"    o.{field.name} = _u32(buf, {at})[0]")
            offset += field.size
        lines.append(f"    pos += {size}")
        pending.clear()

    for field in layout.fields:
        if isinstance(field, Int):
            pending.append(field)
            continue
        flush_ints()
        if isinstance(field, CString):
            lines += [
                f"    z = buf.find(0, pos, pos + {field.max_len})",
                "    if z < 0:",
                f"        _cstring_error(buf, pos, {field.max_len}, {field.status}, "
                f"{field.name!r})",
                f"    o.{field.name} = buf[pos:z].decode('latin-1') if z != pos else ''",
                "    pos = z + 1",
            ]
        elif isinstance(field, Time):
            lines += [
                f"    z = buf.find(0, pos, pos + {_TIME_LENGTH + 1})",
                "    if z < 0:",
                f"        _cstring_error(buf, pos, {_TIME_LENGTH + 1}, {field.status}, "
                f"{field.name!r})",
                "    if z == pos:",
                f"        o.{field.name} = ''",
                f"    elif z - pos == {_TIME_LENGTH}:",
                f"        o.{field.name} = buf[pos:z].decode('latin-1')",
                "    else:",
                f"        _bad_time_length({field.name!r}, {field.status}, z - pos)",
                "    pos = z + 1",
            ]
        elif isinstance(field, ShortMessage):
            lines += [
                "    if pos >= end: _truncated('sm_length')",
                "    n = buf[pos]",
                "    pos += 1",
                f"    if n > {MAX_SHORT_MESSAGE} or pos + n > end: _bad_sm_length(n, end - pos)",
                "    o.short_message = buf[pos:pos + n]",
                "    pos += n",
            ]
        elif isinstance(field, DestAddresses):
            lines.append(f"    o.{field.name}, pos = _decode_dest_addresses(buf, pos)")
        elif isinstance(field, UnsuccessSmes):
            lines.append(f"    o.{field.name}, pos = _decode_unsuccess_smes(buf, pos)")
        else:  # pragma: no cover - the Field union is closed
            raise TypeError(f"unknown field kind {field!r}")
    flush_ints()
    if layout.tlvs:
        lines.append("    o.tlvs = _NO_TLVS if pos == end else _decode_tlvs(buf, pos, end)")
    else:
        lines.append("    if pos != end: _trailing(end - pos)")
    lines += ["    o.__class__ = _cls", "    return o"]
    return "\n".join(lines) + "\n"


def _compile_decoder(layout: Layout) -> Decoder:
    cls = layout.pdu

    def empty(status: int, seq: int) -> Pdu:
        return cls(sequence_number=seq, command_status=status)

    namespace: dict[str, object] = {
        "_new": object.__new__,
        "_twin": twin_of(cls),
        "_cls": cls,
        "_empty": empty,
        "_u32": _U32.unpack_from,
        "_NO_TLVS": NO_TLVS,
        "_decode_tlvs": decode_tlvs,
        "_truncated": _truncated,
        "_cstring_error": _cstring_error,
        "_bad_time_length": _bad_time_length,
        "_bad_sm_length": _bad_sm_length,
        "_trailing": _trailing,
        "_decode_dest_addresses": _decode_dest_addresses,
        "_decode_unsuccess_smes": _decode_unsuccess_smes,
    }
    return define(_decoder_source(layout), namespace, "decode", f"{cls.__name__} decoder")


def _encoder_source(layout: Layout) -> str:
    """Generate ``encode(p)`` for one layout.

    The body is one ``bytes %`` formatting: a constant format with ``%c`` per 1-octet integer,
    ``%s`` per variable part and the NUL terminators inline. One C call instead of a ``bytes``
    tuple per run of octets and a ``join`` halves the cost of encoding a deliver_sm. ``%c``
    raises OverflowError for integers outside 0..255, which ``codec.encode`` turns into
    ValueError.
    """
    command_id = f"0x{layout.pdu.command_id:08X}"
    lines = ["def encode(p):"]
    if not layout.fields and not layout.tlvs:
        lines.append(f"    return _header(16, {command_id}, p.command_status, p.sequence_number)")
        return "\n".join(lines) + "\n"
    if layout.omit_body_on_error:
        lines += [
            "    if p.command_status:",
            f"        return _header(16, {command_id}, p.command_status, p.sequence_number)",
        ]
    fmt = bytearray()
    args: list[str] = []

    for index, field in enumerate(layout.fields):
        var = f"v{index}"
        if isinstance(field, Int):
            if field.size == 1:
                fmt += b"%c"
                args.append(f"p.{field.name}")
            else:
                fmt += b"%s"
                args.append(f"_u32(p.{field.name})")
        elif isinstance(field, CString):
            lines += [
                f"    {var} = p.{field.name}.encode('latin-1')",
                f"    if len({var}) >= {field.max_len} or 0 in {var}:",
                f"        _bad_cstring({field.name!r}, p.{field.name}, {field.max_len})",
            ]
            fmt += b"%s\x00"
            args.append(var)
        elif isinstance(field, Time):
            lines += [
                f"    {var} = p.{field.name}.encode('latin-1')",
                f"    if (len({var}) != {_TIME_LENGTH} and {var}) or 0 in {var}:",
                f"        _bad_time({field.name!r}, p.{field.name})",
            ]
            fmt += b"%s\x00"
            args.append(var)
        elif isinstance(field, ShortMessage):
            lines += [
                f"    {var} = p.short_message",
                f"    if len({var}) > {MAX_SHORT_MESSAGE}: _bad_short_message(len({var}))",
            ]
            fmt += b"%c%s"
            args += [f"len({var})", var]
        elif isinstance(field, DestAddresses):
            fmt += b"%s"
            args.append(f"_encode_dest_addresses(p.{field.name})")
        elif isinstance(field, UnsuccessSmes):
            fmt += b"%s"
            args.append(f"_encode_unsuccess_smes(p.{field.name})")
        else:  # pragma: no cover - the Field union is closed
            raise TypeError(f"unknown field kind {field!r}")
    if layout.tlvs:
        lines.append("    t = p.tlvs")
        fmt += b"%s"
        args.append("(b'' if t is _NO_TLVS else _encode_tlvs(t))")
    lines += [
        f"    body = {bytes(fmt)!r} % ({', '.join(args)},)",
        f"    return _header(16 + len(body), {command_id}, p.command_status, "
        "p.sequence_number) + body",
    ]
    return "\n".join(lines) + "\n"


def _compile_encoder(layout: Layout) -> Encoder:
    namespace: dict[str, object] = {
        "_header": _HEADER.pack,
        "_u32": _U32.pack,
        "_NO_TLVS": NO_TLVS,
        "_encode_tlvs": encode_tlvs,
        "_bad_cstring": _bad_cstring,
        "_bad_time": _bad_time,
        "_bad_short_message": _bad_short_message,
        "_encode_dest_addresses": _encode_dest_addresses,
        "_encode_unsuccess_smes": _encode_unsuccess_smes,
    }
    return define(_encoder_source(layout), namespace, "encode", f"{layout.pdu.__name__} encoder")


#: command_id -> decoder of the whole frame (header already read).
DECODERS: Final[dict[int, Decoder]] = {
    layout.pdu.command_id: _compile_decoder(layout) for layout in LAYOUTS
}
#: PDU class -> encoder of the whole frame.
ENCODERS: Final[dict[type[Pdu], Encoder]] = {
    layout.pdu: _compile_encoder(layout) for layout in LAYOUTS
}
