"""GSM 7-bit alphabet: the whole table against TS 23.038, escapes, packing vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscd.sms import gsm7

# TS 23.038 §6.2.1 (and the Unicode consortium's GSM0338.TXT): septet -> code point, written out
# independently of the module's string so a slip in either shows up.
_NON_ASCII = {
    0x00: 0x0040, 0x01: 0x00A3, 0x02: 0x0024, 0x03: 0x00A5, 0x04: 0x00E8, 0x05: 0x00E9,
    0x06: 0x00F9, 0x07: 0x00EC, 0x08: 0x00F2, 0x09: 0x00C7, 0x0A: 0x000A, 0x0B: 0x00D8,
    0x0C: 0x00F8, 0x0D: 0x000D, 0x0E: 0x00C5, 0x0F: 0x00E5, 0x10: 0x0394, 0x11: 0x005F,
    0x12: 0x03A6, 0x13: 0x0393, 0x14: 0x039B, 0x15: 0x03A9, 0x16: 0x03A0, 0x17: 0x03A8,
    0x18: 0x03A3, 0x19: 0x0398, 0x1A: 0x039E, 0x1C: 0x00C6, 0x1D: 0x00E6, 0x1E: 0x00DF,
    0x1F: 0x00C9, 0x24: 0x00A4, 0x40: 0x00A1, 0x5B: 0x00C4, 0x5C: 0x00D6, 0x5D: 0x00D1,
    0x5E: 0x00DC, 0x5F: 0x00A7, 0x60: 0x00BF, 0x7B: 0x00E4, 0x7C: 0x00F6, 0x7D: 0x00F1,
    0x7E: 0x00FC, 0x7F: 0x00E0,
}  # fmt: skip
SPEC_BASIC = {
    septet: chr(_NON_ASCII.get(septet, septet)) for septet in range(128) if septet != 0x1B
}
SPEC_EXTENSION = {
    0x0A: "\x0c", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "\u20ac",
}  # fmt: skip
ALL_CHARS = "".join(SPEC_BASIC.values()) + "".join(SPEC_EXTENSION.values())


def test_every_basic_character_is_one_septet() -> None:
    for septet, char in SPEC_BASIC.items():
        assert gsm7.encode(char) == bytes((septet,)), char
        assert gsm7.decode(bytes((septet,))) == char


def test_every_extension_character_is_escape_and_code() -> None:
    for code, char in SPEC_EXTENSION.items():
        assert gsm7.encode(char) == bytes((0x1B, code)), char
        assert gsm7.decode(bytes((0x1B, code))) == char
        assert gsm7.septet_length(char) == 2


def test_whole_alphabet_round_trips_in_one_string() -> None:
    encoded = gsm7.encode(ALL_CHARS)
    assert len(encoded) == 127 + 2 * 10
    assert gsm7.decode(encoded) == ALL_CHARS
    assert gsm7.septet_length(ALL_CHARS) == len(encoded)


@pytest.mark.parametrize(
    ("septets", "text"),
    [
        (b"\x1b\x41", "A"),  # unknown escape: the basic character (TS 23.038 §6.2.1.1)
        (b"\x1b\x0d", "\r"),  # CR2 shown as the basic CR
        (b"\x1b\x00", "@"),
        (b"\x1b\x1b", " "),  # reserved for another extension table: a space
        (b"\x1b\x1b\x65", " e"),  # the pair is consumed; 0x65 is then a basic 'e'
        (b"A\x1b", "A "),  # lone trailing escape
        (b"\x1b", " "),
        (b"", ""),
        (b"x\x1b\x65y\x1b\x3cz", "x\u20acy[z"),
    ],
)
def test_decode_is_tolerant_of_odd_escapes(septets: bytes, text: str) -> None:
    assert gsm7.decode(septets) == text


def test_decode_rejects_octets_above_0x7f() -> None:
    with pytest.raises(gsm7.InvalidSeptetError) as info:
        gsm7.decode(b"ab\x80c")
    assert (info.value.index, info.value.value) == (2, 0x80)


@pytest.mark.parametrize(
    ("text", "index", "char"),
    [
        ("abc`", 3, "`"),  # backquote is not in the GSM alphabet
        ("na\u00efve", 2, "\u00ef"),
        ("tab\there", 3, "\t"),
        ("\x1b", 0, "\x1b"),  # a literal ESC cannot be sent as text
        ("ok \U0001f600", 3, "\U0001f600"),
        ("\u00e7", 0, "\u00e7"),  # small c cedilla: only the capital is at 0x09
    ],
)
def test_encode_names_the_unencodable_character(text: str, index: int, char: str) -> None:
    with pytest.raises(gsm7.UnencodableCharacter) as info:
        gsm7.encode(text)
    assert (info.value.index, info.value.character) == (index, char)
    assert repr(char) in str(info.value) and str(index) in str(info.value)
    assert not gsm7.is_encodable(text)
    assert gsm7.septet_length(text) is None


@pytest.mark.parametrize(
    ("text", "length"),
    [("", 0), ("abc", 3), ("\u20ac", 2), ("\u20ac[]{}^~|\\", 18), ("a\x0cb", 4), ("@\u00a3$", 3)],
)
def test_septet_length(text: str, length: int) -> None:
    assert gsm7.septet_length(text) == length
    assert gsm7.is_encodable(text)


def test_pack_known_vector() -> None:
    # The classic example: "hellohello" in 9 octets.
    assert gsm7.pack(gsm7.encode("hellohello")).hex() == "e8329bfd4697d9ec37"
    assert gsm7.unpack(bytes.fromhex("e8329bfd4697d9ec37"), 10) == gsm7.encode("hellohello")


@pytest.mark.parametrize(
    ("septets", "fill", "packed"),
    [
        (b"", 0, ""),
        (b"\x7f", 0, "7f"),
        (b"\x7f", 1, "fe"),
        (b"\x7f", 2, "fc01"),
        (b"\x01" * 8, 0, "81402010080402"),  # 8 septets fill exactly 7 octets
        # After a 6-octet concat UDH: 1 fill bit, "hello" = 68 65 6c 6c 6f.
        (b"hello", 1, "d06536fb0d"),
        # After a 5-octet UDH: 2 fill bits.
        (b"A", 2, "0401"),
    ],
)
def test_pack_vectors_with_fill_bits(septets: bytes, fill: int, packed: str) -> None:
    assert gsm7.pack(septets, fill).hex() == packed
    assert gsm7.unpack(bytes.fromhex(packed), len(septets), fill) == septets


def _reference_pack(septets: bytes, fill: int) -> bytes:
    # Independent bit-string model: bits go least significant first.
    bits = "0" * fill + "".join(format(s, "07b")[::-1] for s in septets)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))


septet_bytes = st.lists(st.integers(0, 127), max_size=400).map(bytes)


@given(septet_bytes, st.integers(0, 6))
def test_pack_matches_bit_model_and_round_trips(septets: bytes, fill: int) -> None:
    packed = gsm7.pack(septets, fill)
    assert packed == _reference_pack(septets, fill)
    assert gsm7.unpack(packed, len(septets), fill) == septets


def test_pack_and_unpack_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fill_bits"):
        gsm7.pack(b"a", 7)
    with pytest.raises(ValueError, match="0x7F"):
        gsm7.pack(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        gsm7.unpack(b"a", 1, -1)
    with pytest.raises(ValueError, match="cannot hold"):
        gsm7.unpack(b"\x00" * 7, 9)
    with pytest.raises(ValueError, match="cannot hold"):
        gsm7.unpack(b"\x00", 1, 2)
    with pytest.raises(ValueError, match="negative"):
        gsm7.unpack(b"", -1)


def test_unpack_ignores_spare_bits() -> None:
    # 7 septets leave 7 spare bits in the 7th octet: the count says they are not an '@'.
    packed = gsm7.pack(b"ABCDEFG")
    assert len(packed) == 7
    assert gsm7.unpack(packed, 7) == b"ABCDEFG"
    assert gsm7.unpack(packed, 8) == b"ABCDEFG\x00"


gsm_text = st.text(alphabet=st.sampled_from(ALL_CHARS), max_size=500)


@given(gsm_text)
def test_encode_decode_round_trip(text: str) -> None:
    encoded = gsm7.encode(text)
    assert gsm7.decode(encoded) == text
    assert gsm7.septet_length(text) == len(encoded)


@given(septet_bytes)
def test_decode_never_fails_on_septets(septets: bytes) -> None:
    assert isinstance(gsm7.decode(septets), str)
