"""The GSM 7-bit default alphabet of 3GPP TS 23.038 §6.2.1 and its extension table §6.2.1.1.

Text travels in two forms here:

* *unpacked septets*: one septet per octet, as SMPP carries ``data_coding`` 0 in
  ``short_message``; an extension character is two septets, ``0x1B`` and its code.
* *packed octets*: septets laid end to end, least significant bit first, as the air interface
  carries them (TS 23.038 §6.1.2.1). :func:`pack` and :func:`unpack` convert, with leading fill
  bits so the first septet after a User Data Header starts on a septet boundary.

Only the default alphabet and its extension table are supported; the national language shift
tables of TS 23.038 §6.2.1.2 are out of scope.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BASIC_TABLE",
    "ESCAPE",
    "EXTENSION_TABLE",
    "InvalidSeptetError",
    "UnencodableCharacter",
    "decode",
    "encode",
    "is_encodable",
    "pack",
    "septet_length",
    "unpack",
]

ESCAPE = 0x1B
"""Septet that announces a character of the extension table (TS 23.038 §6.2.1, note 1)."""

# The basic table, septet 0x00 first. Position 0x1B is the escape: the ESC character there is
# only a placeholder that keeps 128 positions; encode never produces it from text (see _ENCODE)
# and decode handles the escape before looking anything up.
BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(BASIC_TABLE) == 128

EXTENSION_TABLE: Mapping[int, str] = {
    0x0A: "\f",  # page break, shown as form feed
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
"""Extension code (the septet after ``0x1B``) to character."""


def _build_encode_table() -> dict[int, str]:
    # str.translate maps each code point to the latin-1 string of its septet(s), so one
    # C-level pass turns text into septets. Every other ASCII code point (tab, backquote, other
    # controls) maps to a non-ASCII sentinel: otherwise translate would leave it unchanged and
    # the final ASCII encode would let it through as if it were a septet.
    table: dict[int, str] = {cp: "\uffff" for cp in range(128)}
    for septet, char in enumerate(BASIC_TABLE):
        if septet != ESCAPE:
            table[ord(char)] = chr(septet)
    for code, char in EXTENSION_TABLE.items():
        table[ord(char)] = chr(ESCAPE) + chr(code)
    return table


_ENCODE = _build_encode_table()

# The characters that take two septets, for septet_length without building bytes.
_EXTENSION_CHARS = frozenset(EXTENSION_TABLE.values())

# Decoding the basic table is a translate over the latin-1 view of the septets.
_DECODE_BASIC: dict[int, str] = {septet: char for septet, char in enumerate(BASIC_TABLE)}

# The septets that are their own ASCII character (letters, digits, space, most punctuation).
# Text made only of them, most text in practice, decodes as plain ASCII: deleting them with
# bytes.translate is one C pass, where str.translate looks each character up in a dict.
_SAME_AS_ASCII: bytes = bytes(
    septet for septet, char in enumerate(BASIC_TABLE) if char == chr(septet) and septet != ESCAPE
)

# What follows an escape. TS 23.038 §6.2.1.1: a code missing from the extension table is shown
# as the character of the basic table (so CR2, 0x0D, reads as a carriage return); 0x1B 0x1B is
# reserved for a further extension table and is shown as a space.
_DECODE_AFTER_ESCAPE: tuple[str, ...] = tuple(
    " " if code == ESCAPE else EXTENSION_TABLE.get(code, BASIC_TABLE[code]) for code in range(128)
)


# The name is the one the layer contract publishes; an "Error" suffix would only repeat it.
class UnencodableCharacter(ValueError):  # noqa: N818
    """A character has no representation in the target alphabet.

    Attributes:
        character: the offending character.
        index: its index in the text.
        alphabet: a human-readable name of the alphabet.
    """

    def __init__(self, character: str, index: int, alphabet: str = "GSM 7-bit") -> None:
        self.character = character
        self.index = index
        self.alphabet = alphabet
        super().__init__(
            f"character {character!r} (U+{ord(character):04X}) at index {index} "
            f"is not in the {alphabet} alphabet"
        )


class InvalidSeptetError(ValueError):
    """An octet above 0x7F where a septet was expected.

    Attributes:
        index: position of the octet.
        value: the octet.
    """

    def __init__(self, index: int, value: int) -> None:
        self.index = index
        self.value = value
        super().__init__(f"octet 0x{value:02X} at index {index} is not a septet")


def _translate(text: str) -> bytes | None:
    try:
        return text.translate(_ENCODE).encode("ascii")
    except UnicodeEncodeError:
        return None


def encode(text: str) -> bytes:
    """Encode text as unpacked septets, one per octet.

    Args:
        text: the text; every character must be in the default alphabet or its extension table.

    Returns:
        The septets; each extension character becomes ``0x1B`` followed by its code.

    Raises:
        UnencodableCharacter: naming the first character that cannot be encoded and its index.
    """
    septets = _translate(text)
    if septets is not None:
        return septets
    # Only the error path walks the text character by character, to name the culprit.
    for index, char in enumerate(text):
        if _ENCODE.get(ord(char), "\uffff") == "\uffff":
            raise UnencodableCharacter(char, index)
    raise AssertionError("unreachable: translate failed but every character is encodable")


def is_encodable(text: str) -> bool:
    """Whether every character of ``text`` is in the default alphabet or its extension table."""
    return _translate(text) is not None


def septet_length(text: str) -> int | None:
    """Number of septets ``text`` takes, extension characters counting two.

    Returns:
        The septet count, or None if the text is not encodable.
    """
    if not is_encodable(text):
        return None
    return len(text) + sum(text.count(char) for char in _EXTENSION_CHARS)


def decode(septets: bytes) -> str:
    """Decode unpacked septets, one per octet.

    Decoding is tolerant where TS 23.038 says what a receiver shows: an escape followed by a
    code missing from the extension table gives the basic character of that code, ``0x1B
    0x1B`` gives a space, and a lone ``0x1B`` at the very end (an escape whose code was cut off,
    e.g. by a sender that split a message inside an escape sequence) gives a space too.

    Args:
        septets: one septet per octet.

    Returns:
        The text.

    Raises:
        InvalidSeptetError: an octet is above 0x7F.
    """
    if not septets.translate(None, _SAME_AS_ASCII):
        return septets.decode("ascii")
    if not septets.isascii():
        for index, value in enumerate(septets):
            if value > 0x7F:
                raise InvalidSeptetError(index, value)
    if ESCAPE not in septets:
        return septets.decode("ascii").translate(_DECODE_BASIC)
    out: list[str] = []
    start = 0
    end = len(septets)
    while True:
        escape = septets.find(ESCAPE, start)
        if escape < 0:
            out.append(septets[start:].decode("ascii").translate(_DECODE_BASIC))
            break
        out.append(septets[start:escape].decode("ascii").translate(_DECODE_BASIC))
        if escape + 1 == end:
            out.append(" ")
            break
        out.append(_DECODE_AFTER_ESCAPE[septets[escape + 1]])
        start = escape + 2
    return "".join(out)


def pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets into octets, least significant bit first (TS 23.038 §6.1.2.1.1).

    Args:
        septets: one septet per octet.
        fill_bits: zero bits (0..6) put before the first septet, so that it starts on a septet
            boundary after a User Data Header (TS 23.040 §9.2.3.24).

    Returns:
        ``ceil((fill_bits + 7 * len(septets)) / 8)`` octets. When the last octet has 7 spare bits
        they are zero, which a receiver told only the octet count would read as an ``@``:
        carry the septet count alongside.

    Raises:
        ValueError: ``fill_bits`` out of range or a value above 0x7F.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")
    if not septets.isascii():
        raise ValueError("septets must be 0x00..0x7F")
    out = bytearray()
    accumulator = 0
    bits = fill_bits
    for septet in septets:
        accumulator |= septet << bits
        bits += 7
        if bits >= 8:
            out.append(accumulator & 0xFF)
            accumulator >>= 8
            bits -= 8
    if bits:
        out.append(accumulator)
    return bytes(out)


def unpack(octets: bytes, septet_count: int, fill_bits: int = 0) -> bytes:
    """Unpack ``septet_count`` septets from packed octets; the inverse of :func:`pack`.

    Args:
        octets: the packed octets (the fill bits included, the UDH not).
        septet_count: how many septets to read; bits past them are ignored.
        fill_bits: leading bits (0..6) to skip.

    Returns:
        The septets, one per octet.

    Raises:
        ValueError: ``fill_bits`` out of range, a negative count, or too few octets.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")
    if septet_count < 0:
        raise ValueError("septet_count must not be negative")
    if fill_bits + 7 * septet_count > 8 * len(octets):
        raise ValueError(
            f"{len(octets)} octets cannot hold {septet_count} septets after {fill_bits} fill bits"
        )
    out = bytearray()
    if septet_count == 0:
        return b""
    # The fill bits are the low bits of the first octet (bits go least significant first).
    accumulator = octets[0] >> fill_bits
    bits = 8 - fill_bits
    position = 1
    while len(out) < septet_count:
        if bits < 7:
            accumulator |= octets[position] << bits
            position += 1
            bits += 8
        out.append(accumulator & 0x7F)
        accumulator >>= 7
        bits -= 7
    return bytes(out)
