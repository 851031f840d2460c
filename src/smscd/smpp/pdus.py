"""SMPP 3.4 PDUs (§4): one frozen record per operation and per response.

Fields carry their specification names. C-octet strings are ``str`` (latin-1, so every octet
survives), ``short_message`` and other octet strings are ``bytes``, integers are ``int`` (not the
enums of ``constants``, so unknown values survive). Lengths that the wire derives from a value
(``sm_length``, ``number_of_dests``, ``no_unsuccess``) are not stored. Defaults are the
specification's NULL settings, so ``SubmitSm(destination_addr="123", short_message=b"hi")`` is a
complete PDU; ``codec.encode`` validates sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final, TypeAlias

import attrs

from smscd.smpp.constants import RESPONSE_BIT, SMPP_VERSION_34, CommandId
from smscd.smpp.frozen import fast_frozen
from smscd.smpp.tlv import NO_TLVS, NetworkErrorCode, RawTlv, Tlvs

__all__ = [
    "NO_TLVS",
    "PDU_CLASSES",
    "RESPONSE_FOR",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "NetworkErrorCode",
    "Outbind",
    "Pdu",
    "PduBase",
    "QuerySm",
    "QuerySmResp",
    "RawTlv",
    "ReplaceSm",
    "ReplaceSmResp",
    "RequestPdu",
    "ResponsePdu",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Tlvs",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "is_response",
    "response_class",
]


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class PduBase:
    """The header fields every PDU has (§3.2); command_length is derived by the codec."""

    command_id: ClassVar[int]
    sequence_number: int = 0
    command_status: int = 0


# --- session management (§4.1, §4.2, §4.3, §4.11) ------------------------------------------


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class _BindRequest(PduBase):
    system_id: str = ""
    password: str = attrs.field(default="", repr=False)
    system_type: str = ""
    interface_version: int = SMPP_VERSION_34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class _BindResponse(PduBase):
    system_id: str = ""
    tlvs: Tlvs = NO_TLVS


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class BindTransmitter(_BindRequest):
    """bind_transmitter (§4.1.1)."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class BindTransmitterResp(_BindResponse):
    """bind_transmitter_resp (§4.1.2); may carry sc_interface_version."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class BindReceiver(_BindRequest):
    """bind_receiver (§4.1.3)."""

    command_id: ClassVar[int] = CommandId.BIND_RECEIVER


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class BindReceiverResp(_BindResponse):
    """bind_receiver_resp (§4.1.4); may carry sc_interface_version."""

    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class BindTransceiver(_BindRequest):
    """bind_transceiver (§4.1.5)."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class BindTransceiverResp(_BindResponse):
    """bind_transceiver_resp (§4.1.6); may carry sc_interface_version."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class Outbind(PduBase):
    """outbind (§4.1.7): the SMSC asks the ESME to bind; it has no response."""

    command_id: ClassVar[int] = CommandId.OUTBIND
    system_id: str = ""
    password: str = attrs.field(default="", repr=False)


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class Unbind(PduBase):
    """unbind (§4.2.1)."""

    command_id: ClassVar[int] = CommandId.UNBIND


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class UnbindResp(PduBase):
    """unbind_resp (§4.2.2)."""

    command_id: ClassVar[int] = CommandId.UNBIND_RESP


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class GenericNack(PduBase):
    """generic_nack (§4.3.1): the answer to a PDU whose header cannot be honoured."""

    command_id: ClassVar[int] = CommandId.GENERIC_NACK


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class EnquireLink(PduBase):
    """enquire_link (§4.11.1)."""

    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class EnquireLinkResp(PduBase):
    """enquire_link_resp (§4.11.2)."""

    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


# --- messages (§4.4, §4.5, §4.6, §4.7) -----------------------------------------------------


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class _ShortMessagePdu(PduBase):
    """The common body of submit_sm and deliver_sm (§4.4.1, §4.6.1)."""

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = NO_TLVS


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class SubmitSm(_ShortMessagePdu):
    """submit_sm (§4.4.1)."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class SubmitSmResp(PduBase):
    """submit_sm_resp (§4.4.2); the body is omitted when command_status is not 0.

    ``tlvs`` is an SMPP 5.0 extension accepted so that such SMSCs can be decoded.
    """

    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP
    message_id: str = ""
    tlvs: Tlvs = NO_TLVS


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class SmeAddress:
    """A submit_multi destination with dest_flag 1, an SME address (§4.5.1.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class DistributionList:
    """A submit_multi destination with dest_flag 2, a distribution list name (§4.5.1.2)."""

    dl_name: str = ""


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class UnsuccessSme:
    """One failed destination of submit_multi_resp (§4.5.2.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class SubmitMulti(PduBase):
    """submit_multi (§4.5.1); number_of_dests is ``len(dest_addresses)``, 1 to 254."""

    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addresses: tuple[SmeAddress | DistributionList, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = NO_TLVS


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class SubmitMultiResp(PduBase):
    """submit_multi_resp (§4.5.2); no_unsuccess is ``len(unsuccess_smes)``.

    ``tlvs`` is an SMPP 5.0 extension accepted so that such SMSCs can be decoded.
    """

    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI_RESP
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()
    tlvs: Tlvs = NO_TLVS


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class DeliverSm(_ShortMessagePdu):
    """deliver_sm (§4.6.1); also carries delivery receipts (esm_class 0x04)."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class DeliverSmResp(PduBase):
    """deliver_sm_resp (§4.6.2); message_id is unused and NULL.

    ``tlvs`` is an SMPP 5.0 extension accepted so that such ESMEs can be decoded.
    """

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP
    message_id: str = ""
    tlvs: Tlvs = NO_TLVS


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class DataSm(PduBase):
    """data_sm (§4.7.1); the message, if any, is in the message_payload TLV."""

    command_id: ClassVar[int] = CommandId.DATA_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: Tlvs = NO_TLVS


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class DataSmResp(PduBase):
    """data_sm_resp (§4.7.2)."""

    command_id: ClassVar[int] = CommandId.DATA_SM_RESP
    message_id: str = ""
    tlvs: Tlvs = NO_TLVS


# --- ancillary operations (§4.8, §4.9, §4.10, §4.12) ---------------------------------------


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class QuerySm(PduBase):
    """query_sm (§4.8.1)."""

    command_id: ClassVar[int] = CommandId.QUERY_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class QuerySmResp(PduBase):
    """query_sm_resp (§4.8.2)."""

    command_id: ClassVar[int] = CommandId.QUERY_SM_RESP
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class CancelSm(PduBase):
    """cancel_sm (§4.9.1)."""

    command_id: ClassVar[int] = CommandId.CANCEL_SM
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class CancelSmResp(PduBase):
    """cancel_sm_resp (§4.9.2)."""

    command_id: ClassVar[int] = CommandId.CANCEL_SM_RESP


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class ReplaceSm(PduBase):
    """replace_sm (§4.10.1)."""

    command_id: ClassVar[int] = CommandId.REPLACE_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class ReplaceSmResp(PduBase):
    """replace_sm_resp (§4.10.2)."""

    command_id: ClassVar[int] = CommandId.REPLACE_SM_RESP


@fast_frozen
@attrs.frozen(kw_only=True, slots=True)
class AlertNotification(PduBase):
    """alert_notification (§4.12.1): an MS became available; it has no response."""

    command_id: ClassVar[int] = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""
    tlvs: Tlvs = NO_TLVS


RequestPdu: TypeAlias = (
    BindTransmitter
    | BindReceiver
    | BindTransceiver
    | Outbind
    | Unbind
    | SubmitSm
    | SubmitMulti
    | DeliverSm
    | DataSm
    | QuerySm
    | CancelSm
    | ReplaceSm
    | EnquireLink
    | AlertNotification
)
ResponsePdu: TypeAlias = (
    BindTransmitterResp
    | BindReceiverResp
    | BindTransceiverResp
    | UnbindResp
    | GenericNack
    | SubmitSmResp
    | SubmitMultiResp
    | DeliverSmResp
    | DataSmResp
    | QuerySmResp
    | CancelSmResp
    | ReplaceSmResp
    | EnquireLinkResp
)
#: Any PDU; ``match`` on it with ``assert_never`` in the default case.
Pdu: TypeAlias = RequestPdu | ResponsePdu

#: Every concrete PDU class, keyed by command_id.
PDU_CLASSES: Final[Mapping[int, type[Pdu]]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindTransmitterResp,
        BindReceiver,
        BindReceiverResp,
        BindTransceiver,
        BindTransceiverResp,
        Outbind,
        Unbind,
        UnbindResp,
        GenericNack,
        SubmitSm,
        SubmitSmResp,
        SubmitMulti,
        SubmitMultiResp,
        DeliverSm,
        DeliverSmResp,
        DataSm,
        DataSmResp,
        QuerySm,
        QuerySmResp,
        CancelSm,
        CancelSmResp,
        ReplaceSm,
        ReplaceSmResp,
        EnquireLink,
        EnquireLinkResp,
        AlertNotification,
    )
}

#: Request command_id -> class of its response. outbind and alert_notification have none.
RESPONSE_FOR: Final[Mapping[int, type[ResponsePdu]]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
    CommandId.UNBIND: UnbindResp,
    CommandId.SUBMIT_SM: SubmitSmResp,
    CommandId.SUBMIT_MULTI: SubmitMultiResp,
    CommandId.DELIVER_SM: DeliverSmResp,
    CommandId.DATA_SM: DataSmResp,
    CommandId.QUERY_SM: QuerySmResp,
    CommandId.CANCEL_SM: CancelSmResp,
    CommandId.REPLACE_SM: ReplaceSmResp,
    CommandId.ENQUIRE_LINK: EnquireLinkResp,
}


def response_class(command_id: int) -> type[ResponsePdu] | None:
    """The response class for a request's command_id.

    Args:
        command_id: a request command_id, known or not.

    Returns:
        The response PDU class, or ``None`` for outbind, alert_notification, responses and
        unknown ids (answer those with ``GenericNack``).
    """
    return RESPONSE_FOR.get(command_id)


def is_response(pdu_or_command_id: PduBase | int) -> bool:
    """Whether a PDU or command_id is a response: bit 31 of command_id is set (§5.1.2.1)."""
    if isinstance(pdu_or_command_id, PduBase):
        pdu_or_command_id = pdu_or_command_id.command_id
    return bool(pdu_or_command_id & RESPONSE_BIT)
