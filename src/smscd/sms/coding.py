"""``data_coding`` values (SMPP 3.4 §5.2.19, 3GPP TS 23.038 §4) and the text codecs behind them.

SMPP assigns its own meanings to ``data_coding`` 0x00-0x0E; above that the value is read as a
TS 23.038 Data Coding Scheme. The choices made where the two leave room:

* 0 (SMSC default) is the GSM 7-bit default alphabet, carried unpacked (one septet per octet),
  unless the operator switch ``gsm_default_is_latin1`` makes it Latin-1, as some SMSCs do.
* 2 and 4 are 8-bit binary; :func:`data_coding_for` answers 4, the value whose bits also mean
  "8-bit data" in TS 23.038's general coding group, so it reads the same in both tables.
* 6 (Cyrillic) is ISO-8859-5 and 7 (Latin/Hebrew) is ISO-8859-8, as SMPP names them.
* 5 (JIS X 0208), 9 (pictogram), 10 (ISO-2022-JP "music codes"), 13 (JIS X 0212) and
  14 (KS C 5601) are BINARY: SMPP names a character set but not its byte encoding (raw JIS,
  Shift_JIS and EUC are all in use) or a vendor extension, and a wrong guess corrupts the text,
  so the octets pass through untouched.
* SMPP's reserved 0x0B, 0x0C and 0x0F, TS 23.038's reserved coding groups (0x80-0xBF), its
  reserved alphabet (bits 3..2 = 11) and compressed text (bit 5, TS 23.042) are BINARY too.
  (TS 23.038 tells a handset to read a reserved alphabet as GSM 7-bit; an SMSC that passes the
  octets on unchanged loses nothing by not guessing.)
* 0x10-0x3F (general data coding) and 0x40-0x7F (the same with automatic deletion) take the
  alphabet from bits 3..2; 0xC0-0xDF (message waiting, discard/store) are GSM 7-bit, 0xE0-0xEF
  (message waiting, store, UCS-2) are UCS-2, and 0xF0-0xFF (data coding/message class) are
  GSM 7-bit or 8-bit data by bit 2.
"""

from __future__ import annotations

import enum

from smscd.sms import gsm7
from smscd.sms.gsm7 import UnencodableCharacter

__all__ = [
    "Alphabet",
    "TextDecodeError",
    "UnencodableCharacter",
    "alphabet_for",
    "choose_alphabet",
    "data_coding_for",
    "decode_alphabet",
    "decode_text",
    "encode_text",
]


class Alphabet(enum.Enum):
    """How the octets of a message body map to text."""

    GSM7 = "gsm7"
    """GSM 7-bit default alphabet, unpacked: one septet per octet."""
    ASCII = "ascii"
    """IA5 (CCITT T.50) / ASCII."""
    LATIN1 = "latin-1"
    """ISO-8859-1."""
    CYRILLIC = "iso8859-5"
    """ISO-8859-5."""
    HEBREW = "iso8859-8"
    """ISO-8859-8."""
    UCS2 = "ucs2"
    """UCS-2, read as UTF-16BE so surrogate pairs carry characters beyond the BMP."""
    BINARY = "binary"
    """Octets with no text meaning (or none this SMSC decodes)."""


# SMPP 3.4 §5.2.19, values 0x00-0x0F. 0 is resolved separately (operator switch).
_SMPP_VALUES: dict[int, Alphabet] = {
    0x01: Alphabet.ASCII,
    0x02: Alphabet.BINARY,
    0x03: Alphabet.LATIN1,
    0x04: Alphabet.BINARY,
    0x05: Alphabet.BINARY,  # JIS X 0208-1990
    0x06: Alphabet.CYRILLIC,
    0x07: Alphabet.HEBREW,
    0x08: Alphabet.UCS2,
    0x09: Alphabet.BINARY,  # pictogram
    0x0A: Alphabet.BINARY,  # ISO-2022-JP (music codes)
    0x0B: Alphabet.BINARY,  # reserved
    0x0C: Alphabet.BINARY,  # reserved
    0x0D: Alphabet.BINARY,  # extended Kanji JIS X 0212-1990
    0x0E: Alphabet.BINARY,  # KS C 5601
    0x0F: Alphabet.BINARY,  # reserved
}

# TS 23.038 §4, general data coding group, bits 3..2.
_GENERAL_ALPHABET = (Alphabet.GSM7, Alphabet.BINARY, Alphabet.UCS2, Alphabet.BINARY)

_DATA_CODING: dict[Alphabet, int] = {
    Alphabet.GSM7: 0x00,
    Alphabet.ASCII: 0x01,
    Alphabet.LATIN1: 0x03,
    Alphabet.BINARY: 0x04,
    Alphabet.CYRILLIC: 0x06,
    Alphabet.HEBREW: 0x07,
    Alphabet.UCS2: 0x08,
}

# Python codec for each single-byte alphabet.
_CODECS: dict[Alphabet, str] = {
    Alphabet.ASCII: "ascii",
    Alphabet.LATIN1: "latin-1",
    Alphabet.CYRILLIC: "iso8859-5",
    Alphabet.HEBREW: "iso8859-8",
    Alphabet.UCS2: "utf-16-be",
}

_ALPHABET_NAMES: dict[Alphabet, str] = {
    Alphabet.GSM7: "GSM 7-bit",
    Alphabet.ASCII: "ASCII",
    Alphabet.LATIN1: "Latin-1",
    Alphabet.CYRILLIC: "ISO-8859-5",
    Alphabet.HEBREW: "ISO-8859-8",
    Alphabet.UCS2: "UCS-2",
    Alphabet.BINARY: "binary",
}


class TextDecodeError(ValueError):
    """Octets that are not valid text in the alphabet their ``data_coding`` names.

    Attributes:
        alphabet: the alphabet the octets were read in.
        position: index of the first offending octet, when known.
        reason: what is wrong.
    """

    def __init__(self, alphabet: Alphabet, reason: str, position: int | None = None) -> None:
        self.alphabet = alphabet
        self.reason = reason
        self.position = position
        where = "" if position is None else f" at octet {position}"
        super().__init__(f"invalid {_ALPHABET_NAMES[alphabet]} text{where}: {reason}")


def alphabet_for(data_coding: int, *, gsm_default_is_latin1: bool = False) -> Alphabet:
    """The alphabet of a ``data_coding`` value.

    Args:
        data_coding: the SMPP field, 0..255.
        gsm_default_is_latin1: read 0 (SMSC default) as Latin-1 instead of GSM 7-bit.

    Returns:
        The alphabet; values with no text meaning here give ``Alphabet.BINARY``.

    Raises:
        ValueError: ``data_coding`` is not an octet.
    """
    if not 0 <= data_coding <= 0xFF:
        raise ValueError(f"data_coding must be 0..255, not {data_coding}")
    if data_coding == 0:
        return Alphabet.LATIN1 if gsm_default_is_latin1 else Alphabet.GSM7
    if data_coding <= 0x0F:
        return _SMPP_VALUES[data_coding]
    group = data_coding >> 4
    if group <= 0x7:  # 00xx and 01xx: general data coding, with or without auto-deletion
        if data_coding & 0x20:  # compressed (TS 23.042)
            return Alphabet.BINARY
        return _GENERAL_ALPHABET[(data_coding >> 2) & 0x3]
    if group <= 0xB:  # 1000..1011: reserved coding groups
        return Alphabet.BINARY
    if group <= 0xD:  # 1100, 1101: message waiting indication, GSM 7-bit
        return Alphabet.GSM7
    if group == 0xE:  # 1110: message waiting indication, UCS-2
        return Alphabet.UCS2
    # 1111: data coding / message class; bit 2 chooses 8-bit data over the default alphabet.
    return Alphabet.BINARY if data_coding & 0x04 else Alphabet.GSM7


def data_coding_for(alphabet: Alphabet) -> int:
    """The ``data_coding`` value to send a body in ``alphabet`` with."""
    return _DATA_CODING[alphabet]


def choose_alphabet(text: str) -> Alphabet:
    """GSM 7-bit if every character fits it, otherwise UCS-2."""
    return Alphabet.GSM7 if gsm7.is_encodable(text) else Alphabet.UCS2


def decode_text(
    data: bytes, data_coding: int, *, gsm_default_is_latin1: bool = False
) -> str | None:
    """Decode a message body (without its UDH) by its ``data_coding``.

    Args:
        data: the body octets; for GSM 7-bit, unpacked septets.
        data_coding: the SMPP field.
        gsm_default_is_latin1: as for :func:`alphabet_for`.

    Returns:
        The text, or None when the alphabet is BINARY.

    Raises:
        TextDecodeError: the octets are not valid in the alphabet (an octet above 0x7F in GSM
            7-bit or ASCII, an odd length or a lone surrogate in UCS-2, an unassigned octet in
            ISO-8859-8).
    """
    alphabet = alphabet_for(data_coding, gsm_default_is_latin1=gsm_default_is_latin1)
    return decode_alphabet(data, alphabet)


def decode_alphabet(data: bytes, alphabet: Alphabet) -> str | None:
    """Decode a message body in a known alphabet; see :func:`decode_text`."""
    if alphabet is Alphabet.BINARY:
        return None
    if alphabet is Alphabet.GSM7:
        try:
            return gsm7.decode(data)
        except gsm7.InvalidSeptetError as exc:
            raise TextDecodeError(alphabet, "octet above 0x7F", exc.index) from exc
    if alphabet is Alphabet.UCS2 and len(data) % 2:
        raise TextDecodeError(alphabet, f"odd length {len(data)}")
    try:
        return data.decode(_CODECS[alphabet])
    except UnicodeDecodeError as exc:
        raise TextDecodeError(alphabet, exc.reason, exc.start) from exc


def encode_text(text: str, alphabet: Alphabet) -> bytes:
    """Encode text in ``alphabet``.

    Args:
        text: the text.
        alphabet: any alphabet but BINARY. GSM 7-bit gives unpacked septets; UCS-2 gives
            UTF-16BE, a character beyond the BMP becoming a surrogate pair.

    Returns:
        The octets.

    Raises:
        UnencodableCharacter: a character has no representation in ``alphabet`` (for UCS-2:
            a lone surrogate in the string).
        ValueError: ``alphabet`` is BINARY.
    """
    if alphabet is Alphabet.GSM7:
        return gsm7.encode(text)
    if alphabet is Alphabet.BINARY:
        raise ValueError("binary is not a text alphabet")
    try:
        return text.encode(_CODECS[alphabet])
    except UnicodeEncodeError as exc:
        raise UnencodableCharacter(text[exc.start], exc.start, _ALPHABET_NAMES[alphabet]) from exc
