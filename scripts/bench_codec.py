"""Print the cost of the SMPP codec's hot operations in ns/op.

Usage: .venv/bin/python scripts/bench_codec.py [--number N]

Each figure is the best of several timeit repeats, so it estimates the cost on an idle core;
the daemon's budget is 40,000 submit_sm/s with receipts on one core, i.e. 25 µs per message for
everything (decode submit_sm, encode its response, encode the receipt, decode its response).
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import attrs

from smscd.smpp.codec import PduReader, decode, encode
from smscd.smpp.constants import EsmClass, MessageState, RegisteredDelivery
from smscd.smpp.pdus import DeliverSm, DeliverSmResp, SubmitSm, SubmitSmResp
from smscd.smpp.tlv import NetworkErrorCode, Tlvs

TYPICAL_FRAME = 160
BATCH = 100


def typical_submit_sm() -> SubmitSm:
    """A submit_sm of exactly 160 octets on the wire, as a bulk ESME sends them."""
    fixed = SubmitSm(
        sequence_number=123456,
        source_addr_ton=5,
        source_addr="MyBrand",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900123",
        registered_delivery=RegisteredDelivery.RECEIPT_ON_SUCCESS_OR_FAILURE,
    )
    room = TYPICAL_FRAME - len(encode(fixed))
    text = (b"Your verification code is 482913. It expires in 10 minutes. " * 3)[:room]
    pdu = attrs.evolve(fixed, short_message=text)
    assert len(encode(pdu)) == TYPICAL_FRAME
    return pdu


def receipt() -> DeliverSm:
    """A delivery receipt with the three TLVs receipts usually carry."""
    return DeliverSm(
        sequence_number=654321,
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="447700900123",
        dest_addr_ton=5,
        destination_addr="MyBrand",
        esm_class=EsmClass.TYPE_SMSC_DELIVERY_RECEIPT,
        short_message=(
            b"id:0123456789abcdef sub:001 dlvrd:001 submit date:2401011200 "
            b"done date:2401011201 stat:DELIVRD err:000 text:Your verification"
        ),
        tlvs=Tlvs(
            receipted_message_id="0123456789abcdef",
            message_state=MessageState.DELIVERED,
            network_error_code=NetworkErrorCode(3, 0),
        ),
    )


def best_ns(operation: Callable[[], object], number: int, per_call: int = 1) -> float:
    return min(timeit.repeat(operation, number=number, repeat=7)) / number / per_call * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=50_000, help="calls per repeat")
    number = parser.parse_args().number

    submit = typical_submit_sm()
    submit_wire = encode(submit)
    response = SubmitSmResp(sequence_number=123456, message_id="0123456789abcdef")
    response_wire = encode(response)
    deliver = receipt()
    deliver_wire = encode(deliver)
    deliver_resp = DeliverSmResp(sequence_number=654321)
    deliver_resp_wire = encode(deliver_resp)
    stream = submit_wire * BATCH

    def read_batch() -> None:
        reader = PduReader()
        reader.feed(stream)
        for _ in reader:
            pass

    rows: list[tuple[str, Callable[[], object], int, str]] = [
        ("decode submit_sm (160 octets)", lambda: decode(submit_wire), 1, "<= 5000"),
        ("encode deliver_sm receipt, 3 TLVs", lambda: encode(deliver), 1, "<= 5000"),
        ("encode submit_sm_resp", lambda: encode(response), 1, "<= 2000"),
        ("decode submit_sm_resp", lambda: decode(response_wire), 1, ""),
        ("encode submit_sm (160 octets)", lambda: encode(submit), 1, ""),
        ("decode deliver_sm receipt, 3 TLVs", lambda: decode(deliver_wire), 1, ""),
        ("encode deliver_sm_resp", lambda: encode(deliver_resp), 1, ""),
        ("decode deliver_sm_resp", lambda: decode(deliver_resp_wire), 1, ""),
        (f"PduReader, {BATCH} submit_sm per feed", read_batch, BATCH, ""),
    ]
    print(f"{'operation':40} {'ns/op':>8}  target")
    for name, operation, per_call, target in rows:
        calls = max(number // per_call, 1)
        print(f"{name:40} {best_ns(operation, calls, per_call):8.0f}  {target}")


if __name__ == "__main__":
    main()
