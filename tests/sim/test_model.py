"""The pure carrier model: lifecycle, handsets, retries, expiry, magic numbers, inbox."""

from __future__ import annotations

import json
import math
import random
from types import MappingProxyType

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscd.carriers import model as model_module
from smscd.carriers.model import (
    _GATEWAY,
    CarrierModel,
    HandsetBook,
    InboxEntry,
    Transition,
    magic_code,
)
from smscd.carriers.profile import (
    Distribution,
    HandsetRule,
    HandsetState,
    Latency,
    Profile,
    default_profile,
)
from smscd.message import Message
from smscd.smpp import timefmt
from smscd.status import STATUS_CODES, Code, is_final

H = 3600.0
T0 = 1_800_000_000.0  # a simulation epoch time
NUMBER = "46701234567"
# Fixed hops: gateway 1 s, carrier 2 s, handset 3 s, so every time below is exact.
PROFILE = Profile(
    latency=Latency(
        gateway=Distribution(kind="fixed", a=1.0),
        carrier=Distribution(kind="fixed", a=2.0),
        handset=Distribution(kind="fixed", a=3.0),
    ),
    retry_schedule=(60.0, 600.0),
)
DELIVERED = [
    ((103, 110), T0),
    ((111,), T0 + 1),
    ((112, 113), T0 + 3),
    ((201,), T0 + 6),
]


def model(profile: Profile = PROFILE, seed: int = 1) -> CarrierModel:
    return CarrierModel(profile, random.Random(seed))


def run(m: CarrierModel, until: float = T0 + 10 * 24 * H) -> list[Transition]:
    """Drive the model the way the daemon will: sleep to next_deadline, advance."""
    out: list[Transition] = []
    while (deadline := m.next_deadline()) is not None and deadline <= until:
        out += m.advance(deadline)
    return out


def steps(
    transitions: list[Transition], message_id: str = "1"
) -> list[tuple[tuple[int, ...], float]]:
    return [step for t in transitions if t.message_id == message_id for step in t.steps()]


def codes_of(transitions: list[Transition], message_id: str = "1") -> list[int]:
    return [code for t in transitions if t.message_id == message_id for code in t.codes]


def test_ordinary_message_lifecycle() -> None:
    m = model()
    m.accept("1", NUMBER, "hello", T0, source="Shop")
    assert m.is_pending("1") and len(m) == 1
    assert m.next_deadline() == T0
    assert steps(run(m)) == DELIVERED
    assert not m.is_pending("1") and m.next_deadline() is None
    assert m.inbox("+" + NUMBER) == (InboxEntry("Shop", "hello", T0 + 6),)


def test_transitions_are_accepted_by_message_record() -> None:
    """The router records 102 on acceptance; everything after it must be recordable."""
    m = model()
    for index, destination in enumerate([NUMBER, "999503", "999113", "999501", "999404"]):
        m.accept(str(index), destination, "x", T0)
    transitions = run(m)
    for index in range(5):
        message = Message(
            message_id=str(index),
            system_id="s",
            source=None,  # type: ignore[arg-type]
            destination=None,  # type: ignore[arg-type]
            data_coding=0,
            esm_class=0,
            registered_delivery=0,
            payload=b"",
            text="x",
            submit_time=T0,
        )
        message.record(Code.QUEUED, T0)
        for transition in transitions:
            if transition.message_id == str(index):
                for code in transition.codes:
                    message.record(code, transition.at)
        assert message.done_time is not None


def test_advance_in_coarse_steps_reports_each_time() -> None:
    m = model()
    m.accept("1", NUMBER, "hello", T0)
    assert m.advance(T0 - 1) == []
    assert steps(m.advance(T0 + 100)) == DELIVERED


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (HandsetState.UNKNOWN_SUBSCRIBER, 501),
        (HandsetState.NO_SMS_SUBSCRIPTION, 410),
        (HandsetState.BARRED, 405),
    ],
)
def test_handset_states_that_end_the_message(state: HandsetState, code: int) -> None:
    m = model()
    m.set_handset(NUMBER, state, T0)
    m.accept("1", NUMBER, "hello", T0)
    assert steps(run(m))[-1] == ((112, code), T0 + 3)
    assert m.inbox(NUMBER) == ()


@pytest.mark.parametrize(
    ("state", "reason"), [(HandsetState.OFFLINE, 503), (HandsetState.NO_COVERAGE, 502)]
)
def test_offline_handset_waits_then_gets_the_message_after_retries(
    state: HandsetState, reason: int
) -> None:
    m = model()
    # Switched off from the start until 30 minutes later (a scheduled state change).
    m.set_handset(NUMBER, state, T0 - 1, until=T0 + 1800)
    m.accept("1", NUMBER, "hello", T0)
    assert steps(m.advance(T0 + 3)) == [((103, 110), T0), ((111,), T0 + 1), ((112,), T0 + 3)]
    assert m.waiting_reason("1") == reason
    # Attempts at +3, +63, +663, +1263 (last delay repeats), +1863: the handset is back.
    # Those before +1800, when the rule ends, cannot succeed and are skipped.
    assert m.next_deadline() == T0 + 1863
    assert m.waiting_for("1") == (reason, T0 + 1863, T0 + 72 * H)
    assert m.advance(T0 + 1800) == []
    assert m.waiting_reason("1") == reason and m.is_pending("1")
    assert steps(run(m)) == [((113,), T0 + 1863), ((201,), T0 + 1866)]
    assert m.waiting_reason("1") is None and m.waiting_for("1") is None


@pytest.mark.parametrize("validity", ["000003000000000R", "relative", "absolute"])
def test_expiry_exactly_at_the_validity_deadline(validity: str) -> None:
    value = {
        "relative": "000001120000000R",  # 1 day 12 hours
        "absolute": timefmt.format_absolute(T0 + 36 * H),
    }.get(validity, validity)
    deadline = timefmt.parse(value, T0)
    assert deadline is not None
    m = model()
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0)
    m.accept("1", NUMBER, "hello", T0, deadline)
    transitions = run(m)
    assert steps(transitions)[-1] == ((202,), deadline)
    assert deadline == (T0 + 36 * H if validity != "000003000000000R" else T0 + 72 * H)
    assert not m.is_pending("1") and m.next_deadline() is None


def test_default_validity_is_72h_and_longer_requests_are_cut() -> None:
    m = model()
    m.set_handset("4670*", HandsetState.OFFLINE, T0)
    m.accept("1", NUMBER, "hello", T0)
    m.accept("2", NUMBER, "hello", T0, T0 + 30 * 24 * H)
    transitions = run(m)
    assert steps(transitions, "1")[-1] == ((202,), T0 + 72 * H)
    assert steps(transitions, "2")[-1] == ((202,), T0 + 72 * H)


def test_delivery_due_exactly_at_the_deadline_loses_to_expiry() -> None:
    m = model()
    m.accept("1", NUMBER, "hello", T0, T0 + 6)
    assert steps(run(m))[-1] == ((202,), T0 + 6)
    assert m.inbox(NUMBER) == ()


def test_handset_maximum_message_age() -> None:
    m = model(attrs.evolve(PROFILE, max_message_age=H))
    m.set_max_age("46709*", None)  # these phones keep anything
    m.set_handset("4670*", HandsetState.OFFLINE, T0, until=T0 + 2 * H)
    m.accept("1", NUMBER, "old news", T0)
    m.accept("2", "46709999999", "old news", T0)
    m.accept("3", "46721234567", "fresh", T0)
    transitions = run(m)
    assert codes_of(transitions, "1")[-1] == Code.DELIVERY_TO_HANDSET_FAILED
    assert codes_of(transitions, "2")[-1] == Code.DELIVERED_TO_HANDSET
    assert codes_of(transitions, "3")[-1] == Code.DELIVERED_TO_HANDSET
    assert m.inbox(NUMBER) == ()


def test_profile_handset_rules_apply() -> None:
    profile = attrs.evolve(
        PROFILE,
        handsets=(
            HandsetRule(pattern="4670*", state=HandsetState.BARRED),
            HandsetRule(pattern="46701234567", state=HandsetState.NO_SMS_SUBSCRIPTION),
            HandsetRule(pattern="4672?", max_message_age=1.0),
        ),
    )
    m = model(profile)
    m.accept("1", NUMBER, "x", T0)
    m.accept("2", "46709", "x", T0)
    m.accept("3", "46721", "x", T0)
    m.accept("4", "46722", "x", T0)
    m.set_handset("46722", HandsetState.ONLINE, T0)  # no effect on the age rule
    transitions = run(m)
    assert [codes_of(transitions, i)[-1] for i in "1234"] == [410, 405, 514, 514]


def test_later_rules_win_and_rules_end() -> None:
    book = HandsetBook()
    book.set("4670*", HandsetState.OFFLINE, 10.0, 20.0)
    book.set(NUMBER, HandsetState.NO_COVERAGE, 15.0)
    assert book.state_at(NUMBER, 9.0) is HandsetState.ONLINE
    assert book.state_at(NUMBER, 10.0) is HandsetState.OFFLINE
    assert book.state_at(NUMBER, 16.0) is HandsetState.NO_COVERAGE
    assert book.state_at("46709", 20.0) is HandsetState.ONLINE
    book.set("46[78]0?", HandsetState.BARRED)
    assert book.state_at("46809", 0.0) is HandsetState.BARRED
    with pytest.raises(ValueError, match="after start"):
        book.set("1", HandsetState.OFFLINE, 5.0, 5.0)


def test_state_until_passes_over_boundaries_that_keep_the_state() -> None:
    book = HandsetBook()
    assert book.state_until(NUMBER, 0.0) == math.inf  # online, no rule
    book.set("4670*", HandsetState.OFFLINE, 10.0, 20.0)
    book.set(NUMBER, HandsetState.OFFLINE, 15.0, 30.0)  # overlaps: offline 10 to 30
    book.set(NUMBER, HandsetState.NO_COVERAGE, 40.0)
    assert book.state_until(NUMBER, 5.0) == 10.0  # online until the first rule
    assert book.state_until(NUMBER, 12.0) == 30.0  # not 15 or 20: still offline then
    assert book.state_until(NUMBER, 30.0) == 40.0  # online between the rules
    assert book.state_until(NUMBER, 45.0) == math.inf  # no coverage until further notice
    assert book.state_until("46709", 12.0) == 20.0  # the glob alone


def test_scheduled_state_change_in_the_future() -> None:
    m = model()
    m.set_handset(NUMBER, HandsetState.UNKNOWN_SUBSCRIBER, T0 + H)
    m.accept("1", NUMBER, "early", T0)
    m.accept("2", NUMBER, "late", T0 + 2 * H)
    transitions = run(m)
    assert codes_of(transitions, "1")[-1] == 201
    assert codes_of(transitions, "2")[-1] == 501


def test_cancel() -> None:
    m = model()
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0)
    m.accept("1", NUMBER, "hello", T0)
    run(m, T0 + 100)
    assert m.cancel("1") is True
    assert m.cancel("1") is False and not m.is_pending("1")
    assert run(m) == [] and m.next_deadline() is None
    assert m.cancel("unknown") is False


def test_replace_text_and_deadline() -> None:
    m = model()
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0, until=T0 + 2 * H)
    m.accept("1", NUMBER, "first", T0)
    assert m.replace("1", text="second", validity_deadline=T0 + H)
    assert not m.replace("2", text="x")
    assert steps(run(m))[-1] == ((202,), T0 + H)
    m.accept("3", NUMBER, "first", T0 + 2 * H)
    assert m.replace("3", text="second")
    run(m)
    assert [entry.text for entry in m.inbox(NUMBER)] == ["second"]


def test_scheduled_delivery_is_held_until_its_time() -> None:
    m = model()
    scheduled = timefmt.parse("000000010000000R", T0)
    m.accept("1", NUMBER, "later", T0, None, scheduled)
    assert m.next_deadline() == T0 + H
    assert m.advance(T0 + H - 1) == []
    assert steps(run(m)) == [((c), at + H) for c, at in DELIVERED]


def test_scheduled_after_the_deadline_expires() -> None:
    m = model()
    m.accept("1", NUMBER, "never", T0, T0 + H, T0 + 2 * H)
    assert steps(run(m)) == [((202,), T0 + H)]


def test_accepting_the_same_id_twice_is_a_bug() -> None:
    m = model()
    m.accept("1", NUMBER, "x", T0)
    with pytest.raises(ValueError, match="already pending"):
        m.accept("1", NUMBER, "x", T0)


# ------------------------------------------------------------------ magic numbers


def test_magic_code_parsing() -> None:
    assert magic_code("999501") == 501
    assert magic_code("+9995010001") == 501
    assert magic_code("999510") is None  # not in the table
    assert magic_code("99950") is None
    assert magic_code("46999501") is None
    assert magic_code("999\u00b901") is None  # "¹": a digit to str.isdigit, not to int()
    assert magic_code("999\u0665\u0660\u0661") is None  # Arabic-Indic 501: not ours


FINAL_CODES = [code for code in STATUS_CODES if is_final(code)]
EXPECTED_LAST_STEP = {
    # 4xx rejections of the message itself strike at once, before 103 Funded.
    **{code: ((code,), T0) for code in FINAL_CODES if 400 <= code < 500},
    405: ((112, 405), T0 + 3),
    410: ((112, 410), T0 + 3),
    511: ((511,), T0 + 1),
    516: ((516,), T0 + 1),
    512: ((512,), T0 + 3),
    501: ((112, 501), T0 + 3),
    513: ((112, 513), T0 + 3),
    202: ((202,), T0 + 72 * H),
    502: ((202,), T0 + 72 * H),
    503: ((202,), T0 + 72 * H),
}


@pytest.mark.parametrize("code", FINAL_CODES)
def test_magic_numbers_for_every_final_code(code: int) -> None:
    m = model()
    m.set_handset("999*", HandsetState.OFFLINE, T0)  # magic numbers ignore handset rules
    m.accept("1", f"999{code}0001", "x", T0)
    transitions = run(m)
    expected = EXPECTED_LAST_STEP.get(code, ((code,), T0 + 6))
    assert steps(transitions)[-1] == expected
    if code in (202, 502, 503):
        assert steps(transitions)[-2] == ((112,), T0 + 3)
    assert not m.is_pending("1")
    assert [entry.text for entry in m.inbox(f"999{code}0001")] == (["x"] if code == 201 else [])


def test_magic_unreachable_numbers_report_why_they_wait() -> None:
    m = model()
    m.accept("1", "999503", "x", T0)
    m.accept("2", "999502", "x", T0)
    run(m, T0 + H)
    assert (m.waiting_reason("1"), m.waiting_reason("2")) == (503, 502)
    assert m.waiting_for("1") == (503, None, T0 + 72 * H)  # no attempt: they wait for expiry


@pytest.mark.parametrize(
    ("code", "reported"),
    [
        (101, []),
        (102, []),
        (103, [103]),
        (104, [103, 104]),
        (110, [103, 110]),
        (114, [103, 110, 114]),
        (111, [103, 110, 111]),
        (112, [103, 110, 111, 112]),
        (113, [103, 110, 111, 112, 113]),
    ],
)
def test_1xx_magic_numbers_stop_at_that_stage_until_expiry(code: int, reported: list[int]) -> None:
    m = model()
    m.accept("1", f"999{code}", "x", T0)
    transitions = run(m, T0 + 72 * H - 1)
    assert m.is_pending("1")
    transitions += run(m)
    assert codes_of(transitions) == [*reported, 202]
    assert transitions[-1].at == T0 + 72 * H


def test_invalid_destination_and_banned_words() -> None:
    m = model(attrs.evolve(PROFILE, banned_words=frozenset({"casino"})))
    m.accept("1", "Shop", "x", T0)
    m.accept("2", "1234567890123456", "x", T0)
    m.accept("3", NUMBER, "Win at the CASINO!", T0)
    m.accept("4", NUMBER, "casinos are fine", T0)
    transitions = run(m)
    assert [codes_of(transitions, i)[-1] for i in "1234"] == [409, 409, 404, 201]


# ------------------------------------------------------------------ outcomes, determinism


def test_outcome_mix() -> None:
    profile = attrs.evolve(PROFILE, outcomes=MappingProxyType({201: 3.0, 514: 1.0, 512: 0.0}))
    m = model(profile)
    for index in range(2000):
        m.accept(str(index), NUMBER, "x", T0)
    finals = [t.codes[-1] for t in run(m) if is_final(t.codes[-1])]
    assert set(finals) == {201, 514}
    assert 0.2 < finals.count(514) / len(finals) < 0.3


def scenario(seed: int) -> list[Transition]:
    m = CarrierModel(
        attrs.evolve(default_profile(), outcomes=MappingProxyType({201: 9.0, 515: 1.0})),
        random.Random(seed),
    )
    m.set_handset("46709*", HandsetState.OFFLINE, T0, until=T0 + 5 * H)
    for index in range(200):
        m.accept(str(index), f"467{index % 10}1234567", "x", T0 + index)
    return run(m)


def test_same_seed_same_transitions() -> None:
    assert scenario(42) == scenario(42)
    assert scenario(42) != scenario(43)


DEFAULT_LATENCY = Latency()


def every_path(
    seed: int = 7,
    *,
    express: bool = True,
    rules: bool = True,
    latency: Latency = DEFAULT_LATENCY,
    light: bool = True,
    alert: float | None = None,
) -> CarrierModel:
    """A model given messages that take every path: ordinary ones, a handset switched off
    for two hours, one out of coverage until they expire, one that turns unknown, phones
    with an age limit, magic numbers, a lossy outcome mix, concatenated parts, scheduled
    messages and short validity periods; random latencies (the default profile's). Without
    ``rules``, the phones' age limit is the profile's own."""
    profile = attrs.evolve(
        default_profile(),
        latency=latency,
        outcomes=MappingProxyType({201: 8.0, 515: 1.0, 511: 1.0}),
        retry_schedule=(60.0, 600.0),
        max_message_age=None if rules else 3.5,
        retry_alert=alert,
    )
    m = CarrierModel(profile, random.Random(seed))
    m._express_ok = express
    m._light_ok = light
    if rules:
        m.set_handset("46701*", HandsetState.OFFLINE, T0 + 10, until=T0 + 2 * H)
        m.set_handset("46702*", HandsetState.NO_COVERAGE, T0, until=T0 + 100 * H)
        m.set_handset("46703*", HandsetState.UNKNOWN_SUBSCRIBER, T0 + 50)
        m.set_max_age("46704*", 2.5)
    for index in range(400):
        at = T0 + index / 4
        number = f"4670{index % 6}{index % 3:06d}"
        concat = None
        if index % 11 < 2:  # two parts of one message, a quarter of a second apart
            first = index - index % 11
            number = f"4670{first % 6}{first % 3:06d}"
            concat = (first % 256, 2, index % 11 + 1)
        elif index % 7 == 0:
            number = ("999503", "999113", "999512", "999201")[index % 4]
        validity = at + 2.0 if index % 13 == 0 else None
        scheduled = at + 30.0 if index % 17 == 0 else None
        # Half as the daemon does (the first step at once), half through advance().
        m.accept(
            str(index),
            number,
            f"text {index}",
            at,
            validity,
            scheduled,
            concat=concat,
            immediate=index % 2 == 0,
        )
    return m


def statuses(transitions: list[Transition]) -> dict[str, list[tuple[int, float]]]:
    """Each message's statuses with their times, in the order reported."""
    out: dict[str, list[tuple[int, float]]] = {}
    for transition in transitions:
        for codes, at in transition.steps():
            out.setdefault(transition.message_id, []).extend((code, at) for code in codes)
    return out


def inboxes(m: CarrierModel) -> dict[str, list[InboxEntry]]:
    numbers = [f"4670{n}{k:06d}" for n in range(6) for k in range(3)] + ["999201"]
    return {n: sorted(m.inbox(n), key=lambda e: (e.at, e.text)) for n in numbers}


@pytest.mark.parametrize(("rules", "alert"), [(True, None), (False, None), (True, 30.0)])
def test_one_clock_jump_gives_each_message_what_stepping_through_every_event_gives(
    rules: bool, alert: float | None
) -> None:
    """advance() runs a message's hops that are due together (one transition with a time
    per code); each message still passes through the same statuses at the same times as
    when the model is advanced to every single event, and the phones show the same."""
    stepped, jumped = every_path(rules=rules, alert=alert), every_path(rules=rules, alert=alert)
    by_event = run(stepped)
    by_jump = jumped.advance(T0 + 200 * H)
    # With the alert, the phones switched off until +2 h are paged 30 s after it.
    paged_by_alert = [
        at for history in statuses(by_event).values() for code, at in history if code == 113
    ].count(T0 + 2 * H + 30)
    assert (paged_by_alert > 0) == (alert is not None)
    assert len(by_jump) < len(by_event)  # hops were run together
    assert any(t.history is not None for t in by_jump)
    assert statuses(by_jump) == statuses(by_event)
    assert len(statuses(by_jump)) == 400
    assert inboxes(jumped) == inboxes(stepped)
    assert sum(len(entries) for entries in inboxes(jumped).values()) > 100
    assert any(e.parts == 2 and not e.missing for v in inboxes(jumped).values() for e in v)
    assert len(jumped) == len(stepped) == 0


@pytest.mark.parametrize(
    ("rules", "latency"),
    [
        (True, Latency()),
        (False, Latency()),
        # The lanes for messages that are not light (accepted without ``immediate``).
        (False, None),
        # No carrier latency: the hops to the phone's network all share one time.
        (False, attrs.evolve(Latency(), carrier=Distribution(kind="fixed", a=0.0))),
        # Nor to the phone: everything after the gateway at one time.
        (
            False,
            attrs.evolve(
                Latency(),
                carrier=Distribution(kind="fixed", a=0.0),
                handset=Distribution(kind="fixed", a=0.0),
            ),
        ),
    ],
)
def test_the_express_lane_reports_exactly_what_the_general_steps_report(
    rules: bool, latency: Latency | None
) -> None:
    """Ordinary messages skip the step per hop when all their hops are due (``_express``),
    and light ones (``_light_step``) skip the record too: the transitions, their order and
    the inboxes are those of the general path. Any handset rule closes both lanes (they
    would need the rule lookups the steps make)."""
    light_lane = latency is not None
    latency = latency or Latency()
    fast = every_path(rules=rules, latency=latency, light=light_lane)
    general = every_path(express=False, rules=rules, latency=latency)
    lanes: list[str] = []
    gateway, handset = fast._express, fast._express_handset

    def at_gateway(*args: object) -> object:
        result = gateway(*args)  # type: ignore[arg-type]
        if result is not None:  # all the way to the phone, or handed to its network
            lanes.append("phone" if is_final(result.codes[-1]) else "network")
        return result

    def at_handset(*args: object) -> object:
        lanes.append("handset")
        return handset(*args)  # type: ignore[arg-type]

    light = fast._light_step

    def light_at_gateway(*args: object) -> object:
        result = light(*args)  # type: ignore[arg-type]
        if result is not None:  # a light message's hops, to the phone or on its way
            lanes.append("light" if is_final(result.codes[-1]) else "light, on its way")
        return result

    fast._express = at_gateway  # type: ignore[method-assign]
    fast._express_handset = at_handset  # type: ignore[method-assign]
    fast._light_step = light_at_gateway  # type: ignore[method-assign]
    # Small steps first (phones' hops are often not due yet), then one jump over the rest.
    times = [T0 + step * 0.7 for step in range(1, 70)] + [T0 + 50 + 6 * n for n in range(20)]
    for now in times:
        assert fast.advance(now) == general.advance(now)
    assert fast.advance(T0 + 200 * H) == general.advance(T0 + 200 * H)
    assert inboxes(fast) == inboxes(general)
    if rules:
        assert lanes == []
    elif not light_lane:
        assert min(lanes.count(lane) for lane in ("phone", "network", "handset")) > 20
    elif latency == Latency():
        assert min(lanes.count(lane) for lane in ("light", "light, on its way")) > 50
    else:
        assert lanes.count("light") > 50


def test_the_light_lane_changes_nothing_but_the_cost() -> None:
    """Ordinary messages go their way as light tuples (``_light``) instead of ``_Pending``
    records. Every question and every operation sees what the model without that lane sees:
    cancel and replace_sm of a light message before and after its gateway hop, a handset
    rule added while light messages wait (they take the general path then), the counts and
    the deadline."""
    fast = every_path(rules=False)
    general = every_path(rules=False, light=False)
    assert len(fast._light) > 50
    assert not general._light
    ids = [str(index) for index in range(400)]

    def same() -> None:
        assert len(fast) == len(general)
        assert fast.next_deadline() == general.next_deadline()
        assert fast.pending_for("4670*") == general.pending_for("4670*")
        assert [fast.is_pending(i) for i in ids] == [general.is_pending(i) for i in ids]
        assert [fast.waiting_reason(i) for i in ids] == [general.waiting_reason(i) for i in ids]

    same()
    light_ids = sorted(fast._light, key=int)[-20:]  # the latest: long before their gateway
    for message_id in light_ids[:10]:  # cancelled while light
        assert fast.cancel(message_id) is general.cancel(message_id) is True
    for message_id in light_ids[10:]:  # replaced while light: new text, shorter validity
        for m in (fast, general):
            assert m.replace(message_id, text="new", validity_deadline=T0 + 200.0)
    assert not set(light_ids) & set(fast._light)
    same()
    for step in range(1, 80):
        now = T0 + step * 0.5
        assert fast.advance(now) == general.advance(now)
        same()
        if step in {32, 38}:  # light messages past their gateway hop: cancelled, replaced
            later = [i for i, light in fast._light.items() if light[1][3] != _GATEWAY]
            assert later
            for index, message_id in enumerate(later):
                if index % 3 == 2:
                    assert fast.cancel(message_id) is general.cancel(message_id) is True
                    continue
                validity = now + (0.5 if index % 3 == 1 else 20.0)  # some expire first
                for m in (fast, general):
                    assert m.replace(message_id, text="newer", validity_deadline=validity)
            same()
        if step == 50:  # light messages are waiting: the rule must reach them
            for m in (fast, general):
                m.set_handset("46705*", HandsetState.OFFLINE, now, until=now + H)
    assert fast.advance(T0 + 200 * H) == general.advance(T0 + 200 * H)
    assert inboxes(fast) == inboxes(general)
    shown = {e.text for entries in inboxes(fast).values() for e in entries}
    assert {"new", "newer"} <= shown
    assert len(fast) == len(general) == 0
    assert not fast._light and not fast._heap


def test_with_a_handset_rule_in_force_messages_take_the_general_path() -> None:
    """A light message would be promoted at its first event: none is made."""
    m = model(default_profile())
    m.set_handset("46705*", HandsetState.OFFLINE, T0)
    assert m.accept("1", "46700000001", "hi", T0, immediate=True) == (103, 110)
    assert not m._light
    assert m.is_pending("1")


def test_a_light_message_with_a_validity_shorter_than_its_gateway_hop_expires() -> None:
    """The light lane takes a message only when its gateway hop comes before its deadline;
    one that cannot reach the gateway in time expires there, as on the general path."""
    m = model(default_profile())
    assert m.accept("1", "46700000001", "hi", T0, T0 + 0.01, immediate=True) == (103, 110)
    assert not m._light
    [expired] = m.advance(T0 + 1)
    assert (expired.codes, expired.at) == ((202,), T0 + 0.01)


def test_an_inbox_is_in_time_order_when_hops_ran_together() -> None:
    m = model(default_profile())
    for index in range(50):
        m.accept(str(index), NUMBER, f"m{index}", T0 + index / 100)
    m.advance(T0 + H)
    shown = m.inbox(NUMBER)
    assert len(shown) == 50
    assert [e.at for e in shown] == sorted(e.at for e in shown)
    # The hops ran in gateway order, which is not the phone's order here.
    assert [e.text for e in shown] != [f"m{index}" for index in range(50)]


# ------------------------------------------------------------------ inbox


def test_inbox_reassembles_parts_in_any_order() -> None:
    m = model()
    m.accept("1", NUMBER, "Hello, ", T0, source="Shop", concat=(7, 3, 1))
    m.accept("3", NUMBER, "again!", T0, source="Shop", concat=(7, 3, 3))
    m.accept("2", NUMBER, "world ", T0 + 10, source="Shop", concat=(7, 3, 2))
    run(m)
    assert m.inbox(NUMBER) == (InboxEntry("Shop", "Hello, world again!", T0 + 16, 3),)


def test_inbox_shows_a_message_with_a_missing_part() -> None:
    m = model(attrs.evolve(PROFILE, reassembly_timeout=600.0))
    m.accept("1", NUMBER, "Hello, ", T0, source="Shop", concat=(9, 3, 1))
    m.accept("3", NUMBER, "again!", T0, source="Shop", concat=(9, 3, 3))
    m.set_handset("999*", HandsetState.OFFLINE, T0)
    run(m, T0 + 100)
    assert m.inbox(NUMBER) == ()
    assert m.next_deadline() == T0 + 6 + 600
    run(m)
    assert m.inbox(NUMBER) == (InboxEntry("Shop", "Hello, again!", T0 + 606, 3, (2,)),)


# ------------------------------------------------------------------ bookkeeping


def test_finished_messages_leave_nothing_behind() -> None:
    m = model()
    for index in range(100):
        m.accept(str(index), NUMBER, "x", T0)
    run(m)
    assert len(m) == 0 and m._heap == []


def test_mass_cancel_compacts_the_heap() -> None:
    m = model()
    m.set_handset("4670*", HandsetState.OFFLINE, T0)
    for index in range(5000):
        m.accept(str(index), NUMBER, "x", T0)
    run(m, T0 + 100)
    for index in range(4990):
        assert m.cancel(str(index))
    assert len(m._heap) < 2 * 10 + 1025
    assert [t.codes for t in run(m)] == [(202,)] * 10


def test_an_id_reused_after_cancel_is_a_new_message() -> None:
    m = model()
    m.accept("1", NUMBER, "first", T0 + 100)
    m.cancel("1")
    m.accept("1", NUMBER, "second", T0)
    assert steps(run(m)) == DELIVERED


def test_replace_extends_a_deadline_that_cut_a_step() -> None:
    m = model()
    m.accept("1", NUMBER, "x", T0, T0 + 2)  # the carrier hop (T0 + 3) falls after expiry
    run(m, T0 + 1)
    assert m.replace("1", validity_deadline=T0 + H)
    assert steps(run(m)) == DELIVERED[2:]


def test_a_handset_back_early_gets_the_next_scheduled_attempt() -> None:
    m = model()
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0 - 1, until=T0 + 5 * H)
    m.set_handset("46702*", HandsetState.OFFLINE, T0 - 1)  # another number, for contrast
    m.accept("1", NUMBER, "hello", T0)
    m.accept("2", "46702222222", "hello", T0)
    run(m, T0 + 100)
    assert m.next_deadline() == T0 + 5 * H + 63  # attempts skipped to the rule's end
    m.set_handset(NUMBER, HandsetState.ONLINE, T0 + 100)
    assert m.next_deadline() == T0 + 663
    assert steps(run(m, T0 + 10 * H)) == [((113,), T0 + 663), ((201,), T0 + 666)]
    assert steps(run(m), "2") == [((202,), T0 + 72 * H)]


def alerting(alert: float) -> CarrierModel:
    """PROFILE with ``[retry] alert``: an attempt ``alert`` after the handset is back."""
    return model(attrs.evolve(PROFILE, retry_alert=alert))


@pytest.mark.parametrize(
    ("alert", "attempt"),
    [
        (30.0, T0 + 1830),  # the alert comes first: back at +1800, attempt 30 s later
        (0.0, T0 + 1800),  # at once
        (100.0, T0 + 1863),  # the scheduled attempt (+1863) comes before the alert's (+1900)
    ],
)
def test_an_alert_brings_an_attempt_when_the_handset_is_back(alert: float, attempt: float) -> None:
    m = alerting(alert)
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0 - 1, until=T0 + 1800)
    m.accept("1", NUMBER, "hello", T0)
    assert steps(m.advance(T0 + 3))[-1] == ((112,), T0 + 3)
    assert m.next_deadline() == attempt
    assert steps(run(m)) == [((113,), attempt), ((201,), attempt + 3)]


def test_an_alert_follows_a_handset_switched_on_by_hand() -> None:
    m = alerting(10.0)
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0 - 1)  # off until further notice
    m.accept("1", NUMBER, "hello", T0)
    run(m, T0 + 100)
    assert m.waiting_reason("1") == 503
    m.set_handset(NUMBER, HandsetState.ONLINE, T0 + 100)
    assert steps(run(m)) == [((113,), T0 + 110), ((201,), T0 + 113)]


def test_an_alert_waits_for_the_handset_to_be_really_back() -> None:
    """Switched off until +1800, then out of coverage until +2500: the attempt at +1863
    finds no coverage; the alert comes 30 s after +2500, before the slot at +3063."""
    m = alerting(30.0)
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0 - 1, until=T0 + 1800)
    m.set_handset(NUMBER, HandsetState.NO_COVERAGE, T0 + 1800, until=T0 + 2500)
    m.accept("1", NUMBER, "hello", T0)
    run(m, T0 + 1863)
    assert m.waiting_reason("1") == 502 and m.next_deadline() == T0 + 2530
    assert steps(run(m)) == [((113,), T0 + 2530), ((201,), T0 + 2533)]


def test_an_alert_at_or_after_the_deadline_loses_to_expiry() -> None:
    m = alerting(30.0)
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0 - 1, until=T0 + 1770)
    m.accept("1", NUMBER, "hello", T0, validity_deadline=T0 + 1800)
    expected = [((103, 110), T0), ((111,), T0 + 1), ((112,), T0 + 3), ((202,), T0 + 1800)]
    assert steps(run(m)) == expected


def test_a_restarted_carrier_alerts_for_a_handset_back_during_the_downtime() -> None:
    m = alerting(30.0)
    m.set_handset(NUMBER, HandsetState.NO_COVERAGE, T0 - 1, until=T0 + 600)
    restore(m, 112, T0 + 3, T0 + 700)
    assert m.waiting_reason("1") == 502
    assert steps(run(m)) == [((113,), T0 + 730), ((201,), T0 + 733)]


def test_no_alert_for_magic_numbers_or_without_the_setting() -> None:
    m = alerting(0.0)
    m.accept("1", "999503", "hello", T0)
    m.set_handset("999503", HandsetState.ONLINE, T0 + 10)  # rules do not touch magic numbers
    assert steps(run(m))[-1] == ((202,), T0 + 72 * H)
    plain = model()  # PROFILE: no alert, the schedule only
    plain.set_handset(NUMBER, HandsetState.OFFLINE, T0 - 1)
    plain.accept("1", NUMBER, "hello", T0)
    run(plain, T0 + 100)
    plain.set_handset(NUMBER, HandsetState.ONLINE, T0 + 100)
    assert plain.next_deadline() == T0 + 663


# ------------------------------------------------------------------ retry skipping


@settings(max_examples=60, deadline=None)
@given(
    rules=st.lists(
        st.tuples(
            st.sampled_from(["46701*", "467011", "467012", "4670*"]),
            st.sampled_from(list(HandsetState)),
            st.floats(0, 80 * H),
            st.floats(1, 80 * H),
        ),
        max_size=6,
    ),
    changes=st.lists(
        st.tuples(st.floats(0, 80 * H), st.sampled_from(["467011", "4670*"]), st.booleans()),
        max_size=4,
    ),
)
def test_skipping_retries_changes_nothing_observable(
    rules: list[tuple[str, HandsetState, float, float]],
    changes: list[tuple[float, str, bool]],
) -> None:
    """The same run with every scheduled attempt made gives the same transitions."""

    def scenario(skip: bool) -> list[Transition]:
        m = model()
        if not skip:
            m.handsets.next_change = lambda number, at: -math.inf  # type: ignore[method-assign]
        for pattern, state, start, length in rules:
            m.set_handset(pattern, state, T0 + start, T0 + start + length)
        for index, number in enumerate(["467011", "467012", "467013"]):
            m.accept(str(index), number, "x", T0 + index)
        out: list[Transition] = []
        for at, pattern, online in sorted(changes):
            out += run(m, T0 + at)
            state = HandsetState.ONLINE if online else HandsetState.OFFLINE
            m.set_handset(pattern, state, T0 + at)
        return out + run(m)

    assert scenario(skip=True) == scenario(skip=False)


def test_advance_in_slices_reports_the_same_transitions() -> None:
    whole, sliced = model(), model()
    for m in (whole, sliced):
        m.set_handset("4670*", HandsetState.OFFLINE, T0, T0 + H)
        for n in range(50):
            m.accept(str(n), f"4670{n:07d}", "hi", T0 + n)
    expected = whole.advance(T0 + 10 * H)
    got: list[Transition] = []
    while part := sliced.advance(T0 + 10 * H, limit=7):
        assert len(part) <= 7
        got += part
    assert got == expected
    assert len(sliced) == len(whole) == 0


# ------------------------------------------------------------------ restoring after a restart


def restore(
    m: CarrierModel,
    last_code: int,
    last_at: float,
    now: float,
    *,
    destination: str = NUMBER,
    deadline: float | None = None,
    scheduled: float | None = None,
    message_id: str = "1",
) -> None:
    m.restore(
        message_id,
        destination,
        "hello",
        T0,
        deadline,
        scheduled,
        source="Shop",
        last_code=last_code,
        last_at=last_at,
        now=now,
    )


@pytest.mark.parametrize(
    ("last_code", "last_at", "now", "expected"),
    [
        (102, T0, T0 + 50, [((103, 110), T0 + 50), ((111,), T0 + 51), ((112, 113), T0 + 53)]),
        (103, T0, T0 + 50, [((111,), T0 + 51), ((112, 113), T0 + 53)]),
        (110, T0, T0 + 50, [((111,), T0 + 51), ((112, 113), T0 + 53)]),
        (111, T0 + 1, T0 + 50, [((112, 113), T0 + 52)]),
        (113, T0 + 3, T0 + 50, []),
        # A clock restored behind the last status: the restart counts from that status.
        (111, T0 + 1, T0, [((112, 113), T0 + 3)]),
    ],
)
def test_restore_goes_on_from_the_last_status_with_the_hop_started_again(
    last_code: int, last_at: float, now: float, expected: list[tuple[tuple[int, ...], float]]
) -> None:
    m = model()
    restore(m, last_code, last_at, now)
    end = (expected[-1][1] if expected else max(now, last_at)) + 3
    assert steps(run(m)) == [*expected, ((201,), end)]
    assert m.inbox(NUMBER) == (InboxEntry("Shop", "hello", end),)


def test_restored_scheduled_message_waits_for_its_time() -> None:
    m = model()
    restore(m, 102, T0, T0 + 10, scheduled=T0 + H)
    assert m.next_deadline() == T0 + H
    assert steps(run(m)) == [(c, at + H) for c, at in DELIVERED]
    late = model()  # the schedule passed while the daemon was down: at the restart
    restore(late, 102, T0, T0 + 2 * H, scheduled=T0 + H)
    assert steps(run(late))[0] == ((103, 110), T0 + 2 * H)


def test_restored_message_waiting_for_an_offline_handset_keeps_its_retry_slots() -> None:
    """Retries at +63, +663, +1263, +1863 (112 at +3): the same as without the restart."""
    uninterrupted = model()
    uninterrupted.set_handset(NUMBER, HandsetState.OFFLINE, T0 - 1, until=T0 + 1800)
    uninterrupted.accept("1", NUMBER, "hello", T0, source="Shop")
    assert steps(run(uninterrupted, T0 + 700))[-1] == ((112,), T0 + 3)
    state = uninterrupted.save_state()
    assert state is not None

    m = model()
    m.load_state(state)
    restore(m, 112, T0 + 3, T0 + 700)
    assert m.waiting_reason("1") == 503
    # The attempt at +1263 would meet the phone still off: both name the one after it.
    assert m.waiting_for("1") == uninterrupted.waiting_for("1") == (503, T0 + 1863, T0 + 72 * H)
    assert m.next_deadline() == T0 + 1863
    assert steps(run(m)) == steps(run(uninterrupted)) == [((113,), T0 + 1863), ((201,), T0 + 1866)]


def test_a_handset_back_during_the_downtime_gets_the_first_slot_after_the_restart() -> None:
    m = model()
    m.set_handset(NUMBER, HandsetState.NO_COVERAGE, T0 - 1, until=T0 + 600)
    restore(m, 112, T0 + 3, T0 + 700)
    assert m.waiting_reason("1") == 502
    # A change dated inside the downtime cannot bring the attempt back into it.
    m.set_handset(NUMBER, HandsetState.ONLINE, T0 + 650)
    assert steps(run(m)) == [((113,), T0 + 1263), ((201,), T0 + 1266)]


@pytest.mark.parametrize(
    ("last_code", "last_at"), [(102, T0), (110, T0), (111, T0 + 1), (112, T0 + 3), (113, T0 + 3)]
)
def test_a_deadline_passed_during_the_downtime_expires_at_the_deadline(
    last_code: int, last_at: float
) -> None:
    m = model()
    m.set_handset(NUMBER, HandsetState.OFFLINE, T0)
    restore(m, last_code, last_at, T0 + 2 * H, deadline=T0 + H)
    assert steps(run(m)) == [((202,), T0 + H)]
    assert not m.is_pending("1") and m.inbox(NUMBER) == ()


def test_a_deadline_before_the_restarted_hop_ends_it() -> None:
    m = model()
    restore(m, 110, T0, T0 + 50, deadline=T0 + 52)
    assert steps(run(m)) == [((111,), T0 + 51), ((202,), T0 + 52)]


@pytest.mark.parametrize("code", [101, 102, 103, 104, 110, 111, 112, 113, 114])
def test_a_magic_stop_reached_before_the_restart_stays_stopped(code: int) -> None:
    m = model()
    restore(m, code, T0 + 3, T0 + H, destination=f"999{code}")
    assert run(m, T0 + 72 * H - 1) == [] and m.is_pending("1")
    assert steps(run(m)) == [((202,), T0 + 72 * H)]


@pytest.mark.parametrize(
    ("destination", "last_code", "expected"),
    [
        ("999113", 111, [((112, 113), T0 + H + 2), ((202,), T0 + 72 * H)]),
        ("999511", 110, [((511,), T0 + H + 1)]),
        ("999503", 112, [((202,), T0 + 72 * H)]),
        ("999202", 112, [((202,), T0 + 72 * H)]),
        ("999201", 113, [((201,), T0 + H + 3)]),
    ],
)
def test_restored_magic_numbers_end_as_in_accept(
    destination: str, last_code: int, expected: list[tuple[tuple[int, ...], float]]
) -> None:
    m = model()
    restore(m, last_code, T0, T0 + H, destination=destination)
    assert steps(run(m)) == expected


def test_the_redrawn_outcome_is_one_the_message_can_still_meet() -> None:
    profile = attrs.evolve(PROFILE, outcomes=MappingProxyType({201: 1.0, 511: 1.0, 404: 1.0}))
    m = model(profile)
    for index in range(300):
        m.restore(str(index), NUMBER, "x", T0, last_code=112, last_at=T0, now=T0 + 1)
        m.restore(f"q{index}", NUMBER, "x", T0, last_code=102, last_at=T0, now=T0 + 1)
    transitions = run(m)
    finals = {t.message_id: t.codes[-1] for t in transitions if is_final(t.codes[-1])}
    assert {code for i, code in finals.items() if not i.startswith("q")} == {201}
    assert {code for i, code in finals.items() if i.startswith("q")} == {201, 404, 511}


def test_restore_refuses_a_pending_id_and_a_final_status() -> None:
    m = model()
    m.accept("1", NUMBER, "x", T0)
    with pytest.raises(ValueError, match="already pending"):
        restore(m, 102, T0, T0)
    with pytest.raises(ValueError, match="cannot resume from status 201"):
        restore(m, 201, T0, T0, message_id="2")


# ------------------------------------------------------------------ saved state


def test_save_and_load_state_round_trip_the_rules_added_at_run_time() -> None:
    profile = attrs.evolve(
        PROFILE, handsets=(HandsetRule(pattern="4679*", state=HandsetState.BARRED),)
    )
    first = model(profile)
    assert first.save_state() is None  # the profile's rules are rebuilt from the profile
    first.set_handset("+4670*", HandsetState.OFFLINE, T0, until=T0 + H)
    first.set_handset(NUMBER, HandsetState.NO_COVERAGE, T0 + 10)
    first.set_max_age("4670*", 60.0, T0, until=T0 + 2 * H)
    first.set_max_age(NUMBER, None)
    state = first.save_state()
    assert state is not None and first.save_state() is state  # encoded once until a change
    assert [rule["pattern"] for rule in json.loads(state)["handsets"]] == [
        "4670*",
        NUMBER,
        "4670*",
        NUMBER,
    ]

    second = model(profile)
    second.load_state(state)
    assert second.handsets.settings() == first.handsets.settings()
    assert second.save_state() == state
    for number in (NUMBER, "46702", "46791"):
        for at in (T0 - 1, T0, T0 + 5, T0 + 10, T0 + H, T0 + 2 * H):
            assert second.handsets.state_at(number, at) is first.handsets.state_at(number, at)
            assert second.handsets.max_age(number, at) == first.handsets.max_age(number, at)


def test_inboxes_survive_in_the_state_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    first = model()
    first.accept("1", NUMBER, "Hello, ", T0, source="Shop", concat=(7, 2, 1))
    first.accept("2", "46702", "hi", T0, source="Acme")
    run(first, T0 + 100)  # part 2 never comes: shown with it missing after the timeout
    first.accept("3", "46703", "yo", T0 + 200, source="Acme")
    first.accept("4", "46703", "again", T0 + 300, source="Acme")
    run(first)
    second = model()
    second.load_state(first.save_state() or "")
    for number in (NUMBER, "46702", "46703"):
        assert second.inbox(number) == first.inbox(number)
    assert second.inbox(NUMBER)[0].missing == (2,)

    monkeypatch.setattr(model_module, "INBOX_SAVED_ENTRIES", 3)
    first.accept("5", "46703", "more", T0 + 400, source="Acme")
    run(first)
    bounded = model()
    bounded.load_state(first.save_state() or "")
    # The latest entries of the latest numbers: 46703 was delivered to last.
    assert [entry.text for entry in bounded.inbox("46703")] == ["yo", "again", "more"]
    assert bounded.inbox(NUMBER) == bounded.inbox("46702") == ()


def parts_on_the_phone() -> CarrierModel:
    """Parts 1 and 3 of 3 reached the phone (at T0 + 6 and T0 + 7); part 2 is yet to come."""
    m = model()
    m.accept("1", NUMBER, "Hello, ", T0, source="Shop", concat=(7, 3, 1))
    m.accept("3", NUMBER, "again!", T0 + 1, source="Shop", concat=(7, 3, 3))
    run(m, T0 + 100)
    assert m.inbox(NUMBER) == () and not m.is_pending("1") and not m.is_pending("3")
    return m


def test_a_message_split_by_a_restart_is_shown_whole() -> None:
    first = parts_on_the_phone()
    state = first.save_state()  # a part entering the buffer is a change to save
    assert state is not None
    assert json.loads(state)["reassembly"] == [
        [NUMBER, "Shop", 7, 3, T0 + 6, [[1, "Hello, "], [3, "again!"]]]
    ]
    second = model()
    second.load_state(state)
    assert second.next_deadline() == first.next_deadline() == T0 + 6 + 3600
    assert second.save_state() == state
    for m in (first, second):  # the restarted phone does what the uninterrupted one does
        m.accept("2", NUMBER, "world ", T0 + 200, source="Shop", concat=(7, 3, 2))
        run(m)
        assert m.inbox(NUMBER) == (InboxEntry("Shop", "Hello, world again!", T0 + 206, 3),)
        assert m.next_deadline() is None
    assert "reassembly" not in json.loads(second.save_state() or "")


def test_a_set_still_incomplete_after_a_restart_times_out_at_its_old_deadline() -> None:
    first = parts_on_the_phone()
    second = model()
    second.load_state(first.save_state() or "")
    for m in (first, second):
        run(m)
        assert m.inbox(NUMBER) == (InboxEntry("Shop", "Hello, again!", T0 + 3606, 3, (2,)),)
    # A deadline that passed while the daemon was down: shown at once, dated at the deadline.
    late = model()
    late.load_state(parts_on_the_phone().save_state() or "")
    assert late.advance(T0 + 10 * H) == []
    assert late.inbox(NUMBER) == (InboxEntry("Shop", "Hello, again!", T0 + 3606, 3, (2,)),)


def test_the_saved_reassembly_sets_are_the_latest_up_to_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(model_module, "REASSEMBLY_SAVED_SETS", 2)
    first = model()
    for n, reference in enumerate((1, 2, 3)):
        first.accept(str(n), NUMBER, f"part of {reference}", T0 + n, concat=(reference, 2, 1))
    run(first, T0 + 100)
    second = model()
    second.load_state(first.save_state() or "")
    run(second)
    assert [(entry.text, entry.missing) for entry in second.inbox(NUMBER)] == [
        ("part of 2", (2,)),
        ("part of 3", (2,)),
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not JSON"),
        ("[]", "must be a JSON object"),
        ('{"version": 2}', "version: 2 is not 1"),
        ('{"version": 1, "handsets": {}}', "handsets: must be an array"),
        ('{"version": 1, "handsets": [{"state": "offline"}]}', "pattern: must be a string"),
        (
            '{"version": 1, "handsets": [{"pattern": "1", "state": "sleepy"}]}',
            r"handsets\[1\]\.state: 'sleepy' is not a handset state \(online, offline,",
        ),
        (
            '{"version": 1, "handsets": [{"pattern": "1", "start": 5, "until": 5}]}',
            "until: 5.0 is not after start 5.0",
        ),
        ('{"version": 1, "handsets": [{"pattern": "1", "start": true}]}', "must be a finite"),
        ('{"version": 1, "handsets": [{"pattern": "1", "max_age": NaN}]}', "must be a finite"),
        ('{"version": 1, "handsets": [{"pattern": "1", "colour": "red"}]}', "unknown keys"),
        ('{"version": 1, "inboxes": [["1", [["a", "b", 1.0]]]]}', r"inboxes\[0\]\[1\]\[0\]"),
        ('{"version": 1, "inboxes": [["1", [["a", "b", 1.0, 1.5, []]]]]}', "whole numbers"),
        (
            '{"version": 1, "inboxes": [["1", [["a", "b", 1.0, 1, []]]]], "reassembly": '
            '[["1", "s", 7, 2, 0, [[1, "x"]]], ["1", "s", 8, 1, 0, []]]}',
            r"reassembly\[1\]\[3\]: must be a whole number in 2\.\.255, not 1",
        ),
        (
            '{"version": 1, "reassembly": [["1", "s", 7, 2, 0, [[3, "x"]]]]}',
            r"reassembly\[0\]\[5\]\[0\]\[0\]: must be a whole number in 1\.\.2",
        ),
        ('{"version": 1, "reassembly": [["1", "s", 7, 2, 0]]}', "must be an array of 6"),
        ('{"version": 1, "reassembly": [["1", "s", 7, 2, 0, [[1, 5]]]]}', "must be a string"),
    ],
)
def test_load_state_rejects_garbage_and_applies_nothing(text: str, words: str) -> None:
    m = model()
    valid = '{"pattern": "2", "state": "offline"}'
    with pytest.raises(ValueError, match=words):
        m.load_state(text.replace('"handsets": [{', f'"handsets": [{valid}, {{'))
    assert m.handsets.settings() == () and m.save_state() is None


def test_an_emoji_cut_between_two_parts_shows_whole_even_across_a_restart() -> None:
    """Clients that split UCS-2 by octets put half a surrogate pair in each part: the phone
    joins them again, and the saved state (which the store writes as UTF-8) carries a half."""
    first, second = "Hi \ud83d", "\ude00!"  # U+1F600 cut in two
    whole = model()
    whole.accept("1", NUMBER, first, T0, source="Shop", concat=(5, 2, 1))
    whole.accept("2", NUMBER, second, T0, source="Shop", concat=(5, 2, 2))
    run(whole)
    assert [entry.text for entry in whole.inbox(NUMBER)] == ["Hi \U0001f600!"]

    before = model()
    before.accept("1", NUMBER, first, T0, source="Shop", concat=(5, 2, 1))
    run(before, T0 + 100)  # on the phone, its set not yet timed out
    assert before.inbox(NUMBER) == ()
    state = before.save_state()
    assert state is not None
    state.encode("utf-8")  # storable
    after = model()
    after.load_state(state)
    after.accept("2", NUMBER, second, T0 + 60, source="Shop", concat=(5, 2, 2))
    run(after)
    assert [entry.text for entry in after.inbox(NUMBER)] == ["Hi \U0001f600!"]


def test_a_half_pair_whose_partner_never_comes_shows_as_a_replacement_character() -> None:
    m = model(attrs.evolve(PROFILE, reassembly_timeout=600.0))
    m.accept("1", NUMBER, "Hi \ud83d", T0, source="Shop", concat=(6, 2, 1))
    run(m)
    assert [(entry.text, entry.missing) for entry in m.inbox(NUMBER)] == [("Hi \ufffd", (2,))]
