"""The carrier simulator's pure model: handsets, hops, retries and expiry on simulation time.

The model is a state machine the caller drives, like the SMPP session: ``accept`` a message,
ask ``next_deadline()`` when something next happens, and call ``advance(now)`` at or after
that time for the ``Transition`` records to hand to ``StatusSink.on_status``. It owns no clock,
no task and no global random state (the caller passes a seeded ``random.Random``), so the
same seed and the same calls give the same transitions.

Lifecycle of an ordinary message (the router has already recorded 102 Queued)::

    start (submit time, or schedule_delivery_time)    103 Funded, 110 Sending
    + gateway latency                                 111 DeliveredToGateway
    + carrier latency                                 112 DeliveredToCarrier
    attempt: the handset is online                    113 DeliveredToGSM
    + handset latency                                 201 DeliveredToHandset (or the outcome)

Choices, and why:

* **Waiting is not a status.** 502 SubscriberUnreachable and 503 SubscriberOffline are final in
  the status table (their group is Error) and ``Message.record`` refuses anything after a
  final code, so the model never reports them for a message it is still retrying: the message
  stays at 112 DeliveredToCarrier (it waits at the carrier; 113 DeliveredToGSM is reported
  when the network actually pages the handset, so 113 always means "on its way to an online
  phone") and ``waiting_reason(message_id)`` says 503 (switched off) or 502 (no coverage),
  which the HTTP API shows as the message's ``waiting``. When the validity period runs out,
  the message ends with 202 Expired, exactly at the deadline. 502/503 are reported only as a
  final outcome the profile's outcome mix asks for by weight (the network gives up at the
  first attempt); magic 999502/999503 wait for expiry like a real unreachable handset. The
  router therefore needs no change: it can keep treating every 5xx as final.
* **Retries follow the schedule**: a handset that comes back online gets its message at the
  next scheduled attempt, which is what makes retry timing observable. A profile with
  ``[retry] alert`` adds the network's alert (an HLR tells the SMSC that a phone re-attached):
  an attempt that long after the handset is back online, when it comes before the next
  scheduled one and before the deadline (``_alerted``; also after ``set_handset`` and
  ``restore``). Magic numbers get none.
  Attempts that cannot succeed (before the next start or end of a known handset rule) are
  skipped by arithmetic on the schedule instead of being queued; ``set_handset`` moves the
  affected waiting messages back to their first scheduled attempt at or after the change, so
  the observable result is exactly that of trying every time.
* **The handset's maximum message age** is checked when the phone would take the message:
  older than the limit ends with 514 DeliveryToHandsetFailed ("could not be handed over to
  the target handset"), not 202, so a test can tell the phone's refusal from the network's
  validity expiry.
* **Handset states** are checked at each attempt: offline/no_coverage wait, unknown_subscriber
  ends with 501, no_sms_subscription with 410, barred with 405.
* **Magic numbers** (destination digits ``999`` + a code from the table, e.g. ``999501`` or
  ``9995010001``) end with that code whatever the handset rules, age limits and the outcome
  mix say. A
  1xx code stops the message at that stage until it expires (202); 202, 502 and 503 wait
  unreachable until expiry (202). Every other code ends the message at the stage it belongs
  to (``_strike_stage``): 4xx rejections of the message itself at once, before funding (at
  submission, even for a scheduled message);
  511/516 at the gateway hop; 512 at the carrier hop; 501/405/410/513 at the attempt; the
  rest (201, 203, 500, 514, 515, 599) after the handset hop.
* **The outcome mix** applies to ordinary numbers whose handset is online at the attempt
  (handset states and magic numbers come first): one weighted draw per message at
  acceptance, and its three hop latencies drawn then too, so the same seed and the same
  calls in the same order give the same transitions, however the caller slices time into
  ``advance`` calls. The default mix is 201 only; a profile that wants a lossy network
  gives other final codes a weight.
* **Hops due together run together.** When ``advance(now)`` reaches a message, the hops of
  that message that are also due by ``now`` run at once (one ``Transition`` with a time per
  code) instead of one heap round trip each: each status keeps its own simulation time;
  only the order of reports between messages changes. Under load, and after a clock jump,
  that is most hops.
* **Invalid destinations** (not 1-15 digits after an optional ``+``) end with 409
  InvalidRecipient at once; **banned words** with 404 ContentRejected at once.
* **Ties at the deadline**: anything due exactly at the validity deadline loses to expiry.

Restoring after a restart (``restore``): a message goes on from the last status recorded for
it, never repeating one. The restart time R is ``max(now, time of that status)``. The hop that
was under way when the daemon stopped starts over at R with a new latency draw (the network
did not work on it while the daemon was down); validity deadlines stay absolute:

* 101/102 Queued: 103 Funded, 110 Sending at R, or at schedule_delivery_time if later.
* 103 or 110 Sending: 111 after a gateway latency from R; 111: 112 after a carrier latency.
* 112 DeliveredToCarrier (the first attempt found the handset off or out of coverage): the
  retry schedule goes on from the time of 112, so the next attempt is the first scheduled one
  at or after R (those that fell in the downtime are lost), then as usual. Until it,
  ``waiting_reason`` reflects the handset's state at the time of 112.
* 113 DeliveredToGSM: the handset hop again, after a handset latency from R.
* A deadline at or before the next step ends the message with 202 at the deadline, also
  when the deadline passed during the downtime.
* The outcome is decided again: magic numbers, invalid destinations and banned words as in
  ``accept`` (a magic 1xx stop already reached stays stopped; magic 202/502/503 at 112 keep
  waiting); an ordinary number draws anew among the outcomes the message can still meet at
  that stage (one at 112 can no longer fail with 511 at the gateway), or from the whole mix
  when none of those has a weight.

``save_state`` keeps what the profile cannot rebuild, as JSON: the handset rules added after
the profile's own, in order, the latest inboxes (``INBOX_SAVED_ENTRIES`` entries at most), and
the phones' reassembly buffers (the latest ``REASSEMBLY_SAVED_SETS`` sets, when any)::

    {"version": 1,
     "handsets": [{"pattern": "4670*", "state": "offline", "start": 1800000000.0,
                   "until": 1800003600.0},
                  {"pattern": "46701234567", "max_age": 7200.0, "start": null, "until": null}],
     "inboxes": [["46701234567", [["Shop", "hello", 1800000006.0, 1, []]]]],
     "reassembly": [["46701234567", "Shop", 7, 3, 1800000106.0, [[1, "Hello, "]]]]}

A rule has ``state`` and/or ``max_age`` (null: no limit) when it sets them; ``start`` and
``until`` are simulation times, null for unbounded. Inboxes are ``[number, entries]``, the
least recently delivered-to number first, entries ``[source, text, at, parts, missing]``
oldest first. A reassembly set is ``[number, source, reference, total, first_seen, parts]``,
the parts ``[sequence, text]`` that reached the phone, oldest set first: after a restart a
message whose first parts reached the phone before it and the rest after it is shown whole,
and a set still incomplete is shown with its missing parts at its old deadline.

Efficiency: one record per pending message and one heap of ``(time, seq, message_id, kind)``
events with exactly one live entry per pending message: its next step, or its expiry when the
next step would come at or after the deadline (or never, for a parked message). A record
remembers the ``seq`` of its live entry, so entries left by ``cancel`` or ``replace`` are
recognised and skipped when they surface, and a finished message leaves nothing behind.
``cancel`` compacts the heap when dead entries outnumber live ones. Most messages (ordinary
numbers, delivered or failing at the phone) go their whole way as a light tuple (``_Light``,
``_light_step``), a fraction of the cost of the general record (``_Pending``, 21 slots), which
they become only when something needs more (a handset rule, cancel, replace_sm, a deadline
before their next hop). A test runs every path both ways and compares every answer.
"""

from __future__ import annotations

import fnmatch
import heapq
import itertools
import json
import math
import operator
import random
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Mapping
from typing import TypeAlias, cast

import attrs

from smscd.carriers.profile import HandsetState, Profile
from smscd.smpp.frozen import fast_frozen, positional_factory
from smscd.sms.reassembly import Completed, Incomplete, Reassembler
from smscd.status import STATUS_CODES, Code

__all__ = [
    "CarrierModel",
    "HandsetBook",
    "HandsetSetting",
    "InboxEntry",
    "Transition",
    "magic_code",
]

_INF = math.inf
_EXPIRED_CODES = (int(Code.EXPIRED),)
# The transitions of every message, built once (the step functions run four times a message).
_FUNDED_SENDING = (int(Code.FUNDED), int(Code.SENDING))
_AT_GATEWAY = (int(Code.DELIVERED_TO_GATEWAY),)
_AT_CARRIER = (int(Code.DELIVERED_TO_CARRIER),)
_AT_GSM = (int(Code.DELIVERED_TO_GSM),)
_AT_CARRIER_AT_GSM = (int(Code.DELIVERED_TO_CARRIER), int(Code.DELIVERED_TO_GSM))
# What an express message reaches from the gateway to the phone's network, then by outcome
# with the phone's hop (see _express).
_TO_GSM = (*_AT_GATEWAY, *_AT_CARRIER_AT_GSM)
_GATEWAY_CODE, _CARRIER_CODE, _GSM_CODE = _TO_GSM
_DELIVERED = int(Code.DELIVERED_TO_HANDSET)
_TOO_OLD = int(Code.DELIVERY_TO_HANDSET_FAILED)
_EXPRESS_CODES: dict[int, tuple[int, ...]] = {
    int(code): (*_TO_GSM, int(code)) for code in STATUS_CODES
}
# From the carrier hop on: 112, 113 and the outcome.
_CARRIER_CODES: dict[int, tuple[int, ...]] = {
    int(code): (*_AT_CARRIER_AT_GSM, int(code)) for code in STATUS_CODES
}
# A final code as the one-code tuple a step returns, made once (see _end).
_ENDING: dict[int, tuple[int]] = {int(code): (int(code),) for code in STATUS_CODES}

# What a phone remembers: the latest messages of each number, for the latest numbers that
# received one. A load test sends millions of messages; the inboxes must not keep them all.
INBOX_ENTRIES_PER_NUMBER = 100
INBOX_NUMBERS = 10_000
# How many inbox entries save_state keeps (the latest numbers' first): the daemon saves the
# state every second, and all the inboxes together could hold a million entries.
INBOX_SAVED_ENTRIES = 5000
# How many of the phones' incomplete concatenated messages save_state keeps (the latest).
REASSEMBLY_SAVED_SETS = 5000


@fast_frozen
@attrs.frozen
class Transition:
    """Statuses one message reached: ``codes`` in order, the last at simulation time ``at``.

    ``history`` is None when every code was reached at ``at``; otherwise it gives each code
    with its own time, as ``(code, at, code, at, ...)`` (the layout of ``Message.history``):
    an ``advance`` that runs several hops of one message reports them together. ``steps()``
    splits a transition into ``(codes, at)`` groups, one per time.
    """

    message_id: str
    codes: tuple[int, ...]
    at: float
    history: tuple[float, ...] | None = None

    def steps(self) -> list[tuple[tuple[int, ...], float]]:
        """``(codes, at)`` for each distinct time in order: ``sink.on_status`` calls."""
        history = self.history
        if history is None:
            return [(self.codes, self.at)]
        out: list[tuple[tuple[int, ...], float]] = []
        for index in range(0, len(history), 2):
            code, at = int(history[index]), history[index + 1]
            if out and out[-1][1] == at:
                out[-1] = ((*out[-1][0], code), at)
            else:
                out.append(((code,), at))
        return out


# Two per message: the positional factory skips __init__'s class switching (smpp.frozen).
_transition: Callable[[str, tuple[int, ...], float, tuple[float, ...] | None], Transition] = (
    positional_factory(Transition)
)


@fast_frozen
@attrs.frozen
class InboxEntry:
    """A message as the phone shows it.

    Attributes:
        source: the sender.
        text: the text; for a concatenated message the parts that arrived, in order.
        at: when the phone showed it (the last part's delivery, or the reassembly timeout).
        parts: how many parts the message announced.
        missing: the part numbers that never arrived (empty when complete).
    """

    source: str
    text: str
    at: float
    parts: int = 1
    missing: tuple[int, ...] = ()


# An inbox entry as the model keeps it: ``InboxEntry``'s fields in order, as a tuple (one is
# made per message delivered; the entries are made when someone reads the inbox).
_Shown: TypeAlias = tuple[str, str, float, int, tuple[int, ...]]
_shown_time = operator.itemgetter(2)


# ---------------------------------------------------------------------------------------------
# Handsets


@attrs.frozen
class HandsetSetting:
    """One ``HandsetBook.set`` call as it was given (``pattern`` without ``+``)."""

    seq: int
    pattern: str
    state: HandsetState | None
    start: float
    end: float
    max_age: float | None
    has_max_age: bool


def _matches(pattern: str) -> Callable[[str], bool]:
    """A predicate for an exact number or glob."""
    pattern = pattern.removeprefix("+")
    return _matcher(pattern) or pattern.__eq__


def _matcher(pattern: str) -> Callable[[str], bool] | None:
    """None for an exact number; else a predicate. ``4670*`` becomes a fast prefix test."""
    if not any(ch in pattern for ch in "*?["):
        return None
    head = pattern[:-1]
    if pattern.endswith("*") and not any(ch in head for ch in "*?["):
        return lambda number: number.startswith(head)
    return re.compile(fnmatch.translate(pattern)).match  # type: ignore[return-value]


class HandsetBook:
    """Handset states and age limits by number or glob, each from a start to an end time.

    The latest rule that matches a number and covers the time wins; a number no rule covers
    is online with the profile's age limit.
    """

    def __init__(self, default_max_age: float | None = None) -> None:
        self.default_max_age = default_max_age
        # False until the first rule: every number is then online with the default age
        # limit, which the model checks without a lookup per delivery attempt.
        self.has_rules = False
        self._exact: dict[str, list[HandsetSetting]] = {}
        self._patterns: list[tuple[Callable[[str], bool], HandsetSetting]] = []
        # Every call in order, for persisting; the lookups above never read it.
        self._settings: list[HandsetSetting] = []
        self._seq = itertools.count()

    def set(
        self,
        pattern: str,
        state: HandsetState | None,
        start: float = -_INF,
        end: float = _INF,
        *,
        max_age: float | None = None,
        set_max_age: bool = False,
    ) -> None:
        """Give numbers matching ``pattern`` ``state`` from ``start`` until before ``end``.

        Args:
            pattern: an exact number (``+`` ignored) or a glob such as ``4670*``.
            state: the state, or None to leave the state to earlier rules.
            start: simulation time the rule starts applying.
            end: simulation time it stops applying (exclusive).
            max_age: the phones' maximum message age, if ``set_max_age``.
            set_max_age: whether this rule sets the age limit (None then means no limit).

        Raises:
            ValueError: ``end`` is not after ``start``.
        """
        if not end > start:
            raise ValueError(f"end {end} must be after start {start}")
        pattern = pattern.removeprefix("+")
        rule = HandsetSetting(next(self._seq), pattern, state, start, end, max_age, set_max_age)
        self._settings.append(rule)
        self.has_rules = True
        match = _matcher(pattern)
        if match is None:
            self._exact.setdefault(pattern, []).append(rule)
        else:
            self._patterns.append((match, rule))

    def settings(self, start: int = 0) -> tuple[HandsetSetting, ...]:
        """The ``set`` calls so far, oldest first, from the ``start``-th (counted from 0)."""
        return tuple(self._settings[start:])

    def _latest(self, number: str, at: float, *, age: bool) -> HandsetSetting | None:
        """The latest rule covering ``number`` at ``at`` that sets the state (or the age).

        Called once per delivery attempt: a plain loop, no per-call closures or lists.
        """
        best: HandsetSetting | None = None
        exact = self._exact.get(number)
        for match, rule in self._patterns:
            if (
                (rule.has_max_age if age else rule.state is not None)
                and rule.start <= at < rule.end
                and (best is None or rule.seq > best.seq)
                and match(number)
            ):
                best = rule
        if exact is not None:
            for rule in exact:
                if (
                    (rule.has_max_age if age else rule.state is not None)
                    and rule.start <= at < rule.end
                    and (best is None or rule.seq > best.seq)
                ):
                    best = rule
        return best

    def next_change(self, number: str, at: float) -> float:
        """The first time after ``at`` where a known rule for ``number`` starts or ends
        (infinity if none): the state cannot change before it unless a rule is added."""
        change = _INF
        rules = [rule for match, rule in self._patterns if match(number)]
        rules += self._exact.get(number, ())
        for rule in rules:
            if rule.start > at:
                change = min(change, rule.start)
            elif rule.end > at:
                change = min(change, rule.end)
        return change

    def state_at(self, number: str, at: float) -> HandsetState:
        """The state of ``number``'s handset at simulation time ``at``."""
        rule = self._latest(number, at, age=False)
        return _ONLINE if rule is None or rule.state is None else rule.state

    def state_until(self, number: str, at: float) -> float:
        """When the state ``number``'s handset has at ``at`` changes under the known rules
        (infinity: not unless a rule is added). Rule boundaries that keep the state, such
        as a second "offline" rule starting inside the first, are passed over."""
        state = self.state_at(number, at)
        change = self.next_change(number, at)
        while change < _INF and self.state_at(number, change) is state:
            change = self.next_change(number, change)
        return change

    def max_age(self, number: str, at: float) -> float | None:
        """The maximum message age ``number``'s phone accepts at ``at`` (None: no limit)."""
        rule = self._latest(number, at, age=True)
        return self.default_max_age if rule is None else rule.max_age


_ONLINE = HandsetState.ONLINE
_OFFLINE = HandsetState.OFFLINE
_NO_COVERAGE = HandsetState.NO_COVERAGE


# ---------------------------------------------------------------------------------------------
# Stages and magic numbers

# Event kinds, in lifecycle order; the numbers only need to be distinct.
_START, _GATEWAY, _CARRIER, _ATTEMPT, _HANDSET, _EXPIRE, _PARKED = range(7)
# Where a final outcome strikes; _WAIT waits unreachable for the validity deadline.
_QUEUE, _WAIT = 10, 11

# A 1xx magic code: the step at which the message stops, and what that step reports. 104
# Refunded and 114 QueuedAtGateway lie off the normal path; they are reported only here.
# 101 and 102 are the router's (it records 102 on acceptance), so nothing follows them.
_STOPS: dict[int, tuple[int, tuple[int, ...]]] = {
    101: (_START, ()),
    102: (_START, ()),
    103: (_START, (103,)),
    104: (_START, (103, 104)),
    110: (_START, (103, 110)),
    114: (_GATEWAY, (114,)),
    111: (_GATEWAY, (111,)),
    112: (_CARRIER, (112,)),
    113: (_ATTEMPT, (113,)),
}
_MAGIC_PREFIX = "999"


def magic_code(destination: str) -> int | None:
    """The operator code a magic destination asks for (``999501...`` → 501), else None."""
    number = destination.removeprefix("+")
    head = number[:6]
    # isascii too: "¹" (latin-1 0xB9) is a digit to isdigit but not to int().
    if (
        len(head) < 6
        or not head.startswith(_MAGIC_PREFIX)
        or not (head.isascii() and head.isdigit())
    ):
        return None
    code = int(number[3:6])
    return code if code in STATUS_CODES else None


def _strike_stage(code: int) -> int:
    """The event at which a final outcome ``code`` ends the message (see the module text)."""
    if code in (Code.EXPIRED, Code.SUBSCRIBER_UNREACHABLE, Code.SUBSCRIBER_OFFLINE):
        return _WAIT
    if 400 <= code < 500 and code not in (Code.RECIPIENT_REJECTED, Code.MISSING_SMS_SUBSCRIPTION):
        return _QUEUE
    if code in (Code.DELIVERY_TO_GATEWAY_FAILED, Code.GATEWAY_ERROR):
        return _GATEWAY
    if code == Code.DELIVERY_TO_CARRIER_FAILED:
        return _CARRIER
    if code in (
        Code.UNKNOWN_SUBSCRIBER,
        Code.RECIPIENT_REJECTED,
        Code.MISSING_SMS_SUBSCRIPTION,
        Code.DELIVERY_TO_GSM_FAILED,
    ):
        return _ATTEMPT
    return _HANDSET


# Asked once per message: the table once, instead of the chain of tests.
_STAGE_OF: dict[int, int] = {code: _strike_stage(code) for code in STATUS_CODES if code >= 200}


_WORD = re.compile(r"\w+")

_STATE_CODE = {
    HandsetState.UNKNOWN_SUBSCRIBER: int(Code.UNKNOWN_SUBSCRIBER),
    HandsetState.NO_SMS_SUBSCRIPTION: int(Code.MISSING_SMS_SUBSCRIPTION),
    HandsetState.BARRED: int(Code.RECIPIENT_REJECTED),
}
_WAITING_REASON = {
    HandsetState.OFFLINE: int(Code.SUBSCRIBER_OFFLINE),
    HandsetState.NO_COVERAGE: int(Code.SUBSCRIBER_UNREACHABLE),
}

# Restoring: the event that follows each status a pending message can have. 104 and 114 are
# only reached by magic numbers, which stop there.
_RESUME: dict[int, int] = {
    101: _START,
    102: _START,
    103: _GATEWAY,
    104: _GATEWAY,
    110: _GATEWAY,
    111: _CARRIER,
    114: _CARRIER,
    112: _ATTEMPT,
    113: _HANDSET,
}
# By strike stage: the last event a message can have ahead of it with that outcome still to
# come. _WAIT parks at 112, where a message waiting for its handset also stands.
_STRIKE_KIND = {
    _QUEUE: _START,
    _GATEWAY: _GATEWAY,
    _CARRIER: _CARRIER,
    _WAIT: _ATTEMPT,
    _ATTEMPT: _ATTEMPT,
    _HANDSET: _HANDSET,
}


def _last_kind(outcome: int) -> int:
    """The last event a message with this outcome can reach before it strikes."""
    # A code without a stage (only a profile built in code can have one) ends at the handset.
    return _STRIKE_KIND.get(_STAGE_OF.get(outcome, _HANDSET), _HANDSET)


def _mix(weights: Mapping[int, float]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Outcome codes and their cumulative weights, for ``CarrierModel._draw``."""
    return tuple(weights), tuple(itertools.accumulate(weights.values()))


# ---------------------------------------------------------------------------------------------
# Saved state (CarrierModel.save_state / load_state)

_STATE_VERSION = 1
# A phone's incomplete concatenated message as saved: number, source, reference, total,
# first_seen, and the (sequence, text) parts that reached it.
_OpenSet: TypeAlias = tuple[str, str, int, int, float, list[tuple[int, str]]]


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _setting_json(setting: HandsetSetting) -> dict[str, object]:
    """One rule as JSON; null for an unbounded start, end or age (JSON has no infinity)."""
    out: dict[str, object] = {"pattern": setting.pattern}
    if setting.state is not None:
        out["state"] = setting.state.value
    if setting.has_max_age:
        out["max_age"] = None if setting.max_age == _INF else setting.max_age
    out["start"] = None if setting.start == -_INF else setting.start
    out["until"] = None if setting.end == _INF else setting.end
    return out


class _Reader:
    """Checks one saved state's JSON; every complaint names where it is."""

    @staticmethod
    def fail(where: str, why: str) -> ValueError:
        return ValueError(f"carrier state: {where}: {why}")

    def number(self, value: object, where: str, *, empty: float | None = None) -> float:
        if value is None and empty is not None:
            return empty
        # Python's json reads NaN and Infinity; save_state never writes them (null instead).
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(where, f"must be a finite number, not {value!r}")
        return float(value)

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string, not {value!r}")
        return value

    def array(self, value: object, where: str, size: int | None = None) -> list[object]:
        if not isinstance(value, list) or (size is not None and len(value) != size):
            shape = "an array" if size is None else f"an array of {size}"
            raise self.fail(where, f"must be {shape}, not {value!r}")
        return value

    def setting(self, value: object, where: str) -> HandsetSetting:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, not {value!r}")
        unknown = set(value) - {"pattern", "state", "max_age", "start", "until"}
        if unknown:
            raise self.fail(where, f"unknown keys {sorted(unknown)}")
        pattern = self.string(value.get("pattern"), f"{where}.pattern")
        if not pattern:
            raise self.fail(f"{where}.pattern", "is empty")
        state: HandsetState | None = None
        if value.get("state") is not None:
            name = self.string(value["state"], f"{where}.state")
            try:
                state = HandsetState(name)
            except ValueError:
                known = ", ".join(s.value for s in HandsetState)
                raise self.fail(
                    f"{where}.state", f"{name!r} is not a handset state ({known})"
                ) from None
        max_age = value.get("max_age")
        if max_age is not None:
            max_age = self.number(max_age, f"{where}.max_age")
        start = self.number(value.get("start"), f"{where}.start", empty=-_INF)
        end = self.number(value.get("until"), f"{where}.until", empty=_INF)
        if not end > start:
            raise self.fail(f"{where}.until", f"{end} is not after start {start}")
        return HandsetSetting(-1, pattern, state, start, end, max_age, "max_age" in value)

    def whole(self, value: object, where: str, low: int, high: int) -> int:
        number = self.number(value, where)
        if number != int(number) or not low <= number <= high:
            raise self.fail(where, f"must be a whole number in {low}..{high}, not {value!r}")
        return int(number)

    def open_set(self, value: object, where: str) -> _OpenSet:
        number, source, reference, total, first_seen, parts = self.array(value, where, 6)
        count = self.whole(total, f"{where}[3]", 2, 255)
        received: list[tuple[int, str]] = []
        for n, part in enumerate(self.array(parts, f"{where}[5]")):
            sequence, text = self.array(part, f"{where}[5][{n}]", 2)
            received.append(
                (
                    self.whole(sequence, f"{where}[5][{n}][0]", 1, count),
                    self.string(text, f"{where}[5][{n}][1]"),
                )
            )
        return (
            self.string(number, f"{where}[0]"),
            self.string(source, f"{where}[1]"),
            self.whole(reference, f"{where}[2]", 0, 0xFFFF),
            count,
            self.number(first_seen, f"{where}[4]"),
            received,
        )

    def entry(self, value: object, where: str) -> InboxEntry:
        source, text, at, parts, missing = self.array(value, where, 5)
        count = self.number(parts, f"{where}[3]")
        numbers = [self.number(n, f"{where}[4]") for n in self.array(missing, f"{where}[4]")]
        if count != int(count) or any(n != int(n) for n in numbers):
            raise self.fail(where, "part counts must be whole numbers")
        return InboxEntry(
            self.string(source, f"{where}[0]"),
            self.string(text, f"{where}[1]"),
            self.number(at, f"{where}[2]"),
            int(count),
            tuple(int(n) for n in numbers),
        )


def _part_octets(text: str) -> bytes:
    """A part's text for the phone's reassembly buffer. A UCS-2 part may begin or end with
    half of a surrogate pair (clients that split by octets cut emoji in two), so lone
    surrogates are kept as they are."""
    return text.encode("utf-8", "surrogatepass")


def _part_text(octets: bytes) -> str:
    """The inverse of ``_part_octets`` (for the saved state; JSON escapes lone halves)."""
    return octets.decode("utf-8", "surrogatepass")


def _joined_text(octets: bytes) -> str:
    """The text the phone shows for joined parts: halves of a surrogate pair that met again
    become their character, and a half whose partner never came becomes U+FFFD."""
    return (
        octets.decode("utf-8", "surrogatepass")
        .encode("utf-16-le", "surrogatepass")
        .decode("utf-16-le", "replace")
    )


def _open_sets_json(sets: list[Incomplete]) -> list[list[object]]:
    """The latest REASSEMBLY_SAVED_SETS of the phones' incomplete messages, oldest first."""
    saved: list[list[object]] = []
    for part_set in sets[-REASSEMBLY_SAVED_SETS:]:
        number, source = cast(tuple[str, str], part_set.key)
        parts = [[sequence, _part_text(payload)] for sequence, payload in part_set.received]
        saved.append(
            [number, source, part_set.reference, part_set.total, part_set.first_seen, parts]
        )
    return saved


def _parse_state(
    text: str,
) -> tuple[list[HandsetSetting], list[tuple[str, list[InboxEntry]]], list[_OpenSet]]:
    """The rules, inboxes and reassembly sets of a ``save_state`` text, all checked before
    any is applied."""
    read = _Reader()
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:  # a JSONDecodeError is a ValueError
        raise read.fail("text", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise read.fail("text", "must be a JSON object")
    if data.get("version") != _STATE_VERSION:
        raise read.fail("version", f"{data.get('version')!r} is not {_STATE_VERSION}")
    settings = [
        read.setting(value, f"handsets[{index}]")
        for index, value in enumerate(read.array(data.get("handsets", []), "handsets"))
    ]
    inboxes: list[tuple[str, list[InboxEntry]]] = []
    for index, value in enumerate(read.array(data.get("inboxes", []), "inboxes")):
        where = f"inboxes[{index}]"
        number, entries = read.array(value, where, 2)
        inboxes.append(
            (
                read.string(number, f"{where}[0]"),
                [
                    read.entry(entry, f"{where}[1][{n}]")
                    for n, entry in enumerate(read.array(entries, f"{where}[1]"))
                ],
            )
        )
    sets = [
        read.open_set(value, f"reassembly[{index}]")
        for index, value in enumerate(read.array(data.get("reassembly", []), "reassembly"))
    ]
    return settings, inboxes, sets


# ---------------------------------------------------------------------------------------------
# The model


# A message on the light lane: an ordinary number (valid digits, not magic, not concatenated,
# no content rules) whose outcome strikes at the handset. Most messages are, and while no
# handset rule is in force all they need is their hops' times: a tuple costs a fraction of a
# _Pending record to make. Anything that needs more promotes it to the _Pending record the
# general path would hold at that point (_promote): a handset rule in force at its next event,
# cancel, replace_sm, a deadline before its next hop. ``entry`` is its one live heap entry
# ``(at, seq, message_id, kind)``, the kind _GATEWAY, _CARRIER or _HANDSET; the next event
# replaces only the entry.
# ((destination, source, text, submit_time, deadline, outcome, latencies), entry)
_LightMessage: TypeAlias = tuple[str, str, str, float, float, int, tuple[float, float, float]]
_Light: TypeAlias = tuple[_LightMessage, tuple[float, int, str, int]]


class _Pending:
    """One pending message that is not a light one (see _Light)."""

    __slots__ = (
        "attempts",
        "base_at",
        "base_attempts",
        "carrier_latency",
        "concat",
        "deadline",
        "destination",
        "express",
        "gateway_latency",
        "handset_latency",
        "magic",
        "next_at",
        "next_kind",
        "outcome",
        "seq",
        "source",
        "stage",
        "stop",
        "submit_time",
        "text",
        "waiting",
    )

    # Positional, in _admit's order: one per message, and keywords cost a name match each.
    def __init__(  # noqa: PLR0917
        self,
        destination: str,
        source: str,
        text: str,
        concat: tuple[int, int, int] | None,
        submit_time: float,
        deadline: float,
        outcome: int,
        magic: bool,
        latencies: tuple[float, float, float],
    ) -> None:
        self.destination = destination
        self.source = source
        self.text = text
        self.concat = concat
        self.submit_time = submit_time
        self.deadline = deadline
        self.outcome = outcome
        self.magic = magic
        # Drawn at acceptance, so that the random draws follow the order messages are
        # accepted in, whichever hops one advance() runs together.
        self.gateway_latency, self.carrier_latency, self.handset_latency = latencies
        # A 1xx magic code: the last status reached before the message stops.
        self.stop: int | None = outcome if outcome < 200 else None
        self.stage = _STAGE_OF.get(outcome, -1)
        # An ordinary message whose outcome strikes at the handset: advance() may run its
        # hops from the gateway on in one go (see _express).
        self.express = not magic and concat is None and self.stage == _HANDSET
        self.attempts = 0
        # The last attempt actually made, and the attempt count then.
        self.base_at = submit_time
        self.base_attempts = 0
        self.waiting: int | None = None
        # The intended next step (kept so replace_sm can move the deadline) and the seq of the
        # one live heap entry.
        self.next_at = submit_time
        self.next_kind = _START
        self.seq = -1


class CarrierModel:
    """The pure carrier simulator (see the module text for the lifecycle and choices).

    Args:
        profile: the carrier profile.
        rng: the random source for latencies and outcomes; seed it for reproducible runs.
    """

    def __init__(self, profile: Profile, rng: random.Random) -> None:
        self.profile = profile
        self.handsets = HandsetBook(profile.max_message_age)
        for rule in profile.handsets:
            self.handsets.set(
                rule.pattern,
                rule.state,
                max_age=rule.max_message_age,
                set_max_age=rule.max_message_age is not None,
            )
        # The profile's own rules come first; only the ones added later are saved.
        self._standing = len(profile.handsets)
        self._rng = rng
        self._latencies = profile.latency.sampler(rng)
        self._pending: dict[str, _Pending] = {}
        # Pending messages on the light lane (see _Light).
        self._light: dict[str, _Light] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        # True while advance() runs the step of the heap's top entry (see advance).
        self._top_is_done = False
        # While advance() runs a step: the time up to which the message's next step runs at
        # once instead of through the heap (_push sets _chained to that step).
        self._chain_until = -_INF
        self._chained: tuple[float, int] | None = None
        # Whether advance() may take express messages' hops in one go (a test compares).
        self._express_ok = True
        self._seq = itertools.count()
        # The heap time of the latest event queued (a driver compares it with the time it
        # sleeps until, instead of asking next_deadline after every accept).
        self.last_push_at = _INF
        self._schedule = profile.retry_schedule
        self._alert = profile.retry_alert
        self._mix = _mix(profile.outcomes)
        self._default_validity = profile.default_validity
        # Content rules need the text looked at: such profiles take the general path.
        self._light_ok = not profile.banned_words
        # By the event a restored message resumes at: the outcomes it can still meet (a
        # message past the gateway was not rejected there), else the whole mix.
        self._resume_mixes: dict[int, tuple[tuple[int, ...], tuple[float, ...]]] = {}
        for kind in (_START, _GATEWAY, _CARRIER, _ATTEMPT, _HANDSET):
            left = {c: w for c, w in profile.outcomes.items() if _last_kind(c) >= kind}
            self._resume_mixes[kind] = _mix(left) if sum(left.values()) > 0 else self._mix
        self._reassembler = Reassembler(profile.reassembly_timeout, max_sets=100_000)
        # Least recently delivered-to number first, for eviction.
        self._inboxes: OrderedDict[str, deque[_Shown]] = OrderedDict()
        # Bumped by every change save_state would see, so an unchanged state is not encoded
        # again (the daemon asks every second).
        self._changes = 0
        self._saved: tuple[int, str | None] = (0, None)
        self._rules_json: list[str] = []

    # ------------------------------------------------------------------ inputs

    # The positional order is the published contract (message, then its times).
    def accept(  # noqa: PLR0917
        self,
        message_id: str,
        destination: str,
        text: str,
        submit_time: float,
        validity_deadline: float | None = None,
        scheduled_time: float | None = None,
        source: str = "",
        concat: tuple[int, int, int] | None = None,
        immediate: bool = False,
    ) -> tuple[int, ...]:
        """Take a message the router has accepted (and recorded 102 Queued for).

        Args:
            message_id: the router's id, used in every ``Transition``.
            destination: the destination address.
            text: the decoded text of this message (or part).
            submit_time: simulation time of acceptance.
            validity_deadline: the absolute expiry the ESME asked for (e.g.
                ``smpp.timefmt.parse(validity_period, submit_time)``), None for the profile's
                default; cut to the profile's maximum.
            scheduled_time: schedule_delivery_time as an absolute time, None for at once.
            source: the sender, shown in the handset's inbox.
            concat: ``(reference, total, sequence)`` of a concatenated part.
            immediate: run the first step now when it is due at ``submit_time`` and return its
                codes (the caller reports them at ``submit_time``), instead of leaving it to
                the next ``advance``.

        Returns:
            With ``immediate``, the codes reached at ``submit_time`` (e.g. (103, 110)); else ().

        Raises:
            ValueError: ``message_id`` is already pending.
        """
        if (
            immediate
            and concat is None
            and self._light_ok
            # With a handset rule in force, the first event would promote it at once: a
            # _Pending record from the start saves the tuple (100,000 messages queued for
            # switched-off phones peaked ~30 MB higher with one).
            and not self.handsets.has_rules
            and (scheduled_time is None or scheduled_time <= submit_time)
        ):
            number = destination[1:] if destination[:1] == "+" else destination
            if (
                number[:3] != _MAGIC_PREFIX
                and 1 <= len(number) <= 15
                and number.isascii()
                and number.isdigit()
                and message_id not in self._pending
                and message_id not in self._light
            ):
                return self._accept_light(
                    message_id, number, text, submit_time, validity_deadline, source
                )
        record = self._admit(
            message_id, destination, text, submit_time, validity_deadline, source, concat, self._mix
        )
        start = submit_time
        if record.stage != _QUEUE and scheduled_time is not None:
            start = max(submit_time, scheduled_time)
        if immediate and start <= submit_time:
            # The first step is due now: run it here rather than through the heap.
            return self._step(message_id, record, _START, start)
        self._push(record, message_id, start, _START)
        return ()

    # Positional, in accept's order (see _Pending).
    def _accept_light(  # noqa: PLR0917
        self,
        message_id: str,
        number: str,
        text: str,
        submit_time: float,
        validity_deadline: float | None,
        source: str,
    ) -> tuple[int, ...]:
        """``accept`` with ``immediate`` of an ordinary number (valid digits, not magic, no
        content rules, not concatenated, due now): the outcome and latencies are drawn as
        ``_admit`` draws them, and a message whose outcome strikes at the handset goes on as a
        ``_Light`` tuple instead of a ``_Pending`` record."""
        mix = self._mix
        codes = mix[0]
        outcome = codes[0] if len(codes) == 1 else self._draw(mix)
        latencies = self._latencies()
        if validity_deadline is None:
            deadline = submit_time + self._default_validity
        else:
            deadline = self.profile.validity_deadline(submit_time, validity_deadline)
        at = submit_time + latencies[0]
        message = (number, source, text, submit_time, deadline, outcome, latencies)
        if _STAGE_OF.get(outcome) == _HANDSET and at < deadline:
            entry = (at, next(self._seq), message_id, _GATEWAY)
            self._light[message_id] = (message, entry)
            heapq.heappush(self._heap, entry)
            self.last_push_at = at
            return _FUNDED_SENDING
        # What _admit and accept would do with these draws.
        record = self._pending_of(message_id, message)
        return self._step(message_id, record, _START, submit_time)

    def _pending_of(self, message_id: str, message: _LightMessage) -> _Pending:
        """The ``_Pending`` record ``_admit`` would make of a light message's fields, kept."""
        number, source, text, submit_time, deadline, outcome, latencies = message
        record = self._pending[message_id] = _Pending(
            number, source, text, None, submit_time, deadline, outcome, False, latencies
        )
        return record

    def _promote(self, message_id: str, light: _Light) -> _Pending:
        """The ``_Pending`` record of a light message: the record the general path would
        hold, waiting for the event of the light message's heap entry, which stays live."""
        message, entry = light
        record = self._pending_of(message_id, message)
        record.next_at, record.seq, _, record.next_kind = entry
        return record

    def _record_of(self, message_id: str) -> _Pending | None:
        """The pending record of ``message_id`` (a light message is promoted), or None."""
        record = self._pending.get(message_id)
        if record is None:
            light = self._light.pop(message_id, None)
            if light is not None:
                record = self._promote(message_id, light)
        return record

    # Positional like accept, whose contract it mirrors.
    def restore(  # noqa: PLR0917
        self,
        message_id: str,
        destination: str,
        text: str,
        submit_time: float,
        validity_deadline: float | None = None,
        scheduled_time: float | None = None,
        *,
        source: str = "",
        concat: tuple[int, int, int] | None = None,
        last_code: int,
        last_at: float,
        now: float,
    ) -> None:
        """Take back a message that was pending when the daemon stopped, to continue from the
        last status it reached (see "Restoring" in the module text).

        Args:
            message_id ... concat: as for ``accept``.
            last_code: the last status recorded for it (101-114).
            last_at: when that status was reached.
            now: the simulation time of the restart.

        Raises:
            ValueError: ``message_id`` is already pending, or ``last_code`` is not a status
                a pending message can have.
        """
        kind = _RESUME.get(last_code)
        if kind is None:
            raise ValueError(f"message {message_id}: cannot resume from status {last_code}")
        record = self._admit(
            message_id,
            destination,
            text,
            submit_time,
            validity_deadline,
            source,
            concat,
            self._resume_mixes[kind],
        )
        # Never before the last recorded status, whatever the restored clock says.
        at = max(now, last_at)
        if record.stop is not None and _STOPS[record.stop][0] < kind:
            self._push(record, message_id, _INF, _PARKED)  # stopped before the restart
            return
        if record.stage == _WAIT and kind >= _ATTEMPT:
            self._park_unreachable(record, message_id)
            return
        if kind == _START:
            if record.stage != _QUEUE and scheduled_time is not None:
                at = max(at, scheduled_time)
        elif kind == _GATEWAY:
            at += record.gateway_latency
        elif kind == _CARRIER:
            at += record.carrier_latency
        elif kind == _HANDSET:
            at += record.handset_latency
        else:
            # Waiting at the carrier since last_at: the retry schedule goes on from there.
            # Slots that fell in the downtime count as attempts made, so that no later
            # set_handset moves the next attempt back into the downtime.
            if not record.magic:
                state = self.handsets.state_at(record.destination, last_at)
                record.waiting = _WAITING_REASON.get(state)
            record.base_at = last_at
            while True:
                slot, attempts = self._retry_from(record, -_INF)
                if slot >= at or slot >= record.deadline:
                    break
                record.base_at, record.base_attempts = slot, attempts
            at, record.attempts = self._alerted(record, max(now, last_at), (slot, attempts))
            if not record.magic and at < record.deadline and self.handsets.has_rules:
                state = self.handsets.state_at(record.destination, at)
                if state is _OFFLINE or state is _NO_COVERAGE:
                    # That attempt would fail, silently: queue the one _attempt would queue
                    # then, so that the message's waiting view names an attempt that can
                    # reach the phone, as it did before the restart.
                    at, record.attempts = self._reachable_attempt(record, at)
        self._push(record, message_id, at, kind)

    def cancel(self, message_id: str) -> bool:
        """Withdraw a pending message; True if it was pending (the caller records 203)."""
        removed = self._pending.pop(message_id, None) or self._light.pop(message_id, None)
        if removed is None:
            return False
        if len(self._heap) > 2 * len(self) + 1024:
            # Mass cancels must not leave the heap mostly dead entries for 72 hours.
            self._heap = [e for e in self._heap if self._is_live(e[2], e[1])]
            heapq.heapify(self._heap)
        return True

    def _is_live(self, message_id: str, seq: int) -> bool:
        """Whether the heap entry ``seq`` of ``message_id`` is its live one."""
        record = self._pending.get(message_id)
        if record is not None:
            return record.seq == seq
        light = self._light.get(message_id)
        return light is not None and light[1][1] == seq

    def is_pending(self, message_id: str) -> bool:
        """Whether the message has not reached a final status yet."""
        return message_id in self._pending or message_id in self._light

    def replace(
        self, message_id: str, *, text: str | None = None, validity_deadline: float | None = None
    ) -> bool:
        """replace_sm on a pending message: new text and/or a new absolute validity deadline.

        Returns:
            True if the message was pending and was changed.
        """
        record = self._record_of(message_id)
        if record is None:
            return False
        if text is not None:
            record.text = text
        if validity_deadline is not None:
            record.deadline = self.profile.validity_deadline(record.submit_time, validity_deadline)
            self._push(record, message_id, record.next_at, record.next_kind)
        return True

    def set_handset(
        self, pattern: str, state: HandsetState, now: float, until: float = _INF
    ) -> None:
        """Set the handset state of a number or glob from ``now`` (which may lie in the
        future: a scheduled change) until ``until``. Later calls win over earlier ones."""
        self.handsets.set(pattern, state, now, until)
        self._changes += 1
        self._reschedule(pattern, now)

    def _reschedule(self, pattern: str, now: float) -> None:
        # Waiting messages skip the attempts that cannot succeed (see _attempt). A new rule
        # may change the outcome of skipped attempts from ``now`` on: move those messages
        # back to their first scheduled attempt at or after ``now``. O(waiting messages);
        # an operator's action, not a per-message one.
        match = _matches(pattern)
        for message_id, record in self._pending.items():
            if record.next_kind == _ATTEMPT and record.next_at > now and match(record.destination):
                scheduled = self._alerted(record, now, self._retry_from(record, now))
                if scheduled[0] < record.next_at:
                    at, record.attempts = scheduled
                    self._push(record, message_id, at, _ATTEMPT)

    def set_max_age(
        self, pattern: str, max_age: float | None, now: float = -_INF, until: float = _INF
    ) -> None:
        """Set the maximum message age (None: no limit) of the phones matching ``pattern``."""
        self.handsets.set(pattern, None, now, until, max_age=max_age, set_max_age=True)
        self._changes += 1

    # ------------------------------------------------------------------ persisting

    def save_state(self) -> str | None:
        """What a restarted model needs besides its pending messages, as JSON text (see
        "Restoring" in the module text); None when there is nothing to keep."""
        changes, text = self._saved
        if changes == self._changes:
            return text
        # Rules are only ever added: each is encoded once, however often the inboxes change.
        rules = self._rules_json
        for setting in self.handsets.settings(self._standing + len(rules)):
            rules.append(_dumps(_setting_json(setting)))
        text = None
        sets = self._reassembler.open_sets()
        if rules or self._inboxes or sets:
            inboxes = _dumps(self._inboxes_json())
            handsets = ",".join(rules)
            text = f'{{"version":{_STATE_VERSION},"handsets":[{handsets}],"inboxes":{inboxes}'
            if sets:
                # ASCII, unlike the rest: a part may hold half of a surrogate pair, which
                # only a \u escape carries (the store cannot write it raw).
                sets_json = json.dumps(_open_sets_json(sets), separators=(",", ":"))
                text += f',"reassembly":{sets_json}'
            text += "}"
        self._saved = (self._changes, text)
        return text

    def load_state(self, state: str) -> None:
        """Re-apply what ``save_state`` returned: the handset rules in their order, after the
        profile's own, the inboxes, and the phones' reassembly buffers (each set with its old
        deadline). Meant for a new model, before ``restore``.

        Raises:
            ValueError: ``state`` is not such a text; nothing is applied then.
        """
        settings, inboxes, sets = _parse_state(state)
        for setting in settings:
            self.handsets.set(
                setting.pattern,
                setting.state,
                setting.start,
                setting.end,
                max_age=setting.max_age,
                set_max_age=setting.has_max_age,
            )
            if setting.state is not None and self._pending:
                self._reschedule(setting.pattern, setting.start)
        for number, entries in inboxes:
            for entry in entries:
                self._show(number, (entry.source, entry.text, entry.at, entry.parts, entry.missing))
        for number, source, reference, total, first_seen, parts in sets:
            key: Hashable = (number, source)
            for sequence, text in parts:
                payload = _part_octets(text)
                done = self._reassembler.add(key, reference, total, sequence, payload, first_seen)
                if done is not None:  # only a hand-made state has every part
                    self._show_completed(done, first_seen)
        self._changes += 1

    def _inboxes_json(self) -> list[list[object]]:
        """The latest inboxes, least recently delivered-to number first, up to
        INBOX_SAVED_ENTRIES entries in all."""
        room = INBOX_SAVED_ENTRIES
        saved: list[list[object]] = []
        for number in reversed(self._inboxes):
            inbox = self._inboxes[number]
            kept = list(inbox)[-room:]
            saved.append([number, [[*entry[:4], list(entry[4])] for entry in kept]])
            room -= len(kept)
            if room <= 0:
                break
        saved.reverse()
        return saved

    # ------------------------------------------------------------------ queries

    def waiting_reason(self, message_id: str) -> int | None:
        """Why a pending message waits at the carrier: 503 (handset switched off) or 502
        (unreachable), the code it would end with if the carrier gave up; None if it is not
        waiting."""
        record = self._pending.get(message_id)
        return None if record is None else record.waiting

    def waiting_for(self, message_id: str) -> tuple[int, float | None, float] | None:
        """``waiting_reason``, with when the message's next delivery attempt is (None: none
        comes before its deadline, which ends it) and its validity deadline; None if it is
        not waiting."""
        record = self._pending.get(message_id)
        if record is None or record.waiting is None:
            return None
        deadline = record.deadline
        attempt = record.next_at
        if record.next_kind != _ATTEMPT or attempt >= deadline:
            return record.waiting, None, deadline
        return record.waiting, attempt, deadline

    def inbox(self, number: str) -> tuple[InboxEntry, ...]:
        """What the phone of ``number`` shows, oldest first.

        Entries are kept in the order advance() made them, which is not always time order
        (``_run_chain``): they are sorted here, when asked for, not on every delivery.
        """
        shown = sorted(self._inboxes.get(number.removeprefix("+"), ()), key=_shown_time)
        return tuple(InboxEntry(*entry) for entry in shown)

    def pending_for(self, pattern: str) -> int:
        """How many pending messages are addressed to a number or glob (a scan: for control
        views, not per message)."""
        match = _matches(pattern)
        light = sum(1 for message, _ in self._light.values() if match(message[0]))
        return light + sum(1 for record in self._pending.values() if match(record.destination))

    def __len__(self) -> int:
        """The number of pending messages."""
        return len(self._pending) + len(self._light)

    def next_deadline(self) -> float | None:
        """The simulation time ``advance`` next has work, or None when idle."""
        heap = self._heap
        while heap and not self._is_live(heap[0][2], heap[0][1]):
            heapq.heappop(heap)
        deadlines = [heap[0][0]] if heap else []
        reassembly = self._reassembler.next_deadline()
        if reassembly is not None:
            deadlines.append(reassembly)
        return min(deadlines) if deadlines else None

    # ------------------------------------------------------------------ the state machine

    def advance(self, now: float, limit: int | None = None) -> list[Transition]:
        """Run every event due at or before ``now``, in time order.

        Args:
            limit: stop after this many transitions (call again for the rest), so a clock
                jump over a million messages is reported in slices instead of one list.

        Returns:
            The transitions, in the order to report them; each carries its own times. A
            message's steps due by ``now`` come together in one transition (``_run_chain``).
        """
        self._chain_until = now
        try:
            return self._advance(now, _INF if limit is None else limit)
        finally:
            self._chain_until = -_INF
            self._chained = None

    def _advance(self, now: float, room: float) -> list[Transition]:
        heap = self._heap
        pending = self._pending
        lights = self._light
        # Handset rules and the test's switch change only between advance() calls.
        express_ok = self._express_ok and not self.handsets.has_rules
        out: list[Transition] = []
        while heap and heap[0][0] <= now:
            if len(out) >= room:
                return out
            entry = heap[0]
            at, seq, message_id, kind = entry
            record = pending.get(message_id)
            if record is None:
                light = lights.get(message_id)
                if light is None or light[1] is not entry:
                    heapq.heappop(heap)  # left behind by cancel
                    continue
                if express_ok:
                    reached = self._light_step(message_id, light, now)
                    if reached is not None:
                        out.append(reached)
                        continue
                del lights[message_id]
                record = self._promote(message_id, light)
            elif record.seq != seq:
                heapq.heappop(heap)  # left behind by cancel or replace
                continue
            if kind == _EXPIRE:
                heapq.heappop(heap)
                del pending[message_id]
                out.append(_transition(message_id, _EXPIRED_CODES, at, None))
                continue
            # The entry stays on top while its step runs: a step that schedules the next one
            # swaps it in with one heapreplace (one sift instead of a pop and a push).
            self._top_is_done = True
            try:
                if kind in (_GATEWAY, _HANDSET) and record.express and express_ok:
                    if kind == _GATEWAY:
                        express = self._express(message_id, record, at, now)
                    else:
                        express = self._express_handset(message_id, record, at, None)
                    if express is not None:
                        out.append(express)
                        continue
                codes = self._step(message_id, record, kind, at)
                if self._chained is not None:
                    chain = self._run_chain(message_id, record, codes, at)
                    if chain is not None:
                        out.append(chain)
                    continue
            finally:
                if self._top_is_done:
                    self._top_is_done = False
                    heapq.heappop(heap)
            if codes:
                out.append(_transition(message_id, codes, at, None))
        for incomplete in self._reassembler.expire(now):
            self._show_incomplete(incomplete)
        return out

    def _light_step(self, message_id: str, light: _Light, now: float) -> Transition | None:
        """The event of a light message on top of the heap, with no handset rule in force:
        what the general path reports for it (``_express``, ``_step`` and ``_run_chain``),
        its hops due by ``now`` together, and the heap entry popped or replaced by the next.
        None: a hop would come at or after the deadline; promote it instead."""
        (number, source, text, submit_time, deadline, outcome, latencies), entry = light
        at, _, _, kind = entry
        history: tuple[float, ...] | None
        codes: Mapping[int, tuple[int, ...]]
        if kind == _GATEWAY:
            at_carrier = at + latencies[1]
            if at_carrier >= deadline:
                return None
            if at_carrier > now:  # _step: 111, the carrier hop queued
                self._relight(message_id, light, at_carrier, _CARRIER)
                return _transition(message_id, _AT_GATEWAY, at, None)
            at_handset = at_carrier + latencies[2]
            if at_handset >= deadline:
                return None
            history = (_GATEWAY_CODE, at, _CARRIER_CODE, at_carrier, _GSM_CODE, at_carrier)
            if at_handset > now:  # _express: handed to the phone's network
                self._relight(message_id, light, at_handset, _HANDSET)
                if at_carrier == at:
                    return _transition(message_id, _TO_GSM, at, None)
                return _transition(message_id, _TO_GSM, at_carrier, history)
            codes = _EXPRESS_CODES
        elif kind == _CARRIER:
            at_handset = at + latencies[2]
            if at_handset >= deadline:
                return None
            if at_handset > now:  # _step: the attempt finds the phone online
                self._relight(message_id, light, at_handset, _HANDSET)
                return _transition(message_id, _AT_CARRIER_AT_GSM, at, None)
            history = (_CARRIER_CODE, at, _GSM_CODE, at)  # _run_chain
            codes = _CARRIER_CODES
        else:  # _HANDSET: _express_handset
            at_handset = at
            history = None
            codes = _ENDING
        heapq.heappop(self._heap)
        del self._light[message_id]
        if outcome == _DELIVERED:
            limit = self.handsets.default_max_age
            if limit is not None and at_handset - submit_time > limit:
                outcome = _TOO_OLD
            else:
                self._show(number, (source, text, at_handset, 1, ()))
        if history is None or at_handset == at:
            return _transition(message_id, codes[outcome], at_handset, None)
        return _transition(message_id, codes[outcome], at_handset, (*history, outcome, at_handset))

    def _relight(self, message_id: str, light: _Light, at: float, kind: int) -> None:
        """Replace the light message's heap entry (on top of the heap) by its next event."""
        entry = (at, next(self._seq), message_id, kind)
        heapq.heapreplace(self._heap, entry)
        self._light[message_id] = (light[0], entry)
        self.last_push_at = at

    def _express(
        self, message_id: str, record: _Pending, at: float, now: float
    ) -> Transition | None:
        """An express message (see _Pending) at the gateway at ``at``, with no handset rule
        in force: its hops due by ``now`` without a step each, as ``_run_chain`` would report
        them. The phone's hop, when not due yet, is queued for ``_express_handset``. None:
        the carrier hop is not due (or the deadline comes first); take the general path."""
        at_carrier = at + record.carrier_latency
        if at_carrier > now or at_carrier >= record.deadline:
            return None
        at_handset = at_carrier + record.handset_latency
        if at_handset > now or at_handset >= record.deadline:
            # Handed to the phone's network; the phone's hop (or the expiry) comes later.
            self._push(record, message_id, at_handset, _HANDSET)
            if at_carrier == at:
                return _transition(message_id, _TO_GSM, at, None)
            history = (_GATEWAY_CODE, at, _CARRIER_CODE, at_carrier, _GSM_CODE, at_carrier)
            return _transition(message_id, _TO_GSM, at_carrier, history)
        return self._express_handset(message_id, record, at_handset, at)

    def _express_handset(
        self, message_id: str, record: _Pending, at: float, gateway_at: float | None
    ) -> Transition:
        """The phone's hop of an express message at ``at``, as ``_step`` runs it (with no
        handset rule in force), after the hops from the gateway at ``gateway_at`` when not
        None (reported with them, as ``_run_chain`` would)."""
        outcome = record.outcome
        if outcome == Code.DELIVERED_TO_HANDSET:
            limit = self.handsets.default_max_age
            if limit is not None and at - record.submit_time > limit:
                outcome = int(Code.DELIVERY_TO_HANDSET_FAILED)
            else:
                self._deliver(record, at)
        del self._pending[message_id]
        if gateway_at is None:
            return _transition(message_id, _ENDING.get(outcome) or (outcome,), at, None)
        codes = _EXPRESS_CODES.get(outcome) or (*_TO_GSM, outcome)
        if gateway_at == at:
            return _transition(message_id, codes, at, None)
        at_carrier = gateway_at + record.carrier_latency
        history = (_GATEWAY_CODE, gateway_at, _CARRIER_CODE, at_carrier, _GSM_CODE, at_carrier)
        return _transition(message_id, codes, at, (*history, outcome, at))

    def _run_chain(
        self, message_id: str, record: _Pending, codes: tuple[int, ...], at: float
    ) -> Transition | None:
        """The message's next steps that are due too (``_chained``), run now: one transition
        with a time per code, instead of a heap round trip and a report per hop.

        Nothing in a step depends on other messages' steps in between (handset rules change
        only between advance calls, and random draws are made at acceptance), so running a
        message's due hops together gives what running them in time order would, except
        for the order of reports and of inbox entries (``inbox`` sorts them), and the parts
        of concatenated messages reach the phone's reassembly in time order (``_push``
        does not chain them into the handset hop).

        Returns:
            The transition, or None when no step reached a status (retries that failed).
        """
        all_codes = list(codes)
        history: list[float] = []
        for code in codes:
            history += (code, at)
        while (chained := self._chained) is not None:
            self._chained = None
            at, kind = chained
            codes = self._step(message_id, record, kind, at)
            for code in codes:
                history += (code, at)
            all_codes += codes
        if not history:
            return None
        if history[1] == history[-1]:  # all at one time
            return _transition(message_id, tuple(all_codes), history[-1], None)
        return _transition(message_id, tuple(all_codes), history[-1], tuple(history))

    def _step(self, message_id: str, record: _Pending, kind: int, at: float) -> tuple[int, ...]:
        outcome = record.outcome
        if record.stop is not None:
            stop_kind, stop_codes = _STOPS[record.stop]
            if kind == stop_kind:
                self._push(record, message_id, _INF, _PARKED)
                return stop_codes
        stage = record.stage
        if kind == _ATTEMPT:  # first: retries are the bulk of all events
            return self._attempt(message_id, record, at, stage)
        if kind == _START:
            if stage == _QUEUE:
                return self._end(message_id, outcome)
            self._push(record, message_id, at + record.gateway_latency, _GATEWAY)
            return _FUNDED_SENDING
        if kind == _GATEWAY:
            if stage == _GATEWAY:
                return self._end(message_id, outcome)
            self._push(record, message_id, at + record.carrier_latency, _CARRIER)
            return _AT_GATEWAY
        if kind == _CARRIER:
            if stage == _CARRIER:
                return self._end(message_id, outcome)
            if stage == _WAIT:
                self._park_unreachable(record, message_id)
                return _AT_CARRIER
            # The first attempt follows at once: one transition (112, 113) or (112, 501).
            attempt = self._attempt(message_id, record, at, stage)
            if attempt is _AT_GSM:
                return _AT_CARRIER_AT_GSM
            return (int(Code.DELIVERED_TO_CARRIER), *attempt)
        # _HANDSET: the phone takes the message, or the outcome strikes.
        if outcome != Code.DELIVERED_TO_HANDSET:
            return self._end(message_id, outcome)
        handsets = self.handsets
        if record.magic:
            limit = None
        elif handsets.has_rules:
            limit = handsets.max_age(record.destination, at)
        else:
            limit = handsets.default_max_age
        if limit is not None and at - record.submit_time > limit:
            return self._end(message_id, int(Code.DELIVERY_TO_HANDSET_FAILED))
        self._deliver(record, at)
        return self._end(message_id, outcome)

    def _attempt(self, message_id: str, record: _Pending, at: float, stage: int) -> tuple[int, ...]:
        if record.stop is not None:  # only 113 stops this late
            self._push(record, message_id, _INF, _PARKED)
            return _STOPS[record.stop][1]
        handsets = self.handsets
        if not record.magic and handsets.has_rules:
            state = handsets.state_at(record.destination, at)
            # Identity tests: an Enum's __hash__ runs in Python, and this runs per attempt.
            if state is _OFFLINE or state is _NO_COVERAGE:
                record.waiting = 503 if state is _OFFLINE else 502
                # Past both hops: their latencies are spent, and a waiting message may wait
                # for days (100,000 of them hold 5 MB of floats less).
                record.gateway_latency = record.carrier_latency = 0.0
                record.base_at = at
                record.base_attempts = record.attempts
                at, record.attempts = self._reachable_attempt(record, at)
                self._push(record, message_id, at, _ATTEMPT)
                return ()
            if state is not _ONLINE:
                return self._end(message_id, _STATE_CODE[state])
        record.waiting = None
        if stage == _ATTEMPT:
            return self._end(message_id, record.outcome)
        handset = at + record.handset_latency
        self._push(record, message_id, handset, _HANDSET)
        return _AT_GSM

    def _park_unreachable(self, record: _Pending, message_id: str) -> None:
        """A 202/502/503 outcome: at the carrier, unreachable, until the deadline."""
        outcome = record.outcome
        record.waiting = outcome if outcome != Code.EXPIRED else int(Code.SUBSCRIBER_UNREACHABLE)
        self._push(record, message_id, _INF, _PARKED)

    def _reachable_attempt(self, record: _Pending, failed: float) -> tuple[float, int]:
        """The next attempt of a message whose attempt at ``failed`` finds its handset
        switched off or out of coverage, and the attempt count at it.

        The handset stays as it is until its next known rule boundary, so the attempts before
        it would fail the same way, silently: skip them (pure arithmetic on the schedule,
        from the record's last real attempt) and take the first at or after it, or the
        profile's alert after it when that comes first."""
        change = self.handsets.next_change(record.destination, failed)
        return self._alerted(record, change, self._retry_from(record, min(change, record.deadline)))

    def _retry_from(self, record: _Pending, earliest: float) -> tuple[float, int]:
        """The first attempt after the record's last real one that is at or after
        ``earliest``, on the retry schedule, and the attempt count at it."""
        schedule = self._schedule
        last = len(schedule) - 1
        at = record.base_at
        attempts = record.base_attempts
        while True:
            at += schedule[attempts] if attempts < last else schedule[last]
            attempts += 1
            if at >= earliest:
                return at, attempts

    def _alerted(
        self, record: _Pending, since: float, scheduled: tuple[float, int]
    ) -> tuple[float, int]:
        """The next attempt of a waiting message and the attempt count at it, given the
        ``scheduled`` one (``_retry_from``'s answer), with the profile's ``[retry] alert``:
        ``alert`` after the first moment at or after ``since`` its handset is online (the
        network's alert that the phone is back), when that comes first and before the
        deadline. Without an alert in the profile, and for magic numbers: ``scheduled``."""
        if self._alert is None or record.magic:
            return scheduled
        handsets = self.handsets
        number = record.destination
        back = since
        while back < scheduled[0] and handsets.state_at(number, back) is not _ONLINE:
            back = handsets.next_change(number, back)
        at = back + self._alert
        if at >= scheduled[0] or at >= record.deadline:
            return scheduled
        return at, self._retry_from(record, at)[1]

    def _end(self, message_id: str, code: int) -> tuple[int, ...]:
        del self._pending[message_id]
        return _ENDING.get(code) or (int(code),)

    # ------------------------------------------------------------------ helpers

    def _push(self, record: _Pending, message_id: str, at: float, kind: int) -> None:
        """Make ``kind`` at ``at`` the message's one live event; a step due at or after the
        validity deadline becomes the expiry (so a tie goes to expiry)."""
        record.next_at = at
        record.next_kind = kind
        if (
            at <= self._chain_until
            and at < record.deadline
            and (kind != _HANDSET or record.concat is None)
        ):
            # Due in the advance() that runs the message now: see _run_chain.
            self._chained = (at, kind)
            return
        seq = record.seq = next(self._seq)
        if at >= record.deadline:
            at, kind = record.deadline, _EXPIRE
        self.last_push_at = at
        if self._top_is_done:
            self._top_is_done = False
            heapq.heapreplace(self._heap, (at, seq, message_id, kind))
        else:
            heapq.heappush(self._heap, (at, seq, message_id, kind))

    # The positional order follows accept's.
    def _admit(  # noqa: PLR0917
        self,
        message_id: str,
        destination: str,
        text: str,
        submit_time: float,
        validity_deadline: float | None,
        source: str,
        concat: tuple[int, int, int] | None,
        mix: tuple[tuple[int, ...], tuple[float, ...]],
    ) -> _Pending:
        """A new pending record, its outcome decided (drawn from ``mix`` for ordinary
        numbers); the caller queues its first event."""
        if message_id in self._pending or message_id in self._light:
            raise ValueError(f"message {message_id} is already pending")
        deadline = self.profile.validity_deadline(submit_time, validity_deadline)
        number = destination.removeprefix("+")
        # magic_code only for what can be one: most numbers do not begin with 999.
        magic = magic_code(number) if number[:3] == _MAGIC_PREFIX else None
        if magic is not None:
            outcome = magic
        elif not (1 <= len(number) <= 15 and number.isascii() and number.isdigit()):
            outcome = int(Code.INVALID_RECIPIENT)
        elif self.profile.banned_words and self._banned(text):
            outcome = int(Code.CONTENT_REJECTED)
        else:
            codes = mix[0]
            outcome = codes[0] if len(codes) == 1 else self._draw(mix)
        record = self._pending[message_id] = _Pending(
            number,
            source,
            text,
            concat,
            submit_time,
            deadline,
            outcome,
            magic is not None,
            self._latencies(),
        )
        return record

    def _draw(self, mix: tuple[tuple[int, ...], tuple[float, ...]]) -> int:
        codes, weights = mix
        point = self._rng.random() * weights[-1]
        for code, bound in zip(codes, weights, strict=True):
            if point < bound:
                return code
        return codes[-1]

    def _banned(self, text: str) -> bool:
        banned = self.profile.banned_words
        return any(w in banned for w in _WORD.findall(text.casefold()))

    def _deliver(self, record: _Pending, at: float) -> None:
        if record.concat is None:
            self._show(record.destination, (record.source, record.text, at, 1, ()))
            return
        reference, total, sequence = record.concat
        self._changes += 1  # the phone's reassembly buffer is in the saved state
        key: Hashable = (record.destination, record.source)
        done = self._reassembler.add(key, reference, total, sequence, _part_octets(record.text), at)
        if done is not None:
            self._show_completed(done, at)

    def _show_completed(self, done: Completed, at: float) -> None:
        destination, source = cast(tuple[str, str], done.key)
        text = _joined_text(done.payload)
        self._show(destination, (source, text, at, done.total, ()))

    def _show_incomplete(self, incomplete: Incomplete) -> None:
        destination, source = cast(tuple[str, str], incomplete.key)
        text = _joined_text(b"".join(payload for _, payload in incomplete.received))
        at = incomplete.first_seen + self.profile.reassembly_timeout
        self._show(destination, (source, text, at, incomplete.total, incomplete.missing))

    def _show(self, number: str, entry: _Shown) -> None:
        self._changes += 1
        inboxes = self._inboxes
        inbox = inboxes.get(number)
        if inbox is None:
            inbox = inboxes[number] = deque(maxlen=INBOX_ENTRIES_PER_NUMBER)
            if len(inboxes) > INBOX_NUMBERS:
                inboxes.popitem(last=False)
        else:
            inboxes.move_to_end(number)
        inbox.append(entry)
