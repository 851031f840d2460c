"""Operation layouts as data: one row per PDU of SMPP 3.4 §4, one entry per mandatory field.

Each field says how it sits on the wire and which ``command_status`` answers a bad value
(§5.1.3). ``codec`` compiles every row once into a specialised decoder and encoder, so adding an
operation means adding a PDU class and a row here.

Sizes follow the specification's notation: a C-octet string of "Var. max N" occupies at most N
octets *including* its NUL terminator, so ``system_id`` (max 16) carries at most 15 characters.
"""

from __future__ import annotations

from typing import Final, TypeAlias

import attrs

from smscd.smpp.constants import CommandStatus as S
from smscd.smpp.pdus import (
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
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)


@attrs.frozen
class CString:
    """A C-octet string of at most ``max_len`` octets, NUL included (§3.1)."""

    name: str
    max_len: int
    status: int


@attrs.frozen
class Time:
    """An absolute or relative time (§7.1): a C-octet string of 0 or exactly 16 characters."""

    name: str
    status: int


@attrs.frozen
class Int:
    """An unsigned big-endian integer of ``size`` octets (1 or 4).

    ``status`` is the answer for a value the layer above rejects; the codec itself accepts any
    value, so unknown ones survive.
    """

    name: str
    size: int
    status: int | None


@attrs.frozen
class ShortMessage:
    """sm_length (1 octet) then short_message, 0 to 254 octets (§4.4.1)."""

    name: str = "short_message"
    status: int = S.ESME_RINVMSGLEN


@attrs.frozen
class DestAddresses:
    """submit_multi's number_of_dests then that many dest_address entries (§4.5.1.1)."""

    name: str = "dest_addresses"
    status: int = S.ESME_RINVNUMDESTS


@attrs.frozen
class UnsuccessSmes:
    """submit_multi_resp's no_unsuccess then that many unsuccess_sme entries (§4.5.2.1)."""

    name: str = "unsuccess_smes"
    status: int = S.ESME_RINVCMDLEN


Field: TypeAlias = CString | Time | Int | ShortMessage | DestAddresses | UnsuccessSmes


@attrs.frozen
class Layout:
    """The wire layout of one PDU body.

    Attributes:
        pdu: the PDU class; its attrs fields must match ``fields`` by name.
        fields: the mandatory parameters in wire order.
        tlvs: whether optional parameters may follow.
        omit_body_on_error: encode only the header when command_status is not 0 (§4.4.2).
    """

    pdu: type[Pdu]
    fields: tuple[Field, ...] = ()
    tlvs: bool = False
    omit_body_on_error: bool = False


def _int1(name: str, status: int | None = None) -> Int:
    return Int(name, 1, status)


# Field definitions shared by several operations.
_SERVICE_TYPE = CString("service_type", 6, S.ESME_RINVSERTYP)
_SOURCE_TON = _int1("source_addr_ton", S.ESME_RINVSRCTON)
_SOURCE_NPI = _int1("source_addr_npi", S.ESME_RINVSRCNPI)
_SOURCE_ADDR = CString("source_addr", 21, S.ESME_RINVSRCADR)
_DEST_TON = _int1("dest_addr_ton", S.ESME_RINVDSTTON)
_DEST_NPI = _int1("dest_addr_npi", S.ESME_RINVDSTNPI)
_DEST_ADDR = CString("destination_addr", 21, S.ESME_RINVDSTADR)
_ESM_CLASS = _int1("esm_class", S.ESME_RINVESMCLASS)
_PROTOCOL_ID = _int1("protocol_id")
_PRIORITY_FLAG = _int1("priority_flag", S.ESME_RINVPRTFLG)
_SCHEDULE = Time("schedule_delivery_time", S.ESME_RINVSCHED)
_VALIDITY = Time("validity_period", S.ESME_RINVEXPIRY)
_REGISTERED_DELIVERY = _int1("registered_delivery", S.ESME_RINVREGDLVFLG)
_REPLACE_IF_PRESENT = _int1("replace_if_present_flag", S.ESME_RINVREPFLAG)
_DATA_CODING = _int1("data_coding", S.ESME_RINVDCS)
_SM_DEFAULT_MSG_ID = _int1("sm_default_msg_id", S.ESME_RINVDFTMSGID)
_MESSAGE_ID = CString("message_id", 65, S.ESME_RINVMSGID)
_SYSTEM_ID = CString("system_id", 16, S.ESME_RINVSYSID)
_PASSWORD = CString("password", 9, S.ESME_RINVPASWD)

_BIND = (
    _SYSTEM_ID,
    _PASSWORD,
    CString("system_type", 13, S.ESME_RINVSYSTYP),
    # §4.1.1 names no status for these three; a bind that cannot be honoured is RBINDFAIL.
    _int1("interface_version", S.ESME_RBINDFAIL),
    _int1("addr_ton", S.ESME_RBINDFAIL),
    _int1("addr_npi", S.ESME_RBINDFAIL),
    CString("address_range", 41, S.ESME_RBINDFAIL),
)
_SHORT_MESSAGE_TAIL = (
    _ESM_CLASS,
    _PROTOCOL_ID,
    _PRIORITY_FLAG,
    _SCHEDULE,
    _VALIDITY,
    _REGISTERED_DELIVERY,
    _REPLACE_IF_PRESENT,
    _DATA_CODING,
    _SM_DEFAULT_MSG_ID,
    ShortMessage(),
)
_SHORT_MESSAGE = (
    _SERVICE_TYPE,
    _SOURCE_TON,
    _SOURCE_NPI,
    _SOURCE_ADDR,
    _DEST_TON,
    _DEST_NPI,
    _DEST_ADDR,
    *_SHORT_MESSAGE_TAIL,
)

#: One row per PDU (§4).
LAYOUTS: Final[tuple[Layout, ...]] = (
    Layout(BindTransmitter, _BIND),
    Layout(BindReceiver, _BIND),
    Layout(BindTransceiver, _BIND),
    Layout(BindTransmitterResp, (_SYSTEM_ID,), tlvs=True),
    Layout(BindReceiverResp, (_SYSTEM_ID,), tlvs=True),
    Layout(BindTransceiverResp, (_SYSTEM_ID,), tlvs=True),
    Layout(Outbind, (_SYSTEM_ID, _PASSWORD)),
    Layout(Unbind),
    Layout(UnbindResp),
    Layout(GenericNack),
    Layout(SubmitSm, _SHORT_MESSAGE, tlvs=True),
    Layout(SubmitSmResp, (_MESSAGE_ID,), tlvs=True, omit_body_on_error=True),
    Layout(
        SubmitMulti,
        (
            _SERVICE_TYPE,
            _SOURCE_TON,
            _SOURCE_NPI,
            _SOURCE_ADDR,
            DestAddresses(),
            *_SHORT_MESSAGE_TAIL,
        ),
        tlvs=True,
    ),
    Layout(SubmitMultiResp, (_MESSAGE_ID, UnsuccessSmes()), tlvs=True),
    Layout(DeliverSm, _SHORT_MESSAGE, tlvs=True),
    Layout(DeliverSmResp, (_MESSAGE_ID,), tlvs=True),
    Layout(
        DataSm,
        (
            _SERVICE_TYPE,
            _SOURCE_TON,
            _SOURCE_NPI,
            CString("source_addr", 65, S.ESME_RINVSRCADR),
            _DEST_TON,
            _DEST_NPI,
            CString("destination_addr", 65, S.ESME_RINVDSTADR),
            _ESM_CLASS,
            _REGISTERED_DELIVERY,
            _DATA_CODING,
        ),
        tlvs=True,
    ),
    Layout(DataSmResp, (_MESSAGE_ID,), tlvs=True),
    Layout(QuerySm, (_MESSAGE_ID, _SOURCE_TON, _SOURCE_NPI, _SOURCE_ADDR)),
    Layout(
        QuerySmResp,
        (
            _MESSAGE_ID,
            # A response has no answer; the status only names the failure in logs.
            Time("final_date", S.ESME_RQUERYFAIL),
            _int1("message_state"),
            _int1("error_code"),
        ),
    ),
    Layout(
        CancelSm,
        (
            _SERVICE_TYPE,
            _MESSAGE_ID,
            _SOURCE_TON,
            _SOURCE_NPI,
            _SOURCE_ADDR,
            _DEST_TON,
            _DEST_NPI,
            _DEST_ADDR,
        ),
    ),
    Layout(CancelSmResp),
    Layout(
        ReplaceSm,
        (
            _MESSAGE_ID,
            _SOURCE_TON,
            _SOURCE_NPI,
            _SOURCE_ADDR,
            _SCHEDULE,
            _VALIDITY,
            _REGISTERED_DELIVERY,
            _SM_DEFAULT_MSG_ID,
            ShortMessage(),
        ),
    ),
    Layout(ReplaceSmResp),
    Layout(EnquireLink),
    Layout(EnquireLinkResp),
    Layout(
        AlertNotification,
        (
            _SOURCE_TON,
            _SOURCE_NPI,
            CString("source_addr", 65, S.ESME_RINVSRCADR),
            _int1("esme_addr_ton", S.ESME_RINVDSTTON),
            _int1("esme_addr_npi", S.ESME_RINVDSTNPI),
            CString("esme_addr", 65, S.ESME_RINVDSTADR),
        ),
        tlvs=True,
    ),
)

#: Fields of a submit_multi dest_address with dest_flag 1 and of an unsuccess_sme (§4.5).
SME_DEST_ADDR: Final = _DEST_ADDR
DL_NAME: Final = CString("dl_name", 21, S.ESME_RINVDLNAME)
MAX_SHORT_MESSAGE: Final = 254
MAX_DESTS: Final = 254
