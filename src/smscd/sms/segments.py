"""Counting and splitting message bodies into SMS parts, exactly as the operator's tables say.

One part carries 140 octets of user data: 160 GSM 7-bit septets, 70 UCS-2 units or 140 octets
of Latin-1, ASCII or binary. A longer message is split into parts that each carry a
concatenation UDH: 6 octets with an 8-bit reference, leaving 153 septets, 67 UCS-2 units or 134
octets; 7 octets with a 16-bit reference, leaving 152, 66 or 133. (The operator's seed table:
160, 306, 459, 612, 765 GSM characters and 70, 134, 201, 268, 335 Unicode characters for 1 to 5
parts.) The UDH counts parts in one octet, so a message has at most 255 parts.

Units are septets for GSM 7-bit (an extension character takes two) and UTF-16 code units for
UCS-2 (a character beyond the BMP, such as an emoji, takes two). A part never ends between the
two units of one character: it then carries one unit fewer, and the message may need one more
part than the bare unit count suggests. :func:`count` and :func:`split` make the same cuts, so
they always agree on the number of parts.
"""

from __future__ import annotations

import attrs

from smscd.sms import udh
from smscd.sms.coding import Alphabet, choose_alphabet, encode_text
from smscd.sms.gsm7 import ESCAPE

__all__ = [
    "MAX_PARTS",
    "USER_DATA_OCTETS",
    "MessageTooLongError",
    "SarFields",
    "Segment",
    "SegmentCount",
    "count",
    "count_encoded",
    "sar_fields",
    "split",
    "split_encoded",
]

USER_DATA_OCTETS = 140
"""Octets of user data in one SMS (TS 23.040 §9.2.3.16), UDH included."""

MAX_PARTS = 255
"""Parts a concatenation element (and the sar_total_segments TLV) can count."""

_GSM7_SINGLE = USER_DATA_OCTETS * 8 // 7  # 160 septets


class MessageTooLongError(ValueError):
    """A message that needs more parts than concatenation can count.

    Attributes:
        parts: how many parts it would need.
    """

    def __init__(self, parts: int) -> None:
        self.parts = parts
        super().__init__(f"message needs {parts} parts; at most {MAX_PARTS} can be concatenated")


@attrs.frozen
class SegmentCount:
    """How long a message is and how many parts it takes.

    Attributes:
        alphabet: the alphabet it is counted in.
        units: septets (GSM 7-bit), UTF-16 code units (UCS-2) or octets (others).
        parts: parts needed; may exceed 255, which :func:`split` refuses.
        units_per_part: capacity of each part: the single-part limit when ``parts`` is 1,
            otherwise the limit of a part carrying a concatenation UDH.
    """

    alphabet: Alphabet
    units: int
    parts: int
    units_per_part: int


@attrs.frozen
class Segment:
    """One part of a message, ready to go in a submit_sm or deliver_sm.

    Attributes:
        sequence: this part's number, 1..total.
        total: the number of parts.
        reference: the concatenated message's reference number.
        alphabet: the alphabet of ``payload``.
        udh: the concatenation UDH, UDHL included; empty for a single part or SAR parts.
        payload: the encoded body of this part: GSM 7-bit as unpacked septets (one per octet,
            as SMPP carries ``data_coding`` 0), UCS-2 as UTF-16BE, others as octets.
    """

    sequence: int
    total: int
    reference: int
    alphabet: Alphabet
    udh: bytes
    payload: bytes

    @property
    def short_message(self) -> bytes:
        """The ``short_message`` field: UDH then payload. Set UDHI (0x40) when ``udh``."""
        return self.udh + self.payload


@attrs.frozen
class SarFields:
    """The SAR TLV values (SMPP 3.4 §5.3.2.22-24) for a part sent without a UDH."""

    sar_msg_ref_num: int
    sar_total_segments: int
    sar_segment_seqnum: int


def _unit_octets(alphabet: Alphabet) -> int:
    return 2 if alphabet is Alphabet.UCS2 else 1


def _capacities(alphabet: Alphabet, sixteen_bit: bool) -> tuple[int, int]:
    """Units in a single part, and in each part of a concatenated message."""
    header = 7 if sixteen_bit else 6
    if alphabet is Alphabet.GSM7:
        return _GSM7_SINGLE, _GSM7_SINGLE - udh.udh_septets(header)
    unit = _unit_octets(alphabet)
    return USER_DATA_OCTETS // unit, (USER_DATA_OCTETS - header) // unit


def _splits_character(body: bytes, alphabet: Alphabet, cut: int) -> bool:
    """Whether cutting ``body`` before unit ``cut`` separates the two units of one character."""
    if alphabet is Alphabet.GSM7:
        # Escapes pair up from the start of the text, so among the escapes just before the cut
        # an odd count means the last one still waits for its code. Scanning back over the run
        # is enough: the septet before a run always ends a character.
        run = 0
        while run < cut and body[cut - 1 - run] == ESCAPE:
            run += 1
        return run % 2 == 1
    if alphabet is Alphabet.UCS2:
        return 0xD800 <= int.from_bytes(body[2 * cut - 2 : 2 * cut], "big") <= 0xDBFF
    return False


def _cuts(body: bytes, alphabet: Alphabet, sixteen_bit: bool) -> tuple[list[int], int, int]:
    """Unit offsets where each part starts (plus the end), the unit count, and the capacity."""
    units = len(body) // _unit_octets(alphabet)
    single, per_part = _capacities(alphabet, sixteen_bit)
    if units <= single:
        return [0, units], units, single
    cuts = [0]
    start = 0
    while start < units:
        end = start + per_part
        if end >= units:
            end = units
        elif _splits_character(body, alphabet, end):
            end -= 1  # the capacity is at least 66 units, so a part never ends up empty
        cuts.append(end)
        start = end
    return cuts, units, per_part


def count_encoded(body: bytes, alphabet: Alphabet, *, sixteen_bit: bool = False) -> SegmentCount:
    """Count an already encoded body (GSM 7-bit as unpacked septets, UCS-2 as UTF-16BE).

    Args:
        body: the octets.
        alphabet: their alphabet.
        sixteen_bit: count for a 16-bit reference UDH (152/66/133 per part).

    Raises:
        ValueError: a UCS-2 body of odd length.
    """
    if alphabet is Alphabet.UCS2 and len(body) % 2:
        raise ValueError(f"UCS-2 body of odd length {len(body)}")
    cuts, units, capacity = _cuts(body, alphabet, sixteen_bit)
    return SegmentCount(alphabet, units, len(cuts) - 1, capacity)


def count(
    text: str, *, alphabet: Alphabet | None = None, sixteen_bit: bool = False
) -> SegmentCount:
    """Count the units and parts of a text, as the operator's counter shows them.

    Args:
        text: the message.
        alphabet: the alphabet to send it in; by default GSM 7-bit if it fits, else UCS-2.
        sixteen_bit: count for a 16-bit reference UDH (152/66/133 per part).

    Raises:
        UnencodableCharacter: ``text`` does not fit the given ``alphabet``.
        ValueError: ``alphabet`` is BINARY.
    """
    chosen = choose_alphabet(text) if alphabet is None else alphabet
    return count_encoded(encode_text(text, chosen), chosen, sixteen_bit=sixteen_bit)


def split_encoded(
    body: bytes,
    alphabet: Alphabet,
    *,
    reference: int,
    sixteen_bit: bool = False,
    use_udh: bool = True,
) -> list[Segment]:
    """Split an already encoded body into parts; see :func:`split`.

    Raises:
        MessageTooLongError: more than 255 parts.
        ValueError: ``reference`` does not fit the reference size, or a UCS-2 body of odd
            length.
    """
    if alphabet is Alphabet.UCS2 and len(body) % 2:
        raise ValueError(f"UCS-2 body of odd length {len(body)}")
    limit = 0xFFFF if sixteen_bit else 0xFF
    if not 0 <= reference <= limit:
        raise ValueError(f"reference must be 0..{limit}, not {reference}")
    cuts, _units, _capacity = _cuts(body, alphabet, sixteen_bit)
    total = len(cuts) - 1
    if total > MAX_PARTS:
        raise MessageTooLongError(total)
    unit = _unit_octets(alphabet)
    segments: list[Segment] = []
    for sequence in range(1, total + 1):
        header = (
            udh.build_concat_udh(reference, total, sequence, sixteen_bit=sixteen_bit)
            if use_udh and total > 1
            else b""
        )
        payload = body[cuts[sequence - 1] * unit : cuts[sequence] * unit]
        segments.append(Segment(sequence, total, reference, alphabet, header, payload))
    return segments


def split(
    text: str,
    *,
    alphabet: Alphabet | None = None,
    reference: int,
    sixteen_bit: bool = False,
    use_udh: bool = True,
) -> list[Segment]:
    """Split a text into parts.

    A text that fits one part gives one segment without a UDH. Otherwise each part carries as
    many units as fit beside a concatenation UDH, one fewer when the cut would separate an
    escape sequence or a surrogate pair.

    Args:
        text: the message.
        alphabet: the alphabet to send it in; by default GSM 7-bit if it fits, else UCS-2.
        reference: the concatenation reference, 0..255 (0..65535 with ``sixteen_bit``). The
            caller allocates it: this module keeps no state.
        sixteen_bit: use IEI 0x08 (16-bit reference, 7-octet UDH) instead of IEI 0x00.
        use_udh: False to leave ``udh`` empty, for parts sent with SAR TLVs (:func:`sar_fields`).
            The parts are still cut to leave room for the UDH the selected reference size takes,
            because whoever delivers them over the air has to insert it.

    Returns:
        The segments in order.

    Raises:
        UnencodableCharacter: ``text`` does not fit the given ``alphabet``.
        MessageTooLongError: more than 255 parts.
        ValueError: ``reference`` out of range, or ``alphabet`` is BINARY.
    """
    chosen = choose_alphabet(text) if alphabet is None else alphabet
    return split_encoded(
        encode_text(text, chosen),
        chosen,
        reference=reference,
        sixteen_bit=sixteen_bit,
        use_udh=use_udh,
    )


def sar_fields(segment: Segment) -> SarFields | None:
    """The SAR TLV values for ``segment``, or None when it is a message of its own (total 1)."""
    if segment.total == 1:
        return None
    return SarFields(segment.reference, segment.total, segment.sequence)
