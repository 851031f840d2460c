"""Delivery receipt text, SMPP 3.4 Appendix B.

The receipt travels in the short_message of a deliver_sm with esm_class "SMSC delivery
receipt"; its text is the de-facto format every ESME library parses (one line)::

    id:1234 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201
    stat:DELIVRD err:201 text:Hello

``err`` carries the operator status code (``smscd.status``), so a client that only reads the
text still learns e.g. 514 DeliveryToHandsetFailed. ``text`` is the first 20 characters of the
*decoded* message text, never raw bytes and never the UDH.

Dates are formatted as given: the caller picks the time zone (the daemon uses UTC).
"""

from __future__ import annotations

import re
import struct
import unicodedata
from datetime import UTC, datetime
from typing import NamedTuple

import attrs

from smscd.message import Address, Message
from smscd.smpp.codec import EncodedRequest
from smscd.smpp.constants import CommandId, EsmClass, MessageState
from smscd.smpp.pdus import DeliverSm
from smscd.smpp.tlv import NetworkErrorCode, Tlvs, encode_tlvs
from smscd.status import STAT_BY_STATE, Code, StatusGroup, lookup

__all__ = [
    "RECEIPT_TEXT_LENGTH",
    "STAT_WORDS",
    "ReceiptError",
    "ReceiptFields",
    "build_receipt",
    "format_receipt",
    "message_receipt",
    "parse_receipt",
    "receipt_body",
    "receipt_request",
]

#: How many characters of the message text a receipt quotes (Appendix B).
RECEIPT_TEXT_LENGTH = 20

#: The seven-character ``stat`` words of Appendix B.
STAT_WORDS: frozenset[str] = frozenset(STAT_BY_STATE.values())

_DATE_FORMAT = "%y%m%d%H%M"
# SMPP message_id is a C-Octet String of at most 65 octets including the NUL.
_MAX_ID_LENGTH = 64
_ID = re.compile(rf"\S{{1,{_MAX_ID_LENGTH}}}")


def _minute(epoch_minute: float) -> str:
    """A receipt date for the minute ``epoch_minute`` (seconds // 60, a whole float)."""
    date = _MINUTES.get(epoch_minute)
    if date is None:
        # Receipts of one minute share their dates; strftime was a visible cost per receipt.
        if len(_MINUTES) >= _MINUTES_KEPT:
            _MINUTES.clear()
        date = datetime.fromtimestamp(epoch_minute * 60, UTC).strftime(_DATE_FORMAT)
        _MINUTES[epoch_minute] = date
    return date


_MINUTES: dict[float, str] = {}
_MINUTES_KEPT = 256


class ReceiptError(ValueError):
    """A receipt could not be formatted (bad argument) or parsed (no id)."""


def _clean_text(text: str) -> str:
    """Makes receipt text safe for one line and for every ESME parser.

    Control characters (newline, tab, escape...) and Unicode line separators become spaces:
    a newline inside the receipt breaks line-oriented parsers and log lines. Lone surrogates
    (undecodable bytes kept by surrogateescape, broken UCS-2) become '?', because they cannot
    be encoded in any data coding. Replacement is one for one, so the quote stays 20 long.
    """
    text = text[:RECEIPT_TEXT_LENGTH]
    if text.isascii() and text.isprintable():
        return text  # the common case, without a per-character walk
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs":
            out.append("?")
        elif category in ("Cc", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _count(name: str, value: int) -> str:
    if not 0 <= value <= 999:
        raise ReceiptError(f"{name} must be 0..999 to fit three digits, got {value}")
    return f"{value:03d}"


def format_receipt(
    message_id: str,
    *,
    submitted: int,
    delivered: int,
    submit_date: datetime,
    done_date: datetime,
    stat: str,
    err: int,
    text: str,
) -> str:
    """Formats the Appendix B receipt text.

    The arguments after the id are keyword-only: two counts and two dates of the same types
    side by side are too easy to swap silently.

    Args:
        message_id: the id given in submit_sm_resp, verbatim.
        submitted: ``sub``, short messages originally submitted (0..999).
        delivered: ``dlvrd``, short messages delivered (0..999).
        submit_date: when the message was submitted.
        done_date: when it reached its final state.
        stat: the Appendix B word, e.g. ``DELIVRD`` (``StatusCode.stat``).
        err: the operator status code (0..999), e.g. 201.
        text: the decoded message text ("" for binary messages); only the first 20
            characters are quoted, control characters replaced.

    Returns:
        ``id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
        stat:DELIVRD err:201 text:<first 20 chars>``.

    Raises:
        ReceiptError: for an empty id or one with whitespace (it would split the field), an
            unknown stat word, or a count or err outside 0..999.
    """
    if not _ID.fullmatch(message_id) or not message_id.isprintable():
        raise ReceiptError(
            f"message id must be 1..64 printable characters without whitespace, got {message_id!r}"
        )
    if stat not in STAT_WORDS:
        raise ReceiptError(f"stat must be one of {sorted(STAT_WORDS)}, got {stat!r}")
    if not 0 <= err <= 999:
        raise ReceiptError(f"err must be 0..999 to fit three digits, got {err}")
    return (
        f"id:{message_id} sub:{_count('submitted', submitted)}"
        f" dlvrd:{_count('delivered', delivered)}"
        f" submit date:{submit_date.strftime(_DATE_FORMAT)}"
        f" done date:{done_date.strftime(_DATE_FORMAT)}"
        f" stat:{stat} err:{err:03d} text:{_clean_text(text)}"
    )


def message_receipt(message: Message) -> str:
    """Formats the receipt for a final message, dates in UTC.

    ``sub`` is 1: each submit_sm is one message with one id, even when it takes several
    segments. ``dlvrd`` is 1 only for DeliveredToHandset.

    Raises:
        ReceiptError: when the message is not final yet.
    """
    if message.done_time is None or not message.is_final:
        raise ReceiptError(f"message {message.message_id} is not final; no receipt yet")
    row = lookup(message.status)
    return format_receipt(
        message_id=message.message_id,
        submitted=1,
        delivered=1 if row.code == Code.DELIVERED_TO_HANDSET else 0,
        submit_date=datetime.fromtimestamp(message.submit_time, UTC),
        done_date=datetime.fromtimestamp(message.done_time, UTC),
        stat=row.stat,
        err=row.code,
        text=message.text or "",
    )


#: network_error_code's network type (§5.3.2.31): the simulated network is GSM.
NETWORK_TYPE_GSM = 3
#: Receipts are ASCII text; IA5 (data_coding 1) says so on the wire.
RECEIPT_DATA_CODING = 1


class _ReceiptKind(NamedTuple):
    """What a receipt for one (code, intermediate) pair shares with every other one."""

    head: str  # from " sub:" to "submit date:"
    tail: str  # from " stat:" to "text:"
    esm_class: int
    # The TLVs after receipted_message_id, encoded: network_error_code (errors only) and
    # message_state, in the order the codec writes them.
    tlvs: bytes


# By code, for final receipts and for intermediate notifications (two tables: an int key
# hashes for free, a (code, intermediate) key is a tuple built and hashed per receipt).
_KINDS: dict[bool, dict[int, _ReceiptKind]] = {False: {}, True: {}}


def _receipt_kind(code: int, intermediate: bool) -> _ReceiptKind:
    """The parts of a receipt that depend on the code alone, worked out once per code."""
    row = lookup(code)
    state = MessageState.ENROUTE if intermediate else row.message_state
    delivered = "001" if row.code == Code.DELIVERED_TO_HANDSET else "000"
    # An intermediate notification with an error code is a message left waiting (503, 502):
    # it carries the code in network_error_code too.
    failed = row.group in (StatusGroup.REJECTION, StatusGroup.ERROR)
    kind = _ReceiptKind(
        head=f" sub:001 dlvrd:{delivered} submit date:",
        tail=f" stat:{STAT_BY_STATE[state]} err:{row.code:03d} text:",
        esm_class=(
            EsmClass.TYPE_INTERMEDIATE_NOTIFICATION
            if intermediate
            else EsmClass.TYPE_SMSC_DELIVERY_RECEIPT
        ),
        tlvs=encode_tlvs(
            Tlvs(
                network_error_code=(
                    NetworkErrorCode(NETWORK_TYPE_GSM, row.code) if failed else None
                ),
                message_state=int(state),
            )
        ),
    )
    _KINDS[intermediate][int(code)] = kind
    return kind


# The deliver_sm body of a receipt (§4.6.1), with what never varies written out: service_type
# "", source ton/npi/addr, dest ton/npi/addr, esm_class, protocol_id 0, priority_flag 0,
# schedule_delivery_time "", validity_period "", registered_delivery 0,
# replace_if_present_flag 0, data_coding 1 (IA5), sm_default_msg_id 0, sm_length,
# short_message, then the TLVs: receipted_message_id (0x001E) and the kind's.
_BODY = (
    b"\x00%s%s%c\x00\x00\x00\x00\x00\x00"
    + bytes((RECEIPT_DATA_CODING,))
    + b"\x00%c%s\x00\x1e%s%s\x00%s"
)
# An address as the receipt writes it (ton, npi, the address and its NUL), by address: a
# receipt's two addresses are mostly a handful of numbers and sender IDs, encoded and checked
# once each instead of once a receipt.
_ADDRESS_FIELDS: dict[str, tuple[int, int, bytes]] = {}
_ADDRESS_FIELDS_KEPT = 10_000


def _address_field(address: Address, message_id: str) -> bytes:
    known = _ADDRESS_FIELDS.get(address.addr)
    if known is not None and known[0] == address.ton and known[1] == address.npi:
        return known[2]
    octets = address.addr.encode("latin-1")
    if len(octets) > _MAX_ADDRESS or b"\x00" in octets:
        raise ValueError(f"message {message_id}: a receipt field does not fit the wire")
    field = bytes((address.ton, address.npi)) + octets + b"\x00"
    if len(_ADDRESS_FIELDS) >= _ADDRESS_FIELDS_KEPT:
        _ADDRESS_FIELDS.clear()
    _ADDRESS_FIELDS[address.addr] = (address.ton, address.npi, field)
    return field


_U16 = struct.Struct(">H").pack
# C-octet string limits of the fields written above (§4.6.1, §5.3.2.12), terminator excluded.
_MAX_ADDRESS = 20
_MAX_SHORT_MESSAGE = 254


def receipt_body(message: Message, code: int, *, intermediate: bool = False) -> bytes:
    """The body (all after the header) of the deliver_sm that tells the ESME about ``code``.

    A final receipt (esm_class 0x04) carries the final SMPP state and ``stat`` word; an
    intermediate notification (esm_class 0x20) carries ENROUTE and the current 1xx code, or
    the code a message left waiting waits on (503, 502). Both put the operator code in
    ``err:``, and errors (4xx, 5xx) also in network_error_code. The addresses are the
    original ones swapped: the receipt comes *from* the handset.

    The text is sent as ASCII (IA5): every receipt parser in the wild reads it that way, so
    characters outside ASCII in the quoted ``text:`` become ``?``.

    This is the per-message hot path, so it writes octets directly rather than building a
    DeliverSm and encoding it (``build_receipt`` decodes these octets, and the codec tests
    hold the two to the same bytes).

    Raises:
        ValueError: an address or the message id does not fit its field.
    """
    kind = _KINDS[intermediate].get(code) or _receipt_kind(code, intermediate)
    at = message.history.last_at if intermediate or message.done_time is None else message.done_time
    message_id = message.message_id
    # The dates and the quote inline in their common case (a date seen before, ASCII text).
    submitted = _MINUTES.get(message.submit_time // 60) or _minute(message.submit_time // 60)
    done = _MINUTES.get(at // 60) or _minute(at // 60)
    quote = (message.text or "")[:RECEIPT_TEXT_LENGTH]
    if not (quote.isascii() and quote.isprintable()):
        quote = _clean_text(quote)
    text = f"id:{message_id}{kind.head}{submitted} done date:{done}{kind.tail}{quote}".encode(
        "ascii", "replace"
    )
    receipted = message_id.encode("latin-1")
    if len(text) > _MAX_SHORT_MESSAGE or len(receipted) > _MAX_ID_LENGTH or b"\x00" in receipted:
        raise ValueError(f"message {message_id}: a receipt field does not fit the wire")
    return _BODY % (
        _address_field(message.destination, message_id),
        _address_field(message.source, message_id),
        kind.esm_class,
        len(text),
        text,
        _U16(len(receipted) + 1),
        receipted,
        kind.tlvs,
    )


def receipt_request(message: Message, code: int, *, intermediate: bool = False) -> EncodedRequest:
    """``receipt_body`` as a deliver_sm ready for ``Session.send_request``."""
    return EncodedRequest(
        CommandId.DELIVER_SM, receipt_body(message, code, intermediate=intermediate)
    )


def build_receipt(message: Message, code: int, *, intermediate: bool = False) -> DeliverSm:
    """The deliver_sm of ``receipt_body``, as a PDU (see there)."""
    pdu = receipt_request(message, code, intermediate=intermediate).decode()
    assert isinstance(pdu, DeliverSm)
    return pdu


@attrs.frozen
class ReceiptFields:
    """What ``parse_receipt`` found; a field absent or unreadable in the text is None.

    Attributes:
        message_id: the ``id`` field, verbatim (other SMSCs use hex or leading zeros).
        submitted: ``sub``.
        delivered: ``dlvrd``.
        submit_date: ``submit date``, naive, in whatever zone the sender used.
        done_date: ``done date``.
        stat: ``stat``, upper-cased.
        err: ``err`` as an integer, when it is decimal.
        text: ``text``; None when the field is missing, "" when present and empty.
    """

    message_id: str
    submitted: int | None = None
    delivered: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    stat: str | None = None
    err: int | None = None
    text: str | None = None


# A field name, at the start or after a non-word character so "xid:" is not "id:".
# Some SMSCs write "submit_date" or "submitdate"; the spec writes "submit date".
_KEY = re.compile(
    r"(?<![A-Za-z0-9_])(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)\s*:",
    re.IGNORECASE,
)


def _normalise_key(raw: str) -> str:
    key = raw.lower()
    if key.startswith("submit"):
        return "submit date"
    if key.startswith("done"):
        return "done date"
    return key


def _int_or_none(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def _date_or_none(value: str | None) -> datetime | None:
    if value is None or not value.isascii() or not value.isdigit():
        return None
    if len(value) == 10:
        pattern = "%y%m%d%H%M"
    elif len(value) == 12:
        pattern = "%y%m%d%H%M%S"
    else:
        return None
    try:
        return datetime.strptime(value, pattern)
    except ValueError:
        return None


def _fields(text: str) -> dict[str, str]:
    """Splits ``key:value`` pairs; a value runs up to the next key. First occurrence wins."""
    found: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        key = _normalise_key(match.group(1))
        value = text[match.end() : end]
        # The text field keeps its inner spacing; only the separator before the next key goes.
        found.setdefault(key, value.rstrip(" ") if key == "text" else value.strip())
    return found


def parse_receipt(text: str) -> ReceiptFields:
    """Parses Appendix B receipt text, tolerating what real SMSCs send.

    Field names are matched in any case and order; dates may have 10 (YYMMDDhhmm) or 12
    (YYMMDDhhmmss) digits; missing or unreadable fields are None. Appendix B puts ``text``
    last, and message text may itself contain "stat:" or "err:", so when the ``id`` comes
    before ``text:`` everything after ``text:`` is the quote. Only when ``id`` is missing
    before it (a non-standard order) are fields after ``text:`` parsed too.

    Raises:
        ReceiptError: when there is no ``id`` field: without it the receipt matches nothing.
    """
    marker = next((m for m in _KEY.finditer(text) if m.group(1).lower() == "text"), None)
    if marker is not None:
        fields = _fields(text[: marker.start()])
        if "id" in fields:
            fields["text"] = text[marker.end() :]
        else:
            fields = _fields(text)
    else:
        fields = _fields(text)
    message_id = fields.get("id", "")
    if not message_id:
        raise ReceiptError(f"receipt has no id field: {text[:80]!r}")
    stat = fields.get("stat")
    return ReceiptFields(
        message_id=message_id,
        submitted=_int_or_none(fields.get("sub")),
        delivered=_int_or_none(fields.get("dlvrd")),
        submit_date=_date_or_none(fields.get("submit date")),
        done_date=_date_or_none(fields.get("done date")),
        stat=stat.upper() if stat else None,
        err=_int_or_none(fields.get("err")),
        text=fields.get("text"),
    )
