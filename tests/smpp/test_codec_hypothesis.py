"""Property tests: round trips for every PDU and TLV, and the fuzz invariant of the reader.

The invariant: whatever octets arrive, ``PduReader`` and ``decode`` only ever produce PDUs,
"need more data" (``None``) or an ``SmppError`` whose status is a ``CommandStatus`` member;
and whatever they decode can be encoded again.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smscd.smpp.codec import PduReader, decode, encode
from smscd.smpp.constants import CommandStatus
from smscd.smpp.errors import SmppError
from smscd.smpp.fields import (
    LAYOUTS,
    CString,
    DestAddresses,
    Int,
    Layout,
    ShortMessage,
    Time,
    UnsuccessSmes,
)
from smscd.smpp.pdus import (
    NO_TLVS,
    DistributionList,
    Pdu,
    SmeAddress,
    SubmitSmResp,
    UnsuccessSme,
)
from smscd.smpp.tlv import TLV_BY_TAG, TLV_TABLE, NetworkErrorCode, RawTlv, TlvKind, Tlvs, TlvSpec

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATUSES = frozenset(CommandStatus)
U32 = st.integers(0, 2**32 - 1)
U8 = st.integers(0, 255)


def cstrings(max_len: int) -> st.SearchStrategy[str]:
    """Text a C-octet string of ``max_len`` octets (NUL included) can carry."""
    return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=max_len - 1)


TIMES = st.one_of(
    st.just(""),
    st.text(st.characters(min_codepoint=1, max_codepoint=255), min_size=16, max_size=16),
    st.from_regex(r"\A[0-9]{12}[0-9][0-4][0-9][+\-R]\Z"),
)

DESTS = st.lists(
    st.one_of(
        st.builds(SmeAddress, dest_addr_ton=U8, dest_addr_npi=U8, destination_addr=cstrings(21)),
        st.builds(DistributionList, dl_name=cstrings(21)),
    ),
    min_size=1,
    max_size=5,
).map(tuple)

UNSUCCESS = st.lists(
    st.builds(
        UnsuccessSme,
        dest_addr_ton=U8,
        dest_addr_npi=U8,
        destination_addr=cstrings(21),
        error_status_code=U32,
    ),
    max_size=4,
).map(tuple)


def tlv_values(spec: TlvSpec) -> st.SearchStrategy[Any]:
    if spec.kind is TlvKind.INT:
        return st.integers(0, 2 ** (8 * spec.min_len) - 1)
    if spec.kind is TlvKind.CSTRING:
        return cstrings(spec.max_len)
    if spec.kind is TlvKind.OCTETS:
        # message_payload may be 64 KiB; a few hundred octets exercise the same code.
        return st.binary(min_size=spec.min_len, max_size=min(spec.max_len, 300))
    if spec.kind is TlvKind.NETWORK_ERROR:
        return st.builds(NetworkErrorCode, U8, st.integers(0, 0xFFFF))
    return st.just(True)


UNKNOWN_TLVS = st.lists(
    st.builds(
        RawTlv,
        st.integers(0, 0xFFFF).filter(lambda tag: tag not in TLV_BY_TAG),
        st.binary(max_size=40),
    ),
    max_size=3,
).map(tuple)


@st.composite
def tlvs(draw: st.DrawFn) -> Tlvs:
    chosen = draw(st.lists(st.sampled_from(TLV_TABLE), max_size=6, unique=True))
    values = {spec.name: draw(tlv_values(spec)) for spec in chosen}
    unknown = draw(UNKNOWN_TLVS)
    if not values and not unknown:
        return NO_TLVS
    return Tlvs(**values, unknown=unknown)


def field_values(field: Any) -> st.SearchStrategy[Any]:
    if isinstance(field, CString):
        return cstrings(field.max_len)
    if isinstance(field, Time):
        return TIMES
    if isinstance(field, Int):
        return U8 if field.size == 1 else U32
    if isinstance(field, ShortMessage):
        return st.binary(max_size=254)
    if isinstance(field, DestAddresses):
        return DESTS
    assert isinstance(field, UnsuccessSmes)
    return UNSUCCESS


def pdus_of(layout: Layout) -> st.SearchStrategy[Pdu]:
    kwargs: dict[str, st.SearchStrategy[Any]] = {
        field.name: field_values(field) for field in layout.fields
    }
    if layout.tlvs:
        kwargs["tlvs"] = tlvs()
    strategy: st.SearchStrategy[Pdu] = st.builds(
        layout.pdu,
        sequence_number=U32,
        command_status=st.one_of(st.just(0), st.sampled_from(sorted(STATUSES)), U32),
        **kwargs,
    )
    if layout.omit_body_on_error:
        # The body of an error submit_sm_resp is not sent (§4.4.2), so it cannot round-trip.
        strategy = strategy.map(without_error_body)
    return strategy


def without_error_body(pdu: Pdu) -> Pdu:
    if isinstance(pdu, SubmitSmResp) and pdu.command_status:
        return SubmitSmResp(sequence_number=pdu.sequence_number, command_status=pdu.command_status)
    return pdu


ANY_PDU = st.one_of(*(pdus_of(layout) for layout in LAYOUTS))


# --- round trips ---------------------------------------------------------------------------


@FAST
@given(ANY_PDU)
def test_every_pdu_round_trips(pdu: Pdu) -> None:
    wire = encode(pdu)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert decode(wire) == pdu
    assert encode(decode(wire)) == wire


@settings(FAST, max_examples=15)
@given(st.data())
def test_every_pdu_class_round_trips(data: st.DataObject) -> None:
    # One draw per class per example, so a rare class is not starved by the union above.
    for layout in LAYOUTS:
        pdu = data.draw(pdus_of(layout))
        assert decode(encode(pdu)) == pdu


@FAST
@given(st.lists(ANY_PDU, min_size=1, max_size=6), st.data())
def test_streams_round_trip_in_any_chunking(pdus: list[Pdu], data: st.DataObject) -> None:
    stream = b"".join(encode(pdu) for pdu in pdus)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = PduReader()
    received: list[Pdu] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        reader.feed(stream[start:end])
        received += list(reader)
    assert received == pdus


def test_every_tlv_round_trips_at_its_limits() -> None:
    for spec in TLV_TABLE:
        for length in {spec.min_len, min(spec.max_len, 400)}:
            value: Any
            if spec.kind is TlvKind.INT:
                value = 2 ** (8 * spec.min_len) - 1 if length == spec.max_len else 0
            elif spec.kind is TlvKind.CSTRING:
                value = "\xff" * (length - 1)
            elif spec.kind is TlvKind.OCTETS:
                value = bytes(range(256)) * 2
                value = value[:length]
            elif spec.kind is TlvKind.NETWORK_ERROR:
                value = NetworkErrorCode(255, 0xFFFF)
            else:
                value = True
            tlvs_ = Tlvs(**{spec.name: value})
            pdu = SubmitSmResp(message_id="x", tlvs=tlvs_)
            assert decode(encode(pdu)) == pdu, spec.name


@FAST
@given(tlvs())
def test_tlv_sets_round_trip(value: Tlvs) -> None:
    pdu = SubmitSmResp(message_id="x", tlvs=value)
    assert decode(encode(pdu)) == pdu


# --- the fuzz invariant --------------------------------------------------------------------


def outcomes(chunks: list[bytes]) -> list[object]:
    """Feed ``chunks`` one by one, draining the reader after each, and record what it gives."""
    reader = PduReader(max_command_length=4096)
    seen: list[object] = []
    for chunk in chunks:
        reader.feed(chunk)
        while True:
            try:
                pdu = reader.next_pdu()
            except SmppError as error:
                assert error.command_status in STATUSES, error
                assert isinstance(error.sequence_number, int)
                seen.append(("error", error.command_status, error.fatal))
                if error.fatal:
                    return seen
                continue
            if pdu is None:
                break
            check_reencodes(pdu)
            seen.append(pdu)
    return seen


def check_reencodes(pdu: Pdu) -> None:
    """Anything decoded must be encodable, and decode back to itself."""
    wire = encode(pdu)
    if isinstance(pdu, SubmitSmResp) and pdu.command_status:
        return  # its body is dropped on purpose, see pdus_of
    assert decode(wire) == pdu


def assert_same_whole_and_byte_by_byte(stream: bytes) -> None:
    whole = outcomes([stream])
    trickled = outcomes([stream[i : i + 1] for i in range(len(stream))])
    assert whole == trickled


@st.composite
def garbage_frames(draw: st.DrawFn) -> bytes:
    """A truthful header of a known (or random) command_id over an arbitrary body.

    Random octets almost never form a header the reader accepts, so on their own they would
    only exercise the framer; these reach every body parser.
    """
    command_id = draw(
        st.one_of(st.sampled_from([layout.pdu.command_id for layout in LAYOUTS]), U32)
    )
    body = draw(st.binary(max_size=200))
    header = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big")
    return header + draw(st.binary(min_size=8, max_size=8)) + body


@FAST
@given(st.one_of(st.binary(max_size=300), st.lists(garbage_frames(), max_size=4).map(b"".join)))
def test_arbitrary_bytes_only_give_pdus_or_protocol_errors(stream: bytes) -> None:
    assert_same_whole_and_byte_by_byte(stream)
    try:
        pdu = decode(stream)
    except SmppError as error:
        assert error.command_status in STATUSES
    else:
        check_reencodes(pdu)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """A valid frame with a few octets changed, inserted or removed."""
    wire = bytearray(encode(draw(ANY_PDU)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(len(wire) - 1, 0)))
        if action == "flip" and wire:
            wire[position] = draw(U8)
        elif action == "insert":
            wire[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and wire:
            del wire[position]
        elif action == "truncate":
            del wire[position:]
    if len(wire) >= 4 and draw(st.booleans()):
        # Keep command_length truthful so the body parsers, not the framer, see the damage.
        wire[:4] = len(wire).to_bytes(4, "big")
    return bytes(wire)


@FAST
@given(st.lists(mutated_frames(), min_size=1, max_size=4))
def test_mutated_frames_only_give_pdus_or_protocol_errors(frames: list[bytes]) -> None:
    assert_same_whole_and_byte_by_byte(b"".join(frames))
    for wire in frames:
        try:
            pdu = decode(wire)
        except SmppError as error:
            assert error.command_status in STATUSES
        else:
            check_reencodes(pdu)


@FAST
@given(ANY_PDU, st.binary(min_size=1, max_size=8))
def test_junk_after_the_body_is_a_non_fatal_error(pdu: Pdu, junk: bytes) -> None:
    wire = encode(pdu) + junk
    damaged = len(wire).to_bytes(4, "big") + wire[4:]
    try:
        decode(damaged)
    except SmppError as error:
        assert error.command_status in STATUSES
        assert not error.fatal
        assert error.command_id == pdu.command_id
        assert error.sequence_number == pdu.sequence_number
