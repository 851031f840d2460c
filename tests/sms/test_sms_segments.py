"""Counting and splitting against the operator's seed tables, and the cuts that must not happen."""

from __future__ import annotations

import pytest

from smscd.sms import gsm7
from smscd.sms.coding import Alphabet, UnencodableCharacter
from smscd.sms.segments import (
    MessageTooLongError,
    SarFields,
    Segment,
    SegmentCount,
    count,
    count_encoded,
    sar_fields,
    split,
    split_encoded,
)
from smscd.sms.udh import build_concat_udh, split_udh

EURO = "\u20ac"
ZHE = "\u0436"  # Cyrillic: not in the GSM alphabet, one UCS-2 unit
GRIN = "\U0001f600"  # beyond the BMP: a surrogate pair, two UCS-2 units

# The seed tables (shared/seeds): parts -> total characters.
GSM_TABLE = [(1, 160), (2, 306), (3, 459), (4, 612), (5, 765)]
UNICODE_TABLE = [(1, 70), (2, 134), (3, 201), (4, 268), (5, 335)]


@pytest.mark.parametrize(("parts", "chars"), GSM_TABLE)
def test_gsm_seed_table(parts: int, chars: int) -> None:
    per_part = 160 if parts == 1 else 153
    assert count("a" * chars) == SegmentCount(Alphabet.GSM7, chars, parts, per_part)
    assert count("a" * (chars + 1)) == SegmentCount(Alphabet.GSM7, chars + 1, parts + 1, 153)
    assert len(split("a" * chars, reference=1)) == parts
    assert len(split("a" * (chars + 1), reference=1)) == parts + 1


@pytest.mark.parametrize(("parts", "chars"), UNICODE_TABLE)
def test_unicode_seed_table(parts: int, chars: int) -> None:
    per_part = 70 if parts == 1 else 67
    assert count(ZHE * chars) == SegmentCount(Alphabet.UCS2, chars, parts, per_part)
    assert count(ZHE * (chars + 1)) == SegmentCount(Alphabet.UCS2, chars + 1, parts + 1, 67)
    assert len(split(ZHE * chars, reference=1)) == parts
    assert len(split(ZHE * (chars + 1), reference=1)) == parts + 1


@pytest.mark.parametrize("parts", [6, 7, 10, 50, 255])
def test_beyond_five_parts(parts: int) -> None:
    assert count("a" * (153 * parts)).parts == parts
    assert count("a" * (153 * parts + 1)).parts == parts + 1
    assert count(ZHE * (67 * parts)).parts == parts
    segments = split("a" * (153 * parts), reference=7)
    assert [s.sequence for s in segments] == list(range(1, parts + 1))
    assert {s.total for s in segments} == {parts}


def test_more_than_255_parts_is_counted_but_not_split() -> None:
    text = "a" * (153 * 255 + 1)
    assert count(text).parts == 256
    with pytest.raises(MessageTooLongError) as info:
        split(text, reference=1)
    assert info.value.parts == 256


def test_sixteen_bit_reference_leaves_152_and_66() -> None:
    assert count("a" * 160, sixteen_bit=True).parts == 1
    assert count("a" * 304, sixteen_bit=True) == SegmentCount(Alphabet.GSM7, 304, 2, 152)
    assert count("a" * 305, sixteen_bit=True).parts == 3
    assert count(ZHE * 132, sixteen_bit=True) == SegmentCount(Alphabet.UCS2, 132, 2, 66)
    assert count(ZHE * 133, sixteen_bit=True).parts == 3
    segments = split("a" * 305, reference=0xBEEF, sixteen_bit=True)
    assert [len(s.payload) for s in segments] == [152, 152, 1]
    assert segments[0].udh == build_concat_udh(0xBEEF, 3, 1, sixteen_bit=True)


def test_extension_characters_count_two() -> None:
    assert count(EURO * 80) == SegmentCount(Alphabet.GSM7, 160, 1, 160)
    assert count("[]{}^~|\\" + EURO).units == 18
    # 81 euros = 162 septets: 76 per part (152 septets), since a 77th would straddle 153.
    segments = split(EURO * 81, reference=3)
    assert [len(s.payload) for s in segments] == [152, 10]
    assert count(EURO * 81).parts == 2


def test_escape_is_never_split_at_the_boundary() -> None:
    # The euro would take septets 153 and 154: the first part stops at 152.
    text = "a" * 152 + EURO + "a" * 10
    first, second = split(text, reference=9)
    assert first.payload == b"a" * 152
    assert second.payload[:2] == b"\x1b\x65"
    assert gsm7.decode(first.payload) + gsm7.decode(second.payload) == text
    # One septet earlier it fits exactly.
    first, second = split("a" * 151 + EURO + "a" * 10, reference=9)
    assert first.payload == b"a" * 151 + b"\x1b\x65"
    assert second.payload == b"a" * 10


def test_an_avoided_split_can_cost_a_part() -> None:
    # 306 septets fit two parts of 153 only if no escape straddles the cut.
    text = "a" * 152 + EURO + "a" * 152
    assert count(text) == SegmentCount(Alphabet.GSM7, 306, 3, 153)
    assert [len(s.payload) for s in split(text, reference=1)] == [152, 153, 1]


def test_surrogate_pair_is_never_split() -> None:
    assert count(GRIN * 35) == SegmentCount(Alphabet.UCS2, 70, 1, 70)
    assert count(GRIN * 36).parts == 2
    first, second = split(GRIN * 36, reference=1)
    assert len(first.payload) == 2 * 66  # 33 emoji; a 34th would straddle unit 67
    assert second.payload.decode("utf-16-be") == GRIN * 3
    # The pair would take units 67 and 68.
    first, second = split(ZHE * 66 + GRIN + ZHE * 5, reference=1)
    assert first.payload.decode("utf-16-be") == ZHE * 66
    assert second.payload.decode("utf-16-be") == GRIN + ZHE * 5
    # One unit earlier it fits.
    first, second = split(ZHE * 65 + GRIN + ZHE * 5, reference=1)
    assert first.payload.decode("utf-16-be") == ZHE * 65 + GRIN


def test_mixed_text() -> None:
    text = "Hej! Pris: 100\u20ac [rabatt] {kod} ~^| \\ \u00e5\u00e4\u00f6 " * 6
    units = gsm7.septet_length(text)
    assert units is not None and units > 160
    segments = split(text, reference=42)
    assert count(text).parts == len(segments)
    assert "".join(gsm7.decode(s.payload) for s in segments) == text
    # One non-GSM character turns the whole text into UCS-2.
    assert count(text + "\u00e7").alphabet is Alphabet.UCS2


def test_segment_fields() -> None:
    segments = split("x" * 200, reference=0xAB)
    assert segments[0] == Segment(
        sequence=1,
        total=2,
        reference=0xAB,
        alphabet=Alphabet.GSM7,
        udh=bytes.fromhex("050003ab0201"),
        payload=b"x" * 153,
    )
    assert segments[1].short_message == bytes.fromhex("050003ab0202") + b"x" * 47
    header, body = split_udh(segments[1].short_message)
    assert header.concat is not None and header.concat.sequence == 2
    assert body == b"x" * 47


def test_single_part_has_no_udh() -> None:
    (segment,) = split("hello", reference=5)
    assert (segment.udh, segment.payload, segment.sequence, segment.total) == (b"", b"hello", 1, 1)
    assert segment.short_message == b"hello"
    assert sar_fields(segment) is None


def test_empty_text_is_one_empty_part() -> None:
    assert count("") == SegmentCount(Alphabet.GSM7, 0, 1, 160)
    assert [s.payload for s in split("", reference=0)] == [b""]


def test_sar_parts_carry_no_udh() -> None:
    segments = split("b" * 400, reference=300, sixteen_bit=True, use_udh=False)
    assert [s.udh for s in segments] == [b"", b"", b""]
    assert [len(s.payload) for s in segments] == [152, 152, 96]
    assert [sar_fields(s) for s in segments] == [
        SarFields(sar_msg_ref_num=300, sar_total_segments=3, sar_segment_seqnum=n)
        for n in (1, 2, 3)
    ]
    eight_bit = split("b" * 400, reference=1, use_udh=False)
    assert [len(s.payload) for s in eight_bit] == [153, 153, 94]


def test_reference_range() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        split("x", reference=256)
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        split("x", reference=65536, sixteen_bit=True)
    assert split("x" * 200, reference=65535, sixteen_bit=True)[0].reference == 65535


def test_explicit_alphabet() -> None:
    with pytest.raises(UnencodableCharacter):
        split(GRIN, alphabet=Alphabet.GSM7, reference=1)
    # GSM text may still be sent as UCS-2 by choice.
    assert count("a" * 71, alphabet=Alphabet.UCS2) == SegmentCount(Alphabet.UCS2, 71, 2, 67)
    with pytest.raises(ValueError):
        count("x", alphabet=Alphabet.BINARY)


@pytest.mark.parametrize("alphabet", [Alphabet.LATIN1, Alphabet.ASCII])
def test_octet_alphabets_split_on_octets(alphabet: Alphabet) -> None:
    char = "e" if alphabet is Alphabet.ASCII else "\u00e9"
    assert count(char * 140, alphabet=alphabet) == SegmentCount(alphabet, 140, 1, 140)
    assert count(char * 141, alphabet=alphabet) == SegmentCount(alphabet, 141, 2, 134)
    assert count(char * 268, alphabet=alphabet).parts == 2
    assert count(char * 269, alphabet=alphabet).parts == 3
    assert count(char * 266, alphabet=alphabet, sixteen_bit=True).parts == 2
    assert count(char * 267, alphabet=alphabet, sixteen_bit=True).parts == 3
    segments = split(char * 141, alphabet=alphabet, reference=1)
    assert segments[0].payload == char.encode("latin-1") * 134


def test_binary_body_splits_on_octets() -> None:
    body = bytes(range(256)) + bytes(44)
    segments = split_encoded(body, Alphabet.BINARY, reference=77)
    assert [len(s.payload) for s in segments] == [134, 134, 32]
    assert b"".join(s.payload for s in segments) == body
    assert count_encoded(bytes(140), Alphabet.BINARY).parts == 1


def test_encoded_gsm_body_with_reserved_escape_pairs() -> None:
    # ESC ESC is a complete (reserved) pair: a cut right after it is fine.
    body = b"a" * 151 + b"\x1b\x1b" + b"\x1b\x65" + b"a" * 10
    first, second = split_encoded(body, Alphabet.GSM7, reference=1)
    assert first.payload == b"a" * 151 + b"\x1b\x1b"
    assert second.payload.startswith(b"\x1b\x65")
    # Three escapes before the cut: the third starts the euro, so the cut moves back.
    body = b"a" * 150 + b"\x1b\x1b" + b"\x1b\x65" + b"a" * 10
    first, second = split_encoded(body, Alphabet.GSM7, reference=1)
    assert first.payload == b"a" * 150 + b"\x1b\x1b"


def test_odd_ucs2_body_is_refused() -> None:
    with pytest.raises(ValueError, match="odd"):
        count_encoded(b"\x00", Alphabet.UCS2)
    with pytest.raises(ValueError, match="odd"):
        split_encoded(b"\x00", Alphabet.UCS2, reference=1)
