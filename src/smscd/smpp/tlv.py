"""Optional parameters (TLVs) of SMPP 3.4 §5.3: the typed record and its wire table.

``Tlvs`` has one optional field per TLV the specification defines; a PDU without optional
parameters shares the ``NO_TLVS`` instance so decoding allocates nothing for it. Tags the table
does not know are kept as ``RawTlv`` in ``Tlvs.unknown`` and re-encoded byte for byte, after the
known ones, in the order they were received.

The wire format of every known TLV is one row of ``TLV_TABLE``; ``encode_tlvs`` and
``decode_tlvs`` are driven by that table.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import Final, Literal

import attrs

from smscd.smpp.codegen import define
from smscd.smpp.constants import CommandStatus, TlvTag
from smscd.smpp.errors import SmppError
from smscd.smpp.frozen import fast_frozen, twin_of


@fast_frozen
@attrs.frozen(slots=True)
class RawTlv:
    """A TLV whose tag this codec does not know, kept as received."""

    tag: int
    value: bytes


@fast_frozen
@attrs.frozen(slots=True)
class NetworkErrorCode:
    """The network_error_code TLV (§5.3.2.31): a network type and its 2-octet error code."""

    network_type: int  # 1 = ANSI-136, 2 = IS-95, 3 = GSM, ...
    error_code: int


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class Tlvs:
    """All optional parameters of one PDU (§5.3.2); ``None`` means absent."""

    dest_addr_subunit: int | None = None
    dest_network_type: int | None = None
    dest_bearer_type: int | None = None
    dest_telematics_id: int | None = None
    source_addr_subunit: int | None = None
    source_network_type: int | None = None
    source_bearer_type: int | None = None
    source_telematics_id: int | None = None
    qos_time_to_live: int | None = None
    payload_type: int | None = None
    additional_status_info_text: str | None = None
    receipted_message_id: str | None = None
    ms_msg_wait_facilities: int | None = None
    privacy_indicator: int | None = None
    source_subaddress: bytes | None = None
    dest_subaddress: bytes | None = None
    user_message_reference: int | None = None
    user_response_code: int | None = None
    source_port: int | None = None
    destination_port: int | None = None
    sar_msg_ref_num: int | None = None
    language_indicator: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    sc_interface_version: int | None = None
    callback_num_pres_ind: int | None = None
    callback_num_atag: bytes | None = None
    number_of_messages: int | None = None
    callback_num: bytes | None = None
    dpf_result: int | None = None
    set_dpf: int | None = None
    ms_availability_status: int | None = None
    network_error_code: NetworkErrorCode | None = None
    message_payload: bytes | None = None
    delivery_failure_reason: int | None = None
    more_messages_to_send: int | None = None
    message_state: int | None = None
    ussd_service_op: int | None = None
    display_time: int | None = None
    sms_signal: int | None = None
    ms_validity: int | None = None
    # A zero-length TLV: present or absent, there is no value to carry.
    alert_on_message_delivery: Literal[True] | None = None
    its_reply_type: int | None = None
    its_session_info: bytes | None = None
    unknown: tuple[RawTlv, ...] = ()

    def __repr__(self) -> str:
        # Forty-odd ``None`` fields would drown the two or three that are set.
        present = (
            f"{field.name}={value!r}"
            for field in attrs.fields(Tlvs)
            if (value := getattr(self, field.name)) is not None and value != ()
        )
        return f"Tlvs({', '.join(present)})"


#: The shared "no optional parameters" value; compare with ``is``.
NO_TLVS: Final = Tlvs()


class TlvKind(enum.Enum):
    """How a TLV value is laid out on the wire (§5.3.2)."""

    INT = "int"  # big-endian unsigned integer of exactly ``min_len`` octets
    CSTRING = "cstring"  # C-octet string, NUL included in the length, at most ``max_len``
    OCTETS = "octets"  # octet string of ``min_len`` .. ``max_len`` octets
    NETWORK_ERROR = "network_error"  # 1-octet network type + 2-octet error code
    FLAG = "flag"  # zero-length: presence is the value


@fast_frozen
@attrs.frozen(slots=True)
class TlvSpec:
    """One row of the TLV table."""

    tag: int
    name: str
    kind: TlvKind
    min_len: int
    max_len: int


_I, _C, _O = TlvKind.INT, TlvKind.CSTRING, TlvKind.OCTETS
_MAX_LEN = 0xFFFF

#: One row per TLV of §5.3.2, in encoding order (ascending tag): tag, field, kind, min, max.
TLV_TABLE: Final[tuple[TlvSpec, ...]] = (
    TlvSpec(TlvTag.DEST_ADDR_SUBUNIT, "dest_addr_subunit", _I, 1, 1),
    TlvSpec(TlvTag.DEST_NETWORK_TYPE, "dest_network_type", _I, 1, 1),
    TlvSpec(TlvTag.DEST_BEARER_TYPE, "dest_bearer_type", _I, 1, 1),
    TlvSpec(TlvTag.DEST_TELEMATICS_ID, "dest_telematics_id", _I, 2, 2),
    TlvSpec(TlvTag.SOURCE_ADDR_SUBUNIT, "source_addr_subunit", _I, 1, 1),
    TlvSpec(TlvTag.SOURCE_NETWORK_TYPE, "source_network_type", _I, 1, 1),
    TlvSpec(TlvTag.SOURCE_BEARER_TYPE, "source_bearer_type", _I, 1, 1),
    # §5.3.2.8 gives 1 octet here although dest_telematics_id has 2 (Wireshark agrees).
    TlvSpec(TlvTag.SOURCE_TELEMATICS_ID, "source_telematics_id", _I, 1, 1),
    TlvSpec(TlvTag.QOS_TIME_TO_LIVE, "qos_time_to_live", _I, 4, 4),
    TlvSpec(TlvTag.PAYLOAD_TYPE, "payload_type", _I, 1, 1),
    TlvSpec(TlvTag.ADDITIONAL_STATUS_INFO_TEXT, "additional_status_info_text", _C, 1, 256),
    TlvSpec(TlvTag.RECEIPTED_MESSAGE_ID, "receipted_message_id", _C, 1, 65),
    TlvSpec(TlvTag.MS_MSG_WAIT_FACILITIES, "ms_msg_wait_facilities", _I, 1, 1),
    TlvSpec(TlvTag.PRIVACY_INDICATOR, "privacy_indicator", _I, 1, 1),
    TlvSpec(TlvTag.SOURCE_SUBADDRESS, "source_subaddress", _O, 2, 23),
    TlvSpec(TlvTag.DEST_SUBADDRESS, "dest_subaddress", _O, 2, 23),
    TlvSpec(TlvTag.USER_MESSAGE_REFERENCE, "user_message_reference", _I, 2, 2),
    TlvSpec(TlvTag.USER_RESPONSE_CODE, "user_response_code", _I, 1, 1),
    TlvSpec(TlvTag.SOURCE_PORT, "source_port", _I, 2, 2),
    TlvSpec(TlvTag.DESTINATION_PORT, "destination_port", _I, 2, 2),
    TlvSpec(TlvTag.SAR_MSG_REF_NUM, "sar_msg_ref_num", _I, 2, 2),
    TlvSpec(TlvTag.LANGUAGE_INDICATOR, "language_indicator", _I, 1, 1),
    TlvSpec(TlvTag.SAR_TOTAL_SEGMENTS, "sar_total_segments", _I, 1, 1),
    TlvSpec(TlvTag.SAR_SEGMENT_SEQNUM, "sar_segment_seqnum", _I, 1, 1),
    TlvSpec(TlvTag.SC_INTERFACE_VERSION, "sc_interface_version", _I, 1, 1),
    TlvSpec(TlvTag.CALLBACK_NUM_PRES_IND, "callback_num_pres_ind", _I, 1, 1),
    # §5.3.2.38: display characters in the encoding of data_coding, so octets, not text.
    TlvSpec(TlvTag.CALLBACK_NUM_ATAG, "callback_num_atag", _O, 0, 65),
    TlvSpec(TlvTag.NUMBER_OF_MESSAGES, "number_of_messages", _I, 1, 1),
    TlvSpec(TlvTag.CALLBACK_NUM, "callback_num", _O, 4, 19),
    TlvSpec(TlvTag.DPF_RESULT, "dpf_result", _I, 1, 1),
    TlvSpec(TlvTag.SET_DPF, "set_dpf", _I, 1, 1),
    TlvSpec(TlvTag.MS_AVAILABILITY_STATUS, "ms_availability_status", _I, 1, 1),
    TlvSpec(TlvTag.NETWORK_ERROR_CODE, "network_error_code", TlvKind.NETWORK_ERROR, 3, 3),
    TlvSpec(TlvTag.MESSAGE_PAYLOAD, "message_payload", _O, 0, _MAX_LEN),
    TlvSpec(TlvTag.DELIVERY_FAILURE_REASON, "delivery_failure_reason", _I, 1, 1),
    TlvSpec(TlvTag.MORE_MESSAGES_TO_SEND, "more_messages_to_send", _I, 1, 1),
    TlvSpec(TlvTag.MESSAGE_STATE, "message_state", _I, 1, 1),
    # §5.3.2.44 calls it a 1-octet "Octet String" but defines it by numeric values.
    TlvSpec(TlvTag.USSD_SERVICE_OP, "ussd_service_op", _I, 1, 1),
    TlvSpec(TlvTag.DISPLAY_TIME, "display_time", _I, 1, 1),
    TlvSpec(TlvTag.SMS_SIGNAL, "sms_signal", _I, 2, 2),
    TlvSpec(TlvTag.MS_VALIDITY, "ms_validity", _I, 1, 1),
    TlvSpec(TlvTag.ALERT_ON_MESSAGE_DELIVERY, "alert_on_message_delivery", TlvKind.FLAG, 0, 0),
    TlvSpec(TlvTag.ITS_REPLY_TYPE, "its_reply_type", _I, 1, 1),
    TlvSpec(TlvTag.ITS_SESSION_INFO, "its_session_info", _O, 2, 2),
)

TLV_BY_TAG: Final[dict[int, TlvSpec]] = {spec.tag: spec for spec in TLV_TABLE}
TLV_BY_NAME: Final[dict[str, TlvSpec]] = {spec.name: spec for spec in TLV_TABLE}

_TAG_LEN = struct.Struct(">HH")
_INT_SIZES: Final = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}

_INVPARLEN = CommandStatus.ESME_RINVPARLEN
_INVSTREAM = CommandStatus.ESME_RINVOPTPARSTREAM
_INVVAL = CommandStatus.ESME_RINVOPTPARAMVAL


# --- decoding -------------------------------------------------------------------------------


def _cstring_value(spec: TlvSpec, raw: bytes) -> str:
    nul = raw.find(0)
    # Real SMSCs often omit the terminator of receipted_message_id; accept that, but a NUL
    # before the end would silently cut the value, so reject it.
    if nul == len(raw) - 1:
        raw = raw[:-1]
    elif nul >= 0:
        raise SmppError(_INVVAL, f"{spec.name}: NUL inside the C-octet string")
    elif len(raw) >= spec.max_len:
        raise SmppError(_INVPARLEN, f"{spec.name}: {len(raw)} octets and no NUL")
    return raw.decode("latin-1")


# Kind codes for the dispatch in ``decode_tlvs``, which inlines every kind: a call per TLV
# would cost as much as the decoding itself.
_KIND_INT1, _KIND_INT2, _KIND_INT4, _KIND_OCTETS, _KIND_CSTRING, _KIND_NETERR, _KIND_FLAG = range(7)


def _kind_code(spec: TlvSpec) -> int:
    if spec.kind is TlvKind.INT:
        return {1: _KIND_INT1, 2: _KIND_INT2, 4: _KIND_INT4}[spec.min_len]
    return {
        TlvKind.OCTETS: _KIND_OCTETS,
        TlvKind.CSTRING: _KIND_CSTRING,
        TlvKind.NETWORK_ERROR: _KIND_NETERR,
        TlvKind.FLAG: _KIND_FLAG,
    }[spec.kind]


# tag -> (index in TLV_TABLE, min length, max length, kind code): one lookup per TLV.
_DECODE_BY_TAG: Final[dict[int, tuple[int, int, int, int]]] = {
    spec.tag: (index, spec.min_len, spec.max_len, _kind_code(spec))
    for index, spec in enumerate(TLV_TABLE)
}


def _compile_builder() -> Callable[[list[object], tuple[RawTlv, ...]], Tlvs]:
    """Generate ``build(values, unknown)``: a Tlvs from values in ``TLV_TABLE`` order.

    It writes the slots of the writable twin (see ``frozen``) in one unpacking assignment,
    instead of passing up to 45 keyword arguments.
    """
    targets = ", ".join(f"o.{spec.name}" for spec in TLV_TABLE)
    source = (
        "def build(values, unknown):\n"
        "    o = _new(_twin)\n"
        f"    {targets} = values\n"
        "    o.unknown = unknown\n"
        "    o.__class__ = _cls\n"
        "    return o\n"
    )
    namespace: dict[str, object] = {"_new": object.__new__, "_twin": twin_of(Tlvs), "_cls": Tlvs}
    return define(source, namespace, "build", "Tlvs builder")


_build = _compile_builder()
_ABSENT: Final[list[object]] = [None] * len(TLV_TABLE)
_NETWORK_ERROR_TWIN: Final = twin_of(NetworkErrorCode)


def decode_tlvs(buf: bytes, pos: int, end: int) -> Tlvs:
    """Decode the optional parameters in ``buf[pos:end]``.

    Args:
        buf: the whole frame.
        pos: offset of the first TLV.
        end: offset just past the last TLV (the frame's command_length).

    Returns:
        ``NO_TLVS`` when ``pos == end``, otherwise a new ``Tlvs``.

    Raises:
        SmppError: ESME_RINVOPTPARSTREAM for a truncated stream or a repeated tag,
            ESME_RINVPARLEN for a value whose length does not fit its TLV,
            ESME_RINVOPTPARAMVAL for a C-octet string with an inner NUL.
    """
    if pos == end:
        return NO_TLVS
    values = _ABSENT.copy()
    unknown: list[RawTlv] = []
    table = _DECODE_BY_TAG
    unpack_tag_len = _TAG_LEN.unpack_from
    new = object.__new__
    network_error_twin = _NETWORK_ERROR_TWIN
    while pos < end:
        if pos + 4 > end:
            raise SmppError(_INVSTREAM, f"{end - pos} stray octets after the last TLV")
        tag, length = unpack_tag_len(buf, pos)
        pos += 4
        value_end = pos + length
        if value_end > end:
            raise SmppError(
                _INVSTREAM, f"TLV 0x{tag:04X} claims {length} octets, {end - pos} remain"
            )
        row = table.get(tag)
        if row is None:
            unknown.append(RawTlv(tag, buf[pos:value_end]))
            pos = value_end
            continue
        index, min_len, max_len, kind = row
        if length < min_len or length > max_len:
            raise SmppError(
                _INVPARLEN,
                f"{TLV_TABLE[index].name}: length {length}, expected {min_len}..{max_len}",
            )
        if values[index] is not None:
            raise SmppError(_INVSTREAM, f"{TLV_TABLE[index].name} appears twice")
        if kind == _KIND_INT1:
            values[index] = buf[pos]
        elif kind == _KIND_INT2:
            values[index] = (buf[pos] << 8) | buf[pos + 1]
        elif kind == _KIND_CSTRING:
            last = value_end - 1
            if buf.find(0, pos, value_end) == last:
                values[index] = buf[pos:last].decode("latin-1")
            else:
                values[index] = _cstring_value(TLV_TABLE[index], buf[pos:value_end])
        elif kind == _KIND_OCTETS:
            values[index] = buf[pos:value_end]
        elif kind == _KIND_NETERR:
            # Built as in ``frozen``: the slots of the writable twin, then the real class.
            code = new(network_error_twin)
            code.network_type = buf[pos]
            code.error_code = (buf[pos + 1] << 8) | buf[pos + 2]
            code.__class__ = NetworkErrorCode
            values[index] = code
        elif kind == _KIND_INT4:
            values[index] = int.from_bytes(buf[pos:value_end], "big")
        else:
            values[index] = True
        pos = value_end
    return _build(values, tuple(unknown))


# --- encoding -------------------------------------------------------------------------------


def _compile_encoder() -> Callable[[Tlvs], bytes]:
    """Generate straight-line code that checks each field once and packs the present ones.

    A loop over ~45 specs would cost a Python-level iteration per field even when only two or
    three TLVs are present (the usual case for a delivery receipt); generated code pays one
    attribute load and one ``is None`` test per field instead.
    """
    ns: dict[str, object] = {
        "_tag_len": _TAG_LEN.pack,
        "_u8": _INT_SIZES[1].pack,
        "_u16": _INT_SIZES[2].pack,
        "_u32": _INT_SIZES[4].pack,
        "_too_long": _too_long,
        "_bad_cstring": _bad_cstring,
        "_bad_octets": _bad_octets,
    }
    pack_int = {1: "_u8", 2: "_u16", 4: "_u32"}
    lines = ["def encode_tlvs(t):", "    out = []", "    add = out.append"]
    for spec in TLV_TABLE:
        tag = f"0x{spec.tag:04X}"
        lines.append(f"    v = t.{spec.name}")
        lines.append("    if v is not None:")
        body: list[str]
        if spec.kind is TlvKind.INT:
            header = (spec.tag << 16 | spec.min_len).to_bytes(4, "big")
            body = [f"add({header!r} + {pack_int[spec.min_len]}(v))"]
        elif spec.kind is TlvKind.CSTRING:
            body = [
                "b = v.encode('latin-1')",
                f"if len(b) >= {spec.max_len} or 0 in b: _bad_cstring({spec.name!r}, v)",
                f"add(_tag_len({tag}, len(b) + 1) + b + b'\\x00')",
            ]
        elif spec.kind is TlvKind.OCTETS:
            body = [
                "n = len(v)",
                f"if n < {spec.min_len} or n > {spec.max_len}:",
                f"    _bad_octets({spec.name!r}, n, {spec.min_len}, {spec.max_len})",
                f"add(_tag_len({tag}, n) + v)",
            ]
        elif spec.kind is TlvKind.NETWORK_ERROR:
            body = [f"add(_tag_len({tag}, 3) + _u8(v.network_type) + _u16(v.error_code))"]
        else:
            body = [f"if v is not True: raise ValueError('{spec.name} must be True or None')"]
            body.append(f"add(_tag_len({tag}, 0))")
        lines.extend("        " + line for line in body)
    lines += [
        "    for raw in t.unknown:",
        "        if len(raw.value) > 0xFFFF: _too_long(raw)",
        "        add(_tag_len(raw.tag, len(raw.value)) + raw.value)",
        "    return b''.join(out)",
    ]
    return define("\n".join(lines) + "\n", ns, "encode_tlvs", "Tlvs encoder")


def _bad_cstring(name: str, value: str) -> None:
    raise ValueError(f"{name}: {value!r} is too long or contains NUL")


def _bad_octets(name: str, length: int, min_len: int, max_len: int) -> None:
    raise ValueError(f"{name}: {length} octets, expected {min_len}..{max_len}")


def _too_long(raw: RawTlv) -> None:
    raise ValueError(f"unknown TLV 0x{raw.tag:04X}: {len(raw.value)} octets exceed 65535")


_encode_tlvs = _compile_encoder()


def encode_tlvs(tlvs: Tlvs) -> bytes:
    """Encode optional parameters: known TLVs in ``TLV_TABLE`` order, then unknown ones.

    Args:
        tlvs: the parameters to encode.

    Returns:
        The TLV octets (empty for ``NO_TLVS``).

    Raises:
        ValueError: a value does not fit its TLV (length out of range, integer too large,
            non-latin-1 text).
    """
    if tlvs is NO_TLVS:
        return b""
    try:
        return _encode_tlvs(tlvs)
    except struct.error as exc:
        raise ValueError(f"optional parameter out of range: {exc}") from exc
