"""Split -> UDH/SAR -> reassemble -> decode gives back the text, ours and smpplib's parts alike."""

from __future__ import annotations

import random

import pytest
import smpplib.consts
import smpplib.gsm
from hypothesis import given, settings
from hypothesis import strategies as st

from smscd.sms import gsm7
from smscd.sms.coding import Alphabet, data_coding_for, decode_text
from smscd.sms.reassembly import Completed, Reassembler
from smscd.sms.segments import SarFields, count, sar_fields, split
from smscd.sms.udh import split_udh, udh_septets

GSM_CHARS = gsm7.BASIC_TABLE.replace("\x1b", "") + "".join(gsm7.EXTENSION_TABLE.values())
KEY = ("src", "dst")


def reassemble_udh(short_messages: list[bytes], data_coding: int) -> str | None:
    buffer: Reassembler = Reassembler(60.0)
    done: Completed | None = None
    for short_message in short_messages:
        header, body = split_udh(short_message)
        concat = header.concat
        assert concat is not None
        assert done is None, "completed before the last part"
        done = buffer.add(KEY, concat.reference, concat.total, concat.sequence, body, now=0.0)
    assert done is not None
    assert len(buffer) == 0
    return decode_text(done.payload, data_coding)


gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=1200)
any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=600)


@settings(max_examples=150)
@given(
    st.one_of(gsm_text, any_text),
    st.sampled_from([Alphabet.GSM7, Alphabet.UCS2, None]),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_split_then_reassemble_gives_the_text(
    text: str, alphabet: Alphabet | None, sixteen_bit: bool, rng: random.Random
) -> None:
    if alphabet is Alphabet.GSM7 and not gsm7.is_encodable(text):
        alphabet = Alphabet.UCS2
    reference = rng.randrange(0x10000 if sixteen_bit else 0x100)
    segments = split(text, alphabet=alphabet, reference=reference, sixteen_bit=sixteen_bit)
    counted = count(text, alphabet=alphabet, sixteen_bit=sixteen_bit)
    assert len(segments) == counted.parts
    chosen = counted.alphabet
    data_coding = data_coding_for(chosen)
    for segment in segments:
        # Every part fits the 140 octets of one SMS, UDH included, once on the air.
        if chosen is Alphabet.GSM7:
            assert udh_septets(len(segment.udh)) + len(segment.payload) <= 160
            # No part ends inside an escape sequence: each decodes alone without a lone escape.
            assert not segment.payload.endswith(b"\x1b") or segment.payload.endswith(b"\x1b\x1b")
        else:
            assert len(segment.short_message) <= 140
            # No part ends inside a surrogate pair: each decodes alone.
            decode_text(segment.payload, data_coding)
    if len(segments) == 1:
        assert segments[0].udh == b""
        assert decode_text(segments[0].payload, data_coding) == text
        return
    shuffled = [s.short_message for s in segments]
    rng.shuffle(shuffled)
    assert reassemble_udh(shuffled, data_coding) == text


@given(st.one_of(gsm_text, any_text), st.integers(0, 0xFFFF))
def test_sar_split_then_reassemble(text: str, reference: int) -> None:
    segments = split(text, reference=reference, sixteen_bit=True, use_udh=False)
    buffer: Reassembler = Reassembler(60.0)
    results = []
    for segment in reversed(segments):
        assert segment.udh == b""
        sar = sar_fields(segment)
        if sar is None:  # a single part goes without SAR TLVs
            assert len(segments) == 1
            sar = SarFields(reference, 1, 1)
        results.append(
            buffer.add(
                "esme",
                sar.sar_msg_ref_num,
                sar.sar_total_segments,
                sar.sar_segment_seqnum,
                segment.payload,
                now=0.0,
            )
        )
    done = results[-1]
    assert done is not None
    assert decode_text(done.payload, data_coding_for(count(text).alphabet)) == text


# smpplib (a third-party client) cuts parts by encoded length alone, so it may split an escape
# sequence or a surrogate pair; reassembling the bodies before decoding still gives the text.
SMPPLIB_CASES = [
    pytest.param("Lorem ipsum dolor sit amet " * 30, id="gsm-long"),
    pytest.param("a" * 152 + "\u20ac" + "b" * 200, id="gsm-escape-cut-by-smpplib"),
    pytest.param("{curly} [square] ~tilde~ \u20ac^|\\ " * 12, id="gsm-extension"),
    pytest.param("\u0436" * 66 + "\U0001f600" + "\u0436" * 80, id="ucs2-pair-cut-by-smpplib"),
    pytest.param("Hej \U0001f600 v\u00e4rlden \U0001f44d\U0001f3fd " * 15, id="ucs2-emoji"),
]


@pytest.mark.parametrize("text", SMPPLIB_CASES)
def test_smpplib_parts_reassemble(text: str) -> None:
    parts, encoding, esm_class = smpplib.gsm.make_parts(text)
    assert esm_class == smpplib.consts.SMPP_GSMFEAT_UDHI
    assert len(parts) > 1
    assert reassemble_udh(list(reversed(parts)), encoding) == text


@pytest.mark.parametrize("text", SMPPLIB_CASES)
def test_smpplib_sar_parts_reassemble(text: str) -> None:
    parts, encoding, _ = smpplib.gsm.make_parts(text, use_udhi=False)
    buffer: Reassembler = Reassembler(60.0)
    done = None
    for sequence, part in enumerate(parts, start=1):
        done = buffer.add("esme", 1, len(parts), sequence, part, now=0.0)
    assert done is not None
    assert decode_text(done.payload, encoding) == text


def test_smpplib_escape_cut_is_what_we_avoid() -> None:
    # The same text: smpplib's first part ends on a lone escape, ours does not.
    text = "a" * 152 + "\u20ac" + "b" * 200
    theirs, _, _ = smpplib.gsm.make_parts(text)
    assert theirs[0].endswith(b"\x1b")
    ours = split(text, reference=1)
    assert not ours[0].payload.endswith(b"\x1b")
    assert len(ours) == len(theirs) == 3
