"""data_coding values and the text codecs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscd.sms.coding import (
    Alphabet,
    TextDecodeError,
    UnencodableCharacter,
    alphabet_for,
    choose_alphabet,
    data_coding_for,
    decode_text,
    encode_text,
)

A = Alphabet


@pytest.mark.parametrize(
    ("data_coding", "alphabet"),
    [
        # SMPP 3.4 §5.2.19
        (0x00, A.GSM7), (0x01, A.ASCII), (0x02, A.BINARY), (0x03, A.LATIN1),
        (0x04, A.BINARY), (0x05, A.BINARY), (0x06, A.CYRILLIC), (0x07, A.HEBREW),
        (0x08, A.UCS2), (0x09, A.BINARY), (0x0A, A.BINARY), (0x0B, A.BINARY),
        (0x0C, A.BINARY), (0x0D, A.BINARY), (0x0E, A.BINARY), (0x0F, A.BINARY),
        # TS 23.038 general data coding, bits 3..2; bit 4 (class present) is irrelevant
        (0x10, A.GSM7), (0x11, A.GSM7), (0x14, A.BINARY), (0x18, A.UCS2), (0x1C, A.BINARY),
        (0x30, A.BINARY), (0x3A, A.BINARY),  # compressed
        # automatic deletion group: same alphabet bits
        (0x40, A.GSM7), (0x44, A.BINARY), (0x48, A.UCS2), (0x60, A.BINARY),
        # reserved groups
        (0x80, A.BINARY), (0xBF, A.BINARY),
        # message waiting indication
        (0xC0, A.GSM7), (0xCB, A.GSM7), (0xD8, A.GSM7), (0xE0, A.UCS2), (0xEF, A.UCS2),
        # data coding / message class: bit 2 chooses 8-bit
        (0xF0, A.GSM7), (0xF1, A.GSM7), (0xF2, A.GSM7), (0xF3, A.GSM7),
        (0xF4, A.BINARY), (0xF5, A.BINARY), (0xF6, A.BINARY), (0xF7, A.BINARY),
        (0xFB, A.GSM7), (0xFF, A.BINARY),
    ],
)  # fmt: skip
def test_alphabet_for(data_coding: int, alphabet: Alphabet) -> None:
    assert alphabet_for(data_coding) is alphabet


def test_latin1_switch_only_changes_the_smsc_default() -> None:
    assert alphabet_for(0, gsm_default_is_latin1=True) is A.LATIN1
    for value in range(1, 256):
        assert alphabet_for(value, gsm_default_is_latin1=True) is alphabet_for(value)


def test_every_octet_has_an_alphabet_and_others_are_refused() -> None:
    assert all(isinstance(alphabet_for(value), Alphabet) for value in range(256))
    for bad in (-1, 256):
        with pytest.raises(ValueError, match=r"0\.\.255"):
            alphabet_for(bad)


@pytest.mark.parametrize("alphabet", list(Alphabet))
def test_data_coding_for_reads_back(alphabet: Alphabet) -> None:
    assert alphabet_for(data_coding_for(alphabet)) is alphabet


def test_binary_goes_out_as_4() -> None:
    assert data_coding_for(A.BINARY) == 4


@pytest.mark.parametrize(
    ("data", "data_coding", "text"),
    [
        (b"\x48\x65\x1b\x65", 0, "He\u20ac"),
        (b"\x00", 0, "@"),
        (b"abc", 1, "abc"),
        (b"\xe9t\xe9", 3, "\u00e9t\u00e9"),
        (b"\xb4", 6, "\u0414"),  # Cyrillic capital De
        (b"\xe0", 7, "\u05d0"),  # Hebrew Alef
        (b"\x00A\x04\x36", 8, "A\u0436"),
        (b"\xd8\x3d\xde\x00", 8, "\U0001f600"),  # a surrogate pair is one code point
        (b"\x00\x41", 0x18, "A"),
        (b"\x41", 0xF0, "A"),
    ],
)
def test_decode_text(data: bytes, data_coding: int, text: str) -> None:
    assert decode_text(data, data_coding) == text


def test_decode_text_latin1_default() -> None:
    assert decode_text(b"\xe9", 0, gsm_default_is_latin1=True) == "\u00e9"
    assert decode_text(b"\x05", 0) == "\u00e9"  # GSM 0x05 is e-acute


@pytest.mark.parametrize("data_coding", [2, 4, 5, 9, 0xF4])
def test_binary_decodes_to_none(data_coding: int) -> None:
    assert decode_text(b"\xff\x00", data_coding) is None


@pytest.mark.parametrize(
    ("data", "data_coding", "alphabet", "position"),
    [
        (b"ab\x80", 0, A.GSM7, 2),
        (b"ab\xc3", 1, A.ASCII, 2),
        (b"\x00A\x00", 8, A.UCS2, None),  # odd length
        (b"\x00A\xd8\x3d", 8, A.UCS2, 2),  # high surrogate at the end
        (b"\xd8\x3d\x00A", 8, A.UCS2, 0),  # high surrogate without its low half
        (b"\xde\x00\x00A", 8, A.UCS2, 0),  # low surrogate alone
        (b"x\xa1", 7, A.HEBREW, 1),  # unassigned in ISO-8859-8
    ],
)
def test_decode_text_errors(
    data: bytes, data_coding: int, alphabet: Alphabet, position: int | None
) -> None:
    with pytest.raises(TextDecodeError) as info:
        decode_text(data, data_coding)
    assert info.value.alphabet is alphabet
    assert info.value.position == position


@pytest.mark.parametrize(
    ("text", "alphabet", "data"),
    [
        ("He\u20ac", A.GSM7, b"He\x1b\x65"),
        ("abc", A.ASCII, b"abc"),
        ("\u00e9", A.LATIN1, b"\xe9"),
        ("\u0414", A.CYRILLIC, b"\xb4"),
        ("\u05d0", A.HEBREW, b"\xe0"),
        ("A\U0001f600", A.UCS2, b"\x00A\xd8\x3d\xde\x00"),
    ],
)
def test_encode_text(text: str, alphabet: Alphabet, data: bytes) -> None:
    assert encode_text(text, alphabet) == data


@pytest.mark.parametrize(
    ("text", "alphabet", "index"),
    [
        ("ab\u20ac", A.LATIN1, 2),
        ("\u00e9", A.ASCII, 0),
        ("x\U0001f600", A.GSM7, 1),
        ("ok\ud800", A.UCS2, 2),  # a lone surrogate in the string
    ],
)
def test_encode_text_errors(text: str, alphabet: Alphabet, index: int) -> None:
    with pytest.raises(UnencodableCharacter) as info:
        encode_text(text, alphabet)
    assert info.value.index == index
    assert info.value.character == text[index]


def test_binary_is_not_a_text_alphabet() -> None:
    with pytest.raises(ValueError, match="binary"):
        encode_text("x", A.BINARY)


@pytest.mark.parametrize(
    ("text", "alphabet"),
    [
        ("", A.GSM7),
        ("Hej {v\u00e4rlden} \u20ac5", A.GSM7),
        ("\u00e7a", A.UCS2),
        ("\U0001f600", A.UCS2),
    ],
)
def test_choose_alphabet(text: str, alphabet: Alphabet) -> None:
    assert choose_alphabet(text) is alphabet


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300))
def test_ucs2_round_trip_with_astral_characters(text: str) -> None:
    data = encode_text(text, A.UCS2)
    assert len(data) == 2 * sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    assert decode_text(data, 8) == text
