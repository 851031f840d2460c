"""User Data Header: concatenation elements built and parsed, malformed headers refused."""

from __future__ import annotations

import pytest

from smscd.sms.udh import (
    ConcatInfo,
    InformationElement,
    Udh,
    UdhError,
    build_concat_udh,
    fill_bits,
    split_udh,
    udh_septets,
)


def test_build_8bit_concat() -> None:
    assert build_concat_udh(0xCC, 3, 1).hex() == "050003cc0301"


def test_build_16bit_concat() -> None:
    assert build_concat_udh(0x1234, 3, 2, sixteen_bit=True).hex() == "06080412340302"


def test_parse_8bit_concat() -> None:
    header, body = split_udh(bytes.fromhex("050003cc0302") + b"body")
    assert body == b"body"
    assert header.elements == (InformationElement(0x00, b"\xcc\x03\x02"),)
    assert header.concat == ConcatInfo(reference=0xCC, total=3, sequence=2, reference_bits=8)


def test_parse_16bit_concat() -> None:
    header, body = split_udh(bytes.fromhex("06080412340303") + b"\x00A")
    assert body == b"\x00A"
    assert header.concat == ConcatInfo(0x1234, 3, 3, 16)


def test_other_elements_survive_beside_concat() -> None:
    # Application port addressing, 16-bit (IEI 0x05), then the concat element.
    raw = bytes.fromhex("0b 0504 0b84 23f0 0003 2a0201") + b"x"
    header, body = split_udh(raw)
    assert body == b"x"
    assert [element.iei for element in header.elements] == [0x05, 0x00]
    assert header.elements[0].data == bytes.fromhex("0b8423f0")
    assert header.concat == ConcatInfo(0x2A, 2, 1, 8)
    assert header.encode() + body == raw


def test_no_concat_element() -> None:
    header, body = split_udh(bytes.fromhex("0401020a0b") + b"y")
    assert header.concat is None
    assert body == b"y"


def test_empty_header_is_allowed() -> None:
    assert split_udh(b"\x00abc") == (Udh(()), b"abc")


@pytest.mark.parametrize(
    "raw",
    [
        "050003cc0300",  # sequence 0
        "050003cc0004",  # total 0
        "050003cc0304",  # sequence above total
        "0608041234020003",  # 16-bit, sequence 3 of 2
        "0400020102",  # 8-bit element of length 2
        "070005cc03010203",  # 8-bit element of length 5
        "050803123402",  # 16-bit element of length 3
    ],
)
def test_invalid_concat_is_ignored(raw: str) -> None:
    # TS 23.040 §9.2.3.24.1: the receiver ignores the element; the part stands alone.
    header, _ = split_udh(bytes.fromhex(raw))
    assert header.concat is None
    assert header.elements  # the element itself is kept


def test_last_concat_element_wins() -> None:
    raw = bytes.fromhex("0b 000301 0201 0804 0102 0302")
    header, _ = split_udh(raw)
    assert header.concat == ConcatInfo(0x0102, 3, 2, 16)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (bytes.fromhex("05000301"), "runs past"),  # UDHL 5, only 3 octets follow
        (bytes.fromhex("0300050102"), "past the end"),  # element length 5 in a 3-octet header
        (bytes.fromhex("0400010007") + b"body", "no length"),  # IEI 0x07 is the last octet
        (bytes.fromhex("0100"), "no length"),
    ],
)
def test_malformed_udh(raw: bytes, message: str) -> None:
    with pytest.raises(UdhError, match=message):
        split_udh(raw)


@pytest.mark.parametrize(
    ("reference", "total", "sequence", "sixteen_bit"),
    [(256, 2, 1, False), (-1, 2, 1, False), (65536, 2, 1, True), (1, 0, 1, False),
     (1, 256, 1, False), (1, 2, 0, False), (1, 2, 3, False)],
)  # fmt: skip
def test_build_refuses_out_of_range(
    reference: int, total: int, sequence: int, sixteen_bit: bool
) -> None:
    with pytest.raises(ValueError):
        build_concat_udh(reference, total, sequence, sixteen_bit=sixteen_bit)


def test_element_and_header_limits() -> None:
    with pytest.raises(ValueError):
        InformationElement(256, b"")
    with pytest.raises(ValueError):
        InformationElement(0x70, bytes(256))
    with pytest.raises(ValueError, match="255"):
        Udh((InformationElement(0x70, bytes(200)), InformationElement(0x71, bytes(100)))).encode()


@pytest.mark.parametrize(
    ("octets", "septets", "fill"), [(0, 0, 0), (5, 6, 2), (6, 7, 1), (7, 8, 0)]
)
def test_udh_in_septets(octets: int, septets: int, fill: int) -> None:
    assert udh_septets(octets) == septets
    assert fill_bits(octets) == fill


def test_round_trip_every_reference() -> None:
    for sixteen_bit, references in ((False, range(256)), (True, range(0, 65536, 257))):
        for reference in references:
            raw = build_concat_udh(reference, 5, 4, sixteen_bit=sixteen_bit)
            header, body = split_udh(raw + b"z")
            assert body == b"z"
            assert header.concat == ConcatInfo(reference, 5, 4, 16 if sixteen_bit else 8)
