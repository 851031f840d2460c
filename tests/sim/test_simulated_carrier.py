"""The carrier simulator in the daemon's path: router + SimulatedCarrier on trio's MockClock.

Everything the ESME would see is read from the account's outbox (the deliver_sm PDUs a
receiver would get), and the message history from the store.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

import smscd.carriers.simulated as simulated_module
from smscd.accounts import Accounts
from smscd.carriers.base import Waiting
from smscd.carriers.profile import Distribution, HandsetState, Latency, Profile, default_profile
from smscd.carriers.simulated import SimulatedCarrier
from smscd.config import Account
from smscd.message import Address, Message, MessageIdGenerator
from smscd.mo import MoError
from smscd.outbox import Outboxes
from smscd.receipt import parse_receipt
from smscd.router import Router
from smscd.routing import Route, RouteTable
from smscd.simtime import SimulationTime
from smscd.smpp import timefmt
from smscd.smpp.codec import encode
from smscd.smpp.constants import CommandStatus, EsmClass, MessageState
from smscd.smpp.pdus import CancelSm, DeliverSm, ReplaceSm, SubmitSm
from smscd.sms.reassembly import Reassembler
from smscd.sms.segments import split
from smscd.status import STATUS_CODES, Code, StatusGroup, is_final
from smscd.store.memory import MemoryStore

H = 3600.0
T0 = 1_800_000_000.0  # the simulation time at start (2027-01-15T08:00:00Z)
NUMBER = "46701234567"
FIXED = Profile(
    latency=Latency(
        gateway=Distribution(kind="fixed", a=1.0),
        carrier=Distribution(kind="fixed", a=2.0),
        handset=Distribution(kind="fixed", a=3.0),
    ),
    retry_schedule=(300.0, 900.0, 1800.0),
)
# A message's history with FIXED until it reaches the carrier, in seconds from T0.
TO_CARRIER = [(101, 0.0), (102, 0.0), (103, 0.0), (110, 0.0), (111, 1.0), (112, 3.0)]
ACME = Account(system_id="acme", password="pw", max_queued=100_000, virtual_numbers=("72000",))
SHOP = Account(system_id="shop", password="pw", virtual_numbers=("46700000000",))


@attrs.define
class Sim:
    router: Router
    carrier: SimulatedCarrier
    time: SimulationTime

    def submit(self, system_id: str = "acme", **fields: object) -> str:
        values: dict[str, object] = {
            "source_addr": "Acme",
            "source_addr_ton": 5,
            "destination_addr": NUMBER,
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "registered_delivery": 1,
            "short_message": b"hello",
        }
        values.update(fields)
        accepted = self.router.submit(system_id, SubmitSm(**values), trio.current_time())  # type: ignore[arg-type]
        assert accepted.command_status == CommandStatus.ESME_ROK, accepted
        return accepted.message_id

    def refused(self, **fields: object) -> int:
        values: dict[str, object] = {"destination_addr": NUMBER, "short_message": b"x"}
        values.update(fields)
        pdu = SubmitSm(**values)  # type: ignore[arg-type]
        return self.router.submit("acme", pdu, trio.current_time()).command_status

    def deliveries(self, system_id: str = "acme") -> list[DeliverSm]:
        return [item.pdu for item in self.router.outboxes[system_id].take(1_000_000)]

    def message(self, message_id: str) -> Message:
        found = self.router.store.get(message_id)
        assert found is not None
        return found

    def history(self, message_id: str) -> list[tuple[int, float]]:
        return [(e.code, e.at - T0) for e in self.message(message_id).history]


@asynccontextmanager
async def simulator(
    profile: Profile = FIXED,
    *,
    seed: int = 1,
    rate: float = 1.0,
    routes: RouteTable | None = None,
    start: float = T0,
    state: str | None = None,
    resume: Sequence[Message] = (),
) -> AsyncIterator[Sim]:
    """A router and carrier; a restarted one with ``start``, ``state`` and ``resume`` (the
    carrier's saved state and the messages pending in the store), as the daemon does."""
    time = SimulationTime(start, rate)
    carrier = SimulatedCarrier("sim", profile, random.Random(seed), time)
    router = Router(
        store=MemoryStore(10 * 24 * H, 100_000),
        carriers={"sim": carrier},
        accounts=Accounts([ACME, SHOP], trio.current_time()),
        outboxes=Outboxes(1.0),
        ids=MessageIdGenerator(1000),
        sim_now=time.now,
        reassembler=Reassembler(60.0),
        routes=routes,
        virtual_numbers={"72000": "acme", "46700000000": "shop"},
    )
    if state is not None:
        carrier.load_state(state)
    for message in resume:
        router.store.add(message)
        account = router.accounts.get(message.system_id)
        assert account is not None
        account.queued += 1
        router.resume(message)
    async with trio.open_nursery() as nursery:
        await nursery.start(carrier.run, router)
        yield Sim(router, carrier, time)
        nursery.cancel_scope.cancel()


async def settle() -> None:
    """Let the carrier task work off what is due now."""
    await trio.testing.wait_all_tasks_blocked()


async def test_full_lifecycle_is_recorded_at_simulation_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with simulator() as sim:
        message_id = sim.submit()
        await trio.sleep(10)
        assert sim.history(message_id) == [*TO_CARRIER, (113, 3.0), (201, 6.0)]
        [receipt] = sim.deliveries()
        fields = parse_receipt(receipt.short_message.decode())
        assert (fields.stat, fields.err) == ("DELIVRD", 201)
        assert sim.carrier.inbox(NUMBER)[0].text == "hello"


@pytest.mark.parametrize(
    "validity",
    [
        "000000020000000R",  # relative: 2 hours
        timefmt.format_absolute(T0 + 2 * H).replace("00+", "08+"),  # absolute, UTC+2 h ...
    ],
    ids=["relative", "absolute"],
)
async def test_offline_handset_expires_exactly_at_the_validity_deadline(
    autojump_clock: trio.testing.MockClock, validity: str
) -> None:
    if validity.endswith("08+"):
        # ... written in local time: the same instant is 2 hours later on the local clock.
        validity = timefmt.format_absolute(T0 + 4 * H)[:13] + "08+"
    async with simulator() as sim:
        sim.carrier.set_handset(NUMBER, HandsetState.OFFLINE)
        message_id = sim.submit(validity_period=validity)
        await trio.sleep(2 * H - 1)
        assert sim.message(message_id).status == Code.DELIVERED_TO_CARRIER
        assert sim.carrier.model.waiting_reason(message_id) == 503
        # The HTTP view's: the schedule's next attempt (+3 at 112, then +300, +900, +1800 ...)
        # would be at +8403, after the deadline the ESME asked for: none comes before it.
        assert sim.router.waiting_for(sim.message(message_id)) == Waiting(503, None, T0 + 2 * H)
        assert sim.deliveries() == []
        await trio.sleep(2)
        message = sim.message(message_id)
        assert message.status == Code.EXPIRED
        assert sim.router.waiting_for(message) is None
        assert message.done_time == T0 + 2 * H
        [receipt] = sim.deliveries()
        fields = parse_receipt(receipt.short_message.decode())
        assert (fields.stat, fields.err) == ("EXPIRED", 202)
        assert fields.done_date is not None
        assert fields.done_date.timestamp() == T0 + 2 * H


async def test_default_validity_is_72_hours_even_when_the_clock_jumps() -> None:
    async with simulator(default_profile(), rate=0.0) as sim:
        sim.carrier.set_handset(NUMBER, HandsetState.OFFLINE)
        message_id = sim.submit()
        sim.time.advance(60)  # past the gateway and carrier hops
        await settle()
        assert sim.message(message_id).status == Code.DELIVERED_TO_CARRIER
        sim.time.advance(72 * H - 60)
        await settle()
        message = sim.message(message_id)
        assert (message.status, message.done_time) == (Code.EXPIRED, T0 + 72 * H)
        assert [e.code for e in message.history][-2:] == [112, 202]


async def test_offline_then_online_is_delivered_at_the_next_retry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with simulator() as sim:
        # Switched off for the first 10 minutes; retries at +5 min, +20 min (5 + 15).
        sim.carrier.set_handset(NUMBER, HandsetState.OFFLINE, start=T0, until=T0 + 600)
        message_id = sim.submit()
        await trio.sleep(10)
        # What the HTTP view shows meanwhile: the attempt at +1203, the first after +600.
        waiting = sim.router.waiting_for(sim.message(message_id))
        assert waiting == Waiting(503, T0 + 1203, T0 + 72 * H)
        await trio.sleep(H)
        history = sim.history(message_id)
        assert history[-3:] == [(112, 3.0), (113, 1203.0), (201, 1206.0)]


async def test_with_an_alert_a_handset_switched_on_gets_its_message_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with simulator(attrs.evolve(FIXED, retry_alert=5.0)) as sim:
        sim.carrier.set_handset(NUMBER, HandsetState.OFFLINE)  # until further notice
        message_id = sim.submit()
        await trio.sleep(100)
        # Off until further notice: as the rules stand, no attempt can reach it before it
        # expires, so none is planned (the schedule's are skipped, see the model).
        assert sim.router.waiting_for(sim.message(message_id)) == Waiting(503, None, T0 + 72 * H)
        sim.carrier.set_handset(NUMBER, HandsetState.ONLINE)  # at +100, as over HTTP
        await trio.sleep(H)
        # The alert's attempt 5 s later, not the schedule's at +300.
        assert sim.history(message_id)[-3:] == [(112, 3.0), (113, 105.0), (201, 108.0)]


async def test_scheduled_message_is_held_until_its_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with simulator() as sim:
        message_id = sim.submit(schedule_delivery_time="000000010000000R")
        await trio.sleep(H - 1)
        assert sim.message(message_id).status == Code.QUEUED
        await trio.sleep(10)
        assert sim.history(message_id)[2] == (103, H)
        assert sim.message(message_id).status == Code.DELIVERED_TO_HANDSET


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"validity_period": "not a time"}, CommandStatus.ESME_RINVEXPIRY),
        ({"validity_period": "991332000000000+"}, CommandStatus.ESME_RINVEXPIRY),
        ({"validity_period": timefmt.format_absolute(T0 - H)}, CommandStatus.ESME_RINVEXPIRY),
        (
            {"validity_period": "000000010000000R", "schedule_delivery_time": "000000020000000R"},
            CommandStatus.ESME_RINVEXPIRY,
        ),
        ({"schedule_delivery_time": "26112317050230"}, CommandStatus.ESME_RINVSCHED),
        ({"schedule_delivery_time": "261123170502304X"}, CommandStatus.ESME_RINVSCHED),
    ],
)
async def test_bad_times_are_refused_with_the_spec_status(
    fields: dict[str, str], status: CommandStatus
) -> None:
    async with simulator(rate=0.0) as sim:
        assert sim.refused(**fields) == status


async def test_cancel_and_replace_act_on_queued_messages(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with simulator() as sim:
        sim.carrier.set_handset(NUMBER, HandsetState.OFFLINE, start=T0, until=T0 + 1000)
        kept = sim.submit(short_message=b"first")
        dropped = sim.submit(short_message=b"second")
        await trio.sleep(10)
        status = sim.router.replace(
            "acme",
            ReplaceSm(
                message_id=kept,
                source_addr="Acme",
                registered_delivery=1,  # replace_sm restates it; 0 would drop the receipt
                short_message=b"replaced",
            ),
        )
        assert status == CommandStatus.ESME_ROK
        assert sim.router.cancel("acme", CancelSm(message_id=dropped)) == CommandStatus.ESME_ROK
        await trio.sleep(H)
        assert sim.message(dropped).status == Code.CANCELED
        assert [entry.text for entry in sim.carrier.inbox(NUMBER)] == ["replaced"]
        receipts = {r.tlvs.receipted_message_id: r for r in sim.deliveries()}
        assert b"stat:DELETED err:203" in receipts[dropped].short_message
        assert b"stat:DELIVRD err:201" in receipts[kept].short_message
        # Final now: neither can be canceled or replaced any more.
        assert sim.router.cancel("acme", CancelSm(message_id=kept)) == (
            CommandStatus.ESME_RCANCELFAIL
        )


async def test_intermediate_notifications_carry_each_code(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with simulator() as sim:
        sim.submit(registered_delivery=0x11)
        await trio.sleep(10)
        receipts = sim.deliveries()
        intermediate = [
            r for r in receipts if r.esm_class & EsmClass.TYPE_INTERMEDIATE_NOTIFICATION
        ]
        assert [parse_receipt(r.short_message.decode()).err for r in intermediate] == [
            102,
            103,
            110,
            111,
            112,
            113,
        ]
        assert {parse_receipt(r.short_message.decode()).stat for r in intermediate} == {"ENROUTE"}
        final = receipts[-1]
        assert final.esm_class & EsmClass.TYPE_SMSC_DELIVERY_RECEIPT
        assert parse_receipt(final.short_message.decode()).err == 201


@pytest.mark.parametrize(
    ("state", "waiting"), [(HandsetState.OFFLINE, 503), (HandsetState.NO_COVERAGE, 502)]
)
async def test_a_message_left_waiting_notifies_what_it_waits_on(
    autojump_clock: trio.testing.MockClock, state: HandsetState, waiting: int
) -> None:
    async with simulator() as sim:
        sim.carrier.set_handset(NUMBER, state, until=T0 + 600)
        message_id = sim.submit(registered_delivery=0x11)
        await trio.sleep(H)
        pdus = sim.deliveries()
        receipts = [parse_receipt(pdu.short_message.decode()) for pdu in pdus]
        # After 112, the code it waits on, still ENROUTE: it is retried, not finished.
        assert [(r.err, r.stat) for r in receipts] == [
            *((code, "ENROUTE") for code in (102, 103, 110, 111, 112, waiting, 113)),
            (201, "DELIVRD"),
        ]
        notification = pdus[5]
        assert notification.esm_class & EsmClass.TYPE_INTERMEDIATE_NOTIFICATION
        assert notification.tlvs.message_state == MessageState.ENROUTE
        assert notification.tlvs.network_error_code is not None
        assert notification.tlvs.network_error_code.error_code == waiting
        assert pdus[4].tlvs.network_error_code is None  # 112: information, not an error
        # The history has no 503/502: those are final codes, and the message was not.
        assert [code for code, _ in sim.history(message_id)][-3:] == [112, 113, 201]


FINAL_CODES = sorted(code for code, row in STATUS_CODES.items() if row.final)


@pytest.mark.parametrize("code", FINAL_CODES)
async def test_magic_number_ends_with_its_code(code: int) -> None:
    async with simulator(rate=0.0) as sim:
        message_id = sim.submit(destination_addr=f"999{code}0001")
        await settle()
        sim.time.advance(73 * H)  # the waiting ones (202, 502, 503) expire at 72 h
        await settle()
        message = sim.message(message_id)
        expected = 202 if code in (502, 503) else code
        assert message.status == expected
        [receipt] = sim.deliveries()
        fields = parse_receipt(receipt.short_message.decode())
        assert fields.err == expected
        assert fields.stat == STATUS_CODES[expected].stat
        if STATUS_CODES[expected].group in (StatusGroup.REJECTION, StatusGroup.ERROR):
            assert receipt.tlvs.network_error_code is not None
            assert receipt.tlvs.network_error_code.error_code == expected


@pytest.mark.parametrize("code", [103, 110, 111, 112, 113])
async def test_magic_1xx_stops_at_that_stage_until_expiry(code: int) -> None:
    async with simulator(rate=0.0) as sim:
        message_id = sim.submit(destination_addr=f"999{code}")
        sim.time.advance(10 * H)
        await settle()
        message = sim.message(message_id)
        assert message.status == code
        assert not is_final(message.status)
        sim.time.advance(62 * H)
        await settle()
        assert sim.message(message_id).status == Code.EXPIRED


async def run_script(seed: int) -> tuple[list[bytes], list[list[tuple[int, float]]]]:
    profile = attrs.evolve(default_profile(), outcomes={201: 90.0, 510: 0.0, 514: 5.0, 515: 5.0})
    async with simulator(profile, seed=seed) as sim:
        ids = [sim.submit(destination_addr=f"4671000{n:04d}") for n in range(60)]
        await trio.sleep(2 * H)
        receipts = [encode(pdu) for pdu in sim.deliveries()]
        histories = [sim.history(message_id) for message_id in ids]
    return receipts, histories


async def test_same_seed_same_inputs_give_byte_identical_receipts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    first = await run_script(seed=7)
    second = await run_script(seed=7)
    assert len(first[0]) == 60
    assert first == second
    other = await run_script(seed=8)
    assert other[1] != first[1]  # different latencies and outcomes


async def test_concatenated_parts_reach_the_inbox_as_one_text(
    autojump_clock: trio.testing.MockClock,
) -> None:
    text = "All work and no play makes Jack a dull boy. " * 5
    async with simulator() as sim:
        for segment in split(text, reference=42):
            sim.submit(esm_class=EsmClass.UDHI, short_message=segment.short_message)
        await trio.sleep(60)
        [entry] = sim.carrier.inbox(NUMBER)
        assert (entry.text, entry.parts, entry.missing) == (text, 2, ())


# --- routing -------------------------------------------------------------------------------


async def test_unroutable_destination_is_accepted_and_rejected_with_409() -> None:
    routes = RouteTable([Route("46", "sim")])
    async with simulator(rate=0.0, routes=routes) as sim:
        message_id = sim.submit(destination_addr="4412345678")
        alpha = sim.submit(destination_addr="Shop", dest_addr_ton=5)
        for unroutable in (message_id, alpha):
            assert sim.message(unroutable).status == Code.INVALID_RECIPIENT
        fields = [parse_receipt(r.short_message.decode()) for r in sim.deliveries()]
        assert [(f.stat, f.err) for f in fields] == [("REJECTD", 409)] * 2


# --- mobile-originated ---------------------------------------------------------------------


async def test_mo_is_queued_for_the_owner_as_gsm_or_ucs2() -> None:
    async with simulator(rate=0.0) as sim:
        sim.router.inject_mo("+46709999999", "72000", "STOP")
        sim.router.inject_mo("46709999999", "72000", "Hej 👋")
        plain, emoji = sim.deliveries()
        assert (plain.source_addr, plain.destination_addr) == ("46709999999", "72000")
        assert (plain.esm_class, plain.data_coding, plain.short_message) == (0, 0, b"STOP")
        assert (plain.dest_addr_ton, plain.source_addr_ton) == (3, 1)
        assert emoji.data_coding == 8
        assert emoji.short_message.decode("utf-16-be") == "Hej 👋"


async def test_long_mo_is_split_with_a_udh() -> None:
    async with simulator(rate=0.0) as sim:
        result = sim.router.inject_mo("46709999999", "72000", "x" * 200)
        parts = sim.deliveries()
        assert len(parts) == len(result.parts) == 2
        assert all(p.esm_class == EsmClass.UDHI for p in parts)
        assert b"".join(p.short_message[6:] for p in parts) == b"x" * 200


@pytest.mark.parametrize(
    ("source", "destination", "not_found", "words"),
    [
        ("46709999999", "Acme", False, "alphanumeric"),
        ("46709999999", "12345", True, "no account owns"),
        ("Acme", "72000", False, "not a handset number"),
    ],
)
async def test_impossible_mo_says_why(
    source: str, destination: str, not_found: bool, words: str
) -> None:
    async with simulator(rate=0.0) as sim:
        with pytest.raises(MoError) as info:
            sim.router.inject_mo(source, destination, "hi")
        assert words in info.value.reason
        assert info.value.not_found is not_found


async def test_submit_to_another_accounts_virtual_number_loops_back_as_mo() -> None:
    async with simulator(rate=0.0) as sim:
        message_id = sim.submit(
            source_addr="72000", source_addr_ton=3, destination_addr="46700000000"
        )
        [mo] = sim.deliveries("shop")
        assert (mo.source_addr, mo.destination_addr, mo.esm_class) == ("72000", "46700000000", 0)
        assert mo.short_message == b"hello"
        assert sim.message(message_id).status == Code.DELIVERED_TO_HANDSET
        [receipt] = sim.deliveries("acme")
        assert b"err:201" in receipt.short_message


# --- restart -------------------------------------------------------------------------------


def stopped(sim: Sim, message_id: str) -> Message:
    """The message as the store would give it back after a restart."""
    message = sim.message(message_id)
    return attrs.evolve(message, history=list(message.history))


async def run_and_stop(
    seconds: float, *, offline: bool = False, **fields: object
) -> tuple[Message, str | None]:
    """Submit one message, run `seconds` of simulation time, stop: the message and the
    carrier's state, as a restart finds them."""
    async with simulator(rate=0.0) as sim:
        if offline:
            sim.carrier.set_handset(NUMBER, HandsetState.OFFLINE)
        message_id = sim.submit(**fields)
        sim.time.advance(seconds)
        await settle()
        return stopped(sim, message_id), sim.carrier.save_state()


async def test_restart_resumes_a_waiting_message_with_its_handset_rules_and_inboxes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with simulator() as sim:
        # Retries at +303 and +1203: the handset is back at +600.
        sim.carrier.set_handset(NUMBER, HandsetState.OFFLINE, start=T0, until=T0 + 600)
        sim.carrier.set_max_age("4670*", 3600.0)
        message_id = sim.submit()
        sim.submit(destination_addr="46702222222")
        await trio.sleep(100)
        state = sim.carrier.save_state()
        message = stopped(sim, message_id)
    assert state is not None and message.status == Code.DELIVERED_TO_CARRIER
    async with simulator(start=T0 + 400, state=state, resume=[message]) as sim:
        assert sim.carrier.model.waiting_reason(message_id) == 503
        assert sim.carrier.handset_state(NUMBER) is HandsetState.OFFLINE
        assert sim.carrier.handset_max_age(NUMBER) == 3600.0
        await trio.sleep(H)
        assert sim.history(message_id) == [*TO_CARRIER, (113, 1203.0), (201, 1206.0)]
        [receipt] = sim.deliveries()
        assert b"stat:DELIVRD err:201" in receipt.short_message
        assert [entry.text for entry in sim.carrier.inbox("46702222222")] == ["hello"]


@pytest.mark.parametrize(
    ("stop", "rest"),
    [
        (0.0, [(111, 101.0), (112, 103.0), (113, 103.0), (201, 106.0)]),
        (2.0, [(112, 104.0), (113, 104.0), (201, 107.0)]),
        (4.0, [(201, 107.0)]),
    ],
    ids=["at-110", "at-111", "at-113"],
)
async def test_restart_repeats_no_status_and_starts_the_hop_again(
    stop: float, rest: list[tuple[int, float]]
) -> None:
    message, _ = await run_and_stop(stop)
    before = [(e.code, e.at - T0) for e in message.history]
    async with simulator(rate=0.0, start=T0 + stop + 100, resume=[message]) as sim:
        sim.time.advance(H)
        await settle()
        assert sim.history(message.message_id) == before + rest


async def test_restart_keeps_a_scheduled_message_waiting_for_its_time() -> None:
    message, _ = await run_and_stop(10, schedule_delivery_time="000000010000000R")
    message_id = message.message_id
    async with simulator(rate=0.0, start=T0 + 100, resume=[message]) as sim:
        sim.time.advance(H - 101)
        await settle()
        assert sim.message(message_id).status == Code.QUEUED
        sim.time.advance(H)
        await settle()
        assert sim.history(message_id)[2:] == [
            (103, H),
            (110, H),
            (111, H + 1),
            (112, H + 3),
            (113, H + 3),
            (201, H + 6),
        ]


async def test_restart_after_the_deadline_expires_the_message_at_its_deadline() -> None:
    message, state = await run_and_stop(100, offline=True, validity_period="000000010000000R")
    async with simulator(rate=0.0, start=T0 + 2 * H, state=state, resume=[message]) as sim:
        await settle()
        assert sim.history(message.message_id)[-2:] == [(112, 3.0), (202, H)]
        [receipt] = sim.deliveries()
        fields = parse_receipt(receipt.short_message.decode())
        assert (fields.stat, fields.err) == ("EXPIRED", 202)
        assert fields.done_date is not None and fields.done_date.timestamp() == T0 + H


async def test_restart_leaves_a_magic_stop_stopped() -> None:
    message, _ = await run_and_stop(10, destination_addr="999112")
    message_id = message.message_id
    assert message.status == Code.DELIVERED_TO_CARRIER
    async with simulator(rate=0.0, start=T0 + H, resume=[message]) as sim:
        sim.time.advance(70 * H)
        await settle()
        assert sim.message(message_id).status == Code.DELIVERED_TO_CARRIER
        sim.time.advance(2 * H)
        await settle()
        assert sim.history(message_id)[-2:] == [(112, 3.0), (202, 72 * H)]


async def test_load_state_refuses_garbage() -> None:
    async with simulator(rate=0.0) as sim:
        with pytest.raises(ValueError, match="carrier state: text: not JSON"):
            sim.carrier.load_state("{")


def hello(message_id: str) -> Message:
    """A message accepted at T0, as the router hands it to its carrier."""
    return Message(
        message_id=message_id,
        system_id="acme",
        source=Address(5, 0, "Acme"),
        destination=Address(1, 1, NUMBER),
        payload=b"hello",
        text="hello",
        submit_time=T0,
    )


async def test_a_sink_with_only_on_status_gets_every_transition(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The codes reached at acceptance are submit's answer (the router records them); the
    router takes later ones in slices (on_statuses); a sink without on_statuses, as
    StatusSink allows, gets the same transitions one on_status call each."""

    class Calls:
        def __init__(self) -> None:
            self.calls: list[tuple[str, tuple[int, ...], float | None]] = []

        def on_status(self, message_id: str, *codes: int, at: float | None = None) -> None:
            self.calls.append((message_id, codes, at))

    time = SimulationTime(T0, 1.0)
    carrier = SimulatedCarrier("sim", FIXED, random.Random(1), time)
    sink = Calls()
    async with trio.open_nursery() as nursery:
        await nursery.start(carrier.run, sink)
        accepted = carrier.submit(hello("m1"))
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    codes = [(code, at - T0) for _, reached, at in sink.calls for code in reached if at]
    assert [(code, 0.0) for code in accepted] + codes == [*TO_CARRIER[2:], (113, 3.0), (201, 6.0)]
    assert {message_id for message_id, _, _ in sink.calls} == {"m1"}


async def test_a_sink_that_has_no_room_holds_the_next_slice_back(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A clock jump over more transitions than one slice: the carrier reports a slice, then
    awaits the sink's wait_for_room before the next (the durable store's backpressure)."""

    class Slow:
        def __init__(self) -> None:
            self.slices: list[int] = []
            self.gate = trio.Event()

        def on_status(self, message_id: str, *codes: int, at: float | None = None) -> None:
            raise AssertionError("on_statuses is used when the sink has it")

        def on_statuses(self, reports: Sequence[object]) -> None:
            self.slices.append(len(reports))

        async def wait_for_room(self) -> None:
            await self.gate.wait()

    time = SimulationTime(T0, 1.0)
    carrier = SimulatedCarrier("sim", FIXED, random.Random(1), time)
    sink = Slow()
    count = 2 * simulated_module._BATCH + 1
    for n in range(count):
        carrier.submit(hello(str(n)))
    async with trio.open_nursery() as nursery:
        await nursery.start(carrier.run, sink)
        time.advance(3600)
        await trio.sleep(1)
        assert sink.slices == [simulated_module._BATCH]  # the rest waits for room
        sink.gate.set()
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert sum(sink.slices) == count  # one transition each (the whole way in one advance)
