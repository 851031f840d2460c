"""SMPP 3.4 wire constants.

Every enum cites the section of the SMPP v3.4 specification (Issue 1.2) that defines it. PDU
fields are typed ``int``, never the enum, so values a peer sends that this table does not know
survive decoding and re-encoding unchanged; convert with ``CommandStatus(x)`` only where a name
is wanted (for logs) and be ready for ``ValueError``.
"""

from __future__ import annotations

import enum
from typing import Final

#: interface_version / sc_interface_version value for SMPP 3.4 (§5.2.4).
SMPP_VERSION_34: Final = 0x34

#: Every PDU starts with command_length, command_id, command_status, sequence_number (§3.2).
HEADER_LENGTH: Final = 16

#: Bit 31 of command_id marks a response (§5.1.2.1).
RESPONSE_BIT: Final = 0x80000000


class CommandId(enum.IntEnum):
    """command_id values (§5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class CommandStatus(enum.IntEnum):
    """command_status error codes (§5.1.3), plus the SMPP 5.0 additions some 3.4 SMSCs use.

    Values 0x09, 0x10, 0x12, 0x16-0x32, ... are reserved by the specification; 0x400-0x4FF are
    reserved for SMSC vendor-specific errors and appear here only as plain ints.
    """

    ESME_ROK = 0x00000000  # no error
    ESME_RINVMSGLEN = 0x00000001  # message length is invalid
    ESME_RINVCMDLEN = 0x00000002  # command length is invalid
    ESME_RINVCMDID = 0x00000003  # invalid command ID
    ESME_RINVBNDSTS = 0x00000004  # incorrect BIND status for given command
    ESME_RALYBND = 0x00000005  # ESME already in bound state
    ESME_RINVPRTFLG = 0x00000006  # invalid priority flag
    ESME_RINVREGDLVFLG = 0x00000007  # invalid registered delivery flag
    ESME_RSYSERR = 0x00000008  # system error
    ESME_RINVSRCADR = 0x0000000A  # invalid source address
    ESME_RINVDSTADR = 0x0000000B  # invalid destination address
    ESME_RINVMSGID = 0x0000000C  # message ID is invalid
    ESME_RBINDFAIL = 0x0000000D  # bind failed
    ESME_RINVPASWD = 0x0000000E  # invalid password
    ESME_RINVSYSID = 0x0000000F  # invalid system ID
    ESME_RCANCELFAIL = 0x00000011  # cancel_sm failed
    ESME_RREPLACEFAIL = 0x00000013  # replace_sm failed
    ESME_RMSGQFUL = 0x00000014  # message queue full
    ESME_RINVSERTYP = 0x00000015  # invalid service type
    ESME_RINVNUMDESTS = 0x00000033  # invalid number of destinations
    ESME_RINVDLNAME = 0x00000034  # invalid distribution list name
    ESME_RINVDESTFLAG = 0x00000040  # destination flag is invalid (submit_multi)
    ESME_RINVSUBREP = 0x00000042  # invalid 'submit with replace' request
    ESME_RINVESMCLASS = 0x00000043  # invalid esm_class field data
    ESME_RCNTSUBDL = 0x00000044  # cannot submit to distribution list
    ESME_RSUBMITFAIL = 0x00000045  # submit_sm or submit_multi failed
    ESME_RINVSRCTON = 0x00000048  # invalid source address TON
    ESME_RINVSRCNPI = 0x00000049  # invalid source address NPI
    ESME_RINVDSTTON = 0x00000050  # invalid destination address TON
    ESME_RINVDSTNPI = 0x00000051  # invalid destination address NPI
    ESME_RINVSYSTYP = 0x00000053  # invalid system_type field
    ESME_RINVREPFLAG = 0x00000054  # invalid replace_if_present flag
    ESME_RINVNUMMSGS = 0x00000055  # invalid number of messages
    ESME_RTHROTTLED = 0x00000058  # throttling error (ESME has exceeded allowed message limits)
    ESME_RINVSCHED = 0x00000061  # invalid scheduled delivery time
    ESME_RINVEXPIRY = 0x00000062  # invalid message validity period (expiry time)
    ESME_RINVDFTMSGID = 0x00000063  # predefined message invalid or not found
    ESME_RX_T_APPN = 0x00000064  # ESME receiver temporary app error code
    ESME_RX_P_APPN = 0x00000065  # ESME receiver permanent app error code
    ESME_RX_R_APPN = 0x00000066  # ESME receiver reject message error code
    ESME_RQUERYFAIL = 0x00000067  # query_sm request failed
    ESME_RINVOPTPARSTREAM = 0x000000C0  # error in the optional part of the PDU body
    ESME_ROPTPARNOTALLWD = 0x000000C1  # optional parameter not allowed
    ESME_RINVPARLEN = 0x000000C2  # invalid parameter length
    ESME_RMISSINGOPTPARAM = 0x000000C3  # expected optional parameter missing
    ESME_RINVOPTPARAMVAL = 0x000000C4  # invalid optional parameter value
    ESME_RDELIVERYFAILURE = 0x000000FE  # delivery failure (data_sm_resp)
    ESME_RUNKNOWNERR = 0x000000FF  # unknown error
    # SMPP 5.0 §4.7.6 additions: not part of 3.4, but answered by many 3.4 SMSCs and ESMEs.
    ESME_RSERTYPUNAUTH = 0x00000100  # ESME not authorised to use specified service_type
    ESME_RPROHIBITED = 0x00000101  # ESME prohibited from using specified operation
    ESME_RSERTYPUNAVAIL = 0x00000102  # specified service_type is unavailable
    ESME_RSERTYPDENIED = 0x00000103  # specified service_type is denied
    ESME_RINVDCS = 0x00000104  # invalid data coding scheme
    ESME_RINVSRCADDRSUBUNIT = 0x00000105  # source address sub unit is invalid
    ESME_RINVDSTADDRSUBUNIT = 0x00000106  # destination address sub unit is invalid


class TlvTag(enum.IntEnum):
    """Optional parameter tags (§5.3.2, table 5-2)."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class MessageState(enum.IntEnum):
    """message_state values of query_sm_resp and the message_state TLV (§5.2.28)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class BindType(enum.IntEnum):
    """The three ways an ESME binds (§2.2), valued as the bind request's command_id.

    ``BindType(pdu.command_id)`` therefore maps a bind request to its type.
    """

    RECEIVER = CommandId.BIND_RECEIVER
    TRANSMITTER = CommandId.BIND_TRANSMITTER
    TRANSCEIVER = CommandId.BIND_TRANSCEIVER

    @property
    def can_transmit(self) -> bool:
        """Whether the ESME may submit messages (submit_sm, data_sm, ...) on this bind."""
        return self is not BindType.RECEIVER

    @property
    def can_receive(self) -> bool:
        """Whether the SMSC may deliver messages (deliver_sm, data_sm) on this bind."""
        return self is not BindType.TRANSMITTER


class Ton(enum.IntEnum):
    """Type of Number, the *_ton fields (§5.2.5)."""

    UNKNOWN = 0b00000000
    INTERNATIONAL = 0b00000001
    NATIONAL = 0b00000010
    NETWORK_SPECIFIC = 0b00000011
    SUBSCRIBER_NUMBER = 0b00000100
    ALPHANUMERIC = 0b00000101
    ABBREVIATED = 0b00000110


class Npi(enum.IntEnum):
    """Numbering Plan Indicator, the *_npi fields (§5.2.6)."""

    UNKNOWN = 0b00000000
    ISDN = 0b00000001  # E.163/E.164
    DATA = 0b00000011  # X.121
    TELEX = 0b00000100  # F.69
    LAND_MOBILE = 0b00000110  # E.212
    NATIONAL = 0b00001000
    PRIVATE = 0b00001001
    ERMES = 0b00001010
    INTERNET = 0b00001110  # IP
    WAP_CLIENT_ID = 0b00010010


class DestFlag(enum.IntEnum):
    """dest_flag of a submit_multi destination (§4.5.1.1)."""

    SME_ADDRESS = 1
    DISTRIBUTION_LIST = 2


class EsmClass:
    """esm_class bit fields (§5.2.12): three sub-fields, each read through its mask."""

    # Messaging mode, bits 1-0.
    MODE_MASK: Final = 0x03
    MODE_DEFAULT: Final = 0x00
    MODE_DATAGRAM: Final = 0x01
    MODE_FORWARD: Final = 0x02  # transaction mode
    MODE_STORE_AND_FORWARD: Final = 0x03
    # Message type, bits 5-2.
    TYPE_MASK: Final = 0x3C
    TYPE_DEFAULT: Final = 0x00
    TYPE_SMSC_DELIVERY_RECEIPT: Final = 0x04
    TYPE_SME_DELIVERY_ACK: Final = 0x08
    TYPE_SME_MANUAL_ACK: Final = 0x10
    TYPE_CONVERSATION_ABORT: Final = 0x18
    TYPE_INTERMEDIATE_NOTIFICATION: Final = 0x20
    # GSM network specific features, bits 7-6.
    GSM_MASK: Final = 0xC0
    UDHI: Final = 0x40
    REPLY_PATH: Final = 0x80


class RegisteredDelivery:
    """registered_delivery bit fields (§5.2.17)."""

    # SMSC delivery receipt, bits 1-0.
    RECEIPT_MASK: Final = 0x03
    RECEIPT_NONE: Final = 0x00
    RECEIPT_ON_SUCCESS_OR_FAILURE: Final = 0x01
    RECEIPT_ON_FAILURE: Final = 0x02
    # Reserved in 3.4; SMPP 5.0 §4.7.21 defines it as "receipt on success only".
    RECEIPT_ON_SUCCESS: Final = 0x03
    # SME originated acknowledgement, bits 3-2.
    SME_ACK_MASK: Final = 0x0C
    SME_ACK_DELIVERY: Final = 0x04
    SME_ACK_MANUAL: Final = 0x08
    SME_ACK_BOTH: Final = 0x0C
    # Intermediate notification, bit 4.
    INTERMEDIATE_NOTIFICATION: Final = 0x10


# Flat aliases for the masks used on hot paths and in tests.
ESM_CLASS_MODE_MASK: Final = EsmClass.MODE_MASK
ESM_CLASS_TYPE_MASK: Final = EsmClass.TYPE_MASK
ESM_CLASS_SMSC_DELIVERY_RECEIPT: Final = EsmClass.TYPE_SMSC_DELIVERY_RECEIPT
ESM_CLASS_INTERMEDIATE_NOTIFICATION: Final = EsmClass.TYPE_INTERMEDIATE_NOTIFICATION
ESM_CLASS_UDHI: Final = EsmClass.UDHI
ESM_CLASS_REPLY_PATH: Final = EsmClass.REPLY_PATH
REGISTERED_DELIVERY_RECEIPT_MASK: Final = RegisteredDelivery.RECEIPT_MASK
REGISTERED_DELIVERY_INTERMEDIATE: Final = RegisteredDelivery.INTERMEDIATE_NOTIFICATION


def status_name(command_status: int) -> str:
    """The spec name of a command_status (``ESME_RINVPASWD``), or its hex for unknown values."""
    try:
        return CommandStatus(command_status).name
    except ValueError:
        return f"0x{command_status:08X}"
