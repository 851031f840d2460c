"""Scenario files: a timeline of what handsets, phones' users and the clock do, loaded from TOML.

A scenario makes an operator's behaviour happen on cue, reproducibly: a phone switched off
overnight, coverage lost and regained, a user texting STOP to a short code. The files live in
``simulator/scenarios/``; ``smscd run --scenario FILE`` plays one on the simulation clock.

The format::

    name = "phone-off-overnight"        # required, non-empty
    description = "..."                 # optional

    [[events]]                          # at least one
    at = "0s"                           # required: offset from the scenario's start
    handset = "46700000001"             # a number, or a glob such as "4670*"
    state = "offline"                   # online, offline, no_coverage, unknown_subscriber,
                                        # no_sms_subscription or barred
    until = "8h"                        # optional: the state ends at this offset ...
    # for = "8h"                        # ... or after this long (not both)

    [[events]]
    at = "1h"
    handset = "4670*"
    max_message_age = "12h"             # the phones' own age limit; "" = no limit

    [[events]]
    at = "10m"
    mo = { from = "46700000002", to = "72000", text = "STOP" }   # optional data_coding = 8

    [[events]]
    at = "1h"
    clock_rate = 60                     # simulated seconds per real second (0 pauses)

Every event has ``at`` and exactly one action: ``state``, ``max_message_age``, ``mo`` or
``clock_rate``. ``handset`` names the target of the first two and is required with them and
refused with the others; ``until`` and ``for`` go with ``state`` only. A handset change that
should also set the age limit is two events at the same ``at``: one action per event keeps
each line of the timeline one thing that happens.

Durations (``at``, ``until``, ``for``, ``max_message_age``) are seconds as a number or a
string with a unit, as in the configuration: ``"100ms"``, ``"30s"``, ``"10m"``, ``"2h"``,
``"1d"``. Events are sorted by ``at``; events at the same offset keep their order in the file.

The loader is ``smscd.config``'s, as for carrier profiles: unknown keys are errors, and every
problem is one ``ConfigError`` naming the file, the key (``events[2].state``) and the line.

Pure: stdlib, attrs and smscd L1 only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

import attrs

from smscd.carriers.profile import (
    HandsetState,
    _DocumentLoader,
    _handset_state,
    _load_document,
    _optional_duration,
    _string,
)
from smscd.config import (
    _BadValueError,
    _duration,
    _integer,
    _number,
    _Parser,
    _Path,
    _positive_duration,
)

__all__ = [
    "ClockRate",
    "HandsetChange",
    "MaxAgeChange",
    "MobileOriginated",
    "Scenario",
    "ScenarioEvent",
    "load_scenario",
    "parse_scenario",
]


@attrs.frozen(kw_only=True)
class HandsetChange:
    """Numbers matching ``pattern`` take ``state`` from ``at`` (until ``until``, if given).

    Attributes:
        at: seconds from the scenario's start.
        pattern: an exact number or a glob (``"4670*"``).
        state: the handset state.
        until: seconds from the start at which the state ends, None for never.
    """

    at: float
    pattern: str
    state: HandsetState
    until: float | None = None


@attrs.frozen(kw_only=True)
class MaxAgeChange:
    """The phones matching ``pattern`` refuse messages older than ``max_message_age``.

    Attributes:
        at: seconds from the scenario's start.
        pattern: an exact number or a glob.
        max_message_age: seconds, None for no limit.
    """

    at: float
    pattern: str
    max_message_age: float | None


@attrs.frozen(kw_only=True)
class MobileOriginated:
    """A handset sends a text to a virtual number (an MO message).

    Attributes:
        at: seconds from the scenario's start.
        source: the handset's number.
        destination: the account's virtual number (long number or short code).
        text: the message text.
        data_coding: the SMPP data_coding to deliver it with, None to choose (GSM 7-bit when
            the text fits, UCS-2 otherwise).
    """

    at: float
    source: str
    destination: str
    text: str
    data_coding: int | None = None


@attrs.frozen(kw_only=True)
class ClockRate:
    """The simulation clock runs ``rate`` times real time from ``at`` (0 pauses it).

    Attributes:
        at: seconds from the scenario's start.
        rate: simulated seconds per real second.
    """

    at: float
    rate: float


ScenarioEvent = HandsetChange | MaxAgeChange | MobileOriginated | ClockRate


@attrs.frozen(kw_only=True)
class Scenario:
    """A named timeline.

    Attributes:
        name: the scenario's name, for logs.
        description: what it shows, in prose.
        events: the events sorted by ``at``, ties in file order.
    """

    name: str
    description: str = ""
    events: tuple[ScenarioEvent, ...] = ()


# ---------------------------------------------------------------------------------------------
# Loading

_TOP_KEYS = ("name", "description", "events")
_ACTIONS = ("state", "max_message_age", "mo", "clock_rate")
# Keys that qualify an action rather than being one, and the actions they belong to.
_QUALIFIERS = {"handset": ("state", "max_message_age"), "until": ("state",), "for": ("state",)}
_MO_REQUIRED = ("from", "to", "text")

# A handset number with glob characters; anything else (letters, spaces) would match no phone
# and the scenario would silently do nothing.
_PATTERN = re.compile(r"\+?[0-9*?\[\]!-]+")
_NUMBER = re.compile(r"\+?[0-9]+")


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise _BadValueError("must be a string")
    return value


def _pattern(value: object) -> str:
    if not isinstance(value, str) or not _PATTERN.fullmatch(value):
        raise _BadValueError('must be a number or a glob of digits such as "4670*"')
    return value


def _source_number(value: object) -> str:
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        raise _BadValueError("must be the handset's number (digits, optional leading +)")
    return value


def _destination_number(value: object) -> str:
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        # The seeds' point: a reply to an alphanumeric sender has nowhere to go.
        raise _BadValueError(
            "must be a long number or short code (digits, optional leading +): "
            "a handset cannot send to an alphanumeric sender"
        )
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _BadValueError("must be a non-empty string")
    return value


def _data_coding(value: object) -> int:
    coding = _integer(0)(value)
    if coding > 255:
        raise _BadValueError("must be an SMPP data_coding value 0..255")
    return coding


_EVENT_PARSERS: dict[str, _Parser] = {
    "at": _duration,
    "state": _handset_state,
    "max_message_age": _optional_duration,
    "mo": lambda value: value,  # a table, parsed by _ScenarioLoader.mo
    "clock_rate": _number(0.0),
    "handset": _pattern,
    "until": _duration,
    "for": _positive_duration,
}
_MO_PARSERS: dict[str, _Parser] = {
    "from": _source_number,
    "to": _destination_number,
    "text": _text,
    "data_coding": _data_coding,
}


class _ScenarioLoader(_DocumentLoader):
    def scenario(self) -> Scenario:
        data = self.document(_TOP_KEYS)
        simple = {key: value for key, value in data.items() if key != "events"}
        values = self.fields(simple, (), {"name": _string, "description": _description})
        if "name" not in values:
            raise self.error(("name",), "is required")
        events = self.events(data.get("events"))
        # sorted() is stable: events at one offset happen in the order the file lists them.
        return Scenario(
            name=cast(str, values["name"]),
            description=cast(str, values.get("description", "")),
            events=tuple(sorted(events, key=lambda event: event.at)),
        )

    def events(self, value: object) -> list[ScenarioEvent]:
        if value is None:
            raise self.error(("events",), "at least one [[events]] table is required")
        if not isinstance(value, list) or not value:
            raise self.error(("events",), "must be an array of tables: [[events]]")
        return [self.event(self.table(item, ("events", i)), i) for i, item in enumerate(value)]

    def event(self, data: dict[str, object], index: int) -> ScenarioEvent:
        path: _Path = ("events", index)
        values = self.fields(data, path, _EVENT_PARSERS)
        if "at" not in values:
            raise self.error((*path, "at"), "is required")
        at = cast(float, values["at"])
        actions = [key for key in _ACTIONS if key in values]
        if len(actions) != 1:
            found = " and ".join(actions) if actions else "none"
            raise self.error(
                (*path, actions[-1]) if actions else path,
                f"an event needs exactly one of {', '.join(_ACTIONS)} (found {found}); "
                "write one event per action",
            )
        action = actions[0]
        for key, owners in _QUALIFIERS.items():
            if key in values and action not in owners:
                raise self.error((*path, key), f"does not go with {action}")
        if action in _QUALIFIERS["handset"] and "handset" not in values:
            raise self.error((*path, "handset"), f"is required with {action}")
        pattern = cast(str, values.get("handset", ""))
        if action == "state":
            return HandsetChange(
                at=at,
                pattern=pattern,
                state=cast(HandsetState, values["state"]),
                until=self.until(values, path, at),
            )
        if action == "max_message_age":
            return MaxAgeChange(
                at=at,
                pattern=pattern,
                max_message_age=cast("float | None", values["max_message_age"]),
            )
        if action == "mo":
            return self.mo(values["mo"], (*path, "mo"), at)
        return ClockRate(at=at, rate=cast(float, values["clock_rate"]))

    def until(self, values: dict[str, object], path: _Path, at: float) -> float | None:
        if "until" in values and "for" in values:
            raise self.error((*path, "for"), "give until or for, not both")
        if "for" in values:
            return at + cast(float, values["for"])
        if "until" not in values:
            return None
        until = cast(float, values["until"])
        if until <= at:
            raise self.error((*path, "until"), "must be after at")
        return until

    def mo(self, value: object, path: _Path, at: float) -> MobileOriginated:
        values = self.fields(self.table(value, path), path, _MO_PARSERS)
        for key in _MO_REQUIRED:
            if key not in values:
                raise self.error((*path, key), "is required")
        return MobileOriginated(
            at=at,
            source=cast(str, values["from"]),
            destination=cast(str, values["to"]),
            text=cast(str, values["text"]),
            data_coding=cast("int | None", values.get("data_coding")),
        )


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parses and validates a scenario.

    Args:
        text: TOML text in the format of this module's docstring.
        source: where it came from (a path), named in errors.

    Raises:
        ConfigError: the first problem, with its source, dotted key, line and reason.
    """
    return _ScenarioLoader(text, source).scenario()


def load_scenario(path: Path) -> Scenario:
    """Loads a scenario file.

    Raises:
        ConfigError: when the file cannot be read (key "") or is invalid.
    """
    return _load_document(path, parse_scenario)
