"""Message record, its history, and the id generator."""

from __future__ import annotations

import attrs
import pytest

from smscd.message import Address, Message, MessageIdGenerator, StatusEvent, StatusHistory
from smscd.smpp.constants import MessageState
from smscd.status import Code

T0 = 1_700_000_000.0


def make_message(**overrides: object) -> Message:
    values: dict[str, object] = {
        "message_id": "1700000000000000",
        "system_id": "smppclient1",
        "source": Address(5, 0, "Shop"),
        "destination": Address(1, 1, "46712345678"),
        "payload": b"Hello",
        "text": "Hello",
        "submit_time": T0,
    }
    values.update(overrides)
    return Message(**values)  # type: ignore[arg-type]


def test_new_message_starts_accepted_with_history() -> None:
    message = make_message()
    assert message.status == 101
    assert type(message.status) is int
    assert message.history == [StatusEvent(101, T0)]
    assert message.done_time is None
    assert not message.is_final
    assert message.message_state is MessageState.ENROUTE
    assert message.parts == 1
    assert message.validity_deadline is None


def test_record_intermediate_then_final() -> None:
    message = make_message()
    message.record(Code.DELIVERED_TO_GSM, T0 + 0.05)
    assert message.status == 113
    assert message.done_time is None
    message.record(201, T0 + 0.1)
    assert message.status == 201
    assert message.is_final
    assert message.done_time == T0 + 0.1
    assert message.message_state is MessageState.DELIVERED
    assert message.status_code.stat == "DELIVRD"
    assert [e.code for e in message.history] == [101, 113, 201]


def test_final_is_final() -> None:
    message = make_message()
    message.record(202, T0 + 72 * 3600)
    with pytest.raises(ValueError, match="final"):
        message.record(201, T0 + 72 * 3600 + 1)
    assert message.status == 202
    assert len(message.history) == 2


def test_unknown_codes_rejected() -> None:
    message = make_message()
    with pytest.raises(KeyError):
        message.record(299, T0)
    assert message.history == [StatusEvent(101, T0)]
    with pytest.raises(KeyError):
        make_message(status=42)


def test_record_after_final_is_refused_even_when_status_is_set_directly() -> None:
    # Finality follows done_time, which only record() sets: a message that ended stays ended.
    message = make_message()
    message.record(201, T0 + 1)
    with pytest.raises(ValueError, match="final"):
        message.record(202, T0 + 2)
    assert message.done_time == T0 + 1


def test_restored_message_keeps_its_history() -> None:
    history = [StatusEvent(101, T0), StatusEvent(113, T0 + 1), StatusEvent(514, T0 + 9)]
    message = make_message(status=514, history=list(history))
    assert message.history == history
    assert message.done_time == T0 + 9
    assert message.is_final


def test_address_is_frozen_and_hashable() -> None:
    a = Address(1, 1, "46712345678")
    assert a == Address(1, 1, "46712345678")
    assert len({a, Address(1, 1, "46712345678")}) == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.addr = "x"  # type: ignore[misc]


def test_ids_are_decimal_increasing_unique() -> None:
    gen = MessageIdGenerator(1_700_000_000_000_000)
    ids = [gen.next() for _ in range(1000)]
    assert ids[0] == "1700000000000000"
    assert len(set(ids)) == 1000
    numbers = [int(i) for i in ids]
    assert numbers == sorted(numbers)
    # Clients that store the id as an integer get the same string back.
    assert all(str(int(i)) == i for i in ids)
    assert gen.high_water == numbers[-1]


def test_ids_without_leading_zeros_even_from_zero() -> None:
    gen = MessageIdGenerator(0)
    assert [gen.next() for _ in range(3)] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="start"):
        MessageIdGenerator(-1)


def test_ensure_above_restores_high_water_mark() -> None:
    gen = MessageIdGenerator(100)
    assert gen.high_water == 99
    gen.ensure_above(5000)
    assert gen.next() == "5001"
    gen.ensure_above(10)  # lower marks never move the counter back
    assert gen.next() == "5002"


def test_restart_after_one_microsecond_cannot_collide() -> None:
    # A run started at wall-clock microsecond S that issues fewer ids than microseconds it
    # lives ends below the next run's start.
    first = MessageIdGenerator(1_000_000)
    issued = {first.next() for _ in range(500)}  # 500 ids over a 501 µs life
    second = MessageIdGenerator(1_000_000 + 501)
    assert issued.isdisjoint({second.next() for _ in range(500)})


def test_record_codes_stops_after_the_first_final_code() -> None:
    message = make_message(submit_time=100.0)
    message.record_codes((Code.QUEUED, Code.SENDING), 101.0)
    message.record_codes((Code.DELIVERED_TO_HANDSET, Code.EXPIRED), 102.0)
    assert [(e.code, e.at) for e in message.history] == [
        (101, 100.0),
        (102, 101.0),
        (110, 101.0),
        (201, 102.0),
    ]
    assert type(message.history[1].code) is int
    assert (message.status, message.done_time) == (201, 102.0)
    with pytest.raises(ValueError, match="final"):
        message.record_codes((Code.EXPIRED,), 103.0)


@pytest.mark.parametrize(
    "events",
    [
        (111, 101.0, 112, 102.0, 113, 102.0, 201, 103.0),  # what carriers send: one copy
        (111, 101.0, Code.DELIVERED_TO_HANDSET, 103.0),  # a Code member at the end
        (111, 101.0, 201, 103.0, 202, 104.0),  # a final code before the end
        (111.0, 101.0, 201.0, 103.0),  # codes as floats (the tuple is of floats)
    ],
)
def test_record_history_records_each_code_at_its_time_up_to_the_first_final(
    events: tuple[float, ...],
) -> None:
    message = make_message(submit_time=100.0)
    message.record_history(events)
    pairs = [(int(events[i]), events[i + 1]) for i in range(0, len(events), 2)]
    final = next(n for n, (code, _) in enumerate(pairs) if code == 201)
    recorded = [(e.code, e.at) for e in message.history]
    assert recorded == [(101, 100.0), *pairs[: final + 1]]
    assert all(type(code) is int for code in message.history.flat[::2])
    assert (message.status, message.done_time) == (201, 103.0)
    with pytest.raises(ValueError, match="final"):
        message.record_history((202, 105.0))


def test_record_history_refuses_what_is_not_a_history() -> None:
    message = make_message(submit_time=100.0)
    with pytest.raises(ValueError, match="pairs"):
        message.record_history((111, 101.0, 112))
    with pytest.raises(KeyError):
        message.record_history((111, 101.0, 777, 102.0))
    assert [e.code for e in message.history] == [101, 111]  # the codes before it stay
    with pytest.raises(KeyError):
        message.record_history((111.5, 103.0))
    message.record_history((110, 104.0))  # not final: intermediate codes go on
    assert message.status == 110 and message.done_time is None


def test_status_history_is_a_sequence_of_events() -> None:
    """The flat history reads like the list of StatusEvent it replaces."""
    events = [StatusEvent(101, T0), StatusEvent(102, T0), StatusEvent(201, T0 + 2.5)]
    history = StatusHistory(events)
    assert len(history) == 3
    assert history == events and events == history
    assert history != events[:2]
    assert history[0] == events[0] and history[-1] == events[-1]
    assert history[1:] == events[1:]
    assert list(reversed(history)) == events[::-1]
    assert StatusEvent(102, T0) in history
    assert history.last_at == T0 + 2.5
    with pytest.raises(IndexError):
        history[3]
    with pytest.raises(IndexError):
        history[-4]
    history.add(202, T0 + 3)
    assert history[-1] == StatusEvent(202, T0 + 3)
    assert history.flat == [101, T0, 102, T0, 201, T0 + 2.5, 202, T0 + 3]
    assert StatusHistory.from_flat(list(history.flat)) == history


def test_message_takes_a_list_as_history() -> None:
    events = [StatusEvent(101, T0), StatusEvent(110, T0 + 1)]
    message = make_message(status=110, history=events)
    assert isinstance(message.history, StatusHistory)
    assert message.history == events
    message.record_codes((111, 112), T0 + 2)
    assert [e.code for e in message.history] == [101, 110, 111, 112]
    assert all(type(e.code) is int for e in message.history)


def test_message_assignment_runs_no_python_hook() -> None:
    # attrs puts a Python __setattr__ on classes with converters or validators unless told
    # not to; on Message it ran on every status change of every message.
    assert Message.__setattr__ is object.__setattr__
