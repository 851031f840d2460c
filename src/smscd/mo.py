"""Mobile-originated messages: what a handset sends to an account's virtual number.

An MO message reaches the ESME as one deliver_sm per part with esm_class 0 (a plain short
message, not a receipt). The text travels in GSM 7-bit when every character fits the default
alphabet and its extension table, otherwise in UCS-2 (surrogate pairs for emoji), split with a
concatenation UDH (8-bit reference) when it is longer than one SMS, exactly as a phone sends
it. A sender asked for a data_coding explicitly gets that one.

Addresses: the handset is an international number (TON 1, NPI 1). A virtual number longer
than eight digits is a long number (TON 1, NPI 1); a shorter one is a short code, sent as
network-specific (TON 3, NPI 0), as operators deliver short codes.
"""

from __future__ import annotations

import attrs

from smscd.smpp.constants import EsmClass
from smscd.smpp.pdus import DeliverSm
from smscd.sms.coding import Alphabet, alphabet_for, data_coding_for
from smscd.sms.gsm7 import UnencodableCharacter
from smscd.sms.segments import MessageTooLongError, split

SHORT_CODE_MAX_DIGITS = 8


class MoError(ValueError):
    """An MO message that cannot exist; ``reason`` says why, fit for an HTTP 4xx answer."""

    def __init__(self, reason: str, *, not_found: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_found = not_found


@attrs.frozen
class MoMessage:
    """An MO message on its way to an account: its id and its deliver_sm parts."""

    mo_id: str
    system_id: str
    parts: tuple[DeliverSm, ...]


def check_handset_number(source: str) -> str:
    """The handset's digits (``+`` dropped).

    Raises:
        MoError: not a phone number.
    """
    digits = source.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()) or not 3 <= len(digits) <= 15:
        raise MoError(f"from: {source!r} is not a handset number (3 to 15 digits, optional +)")
    return digits


def check_virtual_number(destination: str) -> str:
    """The digits of the number the handset writes to.

    Raises:
        MoError: an alphanumeric sender ID (no phone can answer one) or not a number.
    """
    digits = destination.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        if any(c.isalpha() for c in destination):
            raise MoError(
                f"to: {destination!r} is an alphanumeric sender ID; a handset cannot reply to "
                "a text sender, only to a long number or a short code"
            )
        raise MoError(f"to: {destination!r} is not a long number or short code")
    return digits


def _address(number: str) -> tuple[int, int]:
    return (3, 0) if len(number) <= SHORT_CODE_MAX_DIGITS else (1, 1)


def build_mo_parts(
    source: str,
    destination: str,
    text: str,
    *,
    data_coding: int | None = None,
    reference: int = 0,
) -> tuple[DeliverSm, ...]:
    """The deliver_sm PDUs of one MO message, in part order.

    Args:
        source: the handset's digits.
        destination: the virtual number's digits.
        data_coding: None to choose GSM 7-bit or UCS-2 from the text; 0, 1, 3 or 8 to force.
        reference: the concatenation reference for a long text, 0..255.

    Raises:
        MoError: the text does not fit the requested coding, or is too long (255 parts).
    """
    alphabet: Alphabet | None = None
    if data_coding is not None:
        if not 0 <= data_coding <= 0xFF:
            raise MoError(f"data_coding: must be 0..255, not {data_coding}")
        alphabet = alphabet_for(data_coding)
        if alphabet is Alphabet.BINARY:
            raise MoError(f"data_coding: {data_coding} is not a text coding (use 0, 1, 3 or 8)")
    try:
        segments = split(text, alphabet=alphabet, reference=reference)
    except (UnencodableCharacter, UnicodeEncodeError) as exc:
        raise MoError(f"text: does not fit data_coding {data_coding}: {exc}") from None
    except MessageTooLongError:
        raise MoError("text: longer than 255 SMS parts") from None
    source_ton, source_npi = 1, 1
    dest_ton, dest_npi = _address(destination)
    return tuple(
        DeliverSm(
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            source_addr=source,
            dest_addr_ton=dest_ton,
            dest_addr_npi=dest_npi,
            destination_addr=destination,
            esm_class=EsmClass.UDHI if segment.udh else 0,
            data_coding=data_coding
            if data_coding is not None
            else data_coding_for(segment.alphabet),
            short_message=segment.short_message,
        )
        for segment in segments
    )
