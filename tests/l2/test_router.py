"""The router's submit and status paths with a carrier defined here (the Carrier seam)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smscd.accounts import Accounts
from smscd.carriers.base import Waiting
from smscd.carriers.model import Transition
from smscd.config import Account
from smscd.message import Message, MessageIdGenerator
from smscd.outbox import Outboxes
from smscd.receipt import parse_receipt
from smscd.router import Router
from smscd.smpp.constants import CommandStatus, EsmClass, MessageState
from smscd.smpp.pdus import CancelSm, DataSm, QuerySm, ReplaceSm, SubmitSm
from smscd.smpp.tlv import Tlvs
from smscd.sms.reassembly import Reassembler
from smscd.sms.udh import build_concat_udh
from smscd.status import Code
from smscd.store.base import Store
from smscd.store.memory import MemoryStore
from smscd.store.sqlite import SqliteStore


class RecordingCarrier:
    name = "recording"

    def __init__(self) -> None:
        self.queued: dict[str, Message] = {}
        self.replaced: list[str] = []

    def submit(self, message: Message) -> None:
        self.queued[message.message_id] = message

    def cancel(self, message_id: str) -> bool:
        return self.queued.pop(message_id, None) is not None

    def is_pending(self, message_id: str) -> bool:
        return message_id in self.queued

    def replace(self, message: Message) -> bool:
        self.replaced.append(message.message_id)
        return message.message_id in self.queued

    async def run(self, sink: object, *, task_status: object = None) -> None:  # pragma: no cover
        raise NotImplementedError


@pytest.fixture
def carrier() -> RecordingCarrier:
    return RecordingCarrier()


@pytest.fixture
def router(carrier: RecordingCarrier) -> Router:
    clock = iter(float(t) for t in range(1_700_000_000, 1_800_000_000))
    return Router(
        store=MemoryStore(3600, 1000),
        carriers={"test": carrier},
        accounts=Accounts([Account(system_id="acme", password="pw", max_queued=3)], now=0.0),
        outboxes=Outboxes(retry_delay=1.0),
        ids=MessageIdGenerator(1000),
        sim_now=lambda: next(clock),
        reassembler=Reassembler(60.0),
    )


def submit(router: Router, **fields: object) -> tuple[int, str]:
    pdu = SubmitSm(destination_addr="46700000001", source_addr="Acme", **fields)  # type: ignore[arg-type]
    result = router.submit("acme", pdu, now=0.0)
    return result.command_status, result.message_id


def receipts(router: Router) -> list[str]:
    outbox = router.outboxes["acme"]
    return [item.pdu.short_message.decode() for item in outbox.take(100)]


def test_accepted_message_is_stored_queued_and_handed_over(
    router: Router, carrier: RecordingCarrier
) -> None:
    status, message_id = submit(router, short_message=b"Hello")
    assert status == CommandStatus.ESME_ROK
    message = router.store.get(message_id)
    assert message is not None and message.text == "Hello"
    assert [e.code for e in message.history] == [Code.ACCEPTED, Code.QUEUED]
    assert message_id in carrier.queued


def test_final_receipt_on_delivery(router: Router) -> None:
    _, message_id = submit(router, short_message=b"Hello", registered_delivery=1)
    router.on_status(message_id, Code.SENDING)
    router.on_status(message_id, Code.DELIVERED_TO_HANDSET)
    (text,) = receipts(router)
    fields = parse_receipt(text)
    assert fields.message_id == message_id
    assert fields.stat == "DELIVRD" and fields.err == 201 and fields.text == "Hello"


@pytest.mark.parametrize(
    ("registered_delivery", "code", "expected"),
    [
        (0, Code.DELIVERED_TO_HANDSET, 0),
        (1, Code.UNKNOWN_SUBSCRIBER, 1),
        (2, Code.DELIVERED_TO_HANDSET, 0),
        (2, Code.EXPIRED, 1),
        (3, Code.DELIVERED_TO_HANDSET, 1),
        (3, Code.UNKNOWN_SUBSCRIBER, 0),
    ],
)
def test_registered_delivery_selects_receipts(
    router: Router, registered_delivery: int, code: int, expected: int
) -> None:
    _, message_id = submit(router, short_message=b"x", registered_delivery=registered_delivery)
    router.on_status(message_id, code)
    assert len(receipts(router)) == expected


def test_error_receipt_carries_network_error_code_and_state(router: Router) -> None:
    _, message_id = submit(router, short_message=b"x", registered_delivery=1)
    router.on_status(message_id, Code.UNKNOWN_SUBSCRIBER)
    (item,) = router.outboxes["acme"].take(1)
    tlvs = item.pdu.tlvs
    assert tlvs.receipted_message_id == message_id
    assert tlvs.message_state == MessageState.UNDELIVERABLE
    assert tlvs.network_error_code is not None and tlvs.network_error_code.error_code == 501
    assert item.pdu.esm_class == EsmClass.TYPE_SMSC_DELIVERY_RECEIPT
    assert item.pdu.source_addr == "46700000001" and item.pdu.destination_addr == "Acme"


def test_intermediate_notifications_for_info_codes(router: Router) -> None:
    _, message_id = submit(router, short_message=b"x", registered_delivery=0x11)
    router.on_status(message_id, Code.SENDING)
    router.on_status(message_id, Code.DELIVERED_TO_HANDSET)
    items = router.outboxes["acme"].take(10)
    kinds = [(i.pdu.esm_class, parse_receipt(i.pdu.short_message.decode()).err) for i in items]
    assert kinds == [
        (EsmClass.TYPE_INTERMEDIATE_NOTIFICATION, 102),
        (EsmClass.TYPE_INTERMEDIATE_NOTIFICATION, 110),
        (EsmClass.TYPE_SMSC_DELIVERY_RECEIPT, 201),
    ]
    assert "stat:ENROUTE" in items[0].pdu.short_message.decode()


def test_no_status_after_final(router: Router) -> None:
    _, message_id = submit(router, short_message=b"x", registered_delivery=1)
    router.on_status(message_id, Code.DELIVERED_TO_HANDSET)
    router.on_status(message_id, Code.EXPIRED)
    assert len(receipts(router)) == 1


def test_queue_limit_then_room_again(router: Router) -> None:
    ids = [submit(router, short_message=b"x")[1] for _ in range(3)]
    assert submit(router, short_message=b"x")[0] == CommandStatus.ESME_RMSGQFUL
    router.on_status(ids[0], Code.DELIVERED_TO_HANDSET)
    assert submit(router, short_message=b"x")[0] == CommandStatus.ESME_ROK


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        (
            {"short_message": b"x", "tlvs": Tlvs(message_payload=b"y")},
            CommandStatus.ESME_RINVOPTPARAMVAL,
        ),
        (
            {"short_message": b"\x05\x00\x03", "esm_class": EsmClass.UDHI},
            CommandStatus.ESME_RINVESMCLASS,
        ),
        ({"short_message": b"\x00\x41\xd8", "data_coding": 8}, CommandStatus.ESME_RINVDCS),
        (
            {"short_message": b"x", "tlvs": Tlvs(sar_msg_ref_num=1, sar_total_segments=2)},
            CommandStatus.ESME_RMISSINGOPTPARAM,
        ),
        (
            {
                "short_message": b"x",
                "tlvs": Tlvs(sar_msg_ref_num=1, sar_total_segments=2, sar_segment_seqnum=3),
            },
            CommandStatus.ESME_RINVOPTPARAMVAL,
        ),
        # Reserved TON and NPI values (SMPP 3.4 §5.2.5, §5.2.6), the first one found.
        ({"source_addr_ton": 7}, CommandStatus.ESME_RINVSRCTON),
        ({"source_addr_npi": 2}, CommandStatus.ESME_RINVSRCNPI),
        ({"dest_addr_ton": 9}, CommandStatus.ESME_RINVDSTTON),
        ({"dest_addr_npi": 19}, CommandStatus.ESME_RINVDSTNPI),
        ({"source_addr_npi": 5, "dest_addr_ton": 255}, CommandStatus.ESME_RINVSRCNPI),
    ],
)
def test_bad_submissions_get_precise_status(
    router: Router, fields: dict[str, object], status: int
) -> None:
    assert submit(router, **fields)[0] == status


@pytest.mark.parametrize("ton", [0, 1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("npi", [0, 1, 3, 4, 6, 8, 9, 10, 14, 18])
def test_every_defined_ton_and_npi_is_accepted(router: Router, ton: int, npi: int) -> None:
    fields = {"source_addr_ton": ton, "source_addr_npi": npi, "dest_addr_npi": npi}
    assert submit(router, **fields)[0] == CommandStatus.ESME_ROK


def test_empty_destination_is_invalid(router: Router) -> None:
    result = router.submit("acme", SubmitSm(short_message=b"x"), now=0.0)
    assert result.command_status == CommandStatus.ESME_RINVDSTADR


def test_message_payload_and_data_sm(router: Router) -> None:
    status, message_id = submit(router, tlvs=Tlvs(message_payload=b"long " * 100))
    assert status == 0
    stored = router.store.get(message_id)
    assert stored is not None and stored.text == "long " * 100
    data = DataSm(destination_addr="4670", tlvs=Tlvs(message_payload=b"via data-sm"))
    result = router.submit("acme", data, now=0.0)
    stored = router.store.get(result.message_id)
    assert stored is not None and stored.text == "via data-sm"


def test_udh_parts_keep_text_without_header(router: Router) -> None:
    ids = []
    for seq, body in enumerate([b"Hello ", b"world"], start=1):
        status, message_id = submit(
            router,
            esm_class=EsmClass.UDHI,
            short_message=build_concat_udh(7, 2, seq) + body,
        )
        assert status == 0
        ids.append(message_id)
    texts = []
    for message_id in ids:
        stored = router.store.get(message_id)
        assert stored is not None and stored.parts == 2
        texts.append(stored.text or "")
    assert "".join(texts) == "Hello world"


def test_surrogate_pair_cut_across_ucs2_parts_is_accepted(router: Router) -> None:
    body = "a😀".encode("utf-16-be")  # 00 61 d8 3d de 00
    first = build_concat_udh(9, 2, 1) + body[:4]
    second = build_concat_udh(9, 2, 2) + body[4:]
    ids = []
    for part in (first, second):
        status, message_id = submit(
            router, esm_class=EsmClass.UDHI, data_coding=8, short_message=part
        )
        assert status == 0
        ids.append(message_id)
    # Reassembled, the halves make one emoji again.
    for message_id in ids:
        stored = router.store.get(message_id)
        assert stored is not None and stored.concat_text == "a😀"


def test_sets_sharing_a_reference_but_not_a_size_stay_apart(router: Router) -> None:
    """The reassembler tells sets apart by their size too; so must the router's record of
    which messages make up a set."""

    def part(total: int, sequence: int, body: bytes) -> str:
        status, message_id = submit(
            router,
            esm_class=EsmClass.UDHI,
            short_message=build_concat_udh(4, total, sequence) + body,
        )
        assert status == 0
        return message_id

    a1 = part(2, 1, b"Hello ")
    b1 = part(3, 1, b"Other ")
    a2 = part(2, 2, b"world")
    texts = {}
    for message_id in (a1, b1, a2):
        stored = router.store.get(message_id)
        assert stored is not None
        texts[message_id] = stored.concat_text
    assert texts == {a1: "Hello world", b1: None, a2: "Hello world"}


def test_query_cancel_replace(router: Router, carrier: RecordingCarrier) -> None:
    _, message_id = submit(router, short_message=b"old", registered_delivery=1)
    assert router.query("acme", QuerySm(message_id=message_id)).command_status == 0
    assert router.query("other", QuerySm(message_id=message_id)).command_status == (
        CommandStatus.ESME_RQUERYFAIL
    )
    assert (
        router.replace(
            "acme", ReplaceSm(message_id=message_id, short_message=b"new", registered_delivery=1)
        )
        == 0
    )
    stored = router.store.get(message_id)
    assert stored is not None and stored.text == "new"
    assert router.cancel("acme", CancelSm(message_id=message_id)) == 0
    assert stored.status == Code.CANCELED
    (text,) = receipts(router)
    assert "stat:DELETED err:203" in text
    assert router.cancel("acme", CancelSm(message_id=message_id)) == CommandStatus.ESME_RCANCELFAIL
    assert router.replace("acme", ReplaceSm(message_id=message_id, short_message=b"x")) == (
        CommandStatus.ESME_RREPLACEFAIL
    )


def test_cancel_by_addresses(router: Router) -> None:
    for _ in range(2):
        submit(router, short_message=b"x")
    pdu = CancelSm(source_addr="Acme", destination_addr="46700000001")
    assert router.cancel("acme", pdu) == 0
    assert router.store.statistics().pending == 0


def test_incomplete_concatenation_times_out(carrier: RecordingCarrier) -> None:
    now = [1_700_000_000.0]
    router = Router(
        store=MemoryStore(3600, 1000),
        carriers={"test": carrier},
        accounts=Accounts([Account(system_id="acme", password="pw")], now=0.0),
        outboxes=Outboxes(retry_delay=1.0),
        ids=MessageIdGenerator(1),
        sim_now=lambda: now[0],
        reassembler=Reassembler(60.0),
    )
    status, message_id = submit(
        router, esm_class=EsmClass.UDHI, short_message=build_concat_udh(3, 2, 1) + b"half"
    )
    assert status == 0
    now[0] += 61
    router.expire_reassembly()
    # The second part arriving now starts a new set instead of completing the old one.
    submit(router, esm_class=EsmClass.UDHI, short_message=build_concat_udh(3, 2, 2) + b"late")
    stored = router.store.get(message_id)
    assert stored is not None and stored.concat_text is None
    assert stored.concat is not None and (stored.concat.sequence, stored.concat.total) == (1, 2)


# --- reassembly across a restart -------------------------------------------------------------


def concat_router(
    store: Store, now: list[float], reassembler: Reassembler, first_id: int = 1
) -> Router:
    return Router(
        store=store,
        carriers={"test": RecordingCarrier()},
        accounts=Accounts([Account(system_id="acme", password="pw")], now=0.0),
        outboxes=Outboxes(retry_delay=1.0),
        ids=MessageIdGenerator(first_id),
        sim_now=lambda: now[0],
        reassembler=reassembler,
    )


def part(router: Router, reference: int, total: int, sequence: int, body: bytes) -> str:
    status, message_id = submit(
        router,
        esm_class=EsmClass.UDHI,
        short_message=build_concat_udh(reference, total, sequence) + body,
    )
    assert status == CommandStatus.ESME_ROK
    return message_id


def open_sets(reassembler: Reassembler) -> list[tuple[object, ...]]:
    return [(s.key, s.reference, s.received, s.first_seen) for s in reassembler.open_sets()]


def test_reassembly_resumes_from_the_stored_parts_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "smscd.db"
    t0 = 1_700_000_000.0
    now = [t0]
    before = Reassembler(60.0)
    router = concat_router(SqliteStore(path, retention=3600, max_finished=100), now, before)
    lone = part(router, 6, 3, 1, b"one ")
    part(router, 6, 3, 3, b"three")
    now[0] += 61
    router.expire_reassembly()  # ref 6 times out: a part that comes later starts a new set
    late = part(router, 6, 3, 2, b"two ")
    first = part(router, 5, 2, 1, b"Hello, ")
    router.on_status(first, Code.DELIVERED_TO_HANDSET)  # a final part waits all the same
    done = [part(router, 7, 2, n, b"x") for n in (1, 2)]  # complete: nothing to rebuild
    router.store.close()  # (a kill -9 would lose nothing that an ESME_ROK covered)

    # The restart: a new store on the file and an empty buffer, rebuilt from the stored parts.
    now[0] += 30
    after = Reassembler(60.0)
    store = SqliteStore(path, retention=3600, max_finished=100)
    router = concat_router(store, now, after, first_id=1000)  # ids go on above the stored
    router.resume_reassembly(store.open_concat_parts(now[0] - 2 * 60.0))
    assert open_sets(after) == open_sets(before)
    assert [(s.reference, s.missing) for s in after.open_sets()] == [(6, (1, 3)), (5, (2,))]
    assert after.next_deadline() == before.next_deadline() == t0 + 61 + 60  # deadlines kept

    # The last part of ref 5 arrives after the restart: the set is whole.
    second = part(router, 5, 2, 2, b"world")
    for message_id in (first, second):
        stored = store.get(message_id)
        assert stored is not None and stored.concat_text == "Hello, world"
    # The set that began before the restart still times out, at its deadline.
    now[0] = t0 + 61 + 60
    router.expire_reassembly()
    assert after.open_sets() == []
    for message_id in (lone, late, *done):
        stored = store.get(message_id)
        assert stored is not None
        assert stored.concat_text == ("xx" if message_id in done else None)
    store.close()
    reopened = SqliteStore(path, retention=3600, max_finished=100)
    stored = reopened.get(first)
    assert stored is not None and stored.concat_text == "Hello, world"  # on disk
    reopened.close()


def test_a_part_already_final_gets_the_whole_text_stored_with_the_last_part() -> None:
    store = SqliteStore(":memory:", retention=3600, max_finished=100)
    router = concat_router(store, [1_700_000_000.0], Reassembler(60.0))
    first = part(router, 5, 2, 1, b"Hello, ")
    router.on_status(first, Code.DELIVERED_TO_HANDSET)
    store.write_batch(store.take_batch())
    second = part(router, 5, 2, 2, b"world")
    batch = store.take_batch()
    assert set(batch.message_ids) == {first, second}
    assert {batch.messages[first].concat_text, batch.messages[second].concat_text} == {
        "Hello, world"
    }
    store.close()


def test_unacknowledged_receipts_count_against_the_queue(router: Router) -> None:
    ids = [submit(router, short_message=b"x", registered_delivery=1)[1] for _ in range(3)]
    for message_id in ids:
        router.on_status(message_id, Code.DELIVERED_TO_HANDSET)
    # Final, but their receipts are still owed: the ESME is pushed back.
    assert submit(router, short_message=b"x")[0] == CommandStatus.ESME_RMSGQFUL
    (item, *_) = router.outboxes["acme"].take(3)
    router.receipt_acknowledged(item)
    assert submit(router, short_message=b"x")[0] == CommandStatus.ESME_ROK


def test_many_reports_in_one_call_are_each_recorded_at_their_time(router: Router) -> None:
    """on_statuses (a carrier's batch) does what on_status does for each report, in order,
    skipping unknown and finished messages, notifications included."""
    _, plain = submit(router, short_message=b"plain", registered_delivery=1)
    _, noted = submit(router, short_message=b"noted", registered_delivery=0x11)
    receipts(router)  # the 102 notification of the second
    reports = [
        Transition(plain, (110, 111), 5.0),
        Transition("unknown", (201,), 5.0),
        Transition(noted, (110,), 6.0),
        Transition(plain, (201,), 7.0),
        Transition(plain, (202,), 8.0),  # after final: ignored
        Transition(noted, (514,), 9.0),
    ]
    router.on_statuses(reports)
    first, second = router.store.get(plain), router.store.get(noted)
    assert first is not None and second is not None
    assert [(e.code, e.at) for e in first.history][2:] == [(110, 5.0), (111, 5.0), (201, 7.0)]
    assert [(e.code, e.at) for e in second.history][2:] == [(110, 6.0), (514, 9.0)]
    errs = [parse_receipt(text).err for text in receipts(router)]
    assert errs == [110, 201, 514]  # the notification of 110, then the two final receipts


class FirstStepCarrier(RecordingCarrier):
    """Answers submit with the codes a carrier reaches on taking a message (Carrier.submit)."""

    def __init__(self, reached: tuple[int, ...]) -> None:
        super().__init__()
        self.reached = reached

    def submit(self, message: Message) -> tuple[int, ...]:  # type: ignore[override]
        super().submit(message)
        return self.reached


@pytest.mark.parametrize(
    "reached",
    [(Code.FUNDED, Code.SENDING), (Code.CONTENT_REJECTED,)],
    ids=["on its way", "final at once"],
)
def test_codes_reached_on_acceptance_reach_the_disk_with_the_message(
    tmp_path: Path, reached: tuple[int, ...]
) -> None:
    """The router records them without a store update of their own (the message was added
    in the same call and is written whole): they are in its row on disk; a final one also
    gives the receipt and enters retention."""
    path = str(tmp_path / "s.db")
    store = SqliteStore(path, retention=3600, max_finished=100)
    router = concat_router(store, [1_700_000_000.0], Reassembler(60.0))
    router.carriers["test"] = FirstStepCarrier(tuple(int(code) for code in reached))
    status, message_id = submit(router, registered_delivery=1)
    assert status == CommandStatus.ESME_ROK
    final = reached[-1] >= 200
    assert len(receipts(router)) == int(final)
    store.close()
    reopened = SqliteStore(path, retention=3600, max_finished=100)
    stored = reopened.get(message_id)
    assert stored is not None
    assert [event.code for event in stored.history] == [101, 102, *reached]
    assert (stored.done_time is not None) is final
    assert reopened.counts()["pending"] == int(not final)
    reopened.close()


def test_a_carrier_without_waiting_reasons_shows_none(
    router: Router, carrier: RecordingCarrier
) -> None:
    _, message_id = submit(router, short_message=b"Hello")
    message = router.store.get(message_id)
    assert message is not None and message_id in carrier.queued
    assert router.waiting_for(message) is None  # RecordingCarrier has no waiting_for()
    carrier.waiting_for = ["an attribute of its own"]  # type: ignore[attr-defined]
    assert router.waiting_for(message) is None  # not a method: not ReportsWaiting

    def waiting_for(asked: str) -> Waiting | None:
        return Waiting(502, 1_800_000_300.0, 1_800_259_200.0) if asked == message_id else None

    carrier.waiting_for = waiting_for  # type: ignore[attr-defined]
    assert router.waiting_for(message) == Waiting(502, 1_800_000_300.0, 1_800_259_200.0)
    router.on_status(message_id, Code.DELIVERED_TO_HANDSET)
    assert router.waiting_for(message) is None  # final: nothing to wait for
