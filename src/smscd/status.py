"""The operator's status codes 101-599: the one table every other module reads.

The codes, names and comments are the seed operator's published table (support page "When you
send SMS they get different statuses, what do these mean?"), copied verbatim, typos included,
so that a test can compare them with the seed text. Each row adds what SMPP 3.4 needs: the
``message_state`` reported by query_sm and in the receipt's TLV (§5.2.28), and the 7-character
``stat`` word of the receipt text (Appendix B).

Groups come from the hundreds digit, as the operator defines them: Info (1xx) says where along
the pipeline the message is, and is not final; Success (2xx), Rejection (4xx) and Error (5xx)
are final.

Mapping choices, where SMPP 3.4 and the operator disagree:

- 101 Accepted maps to ENROUTE, not to SMPP's ACCEPTED: in SMPP 3.4 ACCEPTED (6) is a *final*
  state ("accepted on behalf of the subscriber by customer service", receipt word ACCEPTD),
  while the operator's Accepted only means "accepted for processing". A client that saw
  ACCEPTD would stop waiting for the real outcome.
- 203 Canceled maps to DELETED, the state cancel_sm produces in SMPP 3.4.
- 599 Unknown maps to UNKNOWN: the upstream never sent an interpretable receipt.
- 503 SubscriberOffline is in the Error group and therefore final here (finality follows the
  group, with no exceptions), although its comment says delivery "will be retried". The seed
  says a switched-off phone gets its final status only when the validity period runs out, so
  a carrier model that is still retrying keeps the message in an Info state (e.g. 113) and
  records 503 only when it gives up.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from smscd.smpp.constants import MessageState

__all__ = [
    "STATUS_CODES",
    "STAT_BY_STATE",
    "Code",
    "StatusCode",
    "StatusGroup",
    "is_final",
    "lookup",
    "lookup_name",
]


class StatusGroup(enum.Enum):
    """The operator's four code blocks; the value is the hundreds digit."""

    INFO = 1
    SUCCESS = 2
    REJECTION = 4
    ERROR = 5

    @property
    def final(self) -> bool:
        """Whether codes of this group end a message's life."""
        return self is not StatusGroup.INFO


class Code(enum.IntEnum):
    """Every operator code by name, for callers that must name one in code.

    An import-time check keeps this enum and ``_ROWS`` identical; the row is the truth.
    """

    ACCEPTED = 101
    QUEUED = 102
    FUNDED = 103
    REFUNDED = 104
    SENDING = 110
    DELIVERED_TO_GATEWAY = 111
    DELIVERED_TO_CARRIER = 112
    DELIVERED_TO_GSM = 113
    QUEUED_AT_GATEWAY = 114
    DELIVERED_TO_HANDSET = 201
    EXPIRED = 202
    CANCELED = 203
    INSUFFICIENT_FUNDS = 402
    SENDER_REJECTED = 403
    CONTENT_REJECTED = 404
    RECIPIENT_REJECTED = 405
    GENERIC_REJECTED = 406
    INVALID_SENDER = 407
    INVALID_CONTENT = 408
    INVALID_RECIPIENT = 409
    MISSING_SMS_SUBSCRIPTION = 410
    INTERNAL_ERROR = 500
    UNKNOWN_SUBSCRIBER = 501
    SUBSCRIBER_UNREACHABLE = 502
    SUBSCRIBER_OFFLINE = 503
    DELIVERY_TO_GATEWAY_FAILED = 511
    DELIVERY_TO_CARRIER_FAILED = 512
    DELIVERY_TO_GSM_FAILED = 513
    DELIVERY_TO_HANDSET_FAILED = 514
    GENERIC_DELIVERY_FAILURE = 515
    GATEWAY_ERROR = 516
    UNKNOWN = 599


#: SMPP 3.4 Appendix B: the receipt's ``stat:`` word for each message_state.
STAT_BY_STATE: Mapping[MessageState, str] = MappingProxyType(
    {
        MessageState.ENROUTE: "ENROUTE",
        MessageState.DELIVERED: "DELIVRD",
        MessageState.EXPIRED: "EXPIRED",
        MessageState.DELETED: "DELETED",
        MessageState.UNDELIVERABLE: "UNDELIV",
        MessageState.ACCEPTED: "ACCEPTD",
        MessageState.UNKNOWN: "UNKNOWN",
        MessageState.REJECTED: "REJECTD",
    }
)


@attrs.frozen
class StatusCode:
    """One operator status code with its SMPP 3.4 equivalents.

    Attributes:
        code: the operator code, 101-599.
        name: the operator's name, e.g. ``DeliveredToHandset``.
        group: the code block (from the hundreds digit).
        meaning: the operator's comment, verbatim.
        message_state: the SMPP 3.4 message_state (§5.2.28) for query_sm and receipts.
        stat: the 7-character receipt word (Appendix B), e.g. ``DELIVRD``.
    """

    code: int
    name: str
    group: StatusGroup
    meaning: str
    message_state: MessageState
    stat: str
    #: Whether the message's life ends with this code (2xx, 4xx, 5xx). Stored, not derived:
    #: it is read on every status change of every message.
    final: bool = attrs.field(init=False)

    @final.default
    def _final(self) -> bool:
        return self.group.final


_S = MessageState
# (code, operator name, SMPP message_state, operator comment). Keep in code order.
_ROWS: tuple[tuple[int, str, MessageState, str], ...] = (
    (101, "Accepted", _S.ENROUTE, "The message(s) has been accepted for processing"),
    (102, "Queued", _S.ENROUTE, "The message has been put a queue for sending"),
    (103, "Funded", _S.ENROUTE, "The message has been paid for and can be sent"),
    (
        104,
        "Refunded",
        _S.ENROUTE,
        "The message has been refunded i.e. its price has been returned to the account balance",
    ),
    (110, "Sending", _S.ENROUTE, "The message is being sent"),
    (
        111,
        "DeliveredToGateway",
        _S.ENROUTE,
        "The message has been delivered to the next upstream gateway",
    ),
    (
        112,
        "DeliveredToCarrier",
        _S.ENROUTE,
        "The message has been delivered to the carrier on which the subscriber belongs to",
    ),
    (113, "DeliveredToGSM", _S.ENROUTE, "The message has been put on the GSM network"),
    (114, "QueuedAtGateway", _S.ENROUTE, "The message has been queued at the upstream gateway"),
    (
        201,
        "DeliveredToHandset",
        _S.DELIVERED,
        "The message has been delivered to the recipient in question",
    ),
    (
        202,
        "Expired",
        _S.EXPIRED,
        "The expiry date has been exceeded before the message could be delivered",
    ),
    (203, "Canceled", _S.DELETED, "Message was canceled by user"),
    (
        402,
        "InsufficientFunds",
        _S.REJECTED,
        "The account sending SMS doesn't have enough funds to send the SMS",
    ),
    (
        403,
        "SenderRejected",
        _S.REJECTED,
        "The sender was rejected, given when the sender is considered fraudulent or sender "
        "ownership hasn't been verified",
    ),
    (
        404,
        "ContentRejected",
        _S.REJECTED,
        "The message body contained content that is not allowed. Eg gambling, adult content, etc.",
    ),
    (405, "RecipientRejected", _S.REJECTED, "The recipient is illegal"),
    (
        406,
        "GenericRejected",
        _S.REJECTED,
        "The message was rejected for a reason other than the options above",
    ),
    (
        407,
        "InvalidSender",
        _S.REJECTED,
        "The message sender is invalid. Eg. Sender is too long, contains illegal characters etc",
    ),
    (
        408,
        "InvalidContent",
        _S.REJECTED,
        "Message content is invalid. Eg. illegal characters, is to long etc.",
    ),
    (
        409,
        "InvalidRecipient",
        _S.REJECTED,
        "Message recipient is invalid. Eg. Recipient was is not a valid MSISDN",
    ),
    (
        410,
        "MissingSmsSubscription",
        _S.REJECTED,
        "The recipient does not have an SMS subscription and can therefore not recieve SMS",
    ),
    (500, "InternalError", _S.UNDELIVERABLE, "An unrecognized error occurred"),
    (501, "UnknownSubscriber", _S.UNDELIVERABLE, "The network subscriber doesn't exist"),
    (
        502,
        "SubscriberUnreachable",
        _S.UNDELIVERABLE,
        "The network subscriber was not online and could therefore not receive the message",
    ),
    (
        503,
        "SubscriberOffline",
        _S.UNDELIVERABLE,
        "The subscriber is currently offline, delivery will be retried once the subscriber is "
        "back online",
    ),
    (
        511,
        "DeliveryToGatewayFailed",
        _S.UNDELIVERABLE,
        "The message could not be handed over to the next upstream gateway",
    ),
    (
        512,
        "DeliveryToCarrierFailed",
        _S.UNDELIVERABLE,
        "The message could not be handed over to the carrier",
    ),
    (
        513,
        "DeliveryToGSMFailed",
        _S.UNDELIVERABLE,
        "The message could not be added to the GSM network",
    ),
    (
        514,
        "DeliveryToHandsetFailed",
        _S.UNDELIVERABLE,
        "The message could not be handed over to the target handset",
    ),
    (515, "GenericDeliveryFailure", _S.UNDELIVERABLE, "Generic Delivery Failure"),
    (
        516,
        "GatewayError",
        _S.UNDELIVERABLE,
        "An unrecognized error occured occured at the gateway",
    ),
    (
        599,
        "Unknown",
        _S.UNKNOWN,
        "Message was delivered upstream but no Delivery Receipt has been received or a "
        "Delivery Receipt that could not be interpreted was received",
    ),
)
del _S


def _build() -> Mapping[int, StatusCode]:
    table: dict[int, StatusCode] = {}
    for code, name, state, meaning in _ROWS:
        if code in table:
            raise AssertionError(f"status code {code} listed twice")
        table[code] = StatusCode(
            code=code,
            name=name,
            group=StatusGroup(code // 100),
            meaning=meaning,
            message_state=state,
            stat=STAT_BY_STATE[state],
        )
    # The enum exists only to name the rows; a drift between the two is a programming error
    # that must fail at import, not when a rarely used code is first looked up.
    if set(table) != {int(member) for member in Code}:
        raise AssertionError("status.Code and status._ROWS list different codes")
    return MappingProxyType(table)


#: Every operator code, keyed by number, in code order.
STATUS_CODES: Mapping[int, StatusCode] = _build()

_BY_NAME: Mapping[str, StatusCode] = MappingProxyType(
    {row.name.lower(): row for row in STATUS_CODES.values()}
)


def lookup(code: int) -> StatusCode:
    """Returns the row for an operator status code.

    Raises:
        KeyError: when ``code`` is not one of the operator's codes.
    """
    try:
        return STATUS_CODES[code]
    except KeyError:
        known = ", ".join(str(c) for c in STATUS_CODES)
        raise KeyError(f"unknown operator status code {code!r} (known: {known})") from None


def lookup_name(name: str) -> StatusCode:
    """Returns the row for an operator status name such as ``SubscriberOffline``.

    The match ignores case, because scenario files are written by hand.

    Raises:
        KeyError: when ``name`` is not one of the operator's names.
    """
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise KeyError(f"unknown operator status name {name!r}") from None


_FINAL_CODES: frozenset[int] = frozenset(code for code, row in STATUS_CODES.items() if row.final)


def is_final(code: int) -> bool:
    """Whether an operator code ends a message's life (2xx, 4xx, 5xx; 1xx is not final).

    Raises:
        KeyError: when ``code`` is not one of the operator's codes.
    """
    if code in _FINAL_CODES:
        return True
    if code in STATUS_CODES:
        return False
    raise KeyError(f"unknown operator status code {code!r}")
