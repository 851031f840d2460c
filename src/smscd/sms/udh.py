"""The User Data Header of 3GPP TS 23.040 §9.2.3.24, and its concatenation elements.

A ``short_message`` whose ``esm_class`` has UDHI (0x40) set starts with the header: a length
octet (UDHL) and then information elements, each an identifier (IEI), a length and data.
Only the concatenation elements are interpreted (IEI 0x00, 8-bit reference, §9.2.3.24.1; IEI
0x08, 16-bit reference, §9.2.3.24.8); the others survive as raw elements.
"""

from __future__ import annotations

import attrs

__all__ = [
    "CONCAT_8BIT",
    "CONCAT_16BIT",
    "ConcatInfo",
    "InformationElement",
    "Udh",
    "UdhError",
    "build_concat_udh",
    "concat_element",
    "fill_bits",
    "split_udh",
    "udh_septets",
]

CONCAT_8BIT = 0x00
"""IEI of "concatenated short messages, 8-bit reference number" (TS 23.040 §9.2.3.24.1)."""
CONCAT_16BIT = 0x08
"""IEI of "concatenated short messages, 16-bit reference number" (TS 23.040 §9.2.3.24.8)."""


class UdhError(ValueError):
    """A User Data Header that does not fit its message or whose elements overrun it."""


def _octet(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{attribute.name} must be 0..255, not {value}")


def _short_bytes(_instance: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if len(value) > 0xFF:
        raise ValueError(f"{attribute.name} must be at most 255 octets, not {len(value)}")


@attrs.frozen
class InformationElement:
    """One element of a User Data Header: its identifier and data (without the length)."""

    iei: int = attrs.field(validator=_octet)
    data: bytes = attrs.field(validator=_short_bytes)

    def encode(self) -> bytes:
        """IEI, length and data, as the header carries them."""
        return bytes((self.iei, len(self.data))) + self.data


@attrs.frozen
class ConcatInfo:
    """What a concatenation element says about its part.

    Attributes:
        reference: the concatenated message's reference number.
        total: how many parts the message has (1..255).
        sequence: this part's number, 1..total.
        reference_bits: 8 (IEI 0x00) or 16 (IEI 0x08).
    """

    reference: int
    total: int
    sequence: int
    reference_bits: int


@attrs.frozen
class Udh:
    """A parsed User Data Header.

    Attributes:
        elements: the information elements in header order.
    """

    elements: tuple[InformationElement, ...] = ()

    @property
    def concat(self) -> ConcatInfo | None:
        """The concatenation element, or None if there is none or it is invalid.

        TS 23.040 §9.2.3.24 uses the last occurrence of an element that is repeated, and
        §9.2.3.24.1 ignores a concatenation element whose maximum number is 0 or whose sequence
        number is 0 or above the maximum. This follows both: the last concatenation element
        (either reference size) decides, and an invalid one, or one whose length is not 3
        (8-bit) or 4 (16-bit), gives None, so the part is treated as a message of its own. The
        element itself stays in ``elements``.
        """
        for element in reversed(self.elements):
            if element.iei == CONCAT_8BIT:
                if len(element.data) != 3:
                    return None
                reference, total, sequence = element.data
                bits = 8
            elif element.iei == CONCAT_16BIT:
                if len(element.data) != 4:
                    return None
                reference = int.from_bytes(element.data[:2], "big")
                total, sequence = element.data[2], element.data[3]
                bits = 16
            else:
                continue
            if total == 0 or not 1 <= sequence <= total:
                return None
            return ConcatInfo(reference, total, sequence, bits)
        return None

    def encode(self) -> bytes:
        """The header as carried: UDHL, then each element.

        Raises:
            ValueError: the elements exceed the 255 octets a UDHL can count.
        """
        body = b"".join(element.encode() for element in self.elements)
        if len(body) > 0xFF:
            raise ValueError(f"UDH of {len(body)} octets exceeds the 255 a UDHL can count")
        return bytes((len(body),)) + body


def split_udh(short_message: bytes) -> tuple[Udh, bytes]:
    """Separate the User Data Header from the body of a message sent with UDHI set.

    Args:
        short_message: the whole user data, UDHL first.

    Returns:
        The parsed header and the body octets after it. For GSM 7-bit bodies in SMPP (one
        septet per octet) the body is the septets; no fill septet is removed.

    Raises:
        UdhError: the message is empty, UDHL runs past the message, or an element's length
            runs past the header.
    """
    if not short_message:
        raise UdhError("UDHI is set but the message is empty")
    header_length = short_message[0]
    end = 1 + header_length
    if end > len(short_message):
        raise UdhError(
            f"UDHL {header_length} runs past the {len(short_message) - 1} octets after it"
        )
    elements: list[InformationElement] = []
    position = 1
    while position < end:
        if position + 2 > end:
            raise UdhError(f"information element at octet {position} has no length octet")
        iei, length = short_message[position], short_message[position + 1]
        data_start = position + 2
        if data_start + length > end:
            raise UdhError(
                f"information element 0x{iei:02X} at octet {position} has length {length}, "
                f"past the end of the {header_length}-octet header"
            )
        elements.append(InformationElement(iei, short_message[data_start : data_start + length]))
        position = data_start + length
    return Udh(tuple(elements)), short_message[end:]


def concat_element(
    reference: int, total: int, sequence: int, *, sixteen_bit: bool = False
) -> InformationElement:
    """The concatenation element for one part.

    Raises:
        ValueError: ``reference`` beyond 8 or 16 bits, ``total`` not 1..255, or ``sequence``
            not 1..total.
    """
    limit = 0xFFFF if sixteen_bit else 0xFF
    if not 0 <= reference <= limit:
        raise ValueError(f"reference must be 0..{limit}, not {reference}")
    if not 1 <= total <= 0xFF:
        raise ValueError(f"total must be 1..255, not {total}")
    if not 1 <= sequence <= total:
        raise ValueError(f"sequence must be 1..{total}, not {sequence}")
    if sixteen_bit:
        return InformationElement(
            CONCAT_16BIT, reference.to_bytes(2, "big") + bytes((total, sequence))
        )
    return InformationElement(CONCAT_8BIT, bytes((reference, total, sequence)))


def build_concat_udh(
    reference: int, total: int, sequence: int, *, sixteen_bit: bool = False
) -> bytes:
    """A whole UDH holding only a concatenation element: 6 octets, or 7 with a 16-bit reference.

    Raises:
        ValueError: as for :func:`concat_element`.
    """
    return Udh((concat_element(reference, total, sequence, sixteen_bit=sixteen_bit),)).encode()


def udh_septets(udh_length: int) -> int:
    """Septets a UDH of ``udh_length`` octets (UDHL included) takes from a GSM 7-bit message.

    The header is octets, so the first septet after it starts at the next septet boundary
    (TS 23.040 §9.2.3.24): 6 octets take 7 septets, 7 octets take 8.
    """
    return -(-8 * udh_length // 7)


def fill_bits(udh_length: int) -> int:
    """Fill bits between a UDH of ``udh_length`` octets and the first packed septet (0..6)."""
    return 7 * udh_septets(udh_length) - 8 * udh_length
